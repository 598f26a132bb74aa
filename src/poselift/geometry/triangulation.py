"""Multi-view triangulation of 2D keypoints (weighted DLT, robust to a bad view).

Cameras are given as ``(V, 3, 4)`` projection matrices ``P = K [R | t]`` mapping world
points (any unit, homogeneous) to ideal pinhole pixels; 2D points must be undistorted
into the same pixel space first (see :class:`poselift.io.calibration.CalibratedCamera`).
"""

from __future__ import annotations

import numpy as np


def triangulate_dlt(P: np.ndarray, uv: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted linear (DLT) triangulation of many points at once.

    Each view contributes the two rows ``u P3 - P1`` and ``v P3 - P2`` (normalised to unit
    length so that the views count alike), multiplied by its weight; the point is the
    right singular vector of the smallest singular value.

    Args:
        P: ``(V, 3, 4)`` projection matrices.
        uv: ``(..., V, 2)`` pixels; NaN marks a missing observation.
        weights: ``(..., V)`` non-negative weights (e.g. detector confidences); 0 or
            NaN ``uv`` drops the view. Default 1.

    Returns:
        ``(..., 3)`` points in the world unit of ``P``; NaN where fewer than two views
        have positive weight.
    """
    P = np.asarray(P, dtype=np.float64)
    uv = np.asarray(uv, dtype=np.float64)
    V = P.shape[0]
    if uv.shape[-2:] != (V, 2):
        raise ValueError(f"uv must be (..., {V}, 2) for {V} cameras, got {uv.shape}")
    batch = uv.shape[:-2]
    w = np.ones(batch + (V,)) if weights is None else np.broadcast_to(np.asarray(weights, np.float64), batch + (V,))
    ok = np.isfinite(uv).all(-1) & np.isfinite(w) & (w > 0)
    w = np.where(ok, w, 0.0)
    u = np.where(ok, uv[..., 0], 0.0)[..., None]
    v = np.where(ok, uv[..., 1], 0.0)[..., None]
    rows_u = u * P[:, 2] - P[:, 0]          # (..., V, 4)
    rows_v = v * P[:, 2] - P[:, 1]
    A = np.stack([rows_u, rows_v], axis=-2)  # (..., V, 2, 4)
    norm = np.linalg.norm(A, axis=-1, keepdims=True)
    A = A / np.where(norm > 0, norm, 1.0) * w[..., None, None]
    A = A.reshape(batch + (2 * V, 4))
    _, _, vt = np.linalg.svd(A.reshape(-1, 2 * V, 4))
    X = vt[:, -1, :].reshape(batch + (4,))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = X[..., :3] / X[..., 3:4]
    out[ok.sum(-1) < 2] = np.nan
    return out


def project_points(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """World points ``(..., 3)`` through every camera: ``(..., V, 2)`` pixels
    (NaN behind a camera)."""
    P = np.asarray(P, dtype=np.float64)
    Xh = np.concatenate([X, np.ones(X.shape[:-1] + (1,))], axis=-1)
    x = np.einsum("vij,...j->...vi", P, Xh)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x[..., 2:3] > 0, x[..., :2] / x[..., 2:3], np.nan)


def reprojection_errors(P: np.ndarray, X: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Pixel distance between each view's observation and the projection of ``X``.

    ``X (..., 3)``, ``uv (..., V, 2)`` -> ``(..., V)`` (NaN where either is missing)."""
    return np.linalg.norm(project_points(P, X) - uv, axis=-1)


def triangulate_robust(P: np.ndarray, uv: np.ndarray, weights: np.ndarray | None = None,
                       threshold_px: float = 40.0, min_views: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted DLT that leaves out the views that disagree.

    All usable views are triangulated first; while the worst reprojection error exceeds
    ``threshold_px`` and more than ``min_views`` views remain, every subset with one
    view fewer is tried and the one with the smallest worst error kept. So one wrong
    view (a swapped limb, another person) is dropped, as long as the others agree.

    Args:
        P: ``(V, 3, 4)`` projection matrices.
        uv: ``(..., V, 2)`` undistorted pixels, NaN where missing.
        weights: ``(..., V)`` confidences, default 1.
        threshold_px: largest reprojection error accepted without dropping a view.
        min_views: never drop below this many views.

    Returns:
        ``(X, used, err)``: ``X (..., 3)`` points; ``used (..., V)`` bool, the views the
        point was triangulated from; ``err (..., V)`` reprojection error of every view
        (used or not) in pixels.
    """
    P = np.asarray(P, dtype=np.float64)
    uv = np.asarray(uv, dtype=np.float64)
    V = P.shape[0]
    batch = uv.shape[:-2]
    w = np.ones(batch + (V,)) if weights is None else np.broadcast_to(np.asarray(weights, np.float64), batch + (V,)).copy()
    avail = np.isfinite(uv).all(-1) & (w > 0)
    used = avail.copy()
    X = triangulate_dlt(P, uv, np.where(used, w, 0.0))
    err = reprojection_errors(P, X, uv)
    for _ in range(V - min_views):
        worst = np.nanmax(np.where(used, err, np.nan), axis=-1, initial=0.0)
        todo = (worst > threshold_px) & (used.sum(-1) > min_views)
        if not todo.any():
            break
        best_x = X.copy()
        best_used = used.copy()
        best_worst = np.where(todo, np.inf, worst)
        for drop in range(V):
            trial_used = used.copy()
            trial_used[..., drop] = False
            cand = todo & used[..., drop]
            if not cand.any():
                continue
            Xt = triangulate_dlt(P, uv, np.where(trial_used, w, 0.0))
            et = reprojection_errors(P, Xt, uv)
            wt = np.nanmax(np.where(trial_used, et, np.nan), axis=-1, initial=0.0)
            better = cand & (wt < best_worst)
            best_x[better] = Xt[better]
            best_used[better] = trial_used[better]
            best_worst[better] = wt[better]
        X, used = best_x, best_used
        err = reprojection_errors(P, X, uv)
    return X, used, err

