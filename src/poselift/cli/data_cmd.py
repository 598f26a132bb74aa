"""``poselift data``: motion-capture data management.

``poselift data import SRC... -o OUT.npz`` reads BVH, Human3.6M exp-map and
VideoPose3D ``data_3d`` files (files or folders) and writes one VideoPose3D-style
``data_3d`` file: ``positions_3d[subject][action]`` ``(T, 17, 3)`` float32 metres, Z-up
world, H36M-17 joints (``--joints 32``: the 32-joint Human3.6M skeleton VideoPose3D's
run.py reads), plus ``metadata`` (layout, fps, units, per-clip dataset, source
and licence).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poselift.cli import options as opt


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="import motion capture (BVH, Human3.6M exp-map, data_3d npz)",
                       description="Motion-capture data tools.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    imp = dsub.add_parser(
        "import", help="convert mocap files to a VideoPose3D data_3d .npz (H36M-17, metres, Z up)",
        description="Read BVH (.bvh, .bvh.gz), Human3.6M exp-map (.txt, .txt.gz under an "
                    "h36m-expmap folder) and VideoPose3D data_3d_*.npz files or folders of them, "
                    "map every skeleton onto the 17 Human3.6M joints, resample, and write one "
                    "data_3d .npz. Bad files are reported and skipped.")
    imp.add_argument("sources", nargs="+", metavar="SRC", help="files or folders to import")
    imp.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="output .npz")
    imp.add_argument("--fps", type=opt.number(float, min=0, max=10000), default=50.0, help="output frame rate (default 50; 0 keeps each source's)")
    imp.add_argument("--datasets", nargs="+", metavar="NAME",
                     help="only these datasets (h36m-expmap, bandai-namco, cmu-daz, cmu-dance, or <name> "
                          "of data_3d_<name>.npz)")
    imp.add_argument("--joints", type=int, choices=[17, 32], default=17,
                     help="17 (default): H36M-17 joints; 32: the full Human3.6M skeleton that VideoPose3D's "
                          "run.py (Human36mDataset) reads, for Human3.6M exp-map and 32-joint data_3d sources "
                          "(BVH files are skipped)")
    imp.add_argument("--no-cache", action="store_true", help="do not read or write the import cache")
    imp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from poselift.errors import InputError
    from poselift.io.mocap import find_mocap_files, load_mocap_file
    from poselift.io.safe_npz import save_npz

    if args.fps < 0:
        raise InputError(f"--fps must be positive or 0, got {args.fps}")
    out = Path(args.output)
    if out.suffix != ".npz":
        raise InputError("output must end in .npz", out)
    for s in args.sources:
        if not Path(s).exists():
            raise InputError("no such file or folder", s)
    files = find_mocap_files(args.sources, args.datasets)
    if not files:
        raise InputError("no mocap files found (looked for .bvh[.gz], h36m-expmap/*.txt[.gz], data_3d_*.npz)"
                         + (f" in datasets {', '.join(args.datasets)}" if args.datasets else ""))

    positions: dict[str, dict[str, np.ndarray]] = {}
    clips_meta: dict[str, dict[str, dict[str, str]]] = {}
    failed = 0
    # A bar only on a terminal: in a log it would be a stream of carriage returns.
    bar = tqdm(files, desc="import", unit="file", disable=args.quiet or not sys.stderr.isatty(), file=sys.stderr)
    for f in bar:
        try:
            clips = load_mocap_file(f, args.fps, cache=not args.no_cache, joints=args.joints)
        except InputError as exc:
            failed += 1
            if len(files) == 1:
                raise  # the one line main() prints is the whole story
            bar.write(f"poselift data import: skipped {exc}", file=sys.stderr)
            continue
        for c in clips:
            subj = positions.setdefault(c.subject, {})
            action, k = c.action, 2
            while action in subj:  # two sources with one name must not overwrite each other
                action, k = f"{c.action}_{k}", k + 1
            subj[action] = c.positions
            clips_meta.setdefault(c.subject, {})[action] = {
                "dataset": c.dataset, "source": c.source, "licence": c.licence, "skeleton": c.skeleton,
                "fps": str(c.fps)}
    n = sum(len(a) for a in positions.values())
    if n == 0:
        raise InputError(f"none of the {len(files)} files could be imported")
    fps_values = {m["fps"] for a in clips_meta.values() for m in a.values()}
    metadata = {
        "layout_name": "h36m", "layout": f"h36m{args.joints}", "num_joints": args.joints, "units": "m",
        "up_axis": "z",
        "fps": float(args.fps) if args.fps else (float(next(iter(fps_values))) if len(fps_values) == 1 else 0.0),
        "clips": clips_meta,
        "licences": sorted({m["licence"] for a in clips_meta.values() for m in a.values() if m["licence"]}),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_npz(out, positions_3d=positions, metadata=metadata)
    frames = sum(a.shape[0] for s in positions.values() for a in s.values())
    print(f"wrote {out}: {n} clips, {len(positions)} subjects, {frames} frames"
          + (f"; {failed} file(s) skipped" if failed else ""))
    return 1 if failed else 0
