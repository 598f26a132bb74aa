"""Qualisys QCA calibration reader: units, axes and image-size handling."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.io.calibration import parse_qca, read_qca

# A camera 5 m behind the origin along -Y, 1 m high, looking horizontally along +Y in a
# Z-up world. Qualisys camera axes (rows of r): x = world +X, y = world +Z (up),
# z = world -Y (the camera looks along its -z). Focal 1000 px, principal point
# (540, 960) px of a 1088 x 1920 window; intrinsics in 1/64 px.
QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration source="synthetic" type="regular">
  <cameras>
    <camera active="1" serial="camA" model="none">
      <fov_video bottom="1919" left="{left}" right="{right}" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="0" r23="1" r31="0" r32="-1" r33="0"
                 x="0" y="-5000" z="1000"/>
      <intrinsic centerPointU="{cu}" centerPointV="61440" focalLengthU="64000" focalLengthV="64000"
                 radialDistortion1="0" radialDistortion2="0" radialDistortion3="0" skew="0"
                 tangentalDistortion1="0" tangentalDistortion2="0" sensorMaxU="69568" sensorMaxV="122816"/>
    </camera>
  </cameras>
</calibration>
"""


def _qca(left: int = 0, cu: float = 540 * 64) -> str:
    return QCA.format(left=left, right=left + 1087, cu=cu)


def test_qca_axes_units_and_projection():
    (cam,) = parse_qca(_qca())
    assert cam.name == "camA"
    assert cam.image_size == (1088, 1920)
    np.testing.assert_allclose(cam.center, [0.0, -5.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(cam.K, [[1000, 0, 540], [0, 1000, 960], [0, 0, 1]])
    # Vision camera frame: x right = world +X, y down = world -Z, z forward = world +Y.
    np.testing.assert_allclose(cam.R, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
    pts = np.array([[0.0, 0.0, 1.0],    # straight ahead, 5 m
                    [0.5, 0.0, 1.0],    # 0.5 m to the right
                    [0.0, 0.0, 2.0],    # 1 m higher: above the centre in the image
                    [0.0, -10.0, 1.0]])  # behind the camera
    uv = cam.project(pts)
    np.testing.assert_allclose(uv[0], [540, 960], atol=1e-9)
    np.testing.assert_allclose(uv[1], [540 + 1000 * 0.5 / 5, 960], atol=1e-9)
    np.testing.assert_allclose(uv[2], [540, 960 - 1000 * 1.0 / 5], atol=1e-9)
    assert np.isnan(uv[3]).all()
    # The projection matrix agrees with project() when there is no distortion.
    x = cam.projection_matrix() @ np.append(pts[1], 1.0)
    np.testing.assert_allclose(x[:2] / x[2], uv[1], atol=1e-9)


def test_qca_principal_point_relative_to_video_window():
    (cam,) = parse_qca(_qca(left=100, cu=640 * 64))
    assert cam.K[0, 2] == pytest.approx(540.0)


def test_image_size_crop_and_scale():
    (cam,) = parse_qca(_qca())
    crop = cam.for_image_size(1080, 1920, "crop")
    assert crop.K[0, 2] == pytest.approx(536.0) and crop.K[0, 0] == pytest.approx(1000.0)
    scale = cam.for_image_size(544, 960, "scale")
    np.testing.assert_allclose(scale.K[:2, :3], [[500, 0, 270], [0, 500, 480]])
    assert scale.image_size == (544, 960)


def test_distortion_round_trip():
    (cam,) = parse_qca(_qca())
    cam.dist = np.array([-0.046, 0.14, 0.0006, 0.0007, 0.0])
    uv = np.array([[100.0, 200.0], [540.0, 960.0], [1000.0, 1800.0]])
    # Distorting the undistorted pixels gives the input back.
    n = (cam.undistort_pixels(uv) - cam.K[:2, 2]) / 1000.0
    back = cam.distort_normalized(n) * 1000.0 + cam.K[:2, 2]
    np.testing.assert_allclose(back, uv, atol=1e-6)
    # Barrel-type k1 < 0 dominates near the edge: the corner moves.
    assert np.linalg.norm(cam.undistort_pixels(uv[:1]) - uv[:1]) > 1.0


def test_bad_qca_is_input_error(tmp_path):
    bad = tmp_path / "bad.qca.txt"
    bad.write_text("<calibration><cameras>")
    with pytest.raises(InputError, match="bad.qca.txt"):
        read_qca(bad)
    with pytest.raises(InputError, match="no <calibration>"):
        parse_qca("<other/>")
    with pytest.raises(InputError, match="missing or bad number"):
        parse_qca(_qca().replace('r11="1"', 'r11="x"'))


def test_shared_calibration_cameras_look_down_at_the_lab(shared):
    path = shared / "data" / "multiview" / "pose2sim-single" / "Calib.qca.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    cams = read_qca(path)
    assert [c.name for c in cams] == ["cam01", "cam02", "cam03", "cam04"]
    for c in cams:
        np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-6)
        assert np.linalg.det(c.R) == pytest.approx(1.0, abs=1e-6)
        assert 1.5 < c.center[2] < 2.2          # Z up: cameras 1.7-2.1 m high
        # Each camera sees the lab centre (origin, 1 m up) inside its image.
        u, v = c.project(np.array([0.0, 0.0, 1.0]))
        assert 0 < u < c.image_size[0] and 0 < v < c.image_size[1]
