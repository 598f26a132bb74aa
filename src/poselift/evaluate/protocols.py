"""Evaluation protocols: Human3.6M (exp-map release), HumanEva-I and generic VideoPose3D npz pairs.

Every protocol lifts 2D sequences with a model and scores the 3D against ground truth
with :func:`poselift.geometry.metrics.evaluate_sequences` (per action group weighted by
frames, then the unweighted mean over groups, as in the paper). Errors are millimetres.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from poselift.data.synth import DetectorNoise
from poselift.errors import InputError
from poselift.geometry.cameras import Camera, h36m_cameras
from poselift.geometry.intrinsics import pixels_to_rays
from poselift.geometry.metrics import evaluate_sequences, p_mpjpe, aggregate_by_action
from poselift.geometry.skeletons import convert
from poselift.lift.pipeline import Tracks2D, lift_with_options
from poselift.lift.weights import LiftModel
from poselift.options import LiftOptions

NOISE_SEED = 20190616  # fixed: "--input noisy" is reproducible


@dataclass
class Sequence2D3D:
    """One evaluation sequence seen by one camera."""

    action: str
    kp_px: np.ndarray         # (T, 17, 2) pixels, H36M-17
    gt_cam: np.ndarray | None  # (T, 17, 3) metres, camera frame (None when only world 3D is known)
    gt_world: np.ndarray      # (T, 17, 3) metres
    width: int
    height: int
    focal: float | None
    center: tuple[float, float] | None
    fps: float
    gt_layout: str = "h36m17"  # scoring layout; predictions are converted to it
    # Where the 2D sits on the body (models with a keypoint-definition input read it):
    # benchmark 2D projected from mocap is joint centres.
    keypoint_definition: str = "joint-centres"


def _raw_options(tta: bool, trajectory: bool = False, keypoint_definition: str = "joint-centres") -> LiftOptions:
    """The network's own output, as the paper's metrics score it: no left/right repair,
    no bone fixing, poses as predicted (not root-centred)."""
    return LiftOptions(tta=tta, root_relative=False, fixed_bones=False, lr_repair=False, trajectory=trajectory,
                       keypoint_definition=keypoint_definition)


def _lift(lm: LiftModel, s: Sequence2D3D, tta: bool) -> dict[str, np.ndarray]:
    """Lift one sequence exactly as ``infer``/``lift`` do (layout, resampling, padding),
    with the camera's own intrinsics and the geometric root when there is no trajectory
    network. Poses are the network's output, not root-centred."""
    t = len(s.kp_px)
    tracks = Tracks2D(s.kp_px[None].astype(np.float32), np.ones((1, t, 17), np.float32), np.ones((1, t), bool),
                      "h36m17", s.width, s.height, s.fps)
    res = lift_with_options(lm, tracks, _raw_options(tta, True, s.keypoint_definition), focal_px=s.focal,
                            center_px=s.center)
    return {"poses_3d": res.poses_3d[0], "trajectory": res.trajectory[0],
            "postprocessed": _postprocessed(lm, s, tracks, res.poses_3d[0], tta)}


def _postprocessed(lm: LiftModel, s: Sequence2D3D, tracks: Tracks2D, raw: np.ndarray, tta: bool) -> np.ndarray:
    """The poses ``infer`` would output for the same 2D: left/right flips repaired, then
    constant bone lengths (as ``infer`` gives them by default, forearms included). The network
    is run again only when the repair changed the 2D."""
    from poselift.detect.lr_repair import repair_left_right
    from poselift.geometry.skeletons import enforce_bone_lengths
    from poselift.lift.pipeline import constant_bone_lengths

    _, _, report = repair_left_right(tracks.keypoints[0], tracks.scores[0], tracks.valid[0], tracks.layout)
    if report.frames_changed:
        raw = lift_with_options(lm, tracks, replace(_raw_options(tta, False, s.keypoint_definition), lr_repair=True),
                                focal_px=s.focal,
                                center_px=s.center).poses_3d[0]
    if lm.output_layout != "h36m17":
        return raw
    rel = raw - raw[:, :1]
    return enforce_bone_lengths(rel, lengths=constant_bone_lengths(lm, rel))


