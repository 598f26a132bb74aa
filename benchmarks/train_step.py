"""Where a training step's time goes: batch generation, forward+backward+update.

    python benchmarks/train_step.py [--threads 1,2] [--dropout 0,0.1] [--channels 256,512] [--compile] [--steps 20]

Prints, for each setting, the median milliseconds of one batch of the chunk sampler
(Human3.6M motion through random virtual cameras with detector noise and keypoint
style) and of one optimiser step of the 81-frame model (256 channels unless --channels) at the default
batch (64 chunks of 32 output frames), and the training samples (output frames) per
second of both together, drawn one after the other (as ``poselift train`` does by
default) and with the next batch drawn in a background thread during the step
(``prefetch ms``: the median time per step of that loop, ``train --prefetch``). Run it
on an idle machine: another process on the two cores doubles every figure.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dropout", default="0,0.1")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10,
                    help="untimed steps per setting before timing (compilation, allocation, caches)")
    ap.add_argument("--arc", default="3,3,3,3")
    ap.add_argument("--channels", default="256", help="comma-separated widths to time")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--h36m-camera-share", default="0", metavar="P,P,...",
                    help="time batch generation at these shares of real-rig chunks (train --h36m-camera-share)")
    args = ap.parse_args()

    import numpy as np
    import torch

    from poselift.lift.model import ModelConfig, build_model
    from poselift.train.data import default_data_dir, load_clips
    from poselift.train.trainer import BatchPrefetcher, ChunkSampler, TrainConfig, pose_loss

    data = default_data_dir()
    if not (data / "h36m-expmap").is_dir():
        print(f"skipped: no mocap under {data}", file=sys.stderr)
        return 0
    clips = load_clips([data / "h36m-expmap"], "h36m", 50.0, ["S1", "S5"], 1, False)
    widths = [int(w) for w in args.arc.split(",")]
    rf = int(np.prod(widths))
    for share in [float(x) for x in args.h36m_camera_share.split(",")]:
        cfg = TrainConfig(architecture=args.arc, chunk=args.chunk, batch_size=args.batch, h36m_camera_share=share)
        sampler = ChunkSampler(clips, cfg, rf, 0)
        sampler.sample(args.batch)
        times = []
        for _ in range(args.steps):
            t = time.perf_counter()
            sampler.sample(args.batch)
            times.append(time.perf_counter() - t)
        sample_ms = 1000 * statistics.median(times)
        print(f"batch generation: {sample_ms:.1f} ms per batch of {args.batch} chunks (median of {args.steps}), "
              f"real-rig share {share:g}")
    batch = sampler.sample(args.batch)
    compiles = [False, True] if args.compile else [False]
    print(f"{'threads':>7} {'channels':>8} {'dropout':>7} {'compile':>7} {'step ms':>8} {'+batch ms':>9} {'frames/s':>9}"
          f" {'prefetch ms':>11} {'frames/s':>9}")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        settings = itertools.product([float(d) for d in args.dropout.split(",")], compiles,
                                     [int(c) for c in args.channels.split(",")])
        for dropout, comp, ch in settings:
            torch.manual_seed(0)
            model = build_model(ModelConfig(17, 2, 17, widths, False, dropout, ch, False))
            opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
            fwd = torch.compile(model) if comp else model
            model.train()
            step_times = []
            for i in range(args.steps + args.warmup):
                t = time.perf_counter()
                loss = pose_loss(fwd(batch["inputs"]), batch["target"], 1.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if i >= args.warmup:    # the first steps include compilation / allocation
                    step_times.append(time.perf_counter() - t)
            step_ms = 1000 * statistics.median(step_times)
            fps = args.batch * args.chunk / ((step_ms + sample_ms) / 1000)
            pre = BatchPrefetcher(lambda: sampler.sample(args.batch), args.steps + 2)
            pre_times = []
            pre.next()
            for i in range(args.steps):
                t = time.perf_counter()
                b = pre.next()
                loss = pose_loss(fwd(b["inputs"]), b["target"], 1.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                pre_times.append(time.perf_counter() - t)
            pre.close()
            pre_ms = 1000 * statistics.median(pre_times)
            pre_fps = args.batch * args.chunk / (pre_ms / 1000)
            print(f"{threads:>7} {ch:>8} {dropout:>7g} {str(comp):>7} {step_ms:>8.1f} {step_ms + sample_ms:>9.1f} {fps:>9.0f}"
                  f" {pre_ms:>11.1f} {pre_fps:>9.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
