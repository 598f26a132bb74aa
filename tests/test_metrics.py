"""Pose metrics on hand-built cases, with independent solutions for the alignments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation

from poselift.geometry.metrics import (action_group, aggregate_by_action, evaluate_sequences, mpjpe,
                                       mpjve, n_mpjpe, p_mpjpe, procrustes_align)


def _pose(seed: int = 0, frames: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (17, 3) if frames is None else (frames, 17, 3)
    return rng.normal(scale=0.3, size=shape)


def test_mpjpe_constant_offset():
    gt = _pose(0, frames=4)
    assert mpjpe(gt + np.array([0.03, -0.04, 0.0]), gt) == pytest.approx(0.05, abs=1e-12)
    # Offsets of different length per joint: mean of the norms.
    off = np.zeros((17, 3))
    off[:5, 0] = 1.0
    off[5:, 2] = 2.0
    assert mpjpe(gt + off, gt) == pytest.approx((5 * 1 + 12 * 2) / 17, abs=1e-12)
    with pytest.raises(ValueError):
        mpjpe(np.zeros((4, 17, 3)), np.zeros((4, 16, 3)))


def test_p_mpjpe_removes_similarity_transform():
    gt = _pose(1, frames=5)
    pred = np.empty_like(gt)
    rots = Rotation.random(5, random_state=2).as_matrix()
    for i in range(5):
        s = 0.5 + i * 0.4
        t = np.array([i, -2.0 * i, 0.3])
        pred[i] = s * gt[i] @ rots[i].T + t
    assert mpjpe(pred, gt) > 0.1
    assert p_mpjpe(pred, gt) < 1e-9
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-9)
    # Works with a single pose and with extra leading axes.
    assert p_mpjpe(pred[0], gt[0]) < 1e-9
    assert p_mpjpe(pred.reshape(5, 1, 17, 3), gt.reshape(5, 1, 17, 3)) < 1e-9


def _best_rotation_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Best similarity with a *proper* rotation, found by scipy's Procrustes plus a det fix
    and cross-checked by direct optimisation over rotation vector and scale."""
    p0 = pred - pred.mean(0)
    g0 = gt - gt.mean(0)
    r, _ = orthogonal_procrustes(p0, g0)  # p0 @ r ~ g0, r may be a reflection
    if np.linalg.det(r) < 0:
        u, s, vt = np.linalg.svd(p0.T @ g0)
        d = np.diag([1.0, 1.0, -1.0])
        r = u @ d @ vt
        scale = (s * np.diag(d)).sum() / (p0 ** 2).sum()
    else:
        scale = np.trace(r.T @ p0.T @ g0) / (p0 ** 2).sum()
    assert np.linalg.det(r) > 0
    closed = np.linalg.norm(scale * p0 @ r - g0, axis=-1).mean()

    def sq(params):
        rr = Rotation.from_rotvec(params[:3]).as_matrix()
        # The scale is exp(.) > 0: a negative scale times a rotation would be a reflection.
        return ((np.exp(params[3]) * p0 @ rr.T - g0) ** 2).sum()

    best = min((minimize(sq, np.r_[Rotation.random(random_state=k).as_rotvec(), 0.0], method="BFGS")
                for k in range(6)), key=lambda res: res.fun)
    rr = Rotation.from_rotvec(best.x[:3]).as_matrix()
    opt = np.linalg.norm(np.exp(best.x[3]) * p0 @ rr.T - g0, axis=-1).mean()
    # P2 minimises the squared error, so compare the squared-error optima.
    closed_sq = ((scale * p0 @ r - g0) ** 2).sum()
    assert closed_sq == pytest.approx(best.fun, rel=1e-6)
    assert opt == pytest.approx(closed, rel=1e-3)
    return closed


def test_mirrored_pose_is_not_aligned_perfectly():
    gt = _pose(3)
    mirror = gt * np.array([-1.0, 1.0, 1.0])  # a reflection, not a rotation
    rot = Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix()
    pred = 1.3 * mirror @ rot.T + 0.5
    # An improper orthogonal map would fit exactly:
    r_any, _ = orthogonal_procrustes(pred - pred.mean(0), gt - gt.mean(0))
    assert np.linalg.det(r_any) < 0
    err = p_mpjpe(pred, gt)
    assert err > 0.05
    assert err == pytest.approx(_best_rotation_error(pred, gt), rel=1e-6)
    aligned = procrustes_align(pred, gt)
    # The aligned pose is a proper similarity image of pred.
    a0, p0 = aligned - aligned.mean(0), pred - pred.mean(0)
    m, *_ = np.linalg.lstsq(p0, a0, rcond=None)
    assert np.linalg.det(m) > 0


