"""VideoPose3D's evaluation, number for number: ``run.py --evaluate`` on a data_3d/data_2d pair.

What run.py does, and so what this does:

* 3D: ``positions_3d[subject][action]`` is world-frame ``(T, 32 or 17, 3)`` metres; the
  32-joint Human3.6M skeleton keeps joints ``[0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17,
  18, 19, 25, 26, 27]``. Each of the subject's four Human3.6M cameras sees it:
  ``qrot(conj(q), X - t)`` in float32, ``t`` in metres. The target is every joint minus
  the root, with the root set to zero. (A data_3d whose actions are lists of
  camera-frame arrays, one per camera, is used as it is.)
* 2D: ``positions_2d[subject][action][camera]`` is cut to the 3D length and normalised
  with that camera's own image size (cameras 0 and 3 of Human3.6M are 1000x1002),
  ``x / w * 2 - [1, h / w]``; it is fed to the network in its own layout (COCO for
  ``-k detectron_pt_coco``) and flipped for test-time augmentation with the file's
  ``keypoints_symmetry``.
* Prediction: the network's raw output, edge padding of half the receptive field
  (on the left for causal models); with TTA the mean of it and the un-mirrored
  prediction of the mirrored input. It is *not* root-centred before scoring.
* Scores per action group (``action.split(" ")[0]``, so ``Eating_2`` is its own group):
  MPJPE, P-MPJPE (per-frame similarity Procrustes), N-MPJPE (per-frame scale) and MPJVE
  (velocity error over the ``T - 1`` differences), each sequence weighted by its ``T``
  frames; the reported number is the unweighted mean over groups. Millimetres.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from poselift.errors import InputError
from poselift.geometry.cameras import _h36m_json, normalize_screen_coordinates, qinverse, qrot
from poselift.geometry.skeletons import convert, get_skeleton
from poselift.lift.inference import network_input, run_network
from poselift.lift.weights import LiftModel

#: Joints of the 32-joint Human3.6M skeleton that VideoPose3D keeps (remove_static_joints).
H36M32_KEPT = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
#: run.py's default test subjects.
DEFAULT_SUBJECTS = ("S9", "S11")
LAYOUT_NAMES = {"coco": "coco17", "h36m": "h36m17", "humaneva15": "humaneva15"}


def data_2d_layout(meta: dict[str, Any]) -> str | None:
    """poselift layout name of a data_2d file's ``metadata["layout_name"]`` (None if unknown)."""
    return LAYOUT_NAMES.get(str(meta.get("layout_name", "")))


def h36m_vp3d_cameras(subject: str) -> list[dict[str, Any]]:
    """The subject's four Human3.6M cameras as run.py holds them: float32 quaternion,
    float32 translation in metres, integer image size."""
    data = _h36m_json()
    if subject not in data["extrinsics"]:
        raise KeyError(subject)
    cams = []
    for intr, ext in zip(data["intrinsics"], data["extrinsics"][subject]):
        cams.append({"res_w": int(intr["res_w"]), "res_h": int(intr["res_h"]),
                     "orientation": np.asarray(ext["orientation"], np.float32),
                     "translation": np.asarray(ext["translation"], np.float32) / 1000})
    return cams


def world_to_camera_f32(x: np.ndarray, orientation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """run.py's float32 world -> camera transform of ``(T, J, 3)`` points."""
    d = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32) - translation)
    q = qinverse(torch.from_numpy(orientation)).expand(*d.shape[:-1], 4)
    return qrot(q, d).numpy()


def _target(cam_pos: np.ndarray) -> np.ndarray:
    """Root-relative with the root at zero, in float32 as run.py."""
    t = np.array(cam_pos, dtype=np.float32, copy=True)
    t[:, 1:] -= t[:, :1]
    t[:, 0] = 0
    return t


def _metrics(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float, float]:
    """(MPJPE, P-MPJPE, N-MPJPE, MPJVE) in metres of one ``(T, J, 3)`` sequence (float64)."""
    p = pred.astype(np.float64)
    g = gt.astype(np.float64)
    e1 = np.linalg.norm(p - g, axis=-1).mean()
    # Per-frame optimal scale of the prediction onto the target.
    s = (g * p).sum(-1).mean(-1) / (p * p).sum(-1).mean(-1)
    e3 = np.linalg.norm(s[:, None, None] * p - g, axis=-1).mean()
    e2 = _procrustes_error(p, g)
    # A 1-frame sequence has no velocity: NaN, as NumPy's mean of nothing in run.py.
    ev = np.linalg.norm(np.diff(p, axis=0) - np.diff(g, axis=0), axis=-1).mean() if len(p) > 1 else np.nan
    return float(e1), float(e2), float(e3), float(ev)


