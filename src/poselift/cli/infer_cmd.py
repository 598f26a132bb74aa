"""``poselift infer``: videos (or keypoint files) -> 3D skeletons, exports and a rendering."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from poselift.cli import options as opt
from poselift.options import DETECTOR_MODELS, FRAMINGS, PERSON_STRATEGIES, RENDER_FORMATS, ExportOptions, PlaceOptions
from poselift.options import DetectOptions as D
from poselift.options import LiftOptions as L
from poselift.options import RenderOptions as R
from poselift.options import TrackOptions as T


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "infer", help="video(s) to 3D skeletons: npz (+json/csv) and a rendered video",
        description="Detect 2D keypoints with the embedded BlazePose models (offline), pick one "
                    "person consistently over time, fill short gaps, lift to 3D with the shipped model "
                    "and write OUTDIR/<stem>.npz plus a rendering OUTDIR/<stem>.mp4. Several files or "
                    "folders are processed in turn (or in parallel with --workers); one bad file never "
                    "stops the others, and the exit code is non-zero if any failed.")
    p.add_argument("inputs", nargs="*", metavar="VIDEO_OR_FOLDER",
                   help="video files (mp4/avi/mov/webm/mkv/gif) or folders of them")
    p.add_argument("-o", "--outdir", default=None, metavar="OUTDIR",
                   help="output folder (default: beside each video)")
    g = p.add_argument_group("2D keypoints")
    g.add_argument("--detector", default=D.detector,
                   help="2D detector backend: blazepose (the shipped BlazePose models on the TFLite runtime), "
                        "mediapipe (MediaPipe's own pose graph, needs the mediapipe extra) (default: %(default)s)")
    g.add_argument("--detector-model", default=D.model, choices=list(DETECTOR_MODELS),
                   help="BlazePose landmark model, all three shipped: lite (fastest), full, heavy (most "
                        "accurate, slowest); auto: heavy, or full with --detector mediapipe (its only "
                        "model) (default: %(default)s)")
    g.add_argument("--keypoints", default=None, metavar="FILE",
                   help="skip detection and use precomputed 2D: VideoPose3D/Detectron2 per-video npz, "
                        "VideoPose3D custom-dataset npz, COCO keypoint JSON, OpenPose JSON folder or "
                        "AlphaPose JSON (give the video too to render it and to know its size/fps)")
    g.add_argument("--person", default=T.person, choices=list(PERSON_STRATEGIES),
                   help="which person to follow when several are visible; 'consistent' (default) starts "
                        "with the most complete large person and stays with them")
    g.add_argument("--multi-person", action="store_true",
                   help="follow every person instead of one: BlazePose's own detector and landmark models "
                        "run per person (offline, needs ai-edge-litert), people are tracked over time and "
                        "each track is lifted separately; the npz then has P = number of tracks, the track "
                        "seen in most frames first")
    g.add_argument("--max-people", type=_max_people, default=T.max_people, metavar="N",
                   help="with --multi-person, keep the N tracks seen in most frames; 0 keeps all "
                        "(default: %(default)s)")
    g.add_argument("--score-threshold", type=opt.fraction, default=T.score_threshold,
                   help="joints below this confidence are interpolated (default: %(default)s)")
    g.add_argument("--max-gap", type=opt.nonneg_float, default=T.max_gap, metavar="SECONDS",
                   help="longest gap filled by interpolation; longer ones are marked invalid (default: %(default)s)")
    t = p.add_argument_group("time")
    t.add_argument("--start", default=None, metavar="T", help="start time, seconds or mm:ss")
    t.add_argument("--end", default=None, metavar="T", help="end time, seconds or mm:ss")
    t.add_argument("--fps", type=opt.fps_value, default=None, help="analyse at most this many frames per second")
    c = p.add_argument_group("camera")
    c.add_argument("--focal-length", type=opt.focal_px, default=None, metavar="PIXELS",
                   help="camera focal length in pixels (default: a 26 mm-equivalent phone lens)")
    c.add_argument("--fov", type=opt.fov_degrees, default=None, metavar="DEGREES",
                   help="field of view along the long image side, instead of --focal-length")
    m = p.add_argument_group("lifting")
    m.add_argument("--model", default=L.model, metavar="NAME_OR_PATH",
                   help="shipped model name, poselift .safetensors or VideoPose3D .bin (default: %(default)s)")
    m.add_argument("--input-layout", choices=["coco17", "h36m17"], default=None,
                   help="2D layout a VideoPose3D checkpoint expects (coco17 for "
                        "pretrained_h36m_detectron_coco.bin, h36m17 for pretrained_h36m_cpn.bin)")
    m.add_argument("--causal", action="store_true", help="the VideoPose3D checkpoint is causal")
    m.add_argument("--tta", dest="tta", action="store_true", default=L.tta,
                   help="test-time flip augmentation (default: on)")
    m.add_argument("--no-tta", dest="tta", action="store_false")
    m.add_argument("--no-lr-repair", dest="lr_repair", action="store_false",
                   help="keep the detector's left/right labels as they are (default: undo whole-body front/back "
                        "flips and short arm/leg swaps by the continuity of each side, see README)")
    m.add_argument("--free-bones", dest="fixed_bones", action="store_false",
                   help="keep the network's per-frame bone lengths (default: each person's bones get "
                        "constant lengths (see --bone-proportions) and a rigid pelvis and thorax fitted over "
                        "the clip, so a BVH reproduces the npz)")
    m.add_argument("--bone-proportions", choices=("auto", "median"), default=L.bone_proportions,
                   help="constant bones: each bone's median over the clip; auto also lengthens forearms that "
                        "are short for their upper arm against the skeleton the model was trained on, when its "
                        "card names one (the shipped models: Human3.6M's), because the network shortens hands "
                        "it is unsure of; median does not (default: %(default)s)")
    m.add_argument("--keypoint-definition", choices=("detector", "joint-centres"), default=L.keypoint_definition,
                   help="where the 2D keypoints sit on the body, for models that take it as an input: detector "
                        "(BlazePose or another detector trained on annotated images) or joint-centres (projected "
                        "mocap joint centres, e.g. Human3.6M ground-truth 2D in a --keypoints file) "
                        "(default: %(default)s)")
    m.add_argument("--no-trajectory", dest="trajectory", action="store_false",
                   help="leave 'trajectory' at zero; by default, without a trajectory network, the root "
                        "position is solved so the 3D pose projects onto the 2D keypoints (needs a "
                        "sensible --focal-length/--fov for metric depth)")
    m.add_argument("--trajectory-model", default=L.trajectory_model, metavar="NAME_OR_PATH",
                   help="trajectory network for the root position: auto (the one the model's card names; the "
                        "shipped default names none, so the root is solved geometrically), a shipped name "
                        "(trajectory), a .safetensors path, or none (default: %(default)s)")
    m.add_argument("--world", action="store_true",
                   help="also write world-frame joints: poses_world [P,T,17,3] metres, Y up, one floor at Y = 0 "
                        "for everyone (fitted to the lowest feet over time), origin below the first root, and "
                        "camera_to_world [4,4]; the trajectory is grounded (roots moved along their camera rays "
                        "so standing feet meet the floor); BVH, JSON, CSV and HTML exports then carry the world; "
                        "implied by --export bvh and --export html "
                        "(unless --no-trajectory)")
    o = p.add_argument_group("outputs")
    o.add_argument("--export", default="", metavar="FORMATS",
                   help="extra formats beside the npz, comma-separated: json, csv, html (a self-contained "
                        "interactive 3D viewer page), bvh (motion capture, Y up, centimetres, one "
                        "<stem>.bvh per person; see docs/blender.md); bvh and html imply --world")
    o.add_argument("--bvh-no-smooth", dest="bvh_smooth", action="store_false",
                   help="write the BVH without its zero-phase smoothing (sigma 1 frame) of the positions")
    o.add_argument("--viz-export", default=None, metavar="FILE.npy",
                   help="also save VideoPose3D's camera-space (T,17,3) array (single video only)")
    o.add_argument("--no-render", dest="render", action="store_false", help="skip the rendered video")
    o.add_argument("--render-format", choices=list(RENDER_FORMATS), default=R.format)
    o.add_argument("--viz-size", type=opt.number(int, min=16, max=8192), default=R.size, help="rendered video height in pixels (default: %(default)s)")
    o.add_argument("--viz-azimuth", type=opt.number(float, min=-360, max=360), default=R.azimuth, metavar="DEG",
                   help="3D panel view angle around the vertical, degrees; 0 looks from the video's camera, "
                        "positive turns counter-clockwise seen from above (default: %(default)s)")
    o.add_argument("--viz-elevation", type=opt.number(float, min=-90, max=90), default=R.elevation, metavar="DEG",
                   help="3D panel viewpoint height above the horizon, degrees (default: %(default)s)")
    o.add_argument("--viz-camera-view", action="store_true",
                   help="show the 3D panel from the video's camera (azimuth 0, elevation = the camera's pitch)")
    o.add_argument("--viz-framing", choices=list(FRAMINGS), default=R.framing,
                   help="3D panel framing: one view for the whole video (fixed), a view following the "
                        "people (follow), or fixed unless they cover more than 6 m (auto, default)")
    o.add_argument("--viz-downsample", type=opt.positive_int, default=R.downsample, help="render every N-th frame")
    o.add_argument("--viz-skip", type=opt.nonneg_int, default=R.skip, help="skip the first N frames in the rendering")
    o.add_argument("--viz-limit", type=opt.number(int, min=1, allow=(-1,)), default=R.limit, help="render at most N frames (-1: all)")
    o.add_argument("--viz-bitrate", type=opt.number(int, min=1, max=1_000_000), default=R.bitrate, help="rendered video bitrate, kbit/s")
    p.add_argument("--workers", type=opt.number(int, min=1, max=64), default=None,
                   help="videos processed in parallel (default: 1; with --ray: a local Ray's CPUs, all by "
                        "default, or the most tasks in flight on a cluster)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress bars even when stderr is not a terminal (default: only on a terminal)")
    r = p.add_argument_group("Ray (optional extra: pip install 'poselift[ray]')")
    r.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="one Ray task per video: without ADDRESS on a Ray instance started on this machine, "
                        "with one (auto, ray://host:port) on that cluster; there the videos and OUTDIR must be "
                        "at the same path on every node (shared storage)")
    r.add_argument("--ray-task-cpus", type=opt.number(float, min=0.01, max=1024), default=1.0, metavar="N",
                   help="CPUs each video's task declares (default: %(default)s)")
    r.add_argument("--ray-task-memory", type=opt.number(float, min=0.01, max=4096), default=2.0, metavar="GB",
                   help="memory each video's task declares, GiB (default: %(default)s)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    # On/off flags default to the stage options' defaults too: one place for every default.
    p.set_defaults(func=run, causal=L.causal, tta=L.tta, lr_repair=L.lr_repair, fixed_bones=L.fixed_bones,
                   trajectory=L.trajectory, world=PlaceOptions.world, multi_person=T.multi_person,
                   bvh_smooth=ExportOptions.bvh_smooth, render=R.enabled, viz_camera_view=R.camera_view)


def _max_people(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (all) or more, got {n}")
    return n


def pipeline_options(args: argparse.Namespace, start: float | None, end: float | None,
                     exports: tuple[str, ...]):
    """The :class:`~poselift.options.PipelineOptions` the flags ask for: the same objects
    :class:`poselift.Pipeline` takes, so ``infer`` and the API share defaults and code."""
    from poselift.options import (DecodeOptions, DetectOptions, ExportOptions, LiftOptions, PipelineOptions,
                                  PlaceOptions, RenderOptions, TrackOptions)

    return PipelineOptions(
        decode=DecodeOptions(start=start, end=end, fps=args.fps),
        detect=DetectOptions(detector=args.detector, model=args.detector_model),
        track=TrackOptions(multi_person=args.multi_person, person=args.person, max_people=args.max_people or None,
                           score_threshold=args.score_threshold, max_gap=args.max_gap),
        lift=LiftOptions(model=args.model, input_layout=args.input_layout, causal=args.causal, tta=args.tta,
                         lr_repair=args.lr_repair, fixed_bones=args.fixed_bones, trajectory=args.trajectory,
                         trajectory_model=args.trajectory_model,
                         bone_proportions=args.bone_proportions, keypoint_definition=args.keypoint_definition,
                         focal_length=args.focal_length, fov=args.fov),
        place=PlaceOptions(world=args.world),
        export=ExportOptions(formats=exports, bvh_smooth=args.bvh_smooth,
                             viz_export=Path(args.viz_export) if args.viz_export else None),
        render=RenderOptions(enabled=args.render, format=args.render_format, size=args.viz_size,
                             azimuth=args.viz_azimuth, elevation=args.viz_elevation,
                             camera_view=args.viz_camera_view, framing=args.viz_framing,
                             downsample=args.viz_downsample, skip=args.viz_skip, limit=args.viz_limit,
                             bitrate=args.viz_bitrate))


def run(args: argparse.Namespace) -> int:
    from poselift.errors import InputError
    from poselift.infer import InferOptions, expand_inputs, print_summary, run_batch
    from poselift.io.video import parse_time

    if args.ray is not None:
        from poselift.batch_ray import is_ray_address

        if not is_ray_address(args.ray):  # `--ray clip.mp4`: an input, not an address
            args.inputs.append(args.ray)
            args.ray = "local"
        if args.keypoints or args.viz_export:
            raise InputError("--ray processes videos; --keypoints and --viz-export go with one local video")
    if not args.inputs and not args.keypoints:
        raise InputError("give at least one video or folder (or --keypoints FILE)")
    videos = expand_inputs(args.inputs)
    if args.inputs and not videos:
        raise InputError("no video files found", ", ".join(args.inputs))
    if args.keypoints and len(videos) > 1:
        raise InputError("--keypoints goes with one video at a time")
    if args.viz_export and len(videos) > 1:
        raise InputError("--viz-export goes with one video at a time")
    if args.viz_export and not Path(args.viz_export).resolve().parent.is_dir():
        raise InputError("--viz-export: output folder does not exist", Path(args.viz_export).parent)
    if args.focal_length is not None and args.fov is not None:
        raise InputError("give --focal-length or --fov, not both")
    try:
        start, end = parse_time(args.start), parse_time(args.end)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    exports = tuple(e.strip().lower() for e in args.export.split(",") if e.strip())
    bad = [e for e in exports if e not in ("json", "csv", "npz", "html", "bvh")]
    if bad:
        raise InputError(f"unknown --export format(s): {', '.join(bad)} (known: json, csv, html, bvh)")
    if start is not None and end is not None and end <= start:
        raise InputError(f"--end ({end:g} s) must be after --start ({start:g} s)")
    options = pipeline_options(args, start, end, exports)
    opts = InferOptions.from_options(
        options, outdir=Path(args.outdir) if args.outdir else None,
        keypoints=Path(args.keypoints) if args.keypoints else None,
        progress=sys.stderr.isatty() if args.progress is None else args.progress)
    if args.ray is not None:
        from poselift.batch_ray import run_batch_ray

        results = run_batch_ray(videos, opts, address=args.ray, workers=args.workers,
                                task_cpus=args.ray_task_cpus, task_memory_gb=args.ray_task_memory,
                                progress=opts.progress)
    else:
        results = run_batch(videos, opts, workers=max(1, args.workers or 1))
    print_summary(results)
    return 0 if all(r.ok for r in results) else 1
