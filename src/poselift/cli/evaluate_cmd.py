"""``poselift evaluate``: standard protocols (MPJPE, P-MPJPE, N-MPJPE, MPJVE) for a model."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from poselift.cli import options as opt


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score a model on Human3.6M (exp-map), HumanEva-I or npz datasets",
        description="Lift ground-truth (or detector-noised) 2D and compare with ground-truth 3D. Prints "
                    "a table; with --json one JSON object with mpjpe_mm, p_mpjpe_mm, n_mpjpe_mm, "
                    "mpjve_mm and per_action. Errors are aggregated per action group (frame-weighted) "
                    "then averaged over groups, as in the VideoPose3D paper.")
    p.add_argument("--protocol", choices=["poselift", "vp3d"], default="poselift",
                   help="poselift (default): lift as 'poselift lift' does and score root-centred poses; vp3d: "
                        "VideoPose3D's run.py --evaluate arithmetic exactly, on a data_3d/data_2d pair "
                        "(world-frame 3D seen by each subject's Human3.6M cameras with their own image sizes, "
                        "the raw prediction against the root-zeroed target, action groups split at the first "
                        "space, sequences weighted by frames); default subjects S9,S11")
    p.add_argument("--dataset", default=None, choices=["h36m-expmap", "humaneva15", "npz"],
                   help="h36m-expmap: DIR/S<n>/<action>_<k>.txt[.gz] seen by the 4 Human3.6M cameras; "
                        "humaneva15: VideoPose3D's HumanEva-I files (P2 on 15 joints); npz: a generic "
                        "VideoPose3D data_3d/data_2d pair")
    p.add_argument("--model", default="h36m", metavar="NAME_OR_PATH", help="model (default: %(default)s)")
    p.add_argument("--trajectory-model", default="auto", metavar="NAME_OR_PATH",
                   help="trajectory network to score with the pose model (default: the one its card names; "
                        "'none' scores the geometric root instead)")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="h36m-expmap folder")
    p.add_argument("--data-3d", default=None, metavar="F", help="data_3d_*.npz (humaneva15, npz)")
    p.add_argument("--data-2d", default=None, metavar="F", help="data_2d_*.npz (humaneva15, npz)")
    p.add_argument("--subjects", default=None, metavar="S8,...",
                   help="comma-separated subjects (h36m-expmap default: S8; npz: all in the 2D file; "
                        "--protocol vp3d: S9,S11 as run.py when both files have them)")
    p.add_argument("--by-subject", action="store_true",
                   help="--protocol vp3d: also score each subject on its own (run.py --by-subject)")
    p.add_argument("--actions", default=None, metavar="A,B", help="only actions starting with these names")
    p.add_argument("--input", choices=["gt", "noisy"], default="gt",
                   help="h36m-expmap: exact projections or the detector-noise model with a fixed seed")
    p.add_argument("--fps", type=opt.fps_value, default=None,
                   help="frame rate of the data (h36m-expmap: 50; humaneva15: 60; npz: 50)")
    p.add_argument("--downsample", type=opt.positive_int, default=1,
                   help="h36m-expmap and --protocol vp3d (run.py's --downsample): keep every N-th frame")
    p.add_argument("--focal-length", type=opt.focal_px, default=None, metavar="PIXELS",
                   help="npz/humaneva15: camera focal length in pixels for lens-normalised models "
                        "(default: estimated from the image size)")
    p.add_argument("--image-size", default=None, metavar="WxH",
                   help="npz/humaneva15 frame size (default: 1000x1000 for npz, 640x480 for humaneva15)")
    p.add_argument("--causal", action="store_true", help="VideoPose3D checkpoint is causal")
    p.add_argument("--input-layout", choices=["coco17", "h36m17"], default=None,
                   help="2D layout a VideoPose3D checkpoint expects (default: from its weights and the "
                        "data_2d metadata)")
    p.add_argument("--dense", dest="dense", action="store_true", default=None,
                   help="the VideoPose3D checkpoint was trained with --dense (default: from the weight shapes)")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="the VideoPose3D checkpoint was trained without --dense")
    p.add_argument("--tta", dest="tta", action="store_true", default=True, help="flip TTA (default: on)")
    p.add_argument("--no-tta", dest="tta", action="store_false")
    p.add_argument("--keypoint-definition", choices=("joint-centres", "detector"), default="joint-centres",
                   help="where the 2D keypoints sit on the body, for models that take it as an input: "
                        "joint-centres (2D projected from the mocap, as --input gt/noisy and ground-truth npz "
                        "files are) or detector (detections of a detector trained on annotated images) "
                        "(default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from poselift.errors import InputError
    from poselift.evaluate import protocols as pr
    from poselift.geometry.intrinsics import resolve_intrinsics
    from poselift.lift.pipeline import load_lift_model
    from poselift.options import LiftOptions

    subjects = [s.strip() for s in args.subjects.split(",")] if args.subjects else None
    actions = [a.strip() for a in args.actions.split(",")] if args.actions else None
    if args.protocol == "vp3d":
        return _run_vp3d(args, subjects, actions)
    if args.dataset is None:
        raise InputError("--dataset is required (or use --protocol vp3d with --data-3d and --data-2d)")
    lm = load_lift_model(LiftOptions(model=args.model, causal=args.causal, input_layout=args.input_layout,
                                     dense=args.dense, tta=args.tta, trajectory_model=args.trajectory_model))
    if args.dataset == "h36m-expmap":
        if not args.data_dir:
            raise InputError("--dataset h36m-expmap needs --data-dir DIR (DIR/S<n>/<action>_<k>.txt[.gz])")
        d = Path(args.data_dir)
        if not d.is_dir():
            raise InputError("data folder not found", d)
        seqs = pr.h36m_expmap_sequences(d, subjects or ["S8"], args.input, actions, args.fps or 50.0,
                                        args.downsample)
    else:
        if not args.data_3d or not args.data_2d:
            raise InputError(f"--dataset {args.dataset} needs --data-3d and --data-2d")
        default_size = "640x480" if args.dataset == "humaneva15" else "1000x1000"
        try:
            w, h = (int(v) for v in (args.image_size or default_size).lower().split("x"))
        except ValueError:
            raise InputError(f"--image-size must be WxH, not {args.image_size!r}") from None
        focal = resolve_intrinsics(w, h, args.focal_length).focal_px
        if args.dataset == "humaneva15":
            seqs = pr.humaneva_sequences(Path(args.data_3d), Path(args.data_2d), subjects, args.fps or 60.0,
                                         focal, actions)
        else:
            seqs = pr.npz_pair_sequences(Path(args.data_3d), Path(args.data_2d), subjects, None,
                                         args.fps or 50.0, (w, h), focal, actions)
    seqs = [replace(s, keypoint_definition=args.keypoint_definition) for s in seqs]
    res = pr.evaluate_model(lm, seqs, tta=args.tta, progress=not args.json and sys.stderr.isatty())
    res.update({"model": str(args.model), "dataset": args.dataset, "subjects": subjects or (
        ["S8"] if args.dataset == "h36m-expmap" else None), "input": args.input, "tta": args.tta,
        "sequences": len(seqs), "keypoint_definition": args.keypoint_definition})
    if args.json:
        print(json.dumps(res, sort_keys=True))
        return 0
    print_table(res)
    return 0


def _run_vp3d(args: argparse.Namespace, subjects: list[str] | None, actions: list[str] | None) -> int:
    from poselift.errors import InputError
    from poselift.evaluate.vp3d_protocol import data_2d_layout, evaluate_vp3d
    from poselift.io.safe_npz import load_npz
    from poselift.lift.weights import load_model

    if args.dataset not in (None, "npz"):
        raise InputError(f"--protocol vp3d scores a data_3d/data_2d pair, not --dataset {args.dataset}")
    if not args.data_3d or not args.data_2d:
        raise InputError("--protocol vp3d needs --data-3d and --data-2d")
    size = None
    if args.image_size:
        try:
            size = tuple(int(v) for v in args.image_size.lower().split("x"))
        except ValueError:
            raise InputError(f"--image-size must be WxH, not {args.image_size!r}") from None
    d2 = load_npz(Path(args.data_2d))
    meta = d2.get("metadata") if isinstance(d2.get("metadata"), dict) else {}
    lm = load_model(args.model, causal=args.causal, input_layout=args.input_layout, trajectory=None,
                    dense=args.dense, data_layout=data_2d_layout(meta))
    res = evaluate_vp3d(lm, Path(args.data_3d), Path(args.data_2d), subjects, actions, tta=args.tta,
                        downsample=args.downsample, image_size=size)  # type: ignore[arg-type]
    if args.by_subject:
        res["by_subject"] = {s: {k: v for k, v in evaluate_vp3d(
            lm, Path(args.data_3d), Path(args.data_2d), [s], actions, tta=args.tta, downsample=args.downsample,
            image_size=size).items() if k.endswith("_mm") or k == "per_action"}  # type: ignore[arg-type]
            for s in res["subjects_scored"]}
    res.update({"model": str(args.model), "dataset": "npz", "subjects": res.pop("subjects_scored"),
                "input": "data_2d", "tta": args.tta, "sequences": res.pop("sequences_scored")})
    if args.json:
        print(json.dumps(res, sort_keys=True))
        return 0
    # run.py's order and precision: per action group, then the action-wise averages.
    print(f"{'action':<16} {'P1':>9} {'P2':>9} {'P3':>9} {'MPJVE':>9}   (mm, VideoPose3D protocol)")
    for g, m in res["per_action"].items():
        print(f"{g:<16} {m['mpjpe_mm']:9.4f} {m['p_mpjpe_mm']:9.4f} {m['n_mpjpe_mm']:9.4f} {m['mpjve_mm']:9.4f}")
    print(f"{'average':<16} {res['mpjpe_mm']:9.4f} {res['p_mpjpe_mm']:9.4f} {res['n_mpjpe_mm']:9.4f} "
          f"{res['mpjve_mm']:9.4f}")
    for subj, r in res.get("by_subject", {}).items():
        print(f"{'subject ' + subj:<16} {r['mpjpe_mm']:9.4f} {r['p_mpjpe_mm']:9.4f} {r['n_mpjpe_mm']:9.4f} "
              f"{r['mpjve_mm']:9.4f}")
    print(f"{res['frames']} frames, {res['sequences']} sequences, subjects {','.join(res['subjects'])}, "
          f"TTA {'on' if args.tta else 'off'}, model {res['model']}")
    return 0


def _fmt(v: object) -> str:
    return "   -  " if v is None else f"{float(v):6.1f}"  # type: ignore[arg-type]


def print_table(res: dict) -> None:
    print(f"{'action':<16} {'P1':>6} {'P2':>6} {'N-MP':>6} {'MPJVE':>6}   (mm)")
    for g, m in sorted(res["per_action"].items()):
        print(f"{g:<16} {_fmt(m.get('mpjpe_mm'))} {_fmt(m.get('p_mpjpe_mm'))} {_fmt(m.get('n_mpjpe_mm'))} "
              f"{_fmt(m.get('mpjve_mm'))}")
    print(f"{'average':<16} {_fmt(res['mpjpe_mm'])} {_fmt(res['p_mpjpe_mm'])} {_fmt(res['n_mpjpe_mm'])} "
          f"{_fmt(res['mpjve_mm'])}")
    pp = res.get("postprocessed")
    if pp:
        print(f"{'as infer outputs':<16} {_fmt(pp.get('mpjpe_mm'))} {_fmt(pp.get('p_mpjpe_mm'))} "
              f"{_fmt(pp.get('n_mpjpe_mm'))} {_fmt(pp.get('mpjve_mm'))}   (left/right repaired, constant bones)")
    if "trajectory_error_mm" in res:
        print(f"root trajectory error {res['trajectory_error_mm']:.1f} mm "
              f"(constant-depth baseline {res['trajectory_baseline_constant_depth_mm']:.1f} mm)")
    print(f"{res['frames']} frames, {res['sequences']} sequences, input {res['input']}, model {res['model']}")
