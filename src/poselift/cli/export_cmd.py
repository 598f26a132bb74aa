"""``poselift export vp3d MODEL -o X.bin``: a model as a VideoPose3D run.py checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a model in another tool's format (vp3d: VideoPose3D checkpoint)",
                       description="Write a lifting model in another tool's format.")
    esub = p.add_subparsers(dest="export_format", metavar="FORMAT")
    v = esub.add_parser(
        "vp3d", help="a VideoPose3D run.py checkpoint (.bin)",
        description="Write MODEL (a shipped name or a .safetensors/.bin path) as the dict VideoPose3D's run.py "
                    "saves (model_pos, model_traj, epoch, lr; optimizer and random states None), loadable by "
                    "run.py --evaluate and torch.load(weights_only=True). Only models with 'screen' input "
                    "normalisation in the h36m17 or coco17 layout can be exported; the shipped focal_scaled "
                    "models cannot, since VideoPose3D has no way to build their input.")
    v.add_argument("model", metavar="MODEL", help="model name or path")
    v.add_argument("-o", "--output", required=True, metavar="X.bin", help="checkpoint to write")
    v.add_argument("--legacy-serialization", action="store_true",
                   help="write PyTorch's pre-1.6 (non-zip) format, for old VideoPose3D environments")
    v.add_argument("--causal", action="store_true", help="MODEL is a causal VideoPose3D checkpoint")
    v.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from poselift.export.vp3d_checkpoint import export_videopose3d
    from poselift.lift.weights import load_model

    lm = load_model(args.model, causal=args.causal, backend="torch")
    s = export_videopose3d(lm, Path(args.output), legacy=args.legacy_serialization)
    print(f"wrote {s.path} (model_pos{' + model_traj' if s.trajectory else ''}); evaluate with: {s.run_py_args}")
    for n in s.notes:
        print(f"note: {n}", file=sys.stderr)
    return 0
