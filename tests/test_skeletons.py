"""Skeleton layouts and conversions: tree validity, symmetry, VideoPose3D's indices."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.geometry.skeletons import (BLAZEPOSE33, COCO17, H36M17, H36M32, HUMANEVA15, SKELETONS,
                                         convert, get_skeleton, skeleton_for_joint_count)

ALL = list(SKELETONS.values())


def _mirror_name(name: str) -> str:
    return name.replace("left", "\0").replace("right", "left").replace("\0", "right")


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_layout_is_a_tree(sk):
    parents = sk.parents
    assert len(parents) == len(sk.joint_names) == sk.num_joints
    assert len(set(sk.joint_names)) == sk.num_joints, "joint names must be unique"
    assert [j for j, p in enumerate(parents) if p == -1] == [0], "exactly one root, at index 0"
    for j, p in enumerate(parents):
        assert -1 <= p < sk.num_joints and p != j
    # Following parents from any joint reaches the root without cycles.
    for j in range(sk.num_joints):
        seen, k = set(), j
        while k != -1:
            assert k not in seen, f"{sk.name}: cycle through joint {k}"
            seen.add(k)
            k = parents[k]
    for a, b in sk.bones:
        assert 0 <= a < sk.num_joints and 0 <= b < sk.num_joints and a != b


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_left_right_lists_mirror_names(sk):
    assert len(sk.joints_left) == len(sk.joints_right)
    assert not set(sk.joints_left) & set(sk.joints_right)
    for l, r in zip(sk.joints_left, sk.joints_right):
        ln, rn = sk.joint_names[l], sk.joint_names[r]
        assert "left" in ln and "right" in rn, (ln, rn)
        assert _mirror_name(ln) == rn
    # Every sided joint is listed.
    sided = {j for j, n in enumerate(sk.joint_names) if "left" in n or "right" in n}
    assert sided == set(sk.joints_left) | set(sk.joints_right)


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_flip_permutation_is_an_involution(sk):
    perm = sk.flip_permutation()
    assert sorted(perm.tolist()) == list(range(sk.num_joints))
    np.testing.assert_array_equal(perm[perm], np.arange(sk.num_joints))
    for j, k in enumerate(perm):
        assert sk.joint_names[k] == _mirror_name(sk.joint_names[j])
    # Mirrored parent structure: the parent of a flipped joint is the flipped parent.
    for j, p in enumerate(sk.parents):
        if p >= 0:
            assert sk.parents[perm[j]] == perm[p]


def test_h36m_32_to_17_matches_videopose3d():
    vp3d_kept = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    x = np.arange(32 * 3, dtype=np.float64).reshape(32, 3)
    y = convert(x, "h36m32", "h36m17")
    np.testing.assert_array_equal(y, x[vp3d_kept])
    assert list(H36M17.parents) == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    assert list(H36M17.joints_left) == [4, 5, 6, 11, 12, 13]
    assert list(H36M17.joints_right) == [1, 2, 3, 14, 15, 16]
    # The kept limb joints carry the same names in both layouts.
    for i17, i32 in enumerate(vp3d_kept):
        n17, n32 = H36M17.joint_names[i17], H36M32.joint_names[i32]
        if "left" in n17 or "right" in n17 or n17 in ("pelvis", "thorax", "head"):
            assert n17 == n32
    # VideoPose3D's 32-joint parents and symmetry.
    assert list(H36M32.parents) == [-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12,
                                    16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30]
    assert list(H36M32.joints_left) == [6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23]
    assert list(H36M32.joints_right) == [1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31]


def _random_pose(layout, rng, shape=(), c=2):
    return rng.normal(size=shape + (layout.num_joints, c))


@pytest.mark.parametrize("src", [COCO17, BLAZEPOSE33], ids=lambda s: s.name)
def test_coco_like_to_h36m_definitions(src):
    rng = np.random.default_rng(1)
    x = _random_pose(src, rng, c=2)
    y = convert(x, src.name, "h36m17")
    n = src.index
    pelvis = (x[n("left_hip")] + x[n("right_hip")]) / 2
    thorax = (x[n("left_shoulder")] + x[n("right_shoulder")]) / 2
    np.testing.assert_allclose(y[H36M17.index("pelvis")], pelvis, atol=1e-6)
    np.testing.assert_allclose(y[H36M17.index("thorax")], thorax, atol=1e-6)
    np.testing.assert_allclose(y[H36M17.index("spine")], (pelvis + thorax) / 2, atol=1e-6)
    np.testing.assert_allclose(y[H36M17.index("neck_nose")], x[n("nose")], atol=1e-6)
    for name in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
                 "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"):
        np.testing.assert_allclose(y[H36M17.index(name)], x[n(name)], atol=1e-6, err_msg=name)
    ears = (x[n("left_ear")] + x[n("right_ear")]) / 2
    head = y[H36M17.index("head")]
    # The head lies beyond the ears on the thorax->ears line.
    d_ears, d_head = ears - thorax, head - thorax
    assert np.dot(d_ears, d_head) > 0 and np.linalg.norm(d_head) > np.linalg.norm(d_ears)
    assert abs(d_ears[0] * d_head[1] - d_ears[1] * d_head[0]) < 1e-6


@pytest.mark.parametrize("src", [COCO17, BLAZEPOSE33], ids=lambda s: s.name)
def test_coco_like_confidences(src):
    rng = np.random.default_rng(2)
    xy = _random_pose(src, rng, c=2)
    conf = rng.uniform(0, 1, size=(src.num_joints, 1))
    x = np.concatenate([xy, conf], axis=-1)
    y = convert(x, src, H36M17, has_score=True)
    n = src.index
    c = conf[:, 0]
    np.testing.assert_allclose(y[..., :2], convert(xy, src, H36M17), atol=1e-6)
    hips = (c[n("left_hip")] + c[n("right_hip")]) / 2
    shoulders = (c[n("left_shoulder")] + c[n("right_shoulder")]) / 2
    assert y[0, 2] == pytest.approx(hips, abs=1e-6)
    assert y[8, 2] == pytest.approx(shoulders, abs=1e-6)
    assert y[7, 2] == pytest.approx((hips + shoulders) / 2, abs=1e-6)
    assert y[9, 2] == pytest.approx(c[n("nose")], abs=1e-6)
    assert y[10, 2] == pytest.approx((c[n("left_ear")] + c[n("right_ear")]) / 2, abs=1e-6)
    assert y[H36M17.index("left_wrist"), 2] == pytest.approx(c[n("left_wrist")], abs=1e-6)
    assert np.all((y[..., 2] >= 0) & (y[..., 2] <= 1))


def test_blazepose_to_coco_by_name():
    x = np.arange(33 * 2, dtype=np.float64).reshape(33, 2)
    y = convert(x, "blazepose33", "coco17")
    for i, name in enumerate(COCO17.joint_names):
        np.testing.assert_array_equal(y[i], x[BLAZEPOSE33.index(name)])


def test_humaneva_joints_map_by_name():
    x = np.arange(17 * 3, dtype=np.float64).reshape(17, 3)
    he = convert(x, "h36m17", "humaneva15")
    assert he.shape == (15, 3)
    for i, name in enumerate(HUMANEVA15.joint_names):
        np.testing.assert_array_equal(he[i], x[H36M17.index(name)], err_msg=name)


def test_humaneva_round_trip():
    rng = np.random.default_rng(3)
    x17 = rng.normal(size=(5, 17, 3))
    he = convert(x17, "h36m17", "humaneva15")
    back = convert(he, "humaneva15", "h36m17")
    shared = [H36M17.index(n) for n in HUMANEVA15.joint_names]
    np.testing.assert_allclose(back[:, shared], x17[:, shared])
    np.testing.assert_allclose(back[:, 7], (x17[:, 0] + x17[:, 8]) / 2)
    np.testing.assert_allclose(back[:, 9], (x17[:, 8] + x17[:, 10]) / 2)
    x15 = rng.normal(size=(4, 15, 2))
    np.testing.assert_allclose(convert(convert(x15, "humaneva15", "h36m17"), "h36m17", "humaneva15"), x15)


@pytest.mark.parametrize("src,dst,n", [("h36m32", "h36m17", 31), ("coco17", "h36m17", 33),
                                       ("blazepose33", "h36m17", 17), ("humaneva15", "h36m17", 17),
                                       ("h36m17", "humaneva15", 15), ("coco", "h36m", 16)])
def test_wrong_joint_count_raises(src, dst, n):
    with pytest.raises(ValueError, match="joints"):
        convert(np.zeros((4, n, 2)), src, dst)


def test_no_conversion_or_flat_array_raises():
    with pytest.raises(ValueError):
        convert(np.zeros((17, 2)), "h36m17", "coco17")
    with pytest.raises(ValueError):
        convert(np.zeros(17), "coco17", "h36m17")
    with pytest.raises(KeyError):
        get_skeleton("no_such_layout")


@pytest.mark.parametrize("src,dst", [("h36m32", "h36m17"), ("coco17", "h36m17"), ("blazepose33", "h36m17"),
                                     ("blazepose33", "coco17"), ("h36m17", "humaneva15"),
                                     ("humaneva15", "h36m17"), ("coco17", "humaneva15")])
def test_convert_keeps_leading_axes(src, dst):
    s, d = get_skeleton(src), get_skeleton(dst)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 5, s.num_joints, 3))
    y = convert(x, src, dst)
    assert y.shape == (2, 3, 5, d.num_joints, 3)
    for idx in [(0, 0, 0), (1, 2, 4), (0, 1, 3)]:
        np.testing.assert_allclose(y[idx], convert(x[idx], src, dst), atol=1e-6)


def test_aliases_and_joint_count_guess():
    assert get_skeleton("coco").name == "coco17"
    assert get_skeleton("H36M").name == "h36m17"
    assert get_skeleton("mediapipe").name == "blazepose33"
    assert skeleton_for_joint_count(17) is H36M17
    assert skeleton_for_joint_count(32) is H36M32
    assert skeleton_for_joint_count(15) is HUMANEVA15
    with pytest.raises(ValueError):
        skeleton_for_joint_count(18)
