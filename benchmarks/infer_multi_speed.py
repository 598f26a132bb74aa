"""Speed of `poselift infer --multi-person` on the two-person test videos.

Prints, per video, as medians over --repeats runs:
  * detection fps: decoding + multi-person BlazePose (litert) on every frame;
  * `infer --multi-person --no-render` fps: the whole pipeline (tracking, lifting of
    every track, model load included), and the number of tracks it produced.

    python benchmarks/infer_multi_speed.py [VIDEO...] [--repeats 3] [--model default] [--max-people 4]
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

from poselift.infer import InferOptions, detect_video, process_video  # noqa: E402

VIDEOS = ("multi2_basketball_gym_mmaction2.mp4", "multi2_kids_bed_occlusion_edge_sam2.mp4")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default="default")
    ap.add_argument("--max-people", type=int, default=4)
    args = ap.parse_args()
    videos = [Path(v) for v in args.videos] or [shared_video(v) for v in VIDEOS]
    out = Path(tempfile.mkdtemp(prefix="poselift-bench-"))
    opts = InferOptions(outdir=out, model=args.model, render=False, progress=False, multi_person=True,
                        max_people=args.max_people or None)
    import numpy as np

    for video in videos:
        det_fps, inf_fps, people_per_frame = [], [], 0.0
        tracks = frames = 0
        for _ in range(args.repeats):
            t = time.perf_counter()
            people, times, _ = detect_video(video, opts)
            det_fps.append(len(times) / (time.perf_counter() - t))
            people_per_frame = float(np.mean([len(p) for p in people]))
            t = time.perf_counter()
            res = process_video(video, opts)
            inf_fps.append(res.frames / (time.perf_counter() - t))
            frames = res.frames
            with np.load(out / f"{video.stem}.npz") as d:
                tracks = int(d["valid"].shape[0])
        print(f"video: {video.name}  ({frames} frames, {people_per_frame:.2f} people/frame detected, "
              f"{tracks} tracks)")
        print(f"  multi-person detection fps        {statistics.median(det_fps):7.1f}   runs: "
              f"{', '.join(f'{x:.1f}' for x in det_fps)}")
        print(f"  infer --multi-person --no-render  {statistics.median(inf_fps):7.1f}   runs: "
              f"{', '.join(f'{x:.1f}' for x in inf_fps)}")


if __name__ == "__main__":
    main()
