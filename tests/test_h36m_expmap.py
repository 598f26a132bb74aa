"""Human3.6M exp-map reader: forward kinematics and root trajectory."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.geometry.skeletons import H36M32
from poselift.io.h36m_expmap import (H36M_EXPMAP_OFFSETS_MM, decode_root, expmap_to_matrix,
                                     forward_kinematics, load_expmap, read_h36m_expmap, yup_to_zup)

SHARED = Path(os.environ.get("POSELIFT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
EXPMAP = SHARED / "data" / "h36m-expmap"


def _rest_positions() -> np.ndarray:
    out = np.zeros((32, 3))
    for j in range(1, 32):
        out[j] = out[H36M32.parents[j]] + H36M_EXPMAP_OFFSETS_MM[j]
    return out


def test_zero_rotations_give_rest_skeleton():
    P = forward_kinematics(np.zeros((2, 99)))
    assert P.shape == (2, 32, 3)
    np.testing.assert_allclose(P[0], _rest_positions(), atol=1e-9)
    # Right hip on -x (performer facing +z with +y up), legs down, head up.
    assert P[0, 1, 0] < 0 < P[0, 6, 0]
    assert P[0, 3, 1] < -850 and P[0, 15, 1] > 700


def test_single_90_degree_rotation():
    # Joint 2 (right knee) gets r = (pi/2, 0, 0). The published decoding composes
    # rotations as row vectors, so the column-vector rotation is Rod(r).T, a -90 degree
    # turn about x: the shin (0, -454, 0) turns to (0, 0, +454) and the foot offset
    # (0, 0, +163) to (0, +163, 0).
    x = np.zeros((1, 99))
    x[0, 3 + 3 * 2: 6 + 3 * 2] = [np.pi / 2, 0, 0]
    P = forward_kinematics(x)[0]
    rest = _rest_positions()
    np.testing.assert_allclose(P[:3], rest[:3], atol=1e-9)  # above the rotated joint: unchanged
    np.testing.assert_allclose(P[3] - P[2], [0, 0, 454.206447], atol=1e-6)
    np.testing.assert_allclose(P[4] - P[3], [0, 162.767078, 0], atol=1e-6)
    np.testing.assert_allclose(P[8], rest[8], atol=1e-9)  # other leg untouched


def test_expmap_to_matrix_small_and_large_angles():
    np.testing.assert_allclose(expmap_to_matrix(np.zeros(3)), np.eye(3))
    R = expmap_to_matrix(np.array([0, 0, np.pi / 2]))
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_root_trajectory_is_integrated_in_body_frame():
    # Every frame: 10 mm forward (+z in the body frame) and a 90-degree turn about +y.
    T = 5
    x = np.zeros((T, 99))
    x[1:, 2] = 10.0
    x[1:, 4] = np.pi / 2
    G, t = decode_root(x)
    # Frame k moves along the heading of frame k-1, so the path is a 10 mm square.
    steps = np.diff(t, axis=0)
    np.testing.assert_allclose(np.linalg.norm(steps, axis=1), 10.0)
    np.testing.assert_allclose(t[-1], t[0], atol=1e-9)
    np.testing.assert_allclose(G[-1], np.eye(3), atol=1e-9)
    assert not np.allclose(steps[0], steps[1])


def test_yup_to_zup_is_a_rotation():
    P = yup_to_zup(np.eye(3))
    assert np.linalg.det(P) == pytest.approx(1.0)
    np.testing.assert_allclose(P[1], [0, 0, 1])  # +y -> +z


def test_bad_files(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("1,2,3\n")
    with pytest.raises(InputError, match="99"):
        load_expmap(p)
    p.write_text(",".join(["1"] * 98 + ["a"]) + "\n")
    with pytest.raises(InputError):
        load_expmap(p)


def test_plain_and_gz(tmp_path):
    rows = np.zeros((4, 99))
    rows[1:, 2] = 20.0  # frame 0 carries no increment
    text = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows)
    (tmp_path / "walking_1.txt").write_text(text)
    (tmp_path / "walking_1.txt.gz").write_bytes(gzip.compress(text.encode()))
    a = read_h36m_expmap(tmp_path / "walking_1.txt", 32, level=False)
    b = read_h36m_expmap(tmp_path / "walking_1.txt.gz", 32, level=False)
    np.testing.assert_array_equal(a, b)
    # 3 steps of 20 mm forward along the skeleton's +z, which is -y in the Z-up world.
    np.testing.assert_allclose(a[-1, 0], [0, -0.06, 0], atol=1e-6)


@pytest.mark.shared
def test_real_walking_travels_plausibly():
    files = [EXPMAP / s / "walking_1.txt.gz" for s in ("S1", "S5", "S8")]
    files = [f for f in files if f.is_file()]
    if not files:
        pytest.skip(f"shared H3.6M exp-map data not found under {EXPMAP} (set POSELIFT_SHARED)")
    for f in files:
        P = read_h36m_expmap(f, 32)
        speed = np.linalg.norm(np.diff(P[:, 0, :2], axis=0), axis=1).mean() * 50  # m/s
        assert 0.4 < speed < 2.0, (f, speed)
        # Walks stay inside the ~4 x 4 m capture area instead of drifting away.
        assert np.ptp(P[:, 0, :2], axis=0).max() < 5.0
        # Levelled: feet on the floor all along, pelvis about 0.9 m up, head above it.
        assert np.abs(P[:, :, 2].min(1)).max() < 0.1
        assert 0.75 < np.median(P[:, 0, 2]) < 1.05
        assert np.median(P[:, 15, 2] - P[:, 0, 2]) > 0.5
