"""``poselift train``: train a pose or trajectory lifter from motion capture."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from poselift.cli import options as opt


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a lifting (or trajectory) model from mocap",
        description="Train a temporal lifting model. 3D motion comes from mocap (Human3.6M exp-map, "
                    "BVH, VideoPose3D data_3d npz); 2D input is generated on the fly by projecting it "
                    "through random virtual cameras (or the four Human3.6M cameras) with a detector-like "
                    "noise model. Options follow VideoPose3D's run.py where they make sense.")
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", default=None, metavar="PATH",
                   help="data folders laid out like shared/data, or mocap files (default: $POSELIFT_DATA "
                        "or ../shared/data)")
    d.add_argument("--dataset", default="all", choices=["all", "h36m", "bvh", "bandai-namco", "cmu"],
                   help="which mocap collections to use (default: %(default)s)")
    d.add_argument("--subjects-train", default=None, metavar="S1,S5,...",
                   help="train on these subjects only (default: all)")
    d.add_argument("--subjects-val", default=None, metavar="S8",
                   help="validate on these subjects (default: 10%% of clips held out); a subject also in "
                        "--subjects-train stays in training and validates in-sample (the paper's "
                        "protocol trains on every subject)")
    d.add_argument("--subjects-unlabeled", default=None, metavar="S5,S6,...",
                   help="with --semi-supervised: subjects used as 2D-only data")
    d.add_argument("--subset", type=opt.number(float, min=0, min_open=True, max=1), default=1.0, metavar="FRACTION",
                   help="fraction of the labelled frames to keep (e.g. 0.1)")
    d.add_argument("--downsample", type=opt.positive_int, default=1, metavar="N", help="keep every N-th frame")
    d.add_argument("--fps", type=opt.fps_value, default=50.0, help="frame rate the model works at (default: %(default)s)")
    d.add_argument("--leg-length", type=opt.number(float, min=0), default=0.0, metavar="M",
                   help="rescale every clip so its hip-to-ankle length is M metres (0.8971: Human3.6M's skeleton; "
                        "default 0: as captured)")
    d.add_argument("--retarget", choices=["none", "h36m"], default="none",
                   help="put every clip on one skeleton: h36m gives each the Human3.6M skeleton's bone lengths "
                        "(bone directions kept), so rigs that place joints differently stop disagreeing about "
                        "the 3D answer (default: none, as captured)")
    d.add_argument("--cameras", choices=["virtual", "h36m"], default="virtual",
                   help="random virtual cameras, or the Human3.6M cameras of each subject")
    d.add_argument("--h36m-camera-share", type=opt.number(float, min=0, max=1), default=0.0, metavar="P",
                   help="with --cameras virtual: this share of the chunks cut from Human3.6M clips is seen "
                        "through one of that subject's real cameras (elevated, looking down) instead of a "
                        "random one (default: %(default)s)")
    d.add_argument("--noise", choices=["detector", "clean"], default="detector",
                   help="detector-like 2D noise or clean projections (default: %(default)s)")
    d.add_argument("--keypoint-style", choices=("blazepose", "none"), default="blazepose",
                   help="with --noise detector: move the 2D of a share of the chunks (--style-prob) to where "
                        "the detector puts its keypoints (BlazePose: hips higher and narrower, shoulders wider "
                        "than mocap joint centres; docs/keypoint_style.md) while the 3D targets stay joint "
                        "centres, or none (default: %(default)s)")
    d.add_argument("--style-prob", type=float, default=0.75, metavar="P",
                   help="share of training chunks in the detector's keypoint style (default: %(default)s)")
    d.add_argument("--keypoint-definition-input", action="store_true",
                   help="give the network a third input feature per joint saying where the 2D keypoints sit: 1 "
                        "on the chunks in the detector's style (--style-prob), 0 on joint centres; infer, lift "
                        "and evaluate set it with --keypoint-definition, so one model serves detector 2D and "
                        "mocap-derived 2D without a compromise between them")
    d.add_argument("--pose-balance", type=opt.number(float, min=0, max=2), default=0.0, metavar="POWER",
                   help="draw chunks around rare poses more often: frames are grouped around 64 poses spread "
                        "over the pose space (farthest-point sampling) and weigh (share of their group) ** "
                        "-POWER, capped at 10x the mean; 0 keeps every frame equal, 1 gives every group the same "
                        "share (default: %(default)s)")
    d.add_argument("--no-da", dest="augment", action="store_false", help="disable flip augmentation")
    m = p.add_argument_group("model")
    m.add_argument("-arc", "--architecture", default="3,3,3,3", metavar="W1,W2,...",
                   help="filter widths; receptive field = their product (default: %(default)s = 81)")
    m.add_argument("--causal", action="store_true", help="causal convolutions (streaming)")
    m.add_argument("--dense", action="store_true", help="dense convolutions (no dilation)")
    m.add_argument("-ch", "--channels", type=opt.number(int, min=1, max=8192), default=256, help="channels per layer (default: %(default)s)")
    m.add_argument("-drop", "--dropout", type=opt.number(float, min=0, max=0.99), default=0.25, help="dropout (default: %(default)s)")
    m.add_argument("--trajectory", action="store_true",
                   help="train a trajectory model (root position in camera space) instead of a pose model")
    m.add_argument("--semi-supervised", action="store_true",
                   help="semi-supervised training: pose + trajectory on labelled data, back-projection "
                        "and bone-length losses on --subjects-unlabeled")
    m.add_argument("--semi-2d", choices=("normalized", "absolute"), default="normalized",
                   help="back-projection loss on unlabelled data: on root-centred, size-normalised 2D "
                        "shapes (normalized, default), which keeps trajectory errors out of the pose, or "
                        "the paper's, in image units (absolute)")
    m.add_argument("--warmup", type=opt.nonneg_int, default=1, help="supervised-only epochs before semi-supervision")
    m.add_argument("--input-norm", choices=("focal_scaled", "focal"), default="focal_scaled",
                   help="2D input units: camera rays (x - c) / f, further centred on the person and divided "
                        "by their 2D size (focal_scaled, default: lens- and distance-invariant), or rays only")
    m.add_argument("--init", default="", metavar="NAME_OR_PATH",
                   help="start from this poselift model's weights (same architecture), i.e. fine-tune it")
    o = p.add_argument_group("optimisation")
    o.add_argument("-lr", "--learning-rate", type=opt.positive_float, default=1e-3)
    o.add_argument("-lrd", "--lr-decay", type=opt.number(float, min=0, min_open=True, max=1), default=0.95, help="per-epoch learning-rate factor")
    o.add_argument("--lr-schedule", choices=("epoch", "time"), default="epoch",
                   help="epoch: lr x lr_decay^epoch (VideoPose3D's); time: the same exponential decay laid over "
                        "--time-limit, from lr to lr x --lr-final, so the run reaches its low tail at the limit "
                        "(resumes continue the schedule from the recorded elapsed time)")
    o.add_argument("--lr-final", type=opt.number(float, min=0, min_open=True, max=1), default=0.01, metavar="FACTOR",
                   help="with --lr-schedule time: final learning rate as a fraction of -lr (default: %(default)s)")
    o.add_argument("--velocity-weight", type=opt.number(float, min=0, max=1000), default=0.0, metavar="W",
                   help="add W x MPJVE (error of frame-to-frame motion) to the pose loss (default: %(default)s)")
    o.add_argument("--ema", type=opt.number(float, min=0, max=0.99999), default=0.0, metavar="DECAY",
                   help="save an exponential moving average of the weights (decay per step, e.g. 0.999: "
                        "an average over the last ~1000 steps) instead of the last weights; the last weights "
                        "go beside it as <output>_live.safetensors and the log shows both validation errors "
                        "(default: 0, off)")
    o.add_argument("--compile", action="store_true", help="torch.compile the training forward pass")
    o.add_argument("--prefetch", action="store_true",
                   help="draw each batch in a background thread during the step before instead of between "
                        "steps (same batches, same model). For a network on a GPU, whose step leaves the CPU "
                        "idle; on 2 CPU cores it gains nothing (benchmarks/train_step.py)")
    o.add_argument("-e", "--epochs", type=opt.positive_int, default=20)
    o.add_argument("-b", "--batch-size", type=opt.positive_int, default=64, help="chunks per batch (default: %(default)s)")
    o.add_argument("--chunk", type=opt.positive_int, default=32, help="output frames per chunk (default: %(default)s)")
    o.add_argument("--epoch-size", type=opt.positive_int, default=20000, help="chunks per epoch (default: %(default)s)")
    o.add_argument("--seed", type=int, default=1234)
    o.add_argument("--time-limit", type=opt.nonneg_float, default=0.0, metavar="MIN",
                   help="stop after the epoch that passes this many minutes (0: no limit)")
    r = p.add_argument_group("output")
    r.add_argument("-o", "--output", required=True, metavar="MODEL.safetensors", help="where to write the model")
    r.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                   help="resumable checkpoints (default: beside the output, <output>.ckpt/)")
    r.add_argument("--checkpoint-frequency", type=opt.positive_int, default=1, metavar="EPOCHS")
    r.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    r.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda, cuda:1...")
    r.add_argument("--threads", type=opt.nonneg_int, default=0, help="torch CPU threads (0: torch's default)")
    r.add_argument("--licence", default=None, help="licence text for the model card (default: from the data)")
    r.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="progress bars even when stderr is not a terminal (default: only on a terminal)")
    r.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=run)


def _split(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


LICENCES = {
    "h36m": "Research only: trained on Human3.6M motion, which is licensed for non-commercial research use.",
    "all": ("Non-commercial: trained on Human3.6M (non-commercial research use only), Bandai-Namco "
            "Research Motion Dataset (CC BY-NC 4.0) and CMU mocap (no resale). Use the weights for "
            "research and other non-commercial purposes only."),
    "bvh": "Non-commercial: Bandai-Namco Research Motion Dataset (CC BY-NC 4.0) and CMU mocap (no resale).",
    "bandai-namco": "Non-commercial: Bandai-Namco Research Motion Dataset (CC BY-NC 4.0).",
    "cmu": "CMU mocap: research and commercial use allowed, the data may not be resold.",
}


def run(args: argparse.Namespace) -> int:
    if args.progress is None:
        args.progress = sys.stderr.isatty()
    from poselift.lift.weights import require_torch

    torch = require_torch("poselift train")  # one line saying how to install it when missing

    from poselift.train.data import default_data_dir, load_clips, split_validation, take_subset
    from poselift.train.trainer import TrainConfig, train

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    data = args.data or [str(default_data_dir())]
    cfg = TrainConfig(architecture=args.architecture, channels=args.channels, dropout=args.dropout,
                      causal=args.causal, dense=args.dense, lr=args.learning_rate, lr_decay=args.lr_decay,
                      epochs=args.epochs, batch_size=args.batch_size, chunk=args.chunk,
                      epoch_size=args.epoch_size, cameras=args.cameras, h36m_camera_share=args.h36m_camera_share, noise=args.noise, augment=args.augment,
                      fps=args.fps, downsample=args.downsample, subset=args.subset,
                      kind="trajectory" if args.trajectory else "pose", semi_supervised=args.semi_supervised,
                      warmup=args.warmup, seed=args.seed, threads=args.threads, time_limit_min=args.time_limit,
                      init=args.init, input_norm=args.input_norm, semi_2d=args.semi_2d,
                      keypoint_style=args.keypoint_style, style_prob=args.style_prob,
                      keypoint_definition_input=args.keypoint_definition_input,
                      velocity_weight=args.velocity_weight, lr_schedule=args.lr_schedule, lr_final=args.lr_final,
                      compile=args.compile, prefetch=args.prefetch, pose_balance=args.pose_balance,
                      leg_length=args.leg_length,
                      retarget=args.retarget, ema=args.ema)
    train_subj, val_subj = _split(args.subjects_train), _split(args.subjects_val)
    clips = load_clips(data, args.dataset, args.fps, train_subj, args.downsample, args.progress)
    if val_subj:
        val = load_clips(data, args.dataset, args.fps, val_subj, args.downsample, args.progress)
        in_sample = set(val_subj) & set(train_subj or ())
        if in_sample:
            print(f"validating in-sample on {','.join(sorted(in_sample))}: also in --subjects-train",
                  file=sys.stderr)
        clips = [c for c in clips if c.subject not in val_subj or c.subject in in_sample]
    else:
        clips, val = split_validation(clips, 0.1, args.seed)
    clips = take_subset(clips, args.subset, args.seed)
    unlabeled = None
    if args.semi_supervised:
        un_subj = _split(args.subjects_unlabeled)
        if not un_subj:
            from poselift.errors import InputError
            raise InputError("--semi-supervised needs --subjects-unlabeled")
        unlabeled = load_clips(data, args.dataset, args.fps, un_subj, args.downsample, args.progress)
    out = Path(args.output)
    ckpt = Path(args.checkpoint_dir) if args.checkpoint_dir else out.with_name(out.stem + ".ckpt")
    frames = sum(len(c.positions) for c in clips)
    print(f"training on {len(clips)} clips ({frames} frames at {args.fps:g} fps), "
          f"validating on {len(val)} clips, device {device}", file=sys.stderr)
    card = {"name": out.stem, "licence": args.licence or LICENCES.get(args.dataset, ""),
            "training": {"command": "poselift train " + " ".join(shlex.quote(a) for a in sys.argv[2:])
                         if len(sys.argv) > 2 else "", "dataset": args.dataset,
                         "subjects_train": train_subj, "subjects_val": val_subj, "train_clips": len(clips),
                         "train_frames": frames}}
    res = train(cfg, clips, val, out, card=card, checkpoint_dir=ckpt, resume=args.resume,
                checkpoint_every=args.checkpoint_frequency, device=device, unlabeled=unlabeled,
                progress=args.progress, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(f"wrote {res.model_path} after {res.epochs_done} epochs in {res.wall_time_s / 60:.1f} min; "
          f"validation error {res.val_mpjpe_mm:.1f} mm", file=sys.stderr)
    return 0
