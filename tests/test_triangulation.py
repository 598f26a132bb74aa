"""Multi-view triangulation and joint-angle helpers on synthetic cameras and poses."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.geometry.angles import (angle_between, facing_direction, flexion_angle, limb_flexions, limb_ratios,
                                      trunk_tilt, yaw_difference)
from poselift.geometry.skeletons import H36M17
from poselift.geometry.triangulation import project_points, triangulate_dlt, triangulate_robust

J = {n: i for i, n in enumerate(H36M17.joint_names)}


def _look_at(centre: np.ndarray, target: np.ndarray, f: float = 1500.0) -> np.ndarray:
    """P = K [R | t] of a camera at ``centre`` looking at ``target`` (Z up world)."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    K = np.array([[f, 0, 540], [0, f, 960], [0, 0, 1.0]])
    return K @ np.hstack([R, (-R @ centre)[:, None]])


def _rig(n: int = 4) -> np.ndarray:
    target = np.array([0.0, 0.0, 1.0])
    return np.stack([_look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 2.0]), target)
                     for a in np.linspace(0, 2 * np.pi, n, endpoint=False) + 0.3])


def test_dlt_recovers_known_points_exactly():
    P = _rig()
    X = np.random.default_rng(0).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 2.0], size=(20, 17, 3))
    uv = project_points(P, X)
    assert uv.shape == (20, 17, 4, 2)
    np.testing.assert_allclose(triangulate_dlt(P, uv), X, atol=1e-9)
    # Weights do not bias noise-free data; two views suffice.
    w = np.random.default_rng(1).uniform(0.1, 1.0, size=(20, 17, 4))
    np.testing.assert_allclose(triangulate_dlt(P, uv, w), X, atol=1e-9)
    np.testing.assert_allclose(triangulate_dlt(P[:2], uv[..., :2, :]), X, atol=1e-8)


def test_dlt_missing_views():
    P = _rig()
    X = np.array([[0.1, 0.2, 1.0], [0.0, 0.0, 0.5]])
    uv = project_points(P, X)
    uv[0, 1] = np.nan                      # NaN drops a view
    w = np.ones((2, 4))
    w[1, [0, 1, 2]] = 0.0                  # one view left: no point
    out = triangulate_dlt(P, uv, w)
    np.testing.assert_allclose(out[0], X[0], atol=1e-9)
    assert np.isnan(out[1]).all()


def test_robust_triangulation_drops_a_wrong_view():
    P = _rig()
    X = np.random.default_rng(2).uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 2.0], size=(50, 3))
    uv = project_points(P, X)
    noisy = uv + np.random.default_rng(3).normal(0, 1.0, uv.shape)
    noisy[:25, 2] += 150.0                 # view 2 is another person's joint in half the points
    plain = triangulate_dlt(P, noisy)
    assert np.linalg.norm(plain[:25] - X[:25], axis=-1).mean() > 0.02
    got, used, err = triangulate_robust(P, noisy, threshold_px=20.0)
    assert np.linalg.norm(got - X, axis=-1).max() < 0.01
    assert not used[:25, 2].any() and used[25:].all()
    assert (err[:25, 2] > 100).all() and (err[:, [0, 1, 3]] < 10).all()


def test_flexion_and_angles():
    assert angle_between(np.array([1.0, 0, 0]), np.array([0, 1.0, 0])) == pytest.approx(90.0)
    hip, knee = np.array([0, 0, 1.0]), np.array([0, 0, 0.5])
    assert flexion_angle(hip, knee, np.array([0, 0, 0.0])) == pytest.approx(0.0, abs=1e-9)
    assert flexion_angle(hip, knee, np.array([0, -0.4, 0.5])) == pytest.approx(90.0)
    bent = knee + 0.4 * np.array([0, -np.sin(np.radians(30)), -np.cos(np.radians(30))])
    assert flexion_angle(hip, knee, bent) == pytest.approx(30.0)


def _standing_pose() -> np.ndarray:
    """H36M-17 in a Z-up frame, facing +Y (so the person's left is -X), metres."""
    p = np.zeros((17, 3))
    p[J["pelvis"]] = [0, 0, 1.0]
    for side, x in (("left", -0.1), ("right", 0.1)):
        p[J[f"{side}_hip"]] = [x, 0, 1.0]
        p[J[f"{side}_knee"]] = [x, 0, 0.55]     # thigh 0.45
        p[J[f"{side}_ankle"]] = [x, 0, 0.15]    # shin 0.40
        p[J[f"{side}_shoulder"]] = [1.8 * x, 0, 1.5]
        p[J[f"{side}_elbow"]] = [1.8 * x, 0, 1.2]   # upper arm 0.30
        p[J[f"{side}_wrist"]] = [1.8 * x, 0, 0.95]  # forearm 0.25
    p[J["spine"]] = [0, 0, 1.25]
    p[J["thorax"]] = [0, 0, 1.5]
    p[J["neck_nose"]] = [0, 0.05, 1.6]
    p[J["head"]] = [0, 0, 1.7]
    return p


def test_limb_angles_ratios_tilt_on_known_pose():
    p = _standing_pose()
    fl = limb_flexions(p)
    for k in fl.values():
        assert k == pytest.approx(0.0, abs=1e-9)
    # Bend the right elbow 90 degrees forward.
    q = p.copy()
    q[J["right_wrist"]] = q[J["right_elbow"]] + [0, 0.25, 0]
    assert limb_flexions(q)["right_elbow"] == pytest.approx(90.0)
    r = limb_ratios(p)
    assert r["thigh_shin"] == pytest.approx(0.45 / 0.40)
    assert r["upperarm_forearm"] == pytest.approx(0.30 / 0.25)
    up = np.array([0, 0, 1.0])
    assert trunk_tilt(p, up) == pytest.approx(0.0, abs=1e-9)
    lean = p.copy()
    lean[J["thorax"]] = lean[J["pelvis"]] + 0.5 * np.array([0, np.sin(np.radians(20)), np.cos(np.radians(20))])
    assert trunk_tilt(lean, up) == pytest.approx(20.0)


def test_facing_and_yaw():
    up = np.array([0, 0, 1.0])
    p = _standing_pose()
    np.testing.assert_allclose(facing_direction(p, up), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(facing_direction(p, up, use_shoulders=False), [0, 1, 0], atol=1e-12)
    a = np.radians(30)
    Rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    turned = p @ Rz.T
    assert yaw_difference(facing_direction(p, up), facing_direction(turned, up), up) == pytest.approx(30.0)
    # Left and right swapped: the body faces backwards.
    swapped = p[H36M17.flip_permutation()]
    assert abs(yaw_difference(facing_direction(p, up), facing_direction(swapped, up), up)) == pytest.approx(180.0)
    # In a camera frame (y down) with an upright camera, "up" is -y.
    cam = p[:, [0, 2, 1]] * [1, -1, 1]       # world (x, y, z) -> camera (x, -z, y)
    np.testing.assert_allclose(facing_direction(cam, np.array([0, -1.0, 0])), [0, 0, 1], atol=1e-12)
