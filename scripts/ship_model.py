"""Publish a trained model into the package registry (maintainers' tool).

    python scripts/ship_model.py runs/default/default.safetensors default \
        --set trajectory_model='"trajectory"' --metrics runs/default/eval.json

``--set KEY=JSON`` adds card fields; ``--metrics FILE`` stores an evaluate --json result
under ``metrics`` (keyed by the file's stem).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from poselift.lift.weights import read_model_card, ship_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("name")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--metrics", action="append", default=[], metavar="FILE.json")
    args = ap.parse_args()
    updates: dict = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        updates[k] = json.loads(v)
    metrics = dict(read_model_card(args.src).get("metrics") or {})
    for f in args.metrics:
        res = json.loads(Path(f).read_text())
        metrics[Path(f).stem] = {k: res.get(k) for k in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm",
                                                        "trajectory_error_mm",
                                                        "trajectory_baseline_constant_depth_mm",
                                                        "postprocessed", "dataset", "subjects", "input", "frames")
                                if k in res}
    if metrics:
        updates["metrics"] = metrics
    print(ship_model(args.src, args.name, updates))


if __name__ == "__main__":
    main()
