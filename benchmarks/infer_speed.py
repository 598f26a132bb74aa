"""Speed of `poselift infer` against MediaPipe alone, measured in one run on one video.

Prints, as medians over --repeats runs:
  * MediaPipe-only fps: decoding + BlazePose on every frame (the floor infer cannot beat);
  * `infer --no-render` fps: the whole pipeline without rendering (model load included);
  * their ratio (target >= 0.9);
  * rendering fps of the same video.

    python benchmarks/infer_speed.py [VIDEO] [--repeats 3] [--model default]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_video  # noqa: E402

from poselift.infer import InferOptions, detect_video, process_video, render_result  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    video = Path(args.video) if args.video else shared_video("single_football_juggling_sam2.mp4")
    out = Path(tempfile.mkdtemp(prefix="poselift-bench-"))
    opts = InferOptions(outdir=out, model=args.model, render=False, progress=False)
    mp_fps, inf_fps, rend_fps = [], [], []
    frames = 0
    for _ in range(args.repeats):
        t = time.perf_counter()
        people, times, _ = detect_video(video, opts)
        mp_fps.append(len(times) / (time.perf_counter() - t))
        t = time.perf_counter()
        res = process_video(video, opts)
        inf_fps.append(res.frames / (time.perf_counter() - t))
        frames = res.frames
    # Rendering alone, from the npz the last run wrote.
    import numpy as np

    from poselift.lift.pipeline import Result3D
    d = np.load(out / f"{video.stem}.npz")
    result = Result3D(d["poses_3d"], d["trajectory"], d["keypoints_2d"], d["scores_2d"], d["valid"],
                      float(d["fps"]), tuple(d["image_size"]))
    for _ in range(args.repeats):
        t = time.perf_counter()
        render_result(video, result, out / f"{video.stem}.mp4", opts)
        rend_fps.append(frames / (time.perf_counter() - t))
    m, i, r = statistics.median(mp_fps), statistics.median(inf_fps), statistics.median(rend_fps)
    print(f"video: {video.name}  ({frames} frames, {res.seconds})")
    print(f"mediapipe-only fps        {m:7.1f}   runs: {', '.join(f'{x:.1f}' for x in mp_fps)}")
    print(f"infer --no-render fps     {i:7.1f}   runs: {', '.join(f'{x:.1f}' for x in inf_fps)}")
    print(f"ratio infer/mediapipe     {i / m:7.3f}   (target >= 0.9)")
    print(f"rendering fps             {r:7.1f}   runs: {', '.join(f'{x:.1f}' for x in rend_fps)}")


if __name__ == "__main__":
    main()
