"""``poselift live``: a camera, stream or video played in real time -> one JSON line per frame."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live", help="camera / stream / video in real time to 3D skeletons, one JSON line per frame",
        description="Run the 2D detector and the shipped causal lifting model frame by frame (it sees only "
                    "the current and past frames) and write one JSON object per line: frame, time_s, valid, "
                    "joints_cam (17 x [x, y, z] m, camera frame, root-relative), root_cam, joints_world "
                    "(Y up, floor at 0; null until the floor is known), keypoints_2d, latency_ms. When "
                    "processing falls behind the source, frames are dropped (and counted) rather than "
                    "queued. Ctrl-C stops cleanly; a summary line (frames in/out, dropped, median and "
                    "95th-percentile latency) goes to stderr.")
    p.add_argument("source", metavar="SOURCE",
                   help="camera index (0, 1, ...), a stream URL (rtsp://, http://, udp://, anything FFmpeg "
                        "opens) or a video file")
    p.add_argument("-o", "--output", default=None, metavar="FILE.jsonl",
                   help="write the JSON lines to this file instead of stdout")
    p.add_argument("--realtime", action="store_true",
                   help="play a video file at its own frame rate, dropping frames when behind, as a camera "
                        "would deliver them (without it every frame of a file is processed)")
    p.add_argument("--viz", action="store_true",
                   help="show a preview window (frame with the 2D skeleton beside a 3D view; q stops) when a "
                        "display is available")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N output lines")
    p.add_argument("--model", default="causal", metavar="NAME_OR_PATH",
                   help="a causal poselift model (default: %(default)s)")
    p.add_argument("--no-tta", dest="tta", action="store_false",
                   help="no test-time flip augmentation (default: on, as in infer)")
    p.add_argument("--free-bones", dest="fixed_bones", action="store_false",
                   help="keep the network's per-frame bone lengths (default: each bone gets the running "
                        "median of its length over the frames so far)")
    p.add_argument("--no-trajectory", dest="trajectory", action="store_false",
                   help="do not solve the root position (root_cam and joints_world stay null)")
    p.add_argument("--focal-length", type=float, default=None, metavar="PIXELS",
                   help="camera focal length in pixels (default: a 26 mm-equivalent phone lens)")
    p.add_argument("--fov", type=float, default=None, metavar="DEGREES",
                   help="field of view along the long image side, instead of --focal-length")
    p.add_argument("--person", default="consistent",
                   choices=["consistent", "most-complete", "largest", "highest-score"],
                   help="which person to follow (default: %(default)s)")
    p.add_argument("--score-threshold", type=float, default=0.3,
                   help="joints below this confidence are re-estimated from their neighbours (default: %(default)s)")
    p.add_argument("--max-gap", type=float, default=0.5, metavar="SECONDS",
                   help="longest gap bridged; longer ones make frames invalid (default: %(default)s)")
    p.add_argument("--floor-after", type=float, default=2.0, metavar="SECONDS",
                   help="seconds of valid frames collected before the floor is fitted and joints_world "
                        "starts (default: %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from poselift.errors import InputError
    from poselift.live import LiveOptions, run_live

    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be at least 1, got {args.max_frames}")
    opts = LiveOptions(model=args.model, tta=args.tta, fixed_bones=args.fixed_bones, trajectory=args.trajectory,
                       person=args.person, score_threshold=args.score_threshold, max_gap=args.max_gap,
                       focal_length=args.focal_length, fov=args.fov, floor_after=args.floor_after)
    run_live(args.source, opts, args.output, realtime=args.realtime, viz=args.viz, max_frames=args.max_frames)
    return 0
