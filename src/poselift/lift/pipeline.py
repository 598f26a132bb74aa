"""From per-person 2D tracks to the 3D result: layout conversion, gap handling,
frame-rate resampling and lifting. Shared by ``poselift lift`` and ``poselift infer``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import InputError
from poselift.options import LiftOptions
from poselift.result import Result
from poselift.geometry.rigid import fit_rigid_skeleton
from poselift.geometry.skeletons import (H36M_BONE_LENGTHS, convert, enforce_bone_lengths, get_skeleton,
                                        skeleton_prior_lengths)
from poselift.lift.inference import lift_sequence
from poselift.lift.weights import LiftModel, load_model
from poselift.timeseries import resample_sequence


@dataclass
class Tracks2D:
    """2D keypoints of ``P`` people over ``T`` frames.

    Attributes:
        keypoints: float32 ``(P, T, J, 2)`` pixels in ``layout``.
        scores: float32 ``(P, T, J)`` confidences in [0, 1].
        valid: bool ``(P, T)``: the person's keypoints exist in that frame.
        layout: keypoint layout name.
        width, height: image size in pixels.
        fps: frame rate of the sequence, or None when unknown (then no resampling).
        timestamps: optional float ``(T,)`` seconds on the source's clock (for variable
            frame rate input, and carried to the result's ``time_s``).
        frame_index: optional int ``(T,)`` index of each step's frame in the source video
            or keypoint file (default ``0..T-1``), carried to the result's ``frame_index``.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    valid: np.ndarray
    layout: str
    width: int
    height: int
    fps: float | None = None
    timestamps: np.ndarray | None = None
    frame_index: np.ndarray | None = None


