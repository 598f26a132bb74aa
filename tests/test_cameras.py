"""Camera geometry: VideoPose3D normalisation, quaternions, projection, Human3.6M calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from poselift.geometry.cameras import (H36M_SUBJECTS_WITH_EXTRINSICS, Camera, camera_to_world,
                                       default_focal_length, focal_from_35mm, focal_from_fov, h36m_cameras,
                                       image_coordinates, normalize_screen_coordinates, project_pinhole,
                                       project_to_2d, project_to_2d_linear, qinverse, qmul, qrot,
                                       quaternion_to_matrix, world_to_camera)


def _random_quats(n: int, seed: int) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _scipy_matrix(q_wxyz: np.ndarray) -> np.ndarray:
    # scipy is scalar-last: (x, y, z, w).
    return Rotation.from_quat(np.concatenate([q_wxyz[..., 1:], q_wxyz[..., :1]], axis=-1)).as_matrix()


# --------------------------------------------------------------------------- normalisation
def test_normalize_hand_numbers():
    w, h = 1000, 500
    px = np.array([[300.0, 200.0], [0.0, 0.0], [1000.0, 500.0], [500.0, 250.0]])
    expected = np.array([[-0.4, -0.1], [-1.0, -0.5], [1.0, 0.5], [0.0, 0.0]])
    np.testing.assert_allclose(normalize_screen_coordinates(px, w, h), expected, atol=1e-12)
    # Portrait: the width still maps to [-1, 1].
    np.testing.assert_allclose(normalize_screen_coordinates(np.array([270.0, 960.0]), 1080, 1920),
                               [270 / 1080 * 2 - 1, 960 / 1080 * 2 - 1920 / 1080], atol=1e-12)


def test_normalize_round_trip_and_torch():
    rng = np.random.default_rng(0)
    px = rng.uniform(0, 1920, size=(7, 17, 2))
    n = normalize_screen_coordinates(px, 1920, 1080)
    np.testing.assert_allclose(image_coordinates(n, 1920, 1080), px, atol=1e-9)
    nt = normalize_screen_coordinates(torch.from_numpy(px), 1920, 1080)
    assert isinstance(nt, torch.Tensor)
    np.testing.assert_allclose(nt.numpy(), n, atol=1e-12)
    np.testing.assert_allclose(image_coordinates(nt, 1920, 1080).numpy(), px, atol=1e-9)
    assert normalize_screen_coordinates(px.astype(np.float32), 1920, 1080).dtype == np.float32
    with pytest.raises(ValueError):
        normalize_screen_coordinates(np.zeros((4, 3)), 100, 100)


# --------------------------------------------------------------------------- quaternions
def test_qrot_matches_scipy():
    q = _random_quats(20, 1)
    v = np.random.default_rng(2).normal(size=(20, 3))
    expected = np.einsum("nij,nj->ni", _scipy_matrix(q), v)
    np.testing.assert_allclose(qrot(q, v), expected, atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(q), _scipy_matrix(q), atol=1e-12)
    # -q is the same rotation.
    np.testing.assert_allclose(qrot(-q, v), expected, atol=1e-12)
    # A 90 degree turn about z by hand: x -> y.
    qz = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])
    np.testing.assert_allclose(qrot(qz, np.array([1.0, 0, 0])), [0, 1, 0], atol=1e-12)


def test_qmul_and_qinverse():
    a, b = _random_quats(10, 3), _random_quats(10, 4)
    v = np.random.default_rng(5).normal(size=(10, 3))
    np.testing.assert_allclose(qrot(qmul(a, b), v), qrot(a, qrot(b, v)), atol=1e-12)
    np.testing.assert_allclose(qrot(qinverse(a), qrot(a, v)), v, atol=1e-12)


def test_world_camera_transforms():
    q = _random_quats(1, 6)[0]
    t = np.array([1.5, -2.0, 3.0])
    x = np.random.default_rng(7).normal(size=(5, 17, 3))
    xc = world_to_camera(x, q, t)
    # R rotates camera-frame vectors into the world; t is the camera centre.
    np.testing.assert_allclose(xc, (x - t) @ _scipy_matrix(q), atol=1e-12)
    np.testing.assert_allclose(camera_to_world(xc, q, t), x, atol=1e-12)
    np.testing.assert_allclose(world_to_camera(t[None], q, t), np.zeros((1, 3)), atol=1e-12)
    # torch gives the same numbers.
    xt = torch.from_numpy(x)
    xct = world_to_camera(xt, q, t)
    assert isinstance(xct, torch.Tensor)
    np.testing.assert_allclose(xct.numpy(), xc, atol=1e-12)
    np.testing.assert_allclose(camera_to_world(xct, q, t).numpy(), x, atol=1e-12)
    np.testing.assert_allclose(qrot(torch.from_numpy(q), xt).numpy(), qrot(q, x), atol=1e-12)


# --------------------------------------------------------------------------- projection
def _points_in_front(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.uniform(-0.8, 0.8, size=(n, 17, 3))
    p[..., 2] = rng.uniform(2.0, 6.0, size=(n, 17))
    return p


def test_zero_distortion_equals_linear():
    x = _points_in_front(3, 8)
    intr = np.array([[1.1, 1.2, 0.05, -0.02, 0, 0, 0, 0, 0],
                     [2.3, 2.3, 0.0, 0.1, 0, 0, 0, 0, 0],
                     [0.9, 1.0, -0.1, 0.0, 0, 0, 0, 0, 0]])
    a = project_to_2d(x, intr)
    b = project_to_2d_linear(x, intr)
    np.testing.assert_allclose(a, b, atol=1e-12)
    # Linear projection by hand for one point.
    p = x[1, 4]
    np.testing.assert_allclose(b[1, 4], [2.3 * p[0] / p[2], 2.3 * p[1] / p[2] + 0.1], atol=1e-12)
    # Each camera uses its own intrinsics.
    assert not np.allclose(a[0], project_to_2d(x[:1], intr[1:2])[0])


def test_radial_distortion_hand_computed():
    # Brown-Conrady radial model: x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6).
    x = np.array([[[0.2 * 4, -0.1 * 4, 4.0]]])
    intr = np.array([[2.0, 3.0, 0.1, 0.2, 0.1, 0.01, 0.001, 0.0, 0.0]])
    r2 = 0.05
    radial = 1 + 0.1 * r2 + 0.01 * r2 ** 2 + 0.001 * r2 ** 3
    assert radial == pytest.approx(1.005025125)
    expected = [2.0 * 0.2 * radial + 0.1, 3.0 * -0.1 * radial + 0.2]
    np.testing.assert_allclose(project_to_2d(x, intr)[0, 0], expected, atol=1e-12)
    np.testing.assert_allclose(project_pinhole(x[0, 0], (2.0, 3.0), (0.1, 0.2), (0.1, 0.01, 0.001)),
                               expected, atol=1e-12)


def test_tangential_distortion_videopose3d_form():
    # VideoPose3D's (and Human3.6M's) polynomial: x_d = x (radial + p.x) + p r^2.
    x = np.array([[[0.2 * 4, -0.1 * 4, 4.0]]])
    intr = np.array([[2.0, 3.0, 0.1, 0.2, 0.1, 0.01, 0.001, 0.01, -0.02]])
    r2 = 0.05
    radial = 1 + 0.1 * r2 + 0.01 * r2 ** 2 + 0.001 * r2 ** 3
    tan = 0.01 * 0.2 + (-0.02) * (-0.1)
    xd = 0.2 * (radial + tan) + 0.01 * r2
    yd = -0.1 * (radial + tan) + (-0.02) * r2
    expected = [2.0 * xd + 0.1, 3.0 * yd + 0.2]
    np.testing.assert_allclose(project_to_2d(x, intr)[0, 0], expected, atol=1e-12)
    np.testing.assert_allclose(project_pinhole(x[0, 0], (2.0, 3.0), (0.1, 0.2), (0.1, 0.01, 0.001), (0.01, -0.02)),
                               expected, atol=1e-12)


def test_projection_clamps_wide_angles():
    x = np.array([[[3.0, 0.5, 1.0]]])
    intr = np.array([[1.0, 1.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0]])
    r2 = 1.0 + 0.25  # x/z clamped to 1
    np.testing.assert_allclose(project_to_2d(x, intr)[0, 0], [1.0 * (1 + 0.2 * r2), 0.5 * (1 + 0.2 * r2)])
    assert not np.allclose(project_to_2d(x, intr, clamp=False), project_to_2d(x, intr))


def test_projection_numpy_and_torch_agree():
    x = _points_in_front(2, 9)
    intr = np.array([[1.1, 1.2, 0.05, -0.02, -0.2, 0.24, -0.003, -0.001, -0.0014],
                     [2.3, 2.2, 0.0, 0.1, -0.19, 0.24, 0.007, -0.0016, -0.0027]])
    a = project_to_2d(x, intr)
    b = project_to_2d(torch.from_numpy(x), torch.from_numpy(intr))
    assert isinstance(b, torch.Tensor) and b.shape == (2, 17, 2)
    np.testing.assert_allclose(b.numpy(), a, atol=1e-12)
    np.testing.assert_allclose(project_to_2d_linear(torch.from_numpy(x), intr).numpy(),
                               project_to_2d_linear(x, intr), atol=1e-12)


# --------------------------------------------------------------------------- Human3.6M
def test_h36m_cameras_intrinsics():
    cams = h36m_cameras()
    assert [c.id for c in cams] == ["54138969", "55011271", "58860488", "60457274"]
    for c in cams:
        assert c.orientation is None and c.translation is None
        assert 1100 < c.focal_length[0] < 1200 and 450 < c.center[0] < 550
        assert c.res_w == 1000 and c.res_h in (1000, 1002)
        intr = c.intrinsic_normalized()
        assert intr.shape == (9,)
        np.testing.assert_allclose(intr[:2], np.array(c.focal_length) / c.res_w * 2, rtol=1e-6)
        np.testing.assert_allclose(intr[2:4], normalize_screen_coordinates(np.array(c.center), c.res_w, c.res_h),
                                   rtol=1e-6)
        with pytest.raises(ValueError):
            c.world_to_camera(np.zeros(3))
    assert H36M_SUBJECTS_WITH_EXTRINSICS == ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
    with pytest.raises(KeyError):
        h36m_cameras("S2")


@pytest.mark.parametrize("subject", ["S1", "S5", "S6", "S7", "S8", "S9", "S11"])
def test_h36m_origin_projects_into_every_camera(subject):
    cams = h36m_cameras(subject)
    assert len(cams) == 4
    centres = np.array([c.translation for c in cams])
    # Metres after loading: cameras stand a few metres from the capture area, above the floor (Z up).
    dist = np.linalg.norm(centres[:, :2], axis=1)
    assert np.all((dist > 2.5) & (dist < 9)), dist
    assert np.all((centres[:, 2] > 0.5) & (centres[:, 2] < 3)), centres
    body = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.1], [0.0, 0.0, 1.7]])
    for c in cams:
        q = np.asarray(c.orientation)
        assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-4)
        xc = c.world_to_camera(body)
        assert np.all(xc[:, 2] > 2), (c.id, xc)  # in front of the camera
        uv = c.project(xc)
        assert np.all((uv >= 0) & (uv <= 1000)), (subject, c.id, uv)
        # Image y points down while world Z points up: the head is above the feet.
        assert uv[2, 1] < uv[0, 1] < uv[1, 1]
        # Pixel projection and VideoPose3D's normalised projection agree.
        n = project_to_2d(xc[None].astype(np.float64), c.intrinsic_normalized()[None].astype(np.float64))[0]
        np.testing.assert_allclose(image_coordinates(n, c.res_w, c.res_h), uv, atol=1e-2)


# --------------------------------------------------------------------------- focal lengths
def test_focal_helpers():
    assert focal_from_fov(90.0, 1000, 600) == pytest.approx(500.0)
    assert focal_from_fov(90.0, 1080, 1920) == pytest.approx(960.0)  # long side
    assert focal_from_fov(60.0, 1920, 1080) == pytest.approx(960 / np.tan(np.radians(30)))
    f = default_focal_length(1920, 1080)
    assert f == pytest.approx(focal_from_35mm(26.0, 1920, 1080))
    diag_fov = np.degrees(2 * np.arctan(np.hypot(1920, 1080) / 2 / f))
    assert 75 < diag_fov < 85  # a phone's main camera
    assert default_focal_length(1080, 1920) == pytest.approx(f)  # orientation-independent
    assert default_focal_length(3840, 2160) == pytest.approx(2 * f)
    # A longer lens narrows the view.
    assert focal_from_35mm(50, 1920, 1080) > f
    cam = Camera("c", 1920, 1080, (f, f), (960, 540))
    np.testing.assert_allclose(cam.project(np.array([0.0, 0.0, 3.0])), [960, 540])
