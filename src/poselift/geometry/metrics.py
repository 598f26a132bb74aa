"""Pose error metrics and the paper's aggregation.

All functions take predictions and ground truth of equal shape ``(..., J, 3)`` (any
unit; errors come back in the same unit) and average over every joint and frame
unless they say otherwise.

* **P1 / MPJPE** — mean Euclidean distance per joint.
* **P2 / P-MPJPE** — MPJPE after aligning each predicted pose to its ground truth by
  the similarity transform (scale, rotation, translation) minimising squared error
  (Procrustes). Reflections are excluded: when the best orthogonal map would be a
  reflection, the smallest singular direction is flipped so the result is a rotation.
* **N-MPJPE** — MPJPE after a per-pose optimal scale only (poses are compared as
  given, e.g. root-relative).
* **MPJVE** — MPJPE of the first temporal derivative (frame-to-frame velocity), for
  sequences shaped ``(T, J, 3)``; units per frame.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping

import numpy as np


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.shape[-1] != 3:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} must match as (..., J, 3)")
    return pred, gt


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error (P1)."""
    pred, gt = _check(pred, gt)
    return float(np.linalg.norm(pred - gt, axis=-1).mean())


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align each pose of ``pred (..., J, 3)`` to ``gt`` by a similarity transform.

    Returns the aligned prediction, same shape. The rotation is proper (det = +1).
    """
    pred, gt = _check(pred, gt)
    mu_p = pred.mean(axis=-2, keepdims=True)
    mu_g = gt.mean(axis=-2, keepdims=True)
    p0, g0 = pred - mu_p, gt - mu_g
    norm_p = np.sqrt((p0 ** 2).sum(axis=(-2, -1), keepdims=True))
    norm_g = np.sqrt((g0 ** 2).sum(axis=(-2, -1), keepdims=True))
    norm_p = np.where(norm_p == 0, 1.0, norm_p)
    norm_g = np.where(norm_g == 0, 1.0, norm_g)
    p0, g0 = p0 / norm_p, g0 / norm_g
    h = np.swapaxes(p0, -1, -2) @ g0  # (..., 3, 3)
    u, s, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, -1, -2)
    r = v @ np.swapaxes(u, -1, -2)
    # A reflection would fit a mirrored pose "perfectly"; force a proper rotation.
    det = np.linalg.det(r)
    sign = np.where(det < 0, -1.0, 1.0)
    v[..., :, -1] *= sign[..., None]
    s[..., -1] *= sign
    r = v @ np.swapaxes(u, -1, -2)
    scale = s.sum(axis=-1)[..., None, None] * norm_g / norm_p
    return scale * (pred - mu_p) @ np.swapaxes(r, -1, -2) + mu_g


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Procrustes-aligned MPJPE (P2)."""
    pred, gt = _check(pred, gt)
    return mpjpe(procrustes_align(pred, gt), gt)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after the least-squares scale per pose (N-MPJPE)."""
    pred, gt = _check(pred, gt)
    num = (pred * gt).sum(axis=(-2, -1), keepdims=True)
    den = (pred * pred).sum(axis=(-2, -1), keepdims=True)
    scale = np.where(den == 0, 1.0, num / np.where(den == 0, 1.0, den))
    return mpjpe(scale * pred, gt)


def mpjve(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint velocity error of sequences ``(T, J, 3)`` (per frame)."""
    pred, gt = _check(pred, gt)
    if pred.ndim < 3 or pred.shape[-3] < 2:
        raise ValueError("MPJVE needs sequences of at least 2 frames shaped (T, J, 3)")
    return float(np.linalg.norm(np.diff(pred, axis=-3) - np.diff(gt, axis=-3), axis=-1).mean())


def action_group(action: str) -> str:
    """Human3.6M action name without take/camera suffixes (``"Walking 1"`` -> ``"Walking"``,
    ``"walking_1"`` -> ``"walking"``)."""
    base = action.split(" ")[0]
    if "_" in base and base.rsplit("_", 1)[1].isdigit():
        base = base.rsplit("_", 1)[0]
    return base


def aggregate_by_action(errors: Iterable[tuple[str, float, int]]) -> dict[str, object]:
    """The paper's aggregation.

    Args:
        errors: ``(action, mean error of the sequence, number of frames)`` per sequence
            (e.g. per subject x action x camera).
    Returns:
        ``{"per_action": {group: frame-weighted mean}, "mean": unweighted mean over groups}``.
    """
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for action, err, n in errors:
        g = action_group(action)
        sums[g] += err * n
        counts[g] += n
    per_action = {g: sums[g] / counts[g] for g in sorted(sums) if counts[g] > 0}
    mean = float(np.mean(list(per_action.values()))) if per_action else float("nan")
    return {"per_action": per_action, "mean": mean}


def evaluate_sequences(preds: Mapping[str, list[np.ndarray]], gts: Mapping[str, list[np.ndarray]],
                       scale_to_mm: float = 1000.0) -> dict[str, object]:
    """All four metrics, aggregated per action group as in the paper.

    Args:
        preds, gts: ``action -> list of (T, J, 3)`` sequences (e.g. one per camera), in metres.
        scale_to_mm: factor applied to every error (1000 for metres -> millimetres).
    Returns:
        ``{"mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "per_action": {group: {...}}, "frames"}``.
    """
    rows: dict[str, list[tuple[str, float, int]]] = {k: [] for k in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve")}
    frames = 0
    for action in preds:
        for p, g in zip(preds[action], gts[action]):
            n = len(p)
            frames += n
            rows["mpjpe"].append((action, mpjpe(p, g) * scale_to_mm, n))
            rows["p_mpjpe"].append((action, p_mpjpe(p, g) * scale_to_mm, n))
            rows["n_mpjpe"].append((action, n_mpjpe(p, g) * scale_to_mm, n))
            if n > 1:
                rows["mpjve"].append((action, mpjve(p, g) * scale_to_mm, n - 1))
    agg = {k: aggregate_by_action(v) for k, v in rows.items()}
    per_action: dict[str, dict[str, float]] = defaultdict(dict)
    for k, a in agg.items():
        for g, val in a["per_action"].items():  # type: ignore[union-attr]
            per_action[g][f"{k}_mm"] = float(val)
    return {"mpjpe_mm": agg["mpjpe"]["mean"], "p_mpjpe_mm": agg["p_mpjpe"]["mean"],
            "n_mpjpe_mm": agg["n_mpjpe"]["mean"], "mpjve_mm": agg["mpjve"]["mean"],
            "per_action": dict(per_action), "frames": frames}
