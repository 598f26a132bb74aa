"""Whole-process speed of `poselift infer --no-render` against a detector-only loop.

Each run is a fresh interpreter timed from outside, so start-up (imports, model
loading) counts as a user sees it. Two commands alternate on the same video:

* **detector-only loops**: decode every frame and run a 2D detector on it, nothing
  else: MediaPipe's own pose-graph loop as its examples write it (when mediapipe is
  installed) and poselift's BlazePose detector (the models on ai-edge-litert);
* **infer**: ``poselift infer VIDEO -o TMP --no-render --no-progress`` with its default
  detector (detection, tracking, lifting, npz).

Prints the median wall time of ``--repeats`` runs of each, frames/s, and for each loop
the ratio loop time / infer time (1.0: the whole pipeline costs no more than that
detection loop; the issue's target against MediaPipe's loop is >= 1.0). Also prints the
start-up time of ``poselift --help`` and of a missing-file error.

    python benchmarks/infer_speed.py [VIDEO] [--repeats 3] [--model default]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_video  # noqa: E402

# Detector-only loops, each run as `python -c CODE VIDEO`; they print the frame count.
_DETECT_ONLY = {
    "blazepose": r"""
import sys
from poselift.detect.base import get_detector
from poselift.io.video import read_frames
det = get_detector("blazepose")
n = 0
for f in read_frames(sys.argv[1]):
    det.detect(f.image, f.time)
    n += 1
print(n)
""",
    "mediapipe": r"""
import sys
import av
import mediapipe as mp
pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True)
n = 0
with av.open(sys.argv[1]) as c:
    for frame in c.decode(video=0):
        pose.process(frame.to_ndarray(format="rgb24"))
        n += 1
print(n)
""",
}


def _timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.strip()[-2000:]}")
    return wall, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    video = Path(args.video) if args.video else shared_video("basketball_dribble_seed.mp4")
    poselift = [sys.executable, "-m", "poselift.cli.main"]
    out = Path(tempfile.mkdtemp(prefix="poselift-bench-"))
    try:
        help_s = min(_timed(poselift + ["--help"])[0] for _ in range(3))
        missing_s = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(poselift + ["infer", str(out / "missing.mp4"), "-o", str(out)], capture_output=True)
            missing_s.append(time.perf_counter() - t)
        import importlib.util

        loops = [n for n in ("mediapipe", "blazepose") if n != "mediapipe" or importlib.util.find_spec("mediapipe")]
        det_s: dict[str, list[float]] = {n: [] for n in loops}
        inf_s: list[float] = []
        frames = 0
        for _ in range(args.repeats):  # interleaved, so load changes hit every command alike
            for n in loops:
                wall, stdout = _timed([sys.executable, "-c", _DETECT_ONLY[n], str(video)])
                det_s[n].append(wall)
                frames = int(stdout.strip().splitlines()[-1])
            inf_s.append(_timed(poselift + ["infer", str(video), "-o", str(out), "--no-render", "--no-progress",
                                            "--model", args.model])[0])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    i = statistics.median(inf_s)
    print(f"video: {video.name} ({frames} frames); whole processes, median of {args.repeats}")
    print(f"start-up: poselift --help {help_s:.2f} s, missing-file error {min(missing_s):.2f} s (best of 3)")
    print(f"infer --no-render        {i:7.2f} s  {frames / i:6.1f} fps   runs: " + ", ".join(f"{x:.2f}" for x in inf_s))
    for n in loops:
        d = statistics.median(det_s[n])
        print(f"{n + '-only loop':24s} {d:7.2f} s  {frames / d:6.1f} fps   runs: "
              + ", ".join(f"{x:.2f}" for x in det_s[n]) + f"   ratio loop/infer {d / i:.3f}")


if __name__ == "__main__":
    main()
