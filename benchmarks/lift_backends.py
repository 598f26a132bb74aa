"""NumPy against torch for the lifting network, one process per backend and thread count.

Each configuration runs in its own interpreter, because BLAS thread pools are fixed at
start-up (``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` for NumPy, ``torch.set_num_threads``
for torch). Prints the median wall time of one ``lift_sequence`` call (flip TTA on, the
shipped model, trajectory network included) over ``--repeats`` runs, and frames/s.

    python benchmarks/lift_backends.py [--frames 900] [--model default] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_CHILD = r"""
import json, statistics, sys, time
import numpy as np
backend, frames, model, repeats, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if backend == "torch":
    import torch
    torch.set_num_threads(threads)
from poselift.lift.inference import lift_sequence
from poselift.lift.weights import load_model
lm = load_model(model, backend=backend)
rng = np.random.default_rng(0)
kp = (np.array([960, 540]) + rng.normal(0, 150, (frames, 17, 2))).astype(np.float32)
lift_sequence(lm, kp[:200], 1920, 1080, focal_px=1500.0)  # warm-up
ts = []
for _ in range(repeats):
    t = time.perf_counter()
    lift_sequence(lm, kp, 1920, 1080, focal_px=1500.0)
    ts.append(time.perf_counter() - t)
print(json.dumps({"median_s": statistics.median(ts), "runs": ts}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=900)
    ap.add_argument("--model", default="default")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    print(f"lift_sequence, model {args.model}, {args.frames} frames, flip TTA, median of {args.repeats}")
    for threads in [int(t) for t in args.threads.split(",")]:
        for backend in ("numpy", "torch"):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                       MKL_NUM_THREADS=str(threads))
            r = subprocess.run([sys.executable, "-c", _CHILD, backend, str(args.frames), args.model,
                                str(args.repeats), str(threads)], env=env, capture_output=True, text=True)
            if r.returncode:
                print(f"{backend:6s} {threads} thread(s): failed: {r.stderr.strip().splitlines()[-1:]}")
                continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"{backend:6s} {threads} thread(s): {d['median_s'] * 1000:8.1f} ms  "
                  f"{args.frames / d['median_s']:8.0f} frames/s")


if __name__ == "__main__":
    main()