def _score(lm: LiftModel, seqs: list[Sequence2D3D], tta: bool, progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    preds: dict[str, list[np.ndarray]] = defaultdict(list)
    preds_pp: dict[str, list[np.ndarray]] = defaultdict(list)
    gts: dict[str, list[np.ndarray]] = defaultdict(list)
    p2_only: list[tuple[str, float, int]] = []
    traj_err, traj_base = [], []
    for s in tqdm(seqs, desc="evaluate", unit="seq", disable=not progress):
        out = _lift(lm, s, tta)
        pose = out["poses_3d"]
        if s.gt_layout != "h36m17":
            pose = convert(pose, "h36m17", s.gt_layout)
        pose = pose - pose[:, :1]
        pp = out["postprocessed"]
        if s.gt_layout != "h36m17":
            pp = convert(pp, "h36m17", s.gt_layout)
        pp = pp - pp[:, :1]
        if s.gt_cam is not None:
            gt = s.gt_cam - s.gt_cam[:, :1]
            preds[s.action].append(pose)
            preds_pp[s.action].append(pp)
            gts[s.action].append(gt)
            if "trajectory" in out:
                root = s.gt_cam[:, 0]
                traj_err.append((np.linalg.norm(out["trajectory"] - root, axis=-1).mean(), len(root)))
                # Naive baseline: the right direction (from the 2D root) at a constant, mean depth.
                ray = np.concatenate([pixels_to_rays(s.kp_px[:, 0], focal_px=s.focal, center_px=s.center),
                                      np.ones((len(root), 1))], axis=1)
                base = ray * root[:, 2].mean()
                traj_base.append((np.linalg.norm(base - root, axis=-1).mean(), len(root)))
        else:
            gt = s.gt_world - s.gt_world[:, :1]
            p2_only.append((s.action, p_mpjpe(pose, gt) * 1000, len(pose)))
    if preds:
        res = evaluate_sequences(preds, gts)
        # What `infer` outputs for the same 2D (repaired left/right flips, constant bone
        # lengths), beside the paper's raw-network metrics above.
        pp_res = evaluate_sequences(preds_pp, gts)
        res["postprocessed"] = {k: pp_res[k] for k in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")
                                if k in pp_res}
    else:
        agg = aggregate_by_action(p2_only)
        res = {"mpjpe_mm": None, "p_mpjpe_mm": agg["mean"], "n_mpjpe_mm": None, "mpjve_mm": None,
               "per_action": {g: {"p_mpjpe_mm": v} for g, v in agg["per_action"].items()},  # type: ignore[union-attr]
               "frames": int(sum(n for _, _, n in p2_only))}
    if traj_err:
        w = np.array([n for _, n in traj_err], float)
        res["trajectory_error_mm"] = float(np.average([e for e, _ in traj_err], weights=w) * 1000)
        res["trajectory_baseline_constant_depth_mm"] = float(np.average([e for e, _ in traj_base], weights=w) * 1000)
        res["trajectory_source"] = "network" if lm.model_traj is not None else "geometric"
    return res


# --------------------------------------------------------------------------- Human3.6M exp-map
def h36m_expmap_sequences(data_dir: Path, subjects: Sequence[str], input_kind: str = "gt",
                          actions: Sequence[str] | None = None, fps: float = 50.0,
                          downsample: int = 1) -> list[Sequence2D3D]:
    """3D from the exp-map files of ``subjects`` seen by the four Human3.6M cameras.

    2D is the distorted pinhole projection in pixels (``gt``), optionally corrupted by
    :class:`~poselift.data.synth.DetectorNoise` with a fixed seed (``noisy``).
    """
    from poselift.io.mocap import load_h36m_expmap_clip

    if input_kind not in ("gt", "noisy"):
        raise InputError(f"--input must be gt or noisy, not {input_kind!r}")
    rng = np.random.default_rng(NOISE_SEED)
    noise = DetectorNoise()
    seqs = []
    for subj in subjects:
        folder = data_dir / subj
        files = sorted(list(folder.glob("*.txt")) + list(folder.glob("*.txt.gz")))
        if not files:
            raise InputError(f"no exp-map files (*.txt, *.txt.gz) for subject {subj}", folder)
        try:
            cams = h36m_cameras(subj)
        except KeyError:
            cams = [Camera(**{**c.__dict__, "orientation": o, "translation": t})
                    for c, (o, t) in zip(h36m_cameras(), _default_extrinsics())]
        for f in files:
            clip = load_h36m_expmap_clip(f, fps=fps)
            if actions and not any(clip.action.lower().startswith(a.lower()) for a in actions):
                continue
            world = clip.positions[::downsample].astype(np.float64)
            for cam in cams:
                x_cam = cam.world_to_camera(world)
                kp = cam.project(x_cam).astype(np.float32)
                if input_kind == "noisy":
                    kp, _ = noise(rng, kp)
                seqs.append(Sequence2D3D(clip.action, kp, x_cam, world, cam.res_w, cam.res_h,
                                         float(np.mean(cam.focal_length)), tuple(cam.center), fps / downsample))
    return seqs


def _default_extrinsics() -> list[tuple[tuple, tuple]]:
    # Subjects without published extrinsics are seen by S1's cameras.
    return [(c.orientation, c.translation) for c in h36m_cameras("S1")]


# --------------------------------------------------------------------------- VideoPose3D npz pairs
#: HumanEva-I frame size (VideoPose3D's camera parameters use 640x480 for every camera).
HUMANEVA_SIZE = (640, 480)


def npz_pair_sequences(data_3d: Path, data_2d: Path, subjects: Sequence[str] | None, layout: str | None,
                       fps: float, size: tuple[int, int], focal: float | None,
                       actions: Sequence[str] | None = None) -> list[Sequence2D3D]:
    """Sequences from a VideoPose3D ``data_3d``/``data_2d`` pair.

    ``positions_3d[subject][action]`` is either one world-frame array (then only P2,
    which ignores the camera, is scored) or a list with one camera-frame array per
    camera (then all metrics). 2D is converted from its layout to H36M-17.
    """
    from poselift.io.vp3d import load_data_2d, load_data_3d

    pos3d = load_data_3d_any(data_3d)
    pos2d, meta = load_data_2d(data_2d)
    src_layout = layout or {"coco": "coco17", "h36m": "h36m17", "humaneva15": "humaneva15"}.get(
        str(meta.get("layout_name", "h36m")), str(meta.get("layout_name")))
    seqs = []
    for subj in subjects or sorted(pos2d):
        if subj not in pos2d or subj not in pos3d:
            raise InputError(f"subject {subj!r} missing from the 2D or 3D file "
                             f"(2D has {', '.join(sorted(pos2d))})", data_2d)
        for action, cams in pos2d[subj].items():
            if actions and not any(action.lower().startswith(a.lower()) for a in actions):
                continue
            if action not in pos3d[subj]:
                continue
            gt = pos3d[subj][action]
            for ci, kp in enumerate(cams):
                kp = kp[..., :2]
                if kp.shape[1] != 17 or src_layout != "h36m17":
                    kp = convert(kp, src_layout, "h36m17")
                g = gt[ci] if isinstance(gt, list) else gt
                g_layout = _layout_for(g.shape[1])
                if g_layout == "h36m32":
                    g, g_layout = convert(g, "h36m32", "h36m17"), "h36m17"
                elif g_layout not in ("h36m17", "humaneva15"):
                    raise InputError(f"3D of {subj}/{action} has {g.shape[1]} joints; "
                                     "expected 15, 17 or 32", data_3d)
                n = min(len(kp), len(g))
                seqs.append(Sequence2D3D(action, kp[:n], g[:n] if isinstance(gt, list) else None, g[:n],
                                         size[0], size[1], focal, (size[0] / 2, size[1] / 2), fps, g_layout))
    if not seqs:
        raise InputError("no sequences matched", data_2d)
    return seqs


def _layout_for(j: int) -> str:
    return {15: "humaneva15", 17: "h36m17", 32: "h36m32"}.get(j, f"{j}-joint")


def load_data_3d_any(path: Path) -> dict[str, dict[str, Any]]:
    """Like :func:`poselift.io.vp3d.load_data_3d` but keeps per-camera lists."""
    from poselift.io.safe_npz import load_npz

    d = load_npz(path)
    if "positions_3d" not in d or not isinstance(d["positions_3d"], dict):
        raise InputError("no 'positions_3d' dict", path)
    out: dict[str, dict[str, Any]] = {}
    for s, acts in d["positions_3d"].items():
        out[s] = {}
        for a, v in acts.items():
            if isinstance(v, (list, tuple)):
                out[s][a] = [np.asarray(x, np.float64)[..., :3] for x in v]
            else:
                out[s][a] = np.asarray(v, np.float64)[..., :3]
    return out


def evaluate_model(lm: LiftModel, seqs: list[Sequence2D3D], tta: bool = True,
                   progress: bool = True) -> dict[str, Any]:
    """Score ``lm`` on prepared sequences; see the module doc for the aggregation."""
    return _score(lm, seqs, tta, progress)


def humaneva_sequences(data_3d: Path, data_2d: Path, subjects: Sequence[str] | None, fps: float = 60.0,
                       focal: float | None = None, actions: Sequence[str] | None = None) -> list[Sequence2D3D]:
    """HumanEva-I as VideoPose3D prepares it: 15 joints, 3 cameras per action, P2 scored on
    the 15 shared joints after mapping the model's 17 joints back."""
    return npz_pair_sequences(data_3d, data_2d, subjects, "humaneva15", fps, HUMANEVA_SIZE, focal, actions)
