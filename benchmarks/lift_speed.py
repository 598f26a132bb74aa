"""Frames/s of :func:`poselift.lift.inference.lift_sequence` on CPU.

Lifts one synthetic 10 000-frame H36M-17 sequence with randomly initialised
VideoPose3D temporal models (the speed does not depend on the weights) of receptive
field 27 / 81 / 243 (filter widths 3,3,3 / 3,3,3,3 / 3,3,3,3,3), at each channel width
given (VideoPose3D's default is 1024), with and without test-time flip augmentation.

    PYTHONPATH=src python benchmarks/lift_speed.py [--channels 1024,256] [--frames 10000] [--runs 3]

Prints a table with the median wall-clock time over ``--runs`` runs and the resulting
frames/s (input frames lifted per second, normalisation and padding included).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from poselift.lift.inference import lift_sequence
from poselift.lift.model import TemporalModel
from poselift.lift.weights import LiftModel

ARCHS = {27: [3, 3, 3], 81: [3, 3, 3, 3], 243: [3, 3, 3, 3, 3]}


def synthetic_keypoints(frames: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth random (T, 17, 2) pixel sequence inside the image."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([0.3 * width, 0.2 * height], [0.7 * width, 0.8 * height], size=(17, 2))
    phase = np.linspace(0, 40 * np.pi, frames)[:, None, None]
    return (base[None] + 25 * np.sin(phase + rng.uniform(0, 6, (1, 17, 1)))).astype(np.float32)


def make_model(widths: list[int], channels: int, seed: int = 0) -> LiftModel:
    torch.manual_seed(seed)
    net = TemporalModel(17, 2, 17, widths, channels=channels).eval()
    return LiftModel(model_pos=net, meta={"name": f"random-{channels}"}, input_layout="h36m17",
                     output_layout="h36m17")


def time_lift(lm: LiftModel, kps: np.ndarray, w: int, h: int, tta: bool, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = lift_sequence(lm, kps, w, h, tta=tta)
        times.append(time.perf_counter() - t0)
        assert out["poses_3d"].shape == (len(kps), 17, 3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", default="1024,256",
                    help="comma-separated channel widths (default: %(default)s)")
    ap.add_argument("--frames", type=int, default=10_000, help="sequence length (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per configuration; the median is shown")
    ap.add_argument("--receptive-fields", default="27,81,243", help="which models (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    channels = [int(c) for c in args.channels.split(",") if c.strip()]
    rfs = [int(r) for r in args.receptive_fields.split(",") if r.strip()]
    w, h = 1920, 1080
    kps = synthetic_keypoints(args.frames, w, h)
    print(f"lift_sequence on {args.frames} frames, CPU, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.runs} runs")
    header = f"| {'RF':>4} | {'filter widths':<13} | {'channels':>8} | {'TTA':>3} | {'median s':>8} | {'frames/s':>9} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for ch in channels:
        for rf in rfs:
            lm = make_model(ARCHS[rf], ch)
            lift_sequence(lm, kps[: 2 * rf], w, h, tta=False)  # warm-up (allocator, kernels)
            for tta in (False, True):
                t = time_lift(lm, kps, w, h, tta, args.runs)
                widths = ",".join(map(str, ARCHS[rf]))
                print(f"| {rf:>4} | {widths:<13} | {ch:>8} | {'yes' if tta else 'no':>3} | {t:>8.2f} | "
                      f"{args.frames / t:>9.0f} |", flush=True)


if __name__ == "__main__":
    main()