def test_p_mpjpe_batched_mixture_of_mirrored_and_rotated():
    gts = np.stack([_pose(10 + i) for i in range(4)])
    preds = gts.copy()
    preds[1] *= np.array([1.0, -1.0, 1.0])
    preds[3] = preds[3] @ Rotation.from_euler("z", 70, degrees=True).as_matrix().T * 2.0
    per_pose = [p_mpjpe(preds[i], gts[i]) for i in range(4)]
    assert per_pose[0] < 1e-9 and per_pose[3] < 1e-9 and per_pose[1] > 0.05
    assert p_mpjpe(preds, gts) == pytest.approx(np.mean(per_pose), rel=1e-9)
    assert per_pose[1] == pytest.approx(_best_rotation_error(preds[1], gts[1]), rel=1e-6)


def test_n_mpjpe_against_least_squares_scale():
    gt = _pose(4, frames=3)
    rng = np.random.default_rng(5)
    scales = np.array([0.7, 1.0, 1.6])
    pred = scales[:, None, None] * gt + rng.normal(scale=0.02, size=gt.shape)
    expected = []
    for i in range(3):
        # argmin_s ||s p - g||^2 by least squares on the flattened pose.
        s, *_ = np.linalg.lstsq(pred[i].reshape(-1, 1), gt[i].reshape(-1), rcond=None)
        expected.append(np.linalg.norm(s[0] * pred[i] - gt[i], axis=-1).mean())
    assert n_mpjpe(pred, gt) == pytest.approx(np.mean(expected), rel=1e-9)
    # Pure scale error vanishes; it is not translation-invariant.
    assert n_mpjpe(2.5 * gt, gt) < 1e-12
    assert n_mpjpe(gt + 0.1, gt) > 1e-3


def test_mpjve():
    gt = _pose(6, frames=10)
    assert mpjve(gt + np.array([0.2, 0.0, -0.1]), gt) == pytest.approx(0.0, abs=1e-12)
    # A drift of (0.03, 0.04, 0) per frame on every joint: velocity error 0.05 per frame.
    drift = np.arange(10)[:, None, None] * np.array([0.03, 0.04, 0.0])
    assert mpjve(gt + drift, gt) == pytest.approx(0.05, abs=1e-12)
    # A single spike of 1.0 on one joint of one frame: velocity errors 1 and 1 in two of
    # the 9 x 17 velocity samples.
    spike = gt.copy()
    spike[4, 2, 0] += 1.0
    assert mpjve(spike, gt) == pytest.approx(2.0 / (9 * 17), abs=1e-12)
    with pytest.raises(ValueError):
        mpjve(gt[:1], gt[:1])


def test_action_group():
    assert action_group("Walking 1") == "Walking"
    assert action_group("Walking") == "Walking"
    assert action_group("WalkTogether 2") == "WalkTogether"
    assert action_group("walking_1") == "walking"
    assert action_group("Directions 1.54138969") == "Directions"
    assert action_group("sitting_down") == "sitting_down"


def test_aggregate_by_action_hand_numbers():
    rows = [("Walking 1", 10.0, 100), ("Walking", 40.0, 300), ("Eating 2", 20.0, 50), ("Eating", 20.0, 1)]
    agg = aggregate_by_action(rows)
    walking = (10 * 100 + 40 * 300) / 400  # 32.5, frame-weighted inside the group
    assert agg["per_action"] == pytest.approx({"Walking": walking, "Eating": 20.0})
    # Groups count equally, whatever their frame count.
    assert agg["mean"] == pytest.approx((32.5 + 20.0) / 2)
    assert np.isnan(aggregate_by_action([])["mean"])


def test_evaluate_sequences_units_and_grouping():
    gt = _pose(7, frames=6)
    off = np.array([0.003, 0.004, 0.0])  # 5 mm
    res = evaluate_sequences({"Walking 1": [gt + off], "Walking 2": [gt + 2 * off, gt + 2 * off]},
                             {"Walking 1": [gt], "Walking 2": [gt, gt]})
    assert res["frames"] == 18
    assert res["mpjpe_mm"] == pytest.approx((5 * 6 + 10 * 12) / 18)
    assert res["p_mpjpe_mm"] < 1e-6 and res["mpjve_mm"] < 1e-6
    assert set(res["per_action"]) == {"Walking"}
