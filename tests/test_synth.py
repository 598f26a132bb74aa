"""Virtual cameras, projection and the detector-noise model used to make training pairs."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.synth import DetectorNoise, VirtualCamera, flip_world, look_at, project_clip, sample_camera
from poselift.geometry.skeletons import H36M17


def _standing(t: int = 60) -> np.ndarray:
    """A 1.7 m person (Z up) walking 1 m along x."""
    base = np.array([[0, 0, 0.95], [-0.12, 0, 0.95], [-0.12, 0, 0.5], [-0.12, 0, 0.08], [0.12, 0, 0.95],
                     [0.12, 0, 0.5], [0.12, 0, 0.08], [0, 0, 1.2], [0, 0, 1.45], [0, 0.05, 1.55], [0, 0, 1.7],
                     [0.18, 0, 1.45], [0.2, 0, 1.15], [0.22, 0, 0.9], [-0.18, 0, 1.45], [-0.2, 0, 1.15],
                     [-0.22, 0, 0.9]], dtype=np.float64)
    shift = np.linspace(0, 1, t)[:, None, None] * np.array([1.0, 0, 0])
    return base[None] + shift


def test_look_at_axes():
    R = look_at(np.array([0.0, -5.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(R), 1)
    # Optical axis points at the target; image "down" is world -Z; image "right" is world +x.
    assert np.allclose(R[2], [0, 1, 0]) and np.allclose(R[1], [0, 0, -1]) and np.allclose(R[0], [1, 0, 0])


def test_projection_matches_pinhole_by_hand():
    cam = VirtualCamera(R=np.eye(3), C=np.zeros(3), f=1000.0, c=np.array([640.0, 360.0]), width=1280, height=720)
    x_cam, kp = project_clip(cam, np.array([[[0.5, -0.25, 5.0]]]))
    assert np.allclose(x_cam, [[[0.5, -0.25, 5.0]]])
    assert np.allclose(kp, [[[640 + 100, 360 - 50]]])


@pytest.mark.parametrize("seed", range(5))
def test_sampled_cameras_frame_the_person(seed):
    rng = np.random.default_rng(seed)
    motion = _standing()
    fracs, f35s = [], []
    for _ in range(40):
        cam = sample_camera(rng, motion)
        x_cam, kp = project_clip(cam, motion)
        assert (x_cam[..., 2] > 0.5).all(), "the person must be in front of the camera"
        height_px = kp[..., 1].max(-1) - kp[..., 1].min(-1)
        fracs.append(np.median(height_px) / cam.height)
        f35s.append(cam.f / np.hypot(cam.width, cam.height) * 43.27)
        centre = kp[:, 0].mean(0)
        assert -0.5 * cam.width < centre[0] < 1.5 * cam.width
    assert 0.15 < np.median(fracs) < 1.0
    # Both wide and long lenses are drawn.
    assert min(f35s) < 30 and max(f35s) > 60


def test_noise_model_properties():
    rng = np.random.default_rng(0)
    cam = VirtualCamera(R=look_at(np.array([0, -4.0, 1.2]), np.array([0.5, 0, 1.0])), C=np.array([0, -4.0, 1.2]),
                        f=1200.0, c=np.array([960.0, 540.0]), width=1920, height=1080)
    _, kp = project_clip(cam, _standing(200))
    scale = np.median(kp[..., 1].max(1) - kp[..., 1].min(1))
    noisy, score = DetectorNoise()(rng, kp)
    assert noisy.shape == kp.shape and score.shape == kp.shape[:2]
    assert np.isfinite(noisy).all() and ((score >= 0) & (score <= 1)).all()
    err = np.linalg.norm(noisy - kp, axis=-1) / scale
    # Noise exists but keeps the person recognisable: a few percent of body height.
    assert 0.003 < np.median(err) < 0.08
    # Per-sequence systematic offsets: the mean error per joint is not zero.
    mean_off = np.linalg.norm((noisy - kp).mean(0), axis=-1) / scale
    assert mean_off.max() > 0.003
    clean, _ = DetectorNoise(jitter=(0, 0), offset=0, drop_joint=0, drop_frame=0, swap=0)(rng, kp)
    assert np.allclose(clean, kp, atol=1e-3)


def test_noise_swaps_and_drops_happen():
    rng = np.random.default_rng(1)
    kp = np.tile(np.arange(17 * 2, dtype=np.float64).reshape(1, 17, 2) * 10, (400, 1, 1))
    noisy, score = DetectorNoise(jitter=(0, 0), offset=0, drop_joint=0.0, drop_frame=0.0, swap=0.05)(rng, kp)
    swapped = np.isclose(noisy[:, 4], kp[:, 1]).all(-1)  # left hip sitting where the right hip was
    assert swapped.any() and not swapped.all()
    assert (score[swapped][:, 4] < 0.95).all()


def test_flip_world_mirrors_and_swaps():
    m = _standing(3)
    f = flip_world(m)
    assert np.allclose(f[:, 4, 0], -m[:, 1, 0])  # left hip = mirrored right hip
    assert np.allclose(flip_world(f), m)
    assert f.shape == m.shape and H36M17.num_joints == 17
