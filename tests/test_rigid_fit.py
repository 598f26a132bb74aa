"""Rigid-segment skeleton fit (issue 12, item 4): the skeleton a BVH rig can play back."""

from __future__ import annotations

import numpy as np
import pytest
from test_bvh_export import _rot, reimport, synthetic_motion

from poselift.export.bvh import write_bvh
from poselift.geometry.rigid import SEGMENTS, fit_rigid_skeleton
from poselift.geometry.skeletons import H36M17, bone_lengths

J = {n: i for i, n in enumerate(H36M17.joint_names)}


def segment_distances(x: np.ndarray) -> np.ndarray:
    """(T, D) every pairwise distance inside the pelvis and the thorax segments (origin included)."""
    out = []
    for j in SEGMENTS:
        pts = [j] + [c for c, p in enumerate(H36M17.parents) if p == j]
        for a in range(len(pts)):
            for b in range(a + 1, len(pts)):
                out.append(np.linalg.norm(x[:, pts[a]] - x[:, pts[b]], axis=-1))
    return np.stack(out, -1)


def nonrigid_motion(T: int = 60) -> np.ndarray:
    """The synthetic person (absolute, metres, camera frame) with a pelvis and a thorax that
    change shape like a network's output: the right leg swings sideways about the pelvis
    (right-hip-spine angle +-20 degrees), the neck nods forward, the left shoulder shrugs."""
    poses, traj = synthetic_motion(T)
    x = poses + traj[:, None]
    t = np.arange(T) / 25.0
    rel = x[:, [J["right_hip"], J["right_knee"], J["right_ankle"]]] - x[:, [J["pelvis"]]]
    R = _rot("Z", np.radians(20) * np.sin(2.3 * t))
    x[:, [J["right_hip"], J["right_knee"], J["right_ankle"]]] = x[:, [J["pelvis"]]] + np.einsum("tij,tkj->tki", R, rel)
    x[:, [J["neck_nose"], J["head"]]] += (0.04 * np.sin(1.9 * t))[:, None, None] * np.array([0.0, 0.3, -1.0])
    arm = [J["left_shoulder"], J["left_elbow"], J["left_wrist"]]
    x[:, arm] += (0.03 * np.sin(3.1 * t))[:, None, None] * np.array([0.0, -1.0, 0.0])
    return x


def test_rigid_input_is_reproduced_exactly():
    poses, traj = synthetic_motion()
    x = poses + traj[:, None]
    fit = fit_rigid_skeleton(x)
    assert np.abs(fit.positions - x).max() < 1e-9


def test_nonrigid_input_gets_constant_segments_and_bones():
    x = nonrigid_motion()
    assert np.ptp(segment_distances(x), axis=0).max() > 0.03  # the input really changes shape
    fit = fit_rigid_skeleton(x).positions
    assert np.ptp(segment_distances(fit), axis=0).max() < 1e-9
    assert np.ptp(bone_lengths(fit), axis=0).max() < 1e-9
    np.testing.assert_allclose(fit[:, 0], x[:, 0])  # the root (trajectory) is kept
    err = np.linalg.norm(fit - x, axis=-1)
    assert err.mean() < 0.01 and err.max() < 0.06, (err.mean(), err.max())
    # the shapes fitted over the clip beat the shapes of any single frame
    from poselift.geometry.rigid import pose_chain, rest_offsets

    for k in (0, 17, 40):
        single = pose_chain(x, rest_offsets(x[k:k + 1])[0])[1]
        assert err.mean() < np.linalg.norm(single - x, axis=-1).mean(), k


def test_fit_is_idempotent_and_equivariant():
    x = nonrigid_motion()
    fit = fit_rigid_skeleton(x).positions
    assert np.abs(fit_rigid_skeleton(fit).positions - fit).max() < 1e-9
    R = _rot("Y", np.array([0.7]))[0] @ _rot("X", np.array([-0.4]))[0]
    t = np.array([1.0, -2.0, 0.5])
    moved = fit_rigid_skeleton(x @ R.T + t).positions
    np.testing.assert_allclose(moved, fit @ R.T + t, atol=1e-9)


def test_invalid_frames_are_skipped_and_stay_nan():
    x = nonrigid_motion(50)
    valid = np.ones(50, bool)
    valid[20:25] = False
    x_nan = x.copy()
    x_nan[22] = np.nan
    fit = fit_rigid_skeleton(x_nan, valid).positions
    assert np.isnan(fit[20:25]).all() and np.isfinite(fit[valid]).all()
    np.testing.assert_allclose(fit[valid], fit_rigid_skeleton(x[valid]).positions, atol=1e-12)
    with pytest.raises(ValueError):
        fit_rigid_skeleton(np.full((3, 17, 3), np.nan))
    with pytest.raises(ValueError):
        fit_rigid_skeleton(np.zeros((3, 16, 3)))


def test_bvh_of_any_points_is_their_rigid_fit(tmp_path):
    """The exporter plays back exactly the rigid fit; so an npz holding the fit (what
    ``infer`` writes) and the BVH written from it agree to numerical precision."""
    x = nonrigid_motion()
    fit = fit_rigid_skeleton(x).positions
    got = reimport(write_bvh(tmp_path / "n.bvh", x - x[:, :1], x[:, 0], 25.0, smooth=False))
    assert np.abs(got - fit).max() < 1e-5
    assert np.linalg.norm(got - x, axis=-1).max() > 0.01  # and not the non-rigid input