#: The npz contract in memory; :class:`poselift.Result` under its historical name.
Result3D = Result


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` runs of True in a 1D bool array."""
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def model_bone_prior(lm: LiftModel) -> tuple[float, ...] | None:
    """Bone lengths ``(16,)`` of the skeleton every training target of ``lm`` had, or None.

    A model trained with ``--retarget h36m`` only ever saw bodies of Human3.6M's
    proportions, so those are the proportions of any body it lifts; its card records it.
    """
    cfg = (lm.meta.get("training") or {}).get("config") or {}
    return H36M_BONE_LENGTHS if cfg.get("retarget") == "h36m" else None


def constant_bone_lengths(lm: LiftModel, poses: np.ndarray, bone_proportions: str = "auto") -> np.ndarray | None:
    """Bone lengths ``(17,)`` that ``infer``'s constant bones give one person's ``poses (T, 17, 3)``,
    or None for each bone's median (what :func:`enforce_bone_lengths` does by itself): with
    ``bone_proportions="auto"`` and a model with a training skeleton (:func:`model_bone_prior`),
    the medians with short forearms lengthened
    (:func:`~poselift.geometry.skeletons.skeleton_prior_lengths`)."""
    prior = model_bone_prior(lm) if bone_proportions == "auto" else None
    return skeleton_prior_lengths(poses, prior) if prior is not None else None


def lift_tracks(lm: LiftModel, tracks: Tracks2D, *, tta: bool = True, root_relative: bool = True,
                focal_px: float | None = None, fixed_bones: bool = False,
                geometric_trajectory: bool = False,
                center_px: tuple[float, float] | None = None, repair_flips: bool = False,
                source: Path | None = None, bone_proportions: str = "auto",
                keypoint_definition: str = "detector") -> Result3D:
    """Lift every person of ``tracks`` with ``lm``.

    Each contiguous run of valid frames is lifted on its own (edge-padded), so a gap
    never leaks invented motion into its neighbours; invalid frames get NaN poses.
    When the sequence's frame rate is known and differs from the model's by more than
    1 %, each run is resampled to the model's rate, lifted, and resampled back.
    ``focal_px`` (pixels) defaults to a 26 mm-equivalent lens for the image size; it
    matters for lens-normalised models and trajectories; ``center_px`` is the principal
    point (default: the image centre). ``fixed_bones`` gives each
    person constant bone lengths (see
    :func:`~poselift.geometry.skeletons.enforce_bone_lengths`: each bone's median; with
    ``bone_proportions`` ``"auto"`` and a model whose card names its training skeleton
    (:func:`model_bone_prior`), forearms no shorter against the upper arm than on that
    skeleton, :func:`~poselift.geometry.skeletons.skeleton_prior_lengths`) and a rigid pelvis and
    thorax (:func:`~poselift.geometry.rigid.fit_rigid_skeleton`): a skeleton a BVH rig
    reproduces; ``geometric_trajectory``
    fills the trajectory, when the model has no trajectory network, with the root
    position that makes the pose project onto the 2D keypoints. ``repair_flips`` first
    undoes the detector's left/right label flips in each person's 2D
    (:func:`~poselift.detect.lr_repair.repair_left_right`); the repaired 2D is what the
    result's ``keypoints_2d`` holds. ``keypoint_definition`` says where the keypoints sit
    on the body, for models with a keypoint-definition input
    (:func:`~poselift.lift.inference.network_input`).
    """
    from poselift.geometry.intrinsics import resolve_intrinsics

    from poselift.errors import PoseliftError

    p_count, t_count = tracks.valid.shape
    try:
        intr = resolve_intrinsics(tracks.width, tracks.height, focal_px, center_px=center_px)
    except PoseliftError as exc:
        raise InputError(str(exc), source) from None
    focal_px, center_px = intr.focal_px, intr.center_px
    # A frame with a non-finite joint is a gap: it must neither be lifted nor spread NaN
    # through the network's receptive field into its neighbours.
    valid = np.asarray(tracks.valid, bool) & np.isfinite(tracks.keypoints).all(axis=(-1, -2))
    if repair_flips:
        from poselift.detect.lr_repair import repair_left_right

        kp_r, sc_r = tracks.keypoints.copy(), tracks.scores.copy()
        for p in range(p_count):
            kp_r[p], sc_r[p], _ = repair_left_right(tracks.keypoints[p], tracks.scores[p], valid[p], tracks.layout)
        tracks = Tracks2D(kp_r, sc_r, tracks.valid, tracks.layout, tracks.width, tracks.height, tracks.fps,
                          tracks.timestamps, tracks.frame_index)
    try:
        kp_model = convert(tracks.keypoints, tracks.layout, lm.input_layout)
    except ValueError as exc:
        raise InputError(f"cannot feed {tracks.layout} keypoints to a model expecting "
                         f"{lm.input_layout}: {exc}") from None
    kp17 = convert(tracks.keypoints, tracks.layout, "h36m17") if tracks.layout != "h36m17" else tracks.keypoints
    sc17 = (convert(tracks.scores[..., None], tracks.layout, "h36m17", has_score=True)[..., 0]
            if tracks.layout != "h36m17" else tracks.scores)
    j_out = get_skeleton(lm.output_layout).num_joints
    poses = np.full((p_count, t_count, j_out, 3), np.nan, np.float32)
    traj = np.zeros((p_count, t_count, 3), np.float32)
    times = tracks.timestamps
    if times is None and tracks.fps:
        times = np.arange(t_count) / tracks.fps
    resample = times is not None and tracks.fps is not None and abs(tracks.fps - lm.fps) > 0.01 * lm.fps
    for p in range(p_count):
        for s, e in _segments(valid[p]):
            seg = kp_model[p, s:e]
            if resample:
                t_seg = times[s:e]
                t_model = np.arange(t_seg[0], t_seg[-1] + 0.5 / lm.fps, 1.0 / lm.fps)
                seg = resample_sequence(seg, t_seg, t_model)
            out = lift_sequence(lm, seg, tracks.width, tracks.height, tta=tta, focal_px=focal_px,
                                center_px=center_px, geometric_trajectory=geometric_trajectory,
                                keypoint_definition=keypoint_definition)
            pose = out["poses_3d"]
            tr = out.get("trajectory")
            if resample:
                pose = resample_sequence(pose, t_model, t_seg)
                tr = None if tr is None else resample_sequence(tr, t_model, t_seg)
            if root_relative:
                pose = pose - pose[:, :1]
            poses[p, s:e] = pose
            if tr is not None:
                traj[p, s:e] = tr
    # Never a non-finite pose marked valid (the network or the root solver may overflow).
    valid &= np.isfinite(poses).all(axis=(-1, -2)) & np.isfinite(traj).all(axis=-1)
    poses[~valid] = np.nan
    if fixed_bones and lm.output_layout == "h36m17":
        for p in range(p_count):
            if valid[p].any():
                # Rigid pelvis/thorax too, so a BVH rig can play the npz back exactly.
                v = valid[p]
                lengths = constant_bone_lengths(lm, poses[p, v], bone_proportions)
                poses[p, v] = fit_rigid_skeleton(enforce_bone_lengths(poses[p, v], lengths=lengths)).positions
    invalid = ~valid
    kp_out = kp17.astype(np.float32).copy()
    kp_out[invalid] = np.nan
    sc_out = sc17.astype(np.float32).copy()
    sc_out[invalid] = 0.0
    traj[invalid] = np.nan if (lm.model_traj is not None or geometric_trajectory) else 0.0
    fps = tracks.fps if tracks.fps else lm.fps
    # The intrinsics used are part of the result: they set the lens normalisation and depth.
    cx, cy = center_px
    extra = {"focal_length": np.float64(focal_px), "principal_point": np.array([cx, cy], np.float64)}
    # Each step keeps its source frame's identity (index and time on the source's clock).
    frame_index = (np.arange(t_count, dtype=np.int64) if tracks.frame_index is None
                   else np.asarray(tracks.frame_index, np.int64))
    time_s = tracks.timestamps if tracks.timestamps is not None else frame_index / float(fps)
    return Result(poses, traj, kp_out, sc_out, valid, float(fps), (tracks.width, tracks.height), extra,
                  frame_index=frame_index, time_s=time_s,
                  has_trajectory=lm.model_traj is not None or geometric_trajectory)


_FROM_OPTIONS = "from-options"


def load_lift_model(opts: LiftOptions, *, data_layout: str | None = None,
                    trajectory: str | Path | None = _FROM_OPTIONS):
    """The :class:`~poselift.lift.weights.LiftModel` that ``opts`` names (model, layout,
    causal, dense, backend, trajectory network): the one loader behind ``infer``,
    ``lift``, ``evaluate`` and :class:`poselift.Pipeline`. ``trajectory`` overrides
    ``opts.trajectory_model``."""
    traj = opts.trajectory_model if trajectory == _FROM_OPTIONS else trajectory
    return load_model(opts.model, causal=opts.causal, input_layout=opts.input_layout, dense=opts.dense,
                      trajectory=traj, data_layout=data_layout, backend=opts.backend)


def lift_with_options(lm: LiftModel, tracks: Tracks2D, opts: LiftOptions, *, focal_px: float | None = None,
                      center_px: tuple[float, float] | None = None, source: Path | None = None) -> Result:
    """Lift ``tracks`` as ``opts`` says: the one lifting path of ``infer``, ``lift``,
    ``evaluate`` and :class:`poselift.Pipeline` (see :func:`lift_tracks` for the arithmetic).

    The camera is ``focal_px``/``center_px`` when given (a dataset's calibration), else
    ``opts.focal_length``/``opts.fov``, else a 26 mm-equivalent lens for the image size;
    a bad value raises :class:`~poselift.errors.InputError` naming ``source``.
    """
    from poselift.errors import PoseliftError
    from poselift.geometry.intrinsics import resolve_intrinsics

    if focal_px is None:
        try:
            focal_px = resolve_intrinsics(tracks.width, tracks.height, opts.focal_length, opts.fov).focal_px
        except PoseliftError as exc:
            raise InputError(str(exc), source) from None
    return lift_tracks(lm, tracks, tta=opts.tta, root_relative=opts.root_relative, focal_px=focal_px,
                       center_px=center_px, fixed_bones=opts.fixed_bones, geometric_trajectory=opts.trajectory,
                       repair_flips=opts.lr_repair, source=source, bone_proportions=opts.bone_proportions,
                       keypoint_definition=opts.keypoint_definition)


# --------------------------------------------------------------------------- keypoint files
def read_tracks_file(path: Path) -> dict[str, Tracks2D]:
    """Any supported npz of 2D keypoints -> ``{name: Tracks2D}``."""
    return _read_tracks_kind(path)[1]


def _read_tracks_kind(path: Path) -> tuple[str, dict[str, Tracks2D]]:
    """``(kind, tracks)``: the file's kind (see :func:`poselift.io.vp3d.detect_npz_kind`)
    tells whether its layout is native (VideoPose3D files) or converted (poselift npz)."""
    from poselift.io import vp3d
    from poselift.io.safe_npz import load_npz

    data = load_npz(path)  # read once, then interpreted by kind
    kind = vp3d.detect_npz_kind(path, data)
    try:
        kind, tracks = _parse_tracks(path, data, kind)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        # Fields of the wrong type deep in VideoPose3D's nested dicts.
        raise InputError(f"malformed {kind} npz ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
                         path) from None
    return kind, {name: check_tracks(tr, path, name if len(tracks) > 1 else None) for name, tr in tracks.items()}


# Keypoints this many image sizes outside the image are garbage, not people.
MAX_OUTSIDE = 10.0


def check_tracks(tr: Tracks2D, path: Path | None = None, name: str | None = None) -> Tracks2D:
    """Validate 2D tracks read from a file (in place) and return them.

    Refused, as one line naming the file and the field: an image size that is not
    1..65536 px, a frame rate that is not finite and in [0, 10000] (0: unknown), no
    frames, infinite coordinates, or coordinates more than ``MAX_OUTSIDE`` image sizes
    outside the image. NaN marks a missing joint: a frame with any NaN joint is not
    valid (it becomes a gap, never a pose); NaN scores become 0.
    """
    from poselift.errors import PoseliftError
    from poselift.geometry.intrinsics import check_image_size

    where = f"{name}: " if name else ""
    try:
        check_image_size(tr.width, tr.height)
    except PoseliftError as exc:
        raise InputError(f"{where}image_size: {exc}", path) from None
    if tr.fps is not None:
        fps = float(tr.fps)
        if not (np.isfinite(fps) and 0 <= fps <= 10000):
            raise InputError(f"{where}fps must be a finite frame rate in [0, 10000], got {fps:g}", path)
        tr.fps = fps or None
    kp = np.asarray(tr.keypoints, np.float32)
    if kp.ndim != 4 or kp.shape[-1] != 2 or kp.shape[1] == 0 or kp.shape[0] == 0:
        raise InputError(f"{where}keypoints_2d has shape {kp.shape}: no frames to lift", path)
    if np.isinf(kp).any():
        raise InputError(f"{where}keypoints_2d holds infinite coordinates (NaN marks a missing joint)", path)
    side = max(tr.width, tr.height)
    finite = np.isfinite(kp)
    if finite.any():
        lo = np.array([-MAX_OUTSIDE * side] * 2)
        hi = np.array([tr.width + MAX_OUTSIDE * side, tr.height + MAX_OUTSIDE * side])
        out = finite & ((kp < lo) | (kp > hi))
        if out.any():
            worst = float(np.abs(kp[out]).max())
            raise InputError(f"{where}keypoints_2d has coordinates up to {worst:.3g} px, far outside the "
                             f"{tr.width}x{tr.height} image", path)
    tr.keypoints = kp
    sc = np.nan_to_num(np.asarray(tr.scores, np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    tr.scores = np.clip(sc, 0.0, 1.0)
    tr.valid = np.asarray(tr.valid, bool) & finite.all(axis=(-1, -2))
    if tr.timestamps is not None and not np.isfinite(tr.timestamps).all():
        raise InputError(f"{where}timestamps are not finite", path)
    if not tr.valid.any():
        raise InputError(f"{where}no frame has all of its keypoints (all frames are invalid or NaN)", path)
    return tr


def _parse_tracks(path: Path, data: dict[str, Any], kind: str) -> tuple[str, dict[str, Tracks2D]]:
    from poselift.io import vp3d

    if kind == "custom":
        out = {}
        for name, v in vp3d.load_custom_dataset(path, data).items():
            t = len(v.keypoints)
            out[name] = Tracks2D(v.keypoints[None], np.ones((1, t, v.keypoints.shape[1]), np.float32),
                                 np.ones((1, t), bool), v.layout, v.width, v.height)
        return kind, out
    if kind == "detectron":
        d = vp3d.load_detectron_video(path, data)
        t = len(d.keypoints)
        return kind, {path.stem: Tracks2D(d.keypoints[None], d.scores[None], np.ones((1, t), bool), "coco17",
                                          d.width, d.height)}
    if kind == "poselift":
        d = data
        try:
            kp = np.asarray(d["keypoints_2d"], np.float32)
            sc = np.asarray(d["scores_2d"], np.float32)
            valid = np.asarray(d["valid"], bool)
            size = np.asarray(d["image_size"], np.float64).ravel()
            if size.shape != (2,) or not np.isfinite(size).all():
                raise InputError(f"image_size must be [width, height], got {size.tolist()[:4]}", path)
            w, h = int(size[0]), int(size[1])
            fps = float(np.asarray(d["fps"], np.float64).reshape(()))
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"poselift npz is missing or has a malformed key ({exc})", path) from None
        if kp.ndim != 4 or kp.shape[2:] != (17, 2) or valid.shape != kp.shape[:2] or sc.shape != kp.shape[:3]:
            raise InputError(f"keypoints_2d {kp.shape} / scores_2d {sc.shape} / valid {valid.shape} do not match "
                             "[P,T,17,2] / [P,T,17] / [P,T]", path)
        frame_index, times = _source_frames(d, kp.shape[1], path)
        return kind, {path.stem: Tracks2D(kp, sc, valid, "h36m17", w, h, fps, times, frame_index)}
    raise InputError(f"a {kind} file holds no per-video 2D sequences to lift "
                     "(use 'poselift evaluate' for datasets)", path)


def _source_frames(d: dict[str, Any], t: int, path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A poselift npz's ``frame_index``/``time_s`` (None for files written before them)."""
    fi = ts = None
    if "frame_index" in d:
        fi = np.asarray(d["frame_index"])
        if fi.shape != (t,) or fi.dtype.kind not in "iu":
            raise InputError(f"frame_index must be {t} whole numbers, got {fi.dtype} {fi.shape}", path)
        fi = fi.astype(np.int64)
    if "time_s" in d:
        ts = np.asarray(d["time_s"], np.float64)
        if ts.shape != (t,) or not np.isfinite(ts).all():
            raise InputError(f"time_s must be {t} finite seconds, got {ts.shape}", path)
    return fi, ts


def lift_keypoint_file(input_path: Path, model: str | None = None, output: Path | None = None, *,
                       options: LiftOptions | None = None, video: str | None = None,
                       **legacy: Any) -> list[tuple[Path, tuple[int, ...]]]:
    """The ``poselift lift`` command: read, lift with ``options``, write. Returns
    ``(path, poses_3d shape)`` per file.

    ``options`` default to ``poselift lift``'s reading: the network's raw output
    (``LiftOptions(fixed_bones=False, lr_repair=False, trajectory=False, root_relative=False)``).
    The older keyword form (``model, tta, causal, dense, input_layout, root_relative,
    focal_px, fov``) is still accepted.
    """
    from dataclasses import replace

    from poselift.io.safe_npz import save_npz

    if options is None:
        options = LiftOptions(fixed_bones=False, lr_repair=False, trajectory=False, root_relative=False)
    names = {"focal_px": "focal_length"}
    options = replace(options, **{names.get(k, k): v for k, v in legacy.items()},
                      **({"model": str(model)} if model is not None else {}))
    if output is None:
        raise ValueError("lift_keypoint_file needs an output path")
    kind, tracks = _read_tracks_kind(input_path)
    if video is not None:
        if video not in tracks:
            raise InputError(f"no video {video!r} in the file (has: {', '.join(sorted(tracks))})", input_path)
        tracks = {video: tracks[video]}
    # VideoPose3D's own files hold 2D in the layout their model was trained on; a poselift
    # npz holds converted BlazePose keypoints, which say nothing about a checkpoint.
    layouts = {t.layout for t in tracks.values()}
    native = layouts.pop() if kind in ("custom", "detectron") and len(layouts) == 1 else None
    lm = load_lift_model(options, data_layout=native)
    from poselift.errors import PoseliftError
    from poselift.geometry.intrinsics import resolve_intrinsics

    try:
        focals = {name: resolve_intrinsics(tr.width, tr.height, options.focal_length, options.fov).focal_px
                  for name, tr in tracks.items()}
    except PoseliftError as exc:
        raise InputError(str(exc), input_path) from None
    results = {name: lift_with_options(lm, tr, options, focal_px=focals[name], source=input_path)
               for name, tr in tracks.items()}
    written = []
    if not output.parent.exists():
        raise InputError("output folder does not exist", output.parent)
    for name, res in results.items():
        path = output if len(results) == 1 else output.with_name(f"{output.stem}.{name}{output.suffix or '.npz'}")
        save_npz(path, **res.arrays())
        written.append((path, res.poses_3d.shape))
    return written
