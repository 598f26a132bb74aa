"""The ``focal_scaled`` network input: perspective-crop rotation and person-size scaling."""

from __future__ import annotations

import numpy as np

from poselift.lift.inference import person_scale, ray_rotation, scaled_rays, to_camera_frame
from test_train_evaluate import _motion


def _rays(points_cam: np.ndarray) -> np.ndarray:
    return points_cam[..., :2] / points_cam[..., 2:3]


def _yaw(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _person_cam(t: int = 60, depth: float = 4.0) -> np.ndarray:
    """Camera-frame (x right, y down, z forward) motion with the root on the optical axis' row."""
    zup = _motion(t, 1).astype(np.float64)
    cam = np.stack([zup[..., 0], -(zup[..., 2] - zup[:, :1, 2]), zup[..., 1] + depth], -1)
    return cam


def test_ray_rotation_is_a_rotation_onto_the_ray_and_mirrors_with_the_image():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.5, (50, 2))
    R = ray_rotation(r)
    assert np.allclose(R @ np.swapaxes(R, 1, 2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
    d = np.c_[r, np.ones(50)]
    assert np.allclose(R[:, :, 2], d / np.linalg.norm(d, axis=1, keepdims=True))
    M = np.diag([-1.0, 1.0, 1.0])
    assert np.allclose(M @ R @ M, ray_rotation(r * [-1, 1]))     # exact flip augmentation
    assert np.allclose(ray_rotation(np.zeros((1, 2)))[0], np.eye(3))


def test_input_ignores_where_the_camera_points_and_how_far_the_person_is():
    x0 = _person_cam()
    base = scaled_rays(_rays(x0), 27)
    # Turning the camera (person now near the frame's edge) changes nothing: the
    # virtual camera looks at the person again.
    turned = scaled_rays(_rays(x0 @ _yaw(0.5).T), 27)
    assert np.abs(_rays(x0 @ _yaw(0.5).T)[:, 0, 0]).min() > 0.4
    np.testing.assert_allclose(turned.x, base.x, atol=1e-5)
    # Twice as tall and twice as far: the same 2D shape, the same input.
    far = x0.copy()
    far[..., :2] *= 2
    far[..., 2] = 2 * far[..., 2]
    np.testing.assert_allclose(scaled_rays(_rays(far), 27).x, base.x, atol=1e-5)
    # The input has unit size, and mapping virtual-frame points back restores the camera frame.
    assert 0.8 < np.sqrt((base.x ** 2).sum(-1).mean()) < 1.3
    virt = np.einsum("tji,tkj->tki", turned.R, x0 @ _yaw(0.5).T)
    np.testing.assert_allclose(to_camera_frame(virt.astype(np.float32), turned.R), x0 @ _yaw(0.5).T, atol=1e-5)


def test_person_scale_follows_an_approaching_person_but_not_a_single_bad_frame():
    x0 = _person_cam(200)
    x0[..., 2] += np.linspace(4, 0, 200)[:, None]           # walks from 8 m to 4 m
    r = _rays(x0)
    r[100] *= 3.0                                            # one wild detection
    scale, _ = person_scale(r, 27)
    assert scale[-1] > 1.8 * scale[0]
    assert abs(scale[100] / scale[99] - 1) < 0.05
    causal, _ = person_scale(r, 27, causal=True)
    # A causal window only looks back: it lags the growing size.
    assert (causal[30:-30] <= scale[30:-30] + 1e-9).all()