def _procrustes_error(p: np.ndarray, g: np.ndarray) -> float:
    """Mean joint error after the per-frame similarity transform (rotation without
    reflection, scale, translation) that best maps ``p`` onto ``g``."""
    pc = p - p.mean(1, keepdims=True)
    gc = g - g.mean(1, keepdims=True)
    npn = np.sqrt((pc ** 2).sum((1, 2)))
    ngn = np.sqrt((gc ** 2).sum((1, 2)))
    pu, gu = pc / npn[:, None, None], gc / ngn[:, None, None]
    u, sv, vt = np.linalg.svd(np.einsum("tji,tjk->tik", gu, pu))
    d = np.sign(np.linalg.det(np.einsum("tij,tjk->tik", u, vt)))
    sv[:, -1] *= d
    vt[:, -1] *= d[:, None]
    rot = np.einsum("tij,tjk->tik", u, vt)          # gu ≈ pu @ rot.T
    scale = sv.sum(1) * ngn / npn
    aligned = scale[:, None, None] * np.einsum("tjk,tik->tji", pc, rot) + g.mean(1, keepdims=True)
    return float(np.linalg.norm(aligned - g, axis=-1).mean())


def _flip_perm(n: int, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    perm = np.arange(n)
    perm[list(left)] = list(right)
    perm[list(right)] = list(left)
    return perm


def evaluate_vp3d(lm: LiftModel, data_3d: Path, data_2d: Path, subjects: Sequence[str] | None = None,
                  actions: Sequence[str] | None = None, tta: bool = True, downsample: int = 1,
                  image_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """Score ``lm`` exactly as VideoPose3D's ``run.py --evaluate`` does (see module doc).

    Args:
        subjects: test subjects (default run.py's ``S9,S11`` when both files have them,
            else every subject of the 3D file).
        actions: run.py's ``-a``: keep action groups starting with one of these.
        downsample: run.py's ``--downsample``.
        image_size: ``(w, h)`` for subjects without Human3.6M cameras whose 3D is
            already per camera (default 1000x1000).
    Returns:
        ``{"mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "per_action", "frames",
        "protocol": "vp3d"}``.
    """
    from poselift.evaluate.protocols import load_data_3d_any
    from poselift.io.vp3d import load_data_2d

    if lm.input_normalization != "screen":
        raise InputError(f"--protocol vp3d feeds VideoPose3D's screen-normalised 2D; this model uses "
                         f"{lm.input_normalization!r} input normalisation", lm.source or None)
    pos3d = load_data_3d_any(data_3d)
    pos2d, meta = load_data_2d(data_2d)
    layout_2d = data_2d_layout(meta) or lm.input_layout
    sym = meta.get("keypoints_symmetry")
    if subjects is None:
        subjects = ([s for s in DEFAULT_SUBJECTS] if all(s in pos3d and s in pos2d for s in DEFAULT_SUBJECTS)
                    else [s for s in pos3d if s in pos2d])
    skel_out = get_skeleton(lm.output_layout)
    perm_out = skel_out.flip_permutation()
    j_in = lm.model_pos.num_joints_in
    # Group (subject, action) pairs by the text before the first space, in file order.
    groups: dict[str, list[tuple[str, str]]] = {}
    for subj in subjects:
        if subj not in pos3d:
            raise InputError(f"subject {subj!r} is not in the 3D file (has {', '.join(pos3d)})", data_3d)
        if subj not in pos2d:
            raise InputError(f"subject {subj!r} is missing from the 2D file", data_2d)
        for action in pos3d[subj]:
            groups.setdefault(action.split(" ")[0], []).append((subj, action))
    if actions:
        groups = {g: v for g, v in groups.items() if any(g.startswith(a) for a in actions)}
    if not groups:
        raise InputError("no actions matched", data_3d)
    per_action: dict[str, dict[str, float]] = {}
    frames = 0
    seq_count = 0
    for group, members in groups.items():
        sums = np.zeros(4)
        n = 0
        for subj, action in members:
            if action not in pos2d[subj]:
                raise InputError(f"action {action!r} of subject {subj!r} is missing from the 2D file", data_2d)
            kps_cams = pos2d[subj][action]
            for ci, (gt_cam, w, h) in enumerate(_camera_targets(pos3d[subj][action], subj, len(kps_cams),
                                                                image_size, data_3d)):
                kp = kps_cams[ci]
                if len(kp) < len(gt_cam):
                    raise InputError(f"{subj}/{action} camera {ci}: {len(kp)} 2D frames for {len(gt_cam)} 3D "
                                     "frames (run.py needs at least as many)", data_2d)
                kp = np.array(kp[: len(gt_cam)], dtype=np.float32)
                if kp.shape[1] != j_in or layout_2d != lm.input_layout:
                    kp = convert(kp[..., :2], layout_2d, lm.input_layout).astype(np.float32)
                x = kp[..., :2].copy()
                if lm.model_pos.in_features == 3 and lm.meta.get("keypoint_definition_input"):
                    # run.py has no such channel: VideoPose3D's files hold GT or detector 2D
                    # without saying which; the ground truth's (joint centres) is assumed.
                    x = network_input(lm.model_pos, x, "joint-centres")
                else:
                    x = kp[..., : lm.model_pos.in_features].copy()
                x[..., :2] = normalize_screen_coordinates(x[..., :2], w=w, h=h)
                target = _target(gt_cam)
                if downsample > 1:
                    x, target = x[::downsample], target[::downsample]
                perm_in = (_flip_perm(x.shape[1], sym[0], sym[1]) if sym and layout_2d == lm.input_layout
                           else get_skeleton(lm.input_layout).flip_permutation())
                pred = run_network(lm.model_pos, x, perm_in, perm_out, tta=tta, causal=lm.causal)
                if pred.shape != target.shape:
                    raise InputError(f"{subj}/{action}: the model predicts {pred.shape[1]} joints, the 3D "
                                     f"has {target.shape[1]}", data_3d)
                t = len(target)
                sums += t * np.asarray(_metrics(pred, target))
                n += t
                seq_count += 1
        frames += n
        e1, e2, e3, ev = (sums / n * 1000).tolist()
        per_action[group] = {"mpjpe_mm": e1, "p_mpjpe_mm": e2, "n_mpjpe_mm": e3, "mpjve_mm": ev}
    mean = {k: float(np.mean([v[k] for v in per_action.values()]))
            for k in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")}
    return {**mean, "per_action": per_action, "frames": frames, "sequences_scored": seq_count,
            "protocol": "vp3d", "subjects_scored": list(subjects)}


def _camera_targets(gt: Any, subject: str, n_cams: int, image_size: tuple[int, int] | None,
                    path: Path) -> list[tuple[np.ndarray, int, int]]:
    """``[(camera-frame 3D (T, 17, 3) float32, res_w, res_h)]`` per camera."""
    def keep17(a: np.ndarray) -> np.ndarray:
        if a.shape[1] == 32:
            return a[:, H36M32_KEPT]
        if a.shape[1] in (15, 17):
            return a
        raise InputError(f"3D of {subject} has {a.shape[1]} joints; expected 17 or 32", path)

    if isinstance(gt, list):
        if image_size is None and subject in _h36m_json()["extrinsics"] and len(gt) == 4:
            sizes = [(c["res_w"], c["res_h"]) for c in h36m_vp3d_cameras(subject)]
        else:
            sizes = [image_size or (1000, 1000)] * len(gt)
        if len(gt) != n_cams:
            raise InputError(f"{subject}: {len(gt)} cameras of 3D but {n_cams} of 2D", path)
        return [(keep17(np.asarray(g, np.float32)), sw, sh) for g, (sw, sh) in zip(gt, sizes)]
    try:
        cams = h36m_vp3d_cameras(subject)
    except KeyError:
        raise InputError(f"world-frame 3D of subject {subject!r}, which has no Human3.6M cameras to see it "
                         "(give per-camera 3D instead)", path) from None
    if len(cams) != n_cams:
        raise InputError(f"{subject}: {n_cams} cameras of 2D, Human3.6M has {len(cams)}", path)
    world = keep17(np.asarray(gt, np.float32))
    return [(world_to_camera_f32(world, c["orientation"], c["translation"]), c["res_w"], c["res_h"]) for c in cams]
