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


def _project(cam: np.ndarray, f: float = 1000.0, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """Pinhole pixels of camera-frame joints ``(..., 3)``, principal point at the centre."""
    return f * cam[..., :2] / cam[..., 2:] + np.array(size) / 2.0


def test_feet_in_view_needs_both_ankles_scored_and_inside():
    from poselift.geometry.world import feet_in_view

    kp = np.full((1, 5, 17, 2), 300.0)
    kp[..., 10, 1] = 100.0            # head at y = 100 ...
    kp[..., [3, 6], 1] = 650.0        # ... ankles at 650: 550 px tall, the sole ~28 px lower
    sc = np.full((1, 5, 17), 0.9)
    sc[0, 1, 3] = 0.3                 # right ankle hidden
    kp[0, 2, 6, 1] = 700.0            # left ankle 20 px above the bottom of a 720 px frame: sole cut
    kp[0, 3, :, :] = np.nan           # no 2D at all
    kp[0, 4, 3, 0] = 20.0             # right ankle 20 px from the left edge: a small person's foot
    kp[0, 4, :, 1] = np.linspace(500, 650, 17)   # fits there (150 px tall, margin 7.5 px)
    assert feet_in_view(kp, sc, (1280, 720)).tolist() == [[True, False, False, False, True]]


def test_jump_flights_are_not_standing_and_unseen_feet_are_not_pulled_to_the_floor():
    """A child bouncing on the floor (in the air two thirds of every 0.5 s) while drifting across
    it, and another standing still on a bed 0.45 m up whose feet the detector does not see
    (hidden by the bed's edge). Standing frames are the bounces' bottoms only; the floor
    and the grounding come from them; the child on the bed keeps the depth it was lifted
    with instead of being pulled 0.45 m down."""
    from poselift.geometry.world import feet_in_view, foot_contact_metrics, place_in_world, standing_frames

    fps, t = 30.0, 240
    rng = np.random.default_rng(1)
    R, eye = _camera(2.0)
    bounce = _walk(t)
    phase = (np.arange(t) / (0.5 * fps)) % 1.0
    lift = np.where(phase < 2 / 3, 0.3 * np.sin(np.pi * phase * 1.5), 0.0)
    bounce[..., 2] += lift[:, None]
    still = np.repeat(_walk(t)[:1], t, axis=0) - _walk(t)[:1, :1] * np.array([1, 1, 0]) + np.array([1.2, 1.0, 0.45])
    cam = np.stack([(bounce - eye) @ R.T, (still - eye) @ R.T])       # (2, T, 17, 3)
    poses, roots = cam - cam[:, :, :1], cam[:, :, 0].copy()
    # The bouncing child's depth jitters along the camera ray, as a monocular lift's does.
    noisy = roots.copy()
    noisy[0] *= (1 + 0.03 * rng.standard_normal(t))[:, None]
    valid = np.ones((2, t), bool)
    kp = _project(cam)
    assert ((kp >= 0) & (kp <= np.array([1280, 720]))).all()
    scores = np.full((2, t, 17), 0.95)
    scores[1, :, [3, 6]] = 0.1                                        # the bed hides the ankles
    seen = feet_in_view(kp, scores, (1280, 720))
    assert seen[0].all() and not seen[1].any()

    # The choice of standing frames: the bottoms of the bounces, on the true heights.
    heights = bounce[:, [3, 6], 2].min(axis=1)
    stand = standing_frames(heights, np.ones(t, bool), fps)
    assert stand.sum() > 0.2 * t and (lift[stand] < 0.02).all()

    placed = place_in_world(poses, noisy, valid, fps, keypoints_2d=kp, scores_2d=scores, image_size=(1280, 720))
    m = foot_contact_metrics(placed.poses_world, valid, fps, seen)
    assert abs(m[0]["ankle_height_m"] - ANKLE_HEIGHT_M) < 0.02, m[0]
    assert m[0]["ankle_height_upright_m"] > ANKLE_HEIGHT_M + 0.04, "flights count among upright frames"
    assert m[1]["standing"] == 0 and np.isnan(m[1]["ankle_height_m"])
    # Not dragged: the unseen child keeps its depth (within 1 cm) and so stays on the bed.
    assert np.abs(placed.trajectory[1] - roots[1]).max() < 0.01
    bed = placed.poses_world[1][:, [3, 6], 1].min(axis=1)
    assert np.abs(bed - (0.45 + ANKLE_HEIGHT_M)).max() < 0.05
    # Without the 2D every foot counts as seen, and the child on the bed is pulled down.
    blind = place_in_world(poses, noisy, valid, fps)
    assert np.median(blind.poses_world[1][:, [3, 6], 1].min(axis=1)) < 0.45
