"""Videos per minute of `poselift infer --ray` with 1 and 2 workers on this machine.

Each run starts a local Ray with that many CPUs (``workers``), processes the same set of
short clips (``--videos`` of them, cut to ``--seconds`` each, no rendering: detection
and lifting, the work that scales) and stops Ray. Prints, per worker count, the wall
time of the batch alone and with Ray's start-up, and videos/min; then the speed-up.
Every video must succeed, otherwise the figure is not printed.

    python benchmarks/batch_scale.py [--videos 6] [--seconds 4] [--workers 1,2]

Figures measured while other jobs load the machine are not the machine's speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_video  # noqa: E402

from poselift.infer import InferOptions  # noqa: E402

# Clips whose first frame is at 0 s, so --seconds cuts them all alike (taiji_seed starts at 2.67 s).
CLIPS = ("walk_bluescreen_seed.mp4", "basketball_dribble_seed.mp4")


def _warm() -> int:
    import mediapipe  # noqa: F401
    import torch  # noqa: F401

    import poselift.infer  # noqa: F401
    return 0


def run_once(videos: list[Path], workers: int, seconds: float) -> tuple[float, float]:
    """(batch seconds, seconds including Ray's start and stop)."""
    import ray

    from poselift.batch_ray import run_batch_ray

    out = Path(tempfile.mkdtemp(prefix="poselift-bench-ray-"))
    opts = InferOptions(outdir=out, render=False, progress=False, end=seconds)
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 1024 ** 2, configure_logging=False)
    try:
        # One warm-up task per worker: worker processes start and import torch/MediaPipe once.
        warm = ray.remote(num_cpus=1)(_warm)
        ray.get([warm.remote() for _ in range(workers)])
        t1 = time.perf_counter()
        results = run_batch_ray(videos, opts, address=None, workers=workers, progress=False)
        t2 = time.perf_counter()
    finally:
        ray.shutdown()
    bad = [r for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{len(bad)} video(s) failed: {bad[0].message}")
    return t2 - t1, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=6, help="videos per batch (the clips repeated)")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds of each clip processed")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare")
    args = ap.parse_args()
    src = [shared_video(c) for c in CLIPS]
    folder = Path(tempfile.mkdtemp(prefix="poselift-bench-videos-"))
    videos = []
    for i in range(args.videos):
        v = folder / f"{i:02d}_{src[i % len(src)].name}"
        v.symlink_to(src[i % len(src)])
        videos.append(v)
    rates = {}
    for w in (int(x) for x in args.workers.split(",")):
        batch, total = run_once(videos, w, args.seconds)
        rates[w] = len(videos) / batch * 60
        print(f"workers {w}: {len(videos)} videos x {args.seconds:g} s in {batch:.1f} s "
              f"({total:.1f} s with Ray start-up): {rates[w]:.1f} videos/min")
    if 1 in rates and len(rates) > 1:
        for w, r in rates.items():
            if w != 1:
                print(f"speed-up {w} vs 1 worker: {r / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
