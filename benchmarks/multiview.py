"""Single-view lifts against a real calibrated multi-view recording (issue 9).

Data: ``../shared/data/multiview/pose2sim-single`` (pose2sim's Demo_SinglePerson: one man,
four calibrated portrait cameras at 60 fps, 100 frames, Qualisys ``Calib.qca.txt``; the
videos are offset by a few frames on purpose). Steps:

1. 2D: poselift's detector and single-person tracker on every view (what ``poselift infer``
   runs), cached per view so several models reuse one detection (``--cache``).
2. Calibration: :func:`poselift.io.calibration.read_qca`; the image-size convention of the
   1080-wide videos (centre crop of the calibrated 1088 window, or a resize) is chosen by
   reprojection error, and printed.
3. Frame offsets: the per-view shifts that minimise the median reprojection error of the
   triangulated left/right-symmetric points (midpoints of each left/right pair, the nose),
   which do not depend on the detector's left/right labels.
4. Triangulation (weighted DLT, a disagreeing view dropped per joint) of the 17 H36M joints
   ``infer`` outputs and of the raw 33 BlazePose landmarks, after a per-frame search for
   views whose whole body is labelled left/right the wrong way round; ``--save-triangulation``.
5. Each view's root-relative lift (``poses_3d``: camera frame, x right, y down, z forward)
   rotated into the world with that camera's calibrated rotation (no Procrustes), then:
   cross-view MPJPE, MPJPE/P-MPJPE against the root-relative triangulation, signed knee and
   elbow flexion error (positive = the lift bends more), thigh/shin and upper-arm/forearm
   ratio error, trunk tilt error, body yaw error and the view-frames facing backwards.
6. MediaPipe left/right flips per view: frames whose 2D labels fit the reprojected
   triangulation better with left and right swapped.

All figures are means over the synchronised frames where the triangulation is reliable.

    python benchmarks/multiview.py [--model default,h36m,causal] [--json out.json]
        [--save-triangulation tri.npz] [--cache DIR | --keypoints-from DIR] [--data DIR]
        [--calibrated-intrinsics] [--trajectory-model NAME_OR_PATH|none] [--detector-model full]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir  # noqa: E402

from poselift.errors import PoseliftError  # noqa: E402
from poselift.geometry.angles import (facing_direction, limb_flexions, limb_ratios, trunk_tilt,  # noqa: E402
                                      yaw_difference)
from poselift.geometry.metrics import procrustes_align  # noqa: E402
from poselift.geometry.skeletons import BLAZEPOSE33, H36M17, bone_lengths, convert  # noqa: E402
from poselift.geometry.triangulation import (project_points, reprojection_errors, triangulate_dlt,  # noqa: E402
                                               triangulate_robust)  # noqa: E402
from poselift.io.calibration import CalibratedCamera, read_qca  # noqa: E402
from poselift.options import DETECTOR_MODELS, DetectOptions  # noqa: E402

VIEWS = ("cam01", "cam02", "cam03", "cam04")
UP = np.array([0.0, 0.0, 1.0])  # Qualisys lab: Z up (checked at run time)
BP = {n: i for i, n in enumerate(BLAZEPOSE33.joint_names)}
HJ = {n: i for i, n in enumerate(H36M17.joint_names)}
#: BlazePose left/right pairs of the body (not face, hands or feet) used to test whole-body flips.
BODY_PAIRS = [(BP[f"left_{n}"], BP[f"right_{n}"]) for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
H36_PAIRS = {"body": list(zip(H36M17.joints_left, H36M17.joints_right)),
             "legs": [(HJ["left_hip"], HJ["right_hip"]), (HJ["left_knee"], HJ["right_knee"]),
                      (HJ["left_ankle"], HJ["right_ankle"])],
             "arms": [(HJ["left_shoulder"], HJ["right_shoulder"]), (HJ["left_elbow"], HJ["right_elbow"]),
                      (HJ["left_wrist"], HJ["right_wrist"])]}


# --------------------------------------------------------------------------- 2D detection
def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "poselift-bench" / "multiview"


def cache_name(view: str, detector_model: str) -> str:
    """``<view>_2d.npz``, or ``<view>_<model>_2d.npz`` for a landmark model other than
    ``full`` (``auto`` resolved as infer does), so caches written before ``auto`` picked
    heavy stay valid."""
    model = DetectOptions(model=detector_model).landmark_model
    return f"{view}_2d.npz" if model == "full" else f"{view}_{model}_2d.npz"


def detect_view(video: Path, cache: Path | None, detector_model: str = "auto") -> dict[str, np.ndarray]:
    """Raw 33 BlazePose landmarks of the person ``poselift infer`` would track in ``video``.

    Returns ``keypoints (T, 33, 2)`` px, ``scores (T, 33)``, ``valid (T,)``,
    ``world_landmarks (T, 33, 3)`` (MediaPipe's metres, NaN where absent), ``times (T,)`` s,
    ``width``, ``height``, ``fps``. Cached in ``cache/<stem>_2d.npz`` when a cache is given
    (:func:`cache_name`).
    """
    path = cache / cache_name(video.stem, detector_model) if cache is not None else None
    if path is not None and path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    from poselift.infer import InferOptions, _effective_fps, detect_video, single_track

    opts = InferOptions(render=False, progress=False, detector_model=detector_model)
    people, times, info = detect_video(video, opts)
    fps = _effective_fps(times, info.fps)
    _, tr = single_track(people, times, opts, (info.width, info.height), fps, source=video)
    world = np.full(tr.keypoints.shape[:2] + (3,), np.nan, np.float32)
    for i, k in enumerate(tr.chosen):
        if k >= 0 and people[i][k].world_landmarks is not None:
            world[i] = people[i][k].world_landmarks
    out = dict(keypoints=tr.keypoints, scores=tr.scores, valid=tr.valid, chosen=tr.chosen,
               n_people=np.array([len(p) for p in people]), times=times, width=np.int64(info.width),
               height=np.int64(info.height), fps=np.float64(fps), world_landmarks=world)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
        os.close(fd)
        np.savez(tmp, **out)
        os.replace(tmp, path)
    return out


# --------------------------------------------------------------------------- calibration and sync
def symmetric_points(uv: np.ndarray) -> np.ndarray:
    """Points of BlazePose-33 ``(..., 33, 2)`` that a left/right label swap leaves unchanged:
    the midpoint of every left/right pair and the nose. ``(..., 17, 2)``."""
    L, R = np.array(BLAZEPOSE33.joints_left), np.array(BLAZEPOSE33.joints_right)
    return np.concatenate([0.5 * (uv[..., L, :] + uv[..., R, :]), uv[..., :1, :]], axis=-2)


def synced_window(offsets: list[int], T: int) -> tuple[int, int]:
    """Reference frames ``[lo, hi)`` for which frame ``f + offsets[v]`` exists in every view."""
    return max(0, -min(offsets)), min(T, T - max(offsets))


def median_sym_error(P: np.ndarray, sym: list[np.ndarray], offsets: list[int]) -> float:
    lo, hi = synced_window(offsets, sym[0].shape[0])
    uv = np.stack([s[lo + o:hi + o] for s, o in zip(sym, offsets)], axis=-2)
    X = triangulate_dlt(P, uv)
    return float(np.nanmedian(reprojection_errors(P, X, uv)))


def estimate_offsets(P: np.ndarray, sym: list[np.ndarray], max_offset: int) -> tuple[list[int], dict]:
    """Per-view frame offsets (view 0 = reference, ``offsets[v]``: frame ``f + offsets[v]`` of view
    ``v`` shows reference frame ``f``) minimising the median reprojection error of the
    label-independent points; coordinate descent from every pairwise estimate and from 0."""
    V = len(sym)
    rng = range(-max_offset, max_offset + 1)
    cache: dict[tuple[int, ...], float] = {}

    def cost(o: tuple[int, ...]) -> float:
        if o not in cache:
            cache[o] = median_sym_error(P, sym, list(o))
        return cache[o]

    pair = {}
    for v in range(1, V):
        errs = [median_sym_error(P[[0, v]], [sym[0], sym[v]], [0, d]) for d in rng]
        pair[v] = list(rng)[int(np.argmin(errs))]
    starts = {tuple([0] * V), tuple([0] + [pair[v] for v in range(1, V)])}
    best = None
    for start in starts:
        o = list(start)
        for _ in range(10):
            changed = False
            for v in range(1, V):
                cands = [tuple(o[:v] + [d] + o[v + 1:]) for d in rng]
                c = min(cands, key=cost)
                if c != tuple(o):
                    o, changed = list(c), True
            if not changed:
                break
        if best is None or cost(tuple(o)) < cost(best):
            best = tuple(o)
    assert best is not None
    # How sharp the minimum is: the error one frame either side, per view.
    sharp = {}
    for v in range(1, V):
        side = [cost(tuple(best[:v] + (best[v] + s,) + best[v + 1:])) for s in (-1, 1)
                if abs(best[v] + s) <= max_offset]
        sharp[VIEWS[v] if v < len(VIEWS) else str(v)] = round(min(side) - cost(best), 3) if side else None
    return list(best), {"median_reprojection_px": cost(best), "pairwise_with_first": pair,
                        "error_rise_one_frame_px": sharp}


def choose_image_convention(cams: list[CalibratedCamera], views: list[dict], offsets: list[int]) -> tuple[str, dict]:
    """Crop or resize for videos whose size differs from the calibration: the one with the
    smaller median reprojection error of the label-independent points."""
    scores = {}
    for mode in ("crop", "scale"):
        cs = [c.for_image_size(int(v["width"]), int(v["height"]), mode) for c, v in zip(cams, views)]
        P = np.stack([c.projection_matrix() for c in cs])
        sym = [symmetric_points(c.undistort_pixels(v["keypoints"])) for c, v in zip(cs, views)]
        scores[mode] = median_sym_error(P, sym, offsets)
    return min(scores, key=scores.get), scores


def distortion_check(cams: list[CalibratedCamera], views: list[dict], offsets: list[int]) -> dict[str, float]:
    """Median reprojection error of the label-independent points with the lens distortion
    read as OpenCV coefficients (what the reader does), divided by 64 (as pose2sim's QCA
    converter does), and ignored."""
    out = {}
    for name, scale in (("as_read", 1.0), ("divided_by_64", 1 / 64), ("none", 0.0)):
        cs = [CalibratedCamera(c.name, c.R, c.t, c.K, c.dist * scale, c.image_size) for c in cams]
        P = np.stack([c.projection_matrix() for c in cs])
        sym = [symmetric_points(c.undistort_pixels(v["keypoints"])) for c, v in zip(cs, views)]
        out[name] = median_sym_error(P, sym, offsets)
    return out


# --------------------------------------------------------------------------- triangulation
def flip_hypotheses(P: np.ndarray, uv33: np.ndarray, w33: np.ndarray, clip_px: float = 100.0) -> np.ndarray:
    """Per frame, which views have the whole body labelled left/right the wrong way round.

    Every combination of per-view swaps is triangulated on the body's left/right pairs and
    scored by the mean clipped reprojection error.

    Args: ``uv33 (F, 33, V, 2)`` undistorted px, ``w33 (F, 33, V)``.
    Returns: ``(F, V)`` bool, True = swap that view's left and right labels.
    """
    F, _, V, _ = uv33.shape
    perm = BLAZEPOSE33.flip_permutation()
    joints = np.array([j for pair in BODY_PAIRS for j in pair])
    # A combination and its complement give the same 3D with left and right exchanged, so
    # only the one flipping fewer views is tried (the detector is right in most views; with
    # an even split, the one keeping the first view as detected).
    combos = np.array([c for c in itertools.product((False, True), repeat=V)
                       if sum(c) < V / 2 or (sum(c) == V / 2 and not c[0])])
    costs = np.zeros((F, len(combos)))
    for c, combo in enumerate(combos):
        uv = uv33.copy()
        w = w33.copy()
        for v in np.flatnonzero(combo):
            uv[:, :, v] = uv33[:, perm, v]
            w[:, :, v] = w33[:, perm, v]
        X = triangulate_dlt(P, uv[:, joints], w[:, joints])
        e = np.minimum(reprojection_errors(P, X, uv[:, joints]), clip_px)
        costs[:, c] = np.nanmean(e, axis=(1, 2))
    best = np.argmin(costs, axis=-1)
    return combos[best]


def chirality(tri33: np.ndarray) -> np.ndarray:
    """Per frame, whether the triangulated body's left/right labels agree with its front:
    the forward direction of the hip+shoulder line against the face (ears -> nose) and feet
    (heels -> toes). ``(F,)`` float: +1 agree, -1 mirrored, NaN unknown."""
    lat = (tri33[:, BP["left_hip"]] - tri33[:, BP["right_hip"]]
           + tri33[:, BP["left_shoulder"]] - tri33[:, BP["right_shoulder"]])
    fwd = np.cross(lat, UP)
    face = tri33[:, BP["nose"]] - 0.5 * (tri33[:, BP["left_ear"]] + tri33[:, BP["right_ear"]])
    feet = (0.5 * (tri33[:, BP["left_foot_index"]] + tri33[:, BP["right_foot_index"]])
            - 0.5 * (tri33[:, BP["left_heel"]] + tri33[:, BP["right_heel"]]))
    d = np.sum(fwd * (face / np.linalg.norm(face, axis=-1, keepdims=True)
                      + feet / np.linalg.norm(feet, axis=-1, keepdims=True)), axis=-1)
    return np.sign(d)


def label_flips(P: np.ndarray, tri17: np.ndarray, uv17: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """``(F, V)`` bool: the view's detected left/right labels fit the reprojected triangulation
    better swapped than as they are (summed over ``pairs``)."""
    F, _, V, _ = uv17.shape
    pr = project_points(P, tri17)  # (F, 17, V, 2)
    as_is = np.zeros((F, V))
    swapped = np.zeros((F, V))
    for lj, rj in pairs:
        as_is += (np.linalg.norm(uv17[:, lj] - pr[:, lj], axis=-1) + np.linalg.norm(uv17[:, rj] - pr[:, rj], axis=-1))
        swapped += (np.linalg.norm(uv17[:, lj] - pr[:, rj], axis=-1) + np.linalg.norm(uv17[:, rj] - pr[:, lj], axis=-1))
    return swapped < as_is


# --------------------------------------------------------------------------- metrics
def pose_metrics(lift_w: np.ndarray, tri_rel: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame errors of world-frame root-relative lifts ``(F, 17, 3)`` m against the
    root-relative triangulation ``(F, 17, 3)`` m."""
    out: dict[str, np.ndarray] = {}
    out["mpjpe_mm"] = 1000 * np.linalg.norm(lift_w - tri_rel, axis=-1).mean(-1)
    out["p_mpjpe_mm"] = 1000 * np.linalg.norm(procrustes_align(lift_w, tri_rel) - tri_rel, axis=-1).mean(-1)
    num = np.sum(lift_w * tri_rel, axis=(-2, -1), keepdims=True)
    den = np.sum(lift_w * lift_w, axis=(-2, -1), keepdims=True)
    out["n_mpjpe_mm"] = 1000 * np.linalg.norm(num / den * lift_w - tri_rel, axis=-1).mean(-1)
    # Body size of the lift against the triangulated person (sum of the 16 bone lengths).
    out["size_ratio"] = bone_lengths(lift_w).sum(-1) / bone_lengths(tri_rel).sum(-1)
    fl, ft = limb_flexions(lift_w), limb_flexions(tri_rel)
    out["knee_flexion_err_deg"] = 0.5 * ((fl["left_knee"] - ft["left_knee"]) + (fl["right_knee"] - ft["right_knee"]))
    out["elbow_flexion_err_deg"] = 0.5 * ((fl["left_elbow"] - ft["left_elbow"]) + (fl["right_elbow"] - ft["right_elbow"]))
    out["knee_flexion_abs_err_deg"] = 0.5 * (np.abs(fl["left_knee"] - ft["left_knee"]) + np.abs(fl["right_knee"] - ft["right_knee"]))
    out["elbow_flexion_abs_err_deg"] = 0.5 * (np.abs(fl["left_elbow"] - ft["left_elbow"])
                                              + np.abs(fl["right_elbow"] - ft["right_elbow"]))
    out["knee_flexion_lift_deg"] = 0.5 * (fl["left_knee"] + fl["right_knee"])
    out["knee_flexion_tri_deg"] = 0.5 * (ft["left_knee"] + ft["right_knee"])
    out["elbow_flexion_lift_deg"] = 0.5 * (fl["left_elbow"] + fl["right_elbow"])
    out["elbow_flexion_tri_deg"] = 0.5 * (ft["left_elbow"] + ft["right_elbow"])
    rl, rt = limb_ratios(lift_w), limb_ratios(tri_rel)
    out["thigh_shin_ratio_lift"], out["thigh_shin_ratio_tri"] = rl["thigh_shin"], rt["thigh_shin"]
    out["thigh_shin_ratio_err"] = rl["thigh_shin"] - rt["thigh_shin"]
    out["upperarm_forearm_ratio_lift"], out["upperarm_forearm_ratio_tri"] = rl["upperarm_forearm"], rt["upperarm_forearm"]
    out["upperarm_forearm_ratio_err"] = rl["upperarm_forearm"] - rt["upperarm_forearm"]
    tl, tt = trunk_tilt(lift_w, UP), trunk_tilt(tri_rel, UP)
    out["trunk_tilt_err_deg"] = tl - tt
    out["trunk_tilt_abs_err_deg"] = np.abs(tl - tt)
    out["yaw_err_deg"] = yaw_difference(facing_direction(tri_rel, UP), facing_direction(lift_w, UP), UP)
    out["yaw_abs_err_deg"] = np.abs(out["yaw_err_deg"])
    # The same from the hip line alone.
    out["yaw_hips_abs_err_deg"] = np.abs(yaw_difference(facing_direction(tri_rel, UP, use_shoulders=False),
                                                        facing_direction(lift_w, UP, use_shoulders=False), UP))
    return out


def summarise(per_frame: dict[str, np.ndarray]) -> dict[str, float]:
    s = {k: float(np.nanmean(v)) for k, v in per_frame.items() if k != "yaw_err_deg"}
    # The shin (forearm) against the thigh (upper arm), lift over triangulation - 1, percent:
    # -25 means the lift's forearm is 25 % too short for its upper arm.
    s["shin_vs_thigh_pct"] = 100 * (s["thigh_shin_ratio_tri"] / s["thigh_shin_ratio_lift"] - 1)
    s["forearm_vs_upperarm_pct"] = 100 * (s["upperarm_forearm_ratio_tri"] / s["upperarm_forearm_ratio_lift"] - 1)
    s["backwards_frames"] = int(np.sum(per_frame["yaw_abs_err_deg"] > 90))
    s["backwards_frames_hips"] = int(np.sum(per_frame["yaw_hips_abs_err_deg"] > 90))
    s["frames"] = int(np.sum(np.isfinite(per_frame["mpjpe_mm"])))
    return s


def lift_view(model: str, view: dict, lm=None, focal_px: float | None = None,
              center_px: tuple[float, float] | None = None, with_root: bool = False,
              bone_proportions: str = "auto", keypoint_definition: str = "detector"):
    """``poses_3d (T, 17, 3)`` metres, camera frame, root-relative, as ``poselift infer`` gives
    it with its defaults (TTA, constant bones, the default focal length unless ``focal_px``);
    with ``with_root`` also the ``trajectory (T, 3)`` (camera frame, metres: the model's
    trajectory network, or the geometric root solve when it has none)."""
    from poselift.infer import InferOptions, resolve_focal
    from poselift.lift.pipeline import Tracks2D, lift_tracks

    tracks = Tracks2D(view["keypoints"][None], view["scores"][None], view["valid"][None].astype(bool), "blazepose33",
                      int(view["width"]), int(view["height"]), float(view["fps"]), view["times"] - view["times"][0])
    opts = InferOptions(model=model, render=False, progress=False)
    focal = focal_px if focal_px is not None else resolve_focal(opts, tracks.width, tracks.height)
    res = lift_tracks(lm, tracks, tta=opts.tta, root_relative=True, focal_px=focal, fixed_bones=opts.fixed_bones,
                      geometric_trajectory=opts.trajectory, center_px=center_px, repair_flips=opts.lr_repair,
                      bone_proportions=bone_proportions, keypoint_definition=keypoint_definition)
    pose = res.poses_3d[0].astype(np.float64)
    return (pose, res.trajectory[0].astype(np.float64)) if with_root else pose


# --------------------------------------------------------------------------- main
def fmt(x: float, nd: int = 1) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="folder with cam01..cam04.mp4 and Calib.qca.txt")
    ap.add_argument("--model", default="default,h36m,causal", help="comma-separated models")
    ap.add_argument("--cache", type=Path, default=None, help=f"2D cache folder (default {default_cache()})")
    ap.add_argument("--keypoints-from", type=Path, default=None,
                    help="reuse 2D from this folder (<view>_2d.npz written by an earlier run's --cache)")
    ap.add_argument("--max-offset", type=int, default=8, help="largest frame offset searched")
    ap.add_argument("--threshold-px", type=float, default=30.0,
                    help="reprojection error above which a view is dropped from a joint's triangulation")
    ap.add_argument("--calibrated-intrinsics", action="store_true",
                    help="lift with each camera's calibrated focal length and principal point instead of "
                         "infer's default lens (a diagnostic; infer does not know them)")
    ap.add_argument("--trajectory-model", default="auto", metavar="NAME_OR_PATH",
                    help="root position from this trajectory network (default: the one the pose model's card "
                         "names; 'none': the geometric root solve)")
    ap.add_argument("--bone-proportions", choices=("auto", "median"), default="auto",
                    help="infer's --bone-proportions for the lifts (default: %(default)s, as infer)")
    ap.add_argument("--keypoint-definition", choices=("detector", "joint-centres"), default="detector",
                    help="infer's --keypoint-definition for models with that input (default: %(default)s, "
                         "as infer: the 2D is BlazePose's)")
    ap.add_argument("--detector-model", choices=DETECTOR_MODELS, default="auto",
                    help="BlazePose landmark model for the 2D of every view, as infer's --detector-model "
                         "(default: %(default)s, as infer: heavy); the triangulation uses the same 2D")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--save-triangulation", type=Path, default=None)
    args = ap.parse_args(argv)
    args.detector_model = DetectOptions(model=args.detector_model).landmark_model

    data = args.data or shared_dir() / "data" / "multiview" / "pose2sim-single"
    videos = [data / f"{v}.mp4" for v in VIEWS]
    calib = data / "Calib.qca.txt"
    missing = [p for p in videos + [calib] if not p.is_file()]
    if missing:
        print(f"SKIP: multi-view data not found ({missing[0]}); set POSELIFT_SHARED or --data", file=sys.stderr)
        return 0
    try:
        cams_by_name = {c.name: c for c in read_qca(calib)}
    except PoseliftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cams0 = [cams_by_name[v] for v in VIEWS]

    cache = args.keypoints_from or args.cache or default_cache()
    if args.keypoints_from is not None:
        absent = [v for v in VIEWS if not (args.keypoints_from / cache_name(v, args.detector_model)).is_file()]
        if absent:
            print(f"error: {args.keypoints_from}: no {cache_name(absent[0], args.detector_model)}", file=sys.stderr)
            return 1
    views = []
    for vid in videos:
        print(f"2D {vid.name} ...", end=" ", flush=True)
        views.append(detect_view(vid, cache, args.detector_model))
        print(f"{int(views[-1]['valid'].sum())}/{len(views[-1]['valid'])} frames, "
              f"{views[-1]['width']}x{views[-1]['height']}", flush=True)
    T = min(len(v["valid"]) for v in views)

    # Image size: calibrated window vs encoded video, decided on unsynchronised frames first,
    # re-checked after synchronisation.
    mode, conv = choose_image_convention(cams0, views, [0] * len(VIEWS))
    cams = [c.for_image_size(int(v["width"]), int(v["height"]), mode) for c, v in zip(cams0, views)]
    P = np.stack([c.projection_matrix() for c in cams])
    und = [c.undistort_pixels(v["keypoints"][:T]) for c, v in zip(cams, views)]
    sym = [symmetric_points(u) for u in und]
    offsets, sync_info = estimate_offsets(P, sym, args.max_offset)
    mode2, conv2 = choose_image_convention(cams0, views, offsets)
    if mode2 != mode:
        mode, conv = mode2, conv2
        cams = [c.for_image_size(int(v["width"]), int(v["height"]), mode) for c, v in zip(cams0, views)]
        P = np.stack([c.projection_matrix() for c in cams])
        und = [c.undistort_pixels(v["keypoints"][:T]) for c, v in zip(cams, views)]
    else:
        conv = conv2
    dist = distortion_check(cams, views, offsets)
    up_check = {c.name: float((c.R.T @ np.array([0, 0, 1.0])) @ UP) for c in cams}  # optical axis . up
    heights = {c.name: float(c.center @ UP) for c in cams}
    from poselift.geometry.cameras import default_focal_length
    print(f"calibration: {', '.join(f'{c.name} {c.image_size[0]}x{c.image_size[1]} f={c.K[0, 0]:.0f}px' for c in cams)}"
          f"; lifts use " + ("the calibrated intrinsics" if args.calibrated_intrinsics else
                            f"infer's default focal {default_focal_length(*cams[0].image_size):.0f}px"))
    print(f"image size convention for 1080-wide videos: {mode} (median reprojection px: "
          + ", ".join(f"{k} {v:.2f}" for k, v in conv.items()) + ")")
    print("lens distortion (median reprojection px of label-free points): "
          + ", ".join(f"{k} {v:.3f}" for k, v in dist.items()) + " -- using as_read")
    print("world up = +Z: camera heights " + ", ".join(f"{k} {v:.2f} m" for k, v in heights.items())
          + "; optical axis . up " + ", ".join(f"{v:+.2f}" for v in up_check.values()))
    print(f"frame offsets (frame f of {VIEWS[0]} = frame f+offset of each view): "
          + ", ".join(f"{v} {o:+d}" for v, o in zip(VIEWS, offsets))
          + f"; median reprojection of label-free points {sync_info['median_reprojection_px']:.2f} px "
          f"(unsynchronised {median_sym_error(P, [symmetric_points(u) for u in und], [0] * len(VIEWS)):.2f}); "
          f"error rise at +-1 frame: {sync_info['error_rise_one_frame_px']}")

    lo, hi = synced_window(offsets, T)
    F = hi - lo
    perm33 = BLAZEPOSE33.flip_permutation()
    uv33 = np.stack([u[lo + o:hi + o] for u, o in zip(und, offsets)], axis=-2)            # (F, 33, V, 2)
    w33 = np.stack([v["scores"][lo + o:hi + o] for v, o in zip(views, offsets)], axis=-1)  # (F, 33, V)
    ok2d = np.stack([v["valid"][lo + o:hi + o] for v, o in zip(views, offsets)], axis=-1).astype(bool)  # (F, V)
    w33 = np.where(ok2d[:, None, :], w33, 0.0)
    flips = flip_hypotheses(P, uv33, w33)
    uv33f, w33f = uv33.copy(), w33.copy()
    for f, v in zip(*np.nonzero(flips)):
        uv33f[f, :, v] = uv33[f, perm33, v]
        w33f[f, :, v] = w33[f, perm33, v]
    tri33, used33, err33 = triangulate_robust(P, uv33f, w33f, threshold_px=args.threshold_px)
    # 17-joint triangulation from the H36M-17 2D that infer outputs (each view converted).
    uv17f = np.moveaxis(convert(np.moveaxis(uv33f, 2, 1), "blazepose33", "h36m17"), 1, 2)      # (F, 17, V, 2)
    w17f = np.moveaxis(convert(np.moveaxis(w33f, 2, 1)[..., None], "blazepose33", "h36m17", has_score=True)[..., 0], 1, 2)
    tri17, used17, err17 = triangulate_robust(P, uv17f, w17f, threshold_px=args.threshold_px)
    chir = chirality(tri33)
    used_err = np.where(used17, err17, np.nan)
    frame_err = np.nanmedian(used_err, axis=(1, 2))
    reliable = (np.isfinite(tri17).all((1, 2)) & (used17.sum(-1) >= 2).all(-1)
                & (np.mean(used17.sum(-1) >= 3, axis=-1) >= 0.8) & (frame_err <= 15.0))
    # Distorted-pixel reprojection error against the raw detections (all views, used or not).
    raw17 = np.stack([convert(v["keypoints"][lo + o:hi + o], "blazepose33", "h36m17") for v, o in zip(views, offsets)], -2)
    flips17 = flips[:, None, :, None]
    perm17 = H36M17.flip_permutation()
    raw17f = np.where(flips17, raw17[:, perm17], raw17)
    proj_d = np.stack([c.project(tri17) for c in cams], axis=-2)
    reproj_px = np.linalg.norm(proj_d - raw17f, axis=-1)
    med_used = float(np.nanmedian(np.where(used17, reproj_px, np.nan)[reliable]))
    med_all = float(np.nanmedian(reproj_px[reliable]))
    med33 = float(np.nanmedian(np.where(used33, err33, np.nan)[reliable]))
    print(f"triangulation: {int(reliable.sum())}/{F} synchronised frames reliable; median reprojection error "
          f"{med_used:.2f} px (17 joints, views used), {med_all:.2f} px (all views), {med33:.2f} px (33 landmarks); "
          f"views dropped on {100 * float(1 - used17[reliable].mean()):.1f} % of joint-views")
    print(f"whole-body L/R swaps found before triangulating (frames per view): "
          + ", ".join(f"{v} {int(n)}" for v, n in zip(VIEWS, flips.sum(0)))
          + f"; triangulated body chirality (front from face and feet) agrees in "
          f"{int(np.sum(chir > 0))}/{int(np.sum(np.isfinite(chir) & (chir != 0)))} frames")
    head_above = float(np.nanmedian((tri17[:, HJ["head"]] - 0.5 * (tri17[:, HJ["left_ankle"]] + tri17[:, HJ["right_ankle"]])) @ UP))
    print(f"check up axis: head above ankles by {head_above:.2f} m along +Z")

    # MediaPipe left/right label disagreement per view (detected labels vs triangulation).
    raw_uv17 = np.moveaxis(convert(np.moveaxis(uv33, 2, 1), "blazepose33", "h36m17"), 1, 2)
    lr = {part: label_flips(P, tri17, raw_uv17, pairs) for part, pairs in H36_PAIRS.items()}
    lr_counts = {part: {v: int(np.sum(m[reliable, k])) for k, v in enumerate(VIEWS)} for part, m in lr.items()}
    print(f"MediaPipe L/R labels disagreeing with the triangulation (of {int(reliable.sum())} reliable frames): "
          + "; ".join(f"{part}: " + ", ".join(f"{v} {n}" for v, n in c.items()) for part, c in lr_counts.items()))

    tri_rel = tri17 - tri17[:, :1]
    report: dict = {
        "data": str(data), "frames_total": T, "synced_frames": F, "reliable_frames": int(reliable.sum()),
        "offsets": dict(zip(VIEWS, offsets)), "sync": sync_info, "image_size_convention": mode,
        "image_size_convention_scores_px": conv, "distortion_check_px": dist, "reprojection_median_px": med_used,
        "reprojection_median_all_views_px": med_all, "reprojection_median_33_px": med33,
        "wholebody_swaps_before_triangulation": {v: int(n) for v, n in zip(VIEWS, flips.sum(0))},
        "mediapipe_lr_flips": lr_counts, "detector_model": args.detector_model, "up_axis": "+Z", "calibrated_intrinsics": bool(args.calibrated_intrinsics),
        "models": {},
    }
    if args.save_triangulation is not None:
        args.save_triangulation.parent.mkdir(parents=True, exist_ok=True)
        arrays = dict(
            points_h36m17=tri17.astype(np.float32), points_blazepose33=tri33.astype(np.float32),
            used_views_h36m17=used17, used_views_blazepose33=used33,
            reprojection_px_h36m17=err17.astype(np.float32), reprojection_px_blazepose33=err33.astype(np.float32),
            reliable=reliable, reference_frames=np.arange(lo, hi), offsets=np.asarray(offsets),
            views=np.asarray(VIEWS), wholebody_swapped=flips,
            h36m17_joint_names=np.asarray(H36M17.joint_names), blazepose33_joint_names=np.asarray(BLAZEPOSE33.joint_names),
            camera_R=np.stack([c.R for c in cams]), camera_t=np.stack([c.t for c in cams]),
            camera_K=np.stack([c.K for c in cams]), camera_dist=np.stack([c.dist for c in cams]),
            world_landmarks_mediapipe=np.stack([v["world_landmarks"][lo + o:hi + o] for v, o in zip(views, offsets)], 1),
            keypoints_2d_blazepose33=np.stack([v["keypoints"][lo + o:hi + o] for v, o in zip(views, offsets)], 1),
            scores_2d_blazepose33=np.stack([v["scores"][lo + o:hi + o] for v, o in zip(views, offsets)], 1),
            up=UP, units=np.str_("metres, world frame of Calib.qca.txt (Z up)"))
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=args.save_triangulation.parent)
        os.close(fd)
        np.savez(tmp, **arrays)
        os.replace(tmp, args.save_triangulation)
        print(f"saved triangulation: {args.save_triangulation}")

    from poselift.lift.weights import load_model

    keys = ["cross_view_mpjpe_mm", "mpjpe_mm", "p_mpjpe_mm", "knee_flexion_err_deg", "knee_flexion_abs_err_deg",
            "elbow_flexion_err_deg", "elbow_flexion_abs_err_deg", "shin_vs_thigh_pct", "forearm_vs_upperarm_pct",
            "trunk_tilt_err_deg", "yaw_abs_err_deg", "backwards_frames"]
    heads = ["xview", "P1", "P2", "knee", "|knee|", "elbow", "|elbow|", "shin%", "forearm%", "tilt", "|yaw|", "back"]
    for model in [m.strip() for m in args.model.split(",") if m.strip()]:
        try:
            lm = load_model(model, trajectory=None if args.trajectory_model == "none" else args.trajectory_model)
        except PoseliftError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        worlds = []
        per_view = {}
        root_err, depth_err = [], []
        for k, (v, cam, o) in enumerate(zip(views, cams, offsets)):
            if args.calibrated_intrinsics:
                pose, root = lift_view(model, v, lm, float(cam.K[0, 0]), (float(cam.K[0, 2]), float(cam.K[1, 2])),
                                       with_root=True, bone_proportions=args.bone_proportions,
                                       keypoint_definition=args.keypoint_definition)
            else:
                pose, root = lift_view(model, v, lm, with_root=True, bone_proportions=args.bone_proportions,
                                       keypoint_definition=args.keypoint_definition)
            pose, root = pose[:T], root[:T]
            # The root against the triangulated pelvis in this camera's frame: the truth for
            # trajectories (depth scales with the focal length, so judge it with --calibrated-intrinsics).
            true_root = cam.world_to_camera(tri17[reliable, 0])
            est_root = root[lo + o:hi + o][reliable]
            root_err.append(1000 * np.linalg.norm(est_root - true_root, axis=-1))
            depth_err.append(100 * (est_root[:, 2] / true_root[:, 2] - 1))
            w = (pose - pose[:, :1]) @ cam.R     # camera -> world: R^T x, row vectors
            w = w[lo + o:hi + o]
            worlds.append(w)
            pf = pose_metrics(w[reliable], tri_rel[reliable])
            per_view[VIEWS[k]] = summarise(pf)
        pairs = []
        for a, b in itertools.combinations(range(len(VIEWS)), 2):
            pairs.append(1000 * np.linalg.norm(worlds[a][reliable] - worlds[b][reliable], axis=-1).mean(-1))
        xv = float(np.nanmean(np.stack(pairs)))
        all_pf = pose_metrics(np.concatenate([w[reliable] for w in worlds]), np.concatenate([tri_rel[reliable]] * len(worlds)))
        overall = summarise(all_pf)
        overall["cross_view_mpjpe_mm"] = xv
        overall["root_position_err_mm"] = float(np.nanmean(np.concatenate(root_err)))
        overall["root_depth_err_pct"] = float(np.nanmean(np.concatenate(depth_err)))
        overall["root_source"] = "network" if lm.model_traj is not None else "geometric"
        for name, re_, de in zip(VIEWS, root_err, depth_err):
            per_view[name]["root_position_err_mm"] = float(np.nanmean(re_))
            per_view[name]["root_depth_err_pct"] = float(np.nanmean(de))
        # Where the Procrustes-aligned error sits: joints named as in H36M17.
        lw, tr = np.concatenate([w[reliable] for w in worlds]), np.concatenate([tri_rel[reliable]] * len(worlds))
        pj = 1000 * np.nanmean(np.linalg.norm(procrustes_align(lw, tr) - tr, axis=-1), axis=0)
        overall["p_mpjpe_per_joint_mm"] = {n: float(e) for n, e in zip(H36M17.joint_names, pj)}
        overall["cross_view_pairs_mm"] = {f"{VIEWS[a]}-{VIEWS[b]}": float(np.nanmean(p))
                                          for (a, b), p in zip(itertools.combinations(range(len(VIEWS)), 2), pairs)}
        for k, name in enumerate(VIEWS):
            per_view[name]["cross_view_mpjpe_mm"] = float(np.nanmean(np.stack(
                [p for (a, b), p in zip(itertools.combinations(range(len(VIEWS)), 2), pairs) if k in (a, b)])))
        report["models"][model] = {"all": overall, "views": per_view}
        print(f"\n== model {model} ({overall['frames']} view-frames; signed angles: + = the lift bends/tilts more; "
              f"shin%/forearm%: distal segment against proximal, lift vs triangulation)")
        print(f"{'':8s}" + "".join(f"{h:>9s}" for h in heads))
        rows = [("all", overall)] + list(per_view.items())
        for name, s in rows:
            cells = [fmt(s[k], 0 if k == "backwards_frames" else 1) if k != "backwards_frames" else str(s[k]) for k in keys]
            print(f"{name:8s}" + "".join(f"{c:>9s}" for c in cells))
        print(f"ratios (lift / triangulation): thigh/shin {overall['thigh_shin_ratio_lift']:.2f} / "
              f"{overall['thigh_shin_ratio_tri']:.2f}, upper-arm/forearm {overall['upperarm_forearm_ratio_lift']:.2f} / "
              f"{overall['upperarm_forearm_ratio_tri']:.2f}; flexion (lift / triangulation): knee "
              f"{overall['knee_flexion_lift_deg']:.1f} / {overall['knee_flexion_tri_deg']:.1f} deg, elbow "
              f"{overall['elbow_flexion_lift_deg']:.1f} / {overall['elbow_flexion_tri_deg']:.1f} deg; "
              f"N-MPJPE {overall['n_mpjpe_mm']:.1f} mm; body size lift/triangulation {overall['size_ratio']:.2f}")
        print("P-MPJPE per joint (mm): " + ", ".join(f"{n} {e:.0f}" for n, e in overall["p_mpjpe_per_joint_mm"].items()))
        print(f"root position ({overall['root_source']}) against the triangulated pelvis, camera frames: "
              f"{overall['root_position_err_mm']:.0f} mm, depth {overall['root_depth_err_pct']:+.1f} % ("
              + ", ".join(f"{n} {s['root_position_err_mm']:.0f} mm {s['root_depth_err_pct']:+.1f} %"
                          for n, s in per_view.items()) + ")"
              + ("" if args.calibrated_intrinsics else "; lifted with infer's default focal, not the calibrated one"))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(report, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
        os.replace(tmp, args.json)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
