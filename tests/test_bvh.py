"""BVH parser and forward kinematics on hand-built files with known answers."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.io.bvh import euler_to_matrix, read_bvh

SHARED = Path(os.environ.get("POSELIFT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))

# Root with position channels (ZXY rotation), a spine joint carrying its own position
# channels (XYZ rotation), and an End Site.
TWO_JOINT = """HIERARCHY
ROOT Hips
{
  OFFSET 1 2 3
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
0 0 0 0 0 0 0 10 0 0 0 0
10 20 30 90 0 0 0 10 0 0 0 0
0 0 0 0 90 0 0 7 0 0 0 90
"""


def _write(tmp_path: Path, text: str, name: str = "a.bvh") -> Path:
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def test_structure_and_end_site(tmp_path):
    b = read_bvh(_write(tmp_path, TWO_JOINT))
    assert b.names == ["Hips", "Spine", "Spine_end"]
    assert b.parents.tolist() == [-1, 0, 1]
    assert b.is_end_site.tolist() == [False, False, True]
    assert b.num_frames == 3 and b.num_channels == 12
    assert b.fps == pytest.approx(30.0, rel=1e-4)
    assert b.channel_start.tolist() == [0, 6, 12]


def test_fk_known_answers(tmp_path):
    P = read_bvh(_write(tmp_path, TWO_JOINT)).positions()
    # Frame 0: no rotation; the root's position channels (0,0,0) replace its offset.
    np.testing.assert_allclose(P[0], [[0, 0, 0], [0, 10, 0], [0, 15, 0]], atol=1e-9)
    # Frame 1: root at (10,20,30), rotated 90 deg about Z: local +y -> world -x.
    np.testing.assert_allclose(P[1], [[10, 20, 30], [0, 20, 30], [-5, 20, 30]], atol=1e-9)
    # Frame 2: root Xrotation 90: +y -> +z. Spine's own Yposition 7 replaces its offset 10;
    # its Zrotation 90 (in the X-rotated frame) turns the end site's +y into local -x.
    np.testing.assert_allclose(P[2], [[0, 0, 0], [0, 0, 7], [-5, 0, 7]], atol=1e-9)


def test_position_mode_add(tmp_path):
    P = read_bvh(_write(tmp_path, TWO_JOINT)).positions("add")
    np.testing.assert_allclose(P[0, 0], [1, 2, 3])  # offset + channels
    np.testing.assert_allclose(P[0, 1], [1, 22, 3])  # 10 (offset) + 10 (channel)


def test_euler_order_matters():
    a = np.array([[30.0, 40.0, 50.0]])
    zxy = euler_to_matrix(a, "ZXY")[0]
    xyz = euler_to_matrix(a, "XYZ")[0]
    assert not np.allclose(zxy, xyz)
    r = np.radians
    rz = np.array([[np.cos(r(30)), -np.sin(r(30)), 0], [np.sin(r(30)), np.cos(r(30)), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(r(40)), -np.sin(r(40))], [0, np.sin(r(40)), np.cos(r(40))]])
    ry = np.array([[np.cos(r(50)), 0, np.sin(r(50))], [0, 1, 0], [-np.sin(r(50)), 0, np.cos(r(50))]])
    np.testing.assert_allclose(zxy, rz @ rx @ ry, atol=1e-12)


def test_gzip_equals_plain(tmp_path):
    a = read_bvh(_write(tmp_path, TWO_JOINT, "a.bvh"))
    b = read_bvh(_write(tmp_path, TWO_JOINT, "a.bvh.gz"))
    np.testing.assert_array_equal(a.motion, b.motion)
    assert a.names == b.names


@pytest.mark.parametrize("text,msg", [
    ("hello", "MOTION"),
    (TWO_JOINT.replace("Zrotation Xrotation", "Zrotation Qrotation", 1), "unknown channel"),
    (TWO_JOINT.replace("0 0 0 0 0 0 0 10 0 0 0 0\n", "0 0 0 0 0 0 0 10 0 0 0\n"), "multiple"),
    (TWO_JOINT.replace("Frame Time: 0.0333333", ""), "Frame Time"),
    (TWO_JOINT.replace("10 20 30 90", "10 x 30 90"), "non-numeric"),
])
def test_malformed_files_raise_input_error(tmp_path, text, msg):
    with pytest.raises(InputError, match=msg):
        read_bvh(_write(tmp_path, text))


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError):
        read_bvh(tmp_path / "nope.bvh")


@pytest.mark.shared
def test_bandai_hips_position_channels_replace_offset():
    files = sorted((SHARED / "data" / "bvh" / "bandai-namco").glob("*walk_normal*.bvh.gz"))
    if not files:
        pytest.skip(f"shared Bandai-Namco BVH data not found under {SHARED} (set POSELIFT_SHARED)")
    b = read_bvh(files[0])
    hips = b.index("Hips")
    replace, add = b.positions("replace"), b.positions("add")
    # Replace: hips about a metre above the floor, close to the root. Add: twice that,
    # metres away from the root.
    assert 80 < np.median(replace[:, hips, 1]) < 110
    assert np.median(np.abs(replace[:, hips, [0, 2]] - replace[:, 0, [0, 2]])) < 30
    assert np.median(add[:, hips, 1]) > 150
