"""``poselift lift``: 2D keypoint sequences in a file -> 3D poses, no video involved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poselift.cli import options as opt
from poselift.errors import InputError
from poselift.options import LiftOptions


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lift", help="lift 2D keypoint sequences (npz) to 3D",
        description="Lift 2D keypoint sequences to 3D joints with a temporal model. INPUT is a "
                    "VideoPose3D custom-dataset npz (data_2d_custom_*.npz), a VideoPose3D/Detectron2 "
                    "per-video npz, or an npz written by 'poselift infer'. Sequences are edge-padded "
                    "by the receptive field (on the left only for causal models), so the output has "
                    "one pose per input frame.")
    p.add_argument("input", metavar="INPUT", help="2D keypoint file (.npz)")
    p.add_argument("--model", default="default", metavar="NAME_OR_PATH",
                   help="shipped model name (see 'poselift models') or a path to a poselift "
                        ".safetensors or an original VideoPose3D .bin checkpoint (default: %(default)s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                   help="output npz; keys poses_3d [P,T,J,3] metres (the network's output, camera "
                        "frame), trajectory [P,T,3], keypoints_2d, scores_2d, valid, fps, image_size, "
                        "joint_names, parents. A custom dataset with several videos writes one file "
                        "per video, OUT.<video>.npz, unless --video picks one")
    p.add_argument("--tta", dest="tta", action="store_true", default=True,
                   help="test-time augmentation: average with the mirrored sequence (default: on)")
    p.add_argument("--no-tta", dest="tta", action="store_false", help="disable test-time augmentation")
    p.add_argument("--causal", action="store_true",
                   help="the model is causal (sees only past frames); needed for VideoPose3D "
                        "checkpoints trained with --causal, since weights do not show it")
    p.add_argument("--dense", dest="dense", action="store_true", default=None,
                   help="the VideoPose3D checkpoint was trained with --dense (default: read from the weight "
                        "shapes, with a warning when they fit both readings)")
    p.add_argument("--no-dense", dest="dense", action="store_false",
                   help="the VideoPose3D checkpoint was trained without --dense")
    p.add_argument("--input-layout", choices=["coco17", "h36m17"], default=None,
                   help="2D layout a VideoPose3D checkpoint expects (default: the layout of a VideoPose3D "
                        "input file; otherwise ambiguous for 17 joints, which is warned about)")
    p.add_argument("--keypoint-definition", choices=("detector", "joint-centres"), default="detector",
                   help="where the 2D keypoints sit on the body, for models that take it as an input: detector "
                        "(BlazePose, Detectron2 or another detector trained on annotated images) or "
                        "joint-centres (projected mocap joint centres, e.g. Human3.6M ground-truth 2D) "
                        "(default: %(default)s)")
    p.add_argument("--trajectory-model", default=LiftOptions.trajectory_model, metavar="NAME_OR_PATH",
                   help="trajectory network whose raw root positions fill 'trajectory': auto (the one the "
                        "model's card names; the shipped default names none), a shipped name (trajectory), "
                        "a .safetensors path, or none (zeros)")
    p.add_argument("--video", default=None, metavar="NAME",
                   help="with a multi-video custom dataset, lift only this video")
    p.add_argument("--root-relative", action="store_true",
                   help="subtract the root joint so it sits exactly at the origin")
    p.add_argument("--focal-length", type=opt.focal_px, default=None, metavar="PIXELS",
                   help="camera focal length in pixels, for lens-normalised models and trajectories "
                        "(default: a 26 mm-equivalent lens for the image size)")
    p.add_argument("--fov", type=opt.fov_degrees, default=None, metavar="DEGREES",
                   help="field of view along the long image side, instead of --focal-length")
    p.set_defaults(func=run)


def lift_options(args: argparse.Namespace):
    """The :class:`~poselift.options.LiftOptions` of ``poselift lift``'s flags: the network's
    raw output (no bone fixing, no left/right repair, no root solve), as documented."""
    return LiftOptions(model=args.model, input_layout=args.input_layout, causal=args.causal, dense=args.dense,
                       tta=args.tta, root_relative=args.root_relative, focal_length=args.focal_length,
                       fov=args.fov, fixed_bones=False, lr_repair=False, trajectory=False,
                       keypoint_definition=args.keypoint_definition, trajectory_model=args.trajectory_model)


def run(args: argparse.Namespace) -> int:
    from poselift.lift.pipeline import lift_keypoint_file  # NumPy and the model load only when needed

    outputs = lift_keypoint_file(Path(args.input), output=Path(args.output), options=lift_options(args),
                                 video=args.video)
    for path, shape in outputs:
        print(f"wrote {path}  poses_3d {shape}", file=sys.stderr)
    return 0
