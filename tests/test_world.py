"""World placement: the floor found under skeletons seen by a tilted camera."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synth import look_at
from poselift.geometry.world import ANKLE_HEIGHT_M, estimate_world_frame, to_world
from test_train_evaluate import BASE, _motion


def _walk(t: int = 300) -> np.ndarray:
    """A person (Z-up world, feet on z = 0 minus nothing) walking a curve over the floor."""
    pos = _motion(t, 3).astype(np.float64)
    pos[..., 2] -= BASE[:, 2].min() - ANKLE_HEIGHT_M        # ankles 8 cm above the floor
    path = np.stack([np.linspace(-1.5, 1.5, t), 0.8 * np.sin(np.linspace(0, 3, t))], -1)
    pos[..., :2] += path[:, None]
    return pos


def _camera(pitch_height: float):
    eye = np.array([0.0, -6.0, pitch_height])
    R = look_at(eye, np.array([0.0, 0.0, 0.9]), 0.05)
    return R, eye


@pytest.mark.parametrize("height, moving", [(1.2, True), (3.5, True), (0.6, False)])
def test_floor_and_up_recovered(height, moving):
    world_zup = _walk()
    if not moving:                                            # dancing on the spot
        world_zup = world_zup - world_zup[:, :1, :] * np.array([1, 1, 0]) + np.array([0.3, 0.2, 0])
    R, eye = _camera(height)
    cam = (world_zup - eye) @ R.T                             # x right, y down, z forward
    frame = estimate_world_frame(cam)
    back = frame.apply(cam)
    # Heights above the floor must match the truth (Z up there, Y up here).
    assert np.abs(back[..., 1] - world_zup[..., 2]).max() < 0.03, frame.method
    assert frame.method == ("feet-plane" if moving else "body-up")
    # The camera's height above the floor is recovered.
    assert abs(frame.t[1] - height) < 0.03
    # Distances are preserved (a rigid transform).
    d_cam = np.linalg.norm(cam[0, 0] - cam[-1, 3])
    d_w = np.linalg.norm(back[0, 0] - back[-1, 3])
    assert abs(d_cam - d_w) < 1e-5
    assert np.allclose(frame.R @ frame.R.T, np.eye(3), atol=1e-9) and np.linalg.det(frame.R) > 0


def test_to_world_marks_invalid_and_rejects_empty():
    world_zup = _walk(120)
    R, eye = _camera(1.5)
    cam = (world_zup - eye) @ R.T
    poses = (cam - cam[:, :1])[None].astype(np.float32)
    traj = cam[None, :, 0].astype(np.float32)
    valid = np.ones((1, 120), bool)
    valid[0, 50:60] = False
    w, frame = to_world(poses, traj, valid)
    assert w.shape == (1, 120, 17, 3) and np.isnan(w[0, 55]).all() and np.isfinite(w[0, 10]).all()
    # Origin under the first root: its horizontal coordinates are zero.
    assert np.abs(w[0, 0, 0, [0, 2]]).max() < 1e-4
    with pytest.raises(ValueError):
        to_world(poses, traj, np.zeros((1, 120), bool))


def test_grounding_puts_every_persons_feet_on_one_floor_and_stops_sliding():
    """Two walkers seen from 2.5 m up; their root depths carry what a monocular lift gets
    wrong: per-frame jitter along the camera ray and, for one, a 15 % distance error."""
    from poselift.geometry.world import foot_contact_metrics, place_in_world

    rng = np.random.default_rng(0)
    R, eye = _camera(2.5)
    people = []
    for p, shift in enumerate((-0.8, 0.8)):
        w = _walk(240)
        w[..., 0] += shift
        people.append((w - eye) @ R.T)
    cam = np.stack(people)                                     # (2, T, 17, 3) true camera frame
    poses = cam - cam[:, :, :1]
    roots = cam[:, :, 0].copy()
    scale = np.array([1.0, 1.15])[:, None, None] * (1 + 0.03 * rng.standard_normal(roots.shape[:2]))[..., None]
    noisy = roots * scale                                      # along the ray: the 2D root is unchanged
    valid = np.ones(roots.shape[:2], bool)
    truth = foot_contact_metrics(place_in_world(poses, roots, valid, 30.0, ground=False).poses_world, valid, 30.0)
    rigid = foot_contact_metrics(place_in_world(poses, noisy, valid, 30.0, ground=False).poses_world, valid, 30.0)
    placed = place_in_world(poses, noisy, valid, 30.0)
    grounded = foot_contact_metrics(placed.poses_world, valid, 30.0)
    for r, g, t in zip(rigid, grounded, truth):
        assert abs(g["ankle_height_m"] - ANKLE_HEIGHT_M) < 0.02, (r, g)
        assert g["skate_m_s"] < 0.5 * r["skate_m_s"], (r, g)
        assert g["penetration_frac"] < 0.05
    # One shared floor, level: the grounded up direction is the true one.
    true_up = R @ np.array([0.0, 0.0, 1.0])
    assert placed.frame.R[1] @ true_up > np.cos(np.radians(3))
    # Roots only slid along their rays: same image position.
    ray = lambda x: x[..., :2] / x[..., 2:]
    np.testing.assert_allclose(ray(placed.trajectory), ray(noisy), atol=1e-4)
    # The world joints are the rigid transform of the returned trajectory.
    back = placed.frame.apply(poses + placed.trajectory[:, :, None])
    np.testing.assert_allclose(placed.poses_world, back, atol=1e-4)
