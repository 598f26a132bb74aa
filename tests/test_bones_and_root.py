"""Constant bone lengths and the geometric root solve."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.geometry.cameras import solve_root_translation
from poselift.geometry.skeletons import H36M17, bone_lengths, enforce_bone_lengths


def _poses(t: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.3, (17, 3))
    base[0] = 0
    return base[None] + rng.normal(0, 0.02, (t, 17, 3)).cumsum(0) * 0.2


def test_enforce_bone_lengths_constant_and_directions_kept():
    p = _poses()
    out = enforce_bone_lengths(p)
    b_in, b_out = bone_lengths(p, H36M17), bone_lengths(out, H36M17)
    assert b_in.std(0).max() > 1e-3
    assert np.allclose(b_out.std(0), 0, atol=1e-9)
    assert np.allclose(b_out[0], np.median(b_in, axis=0), atol=1e-9)
    parents = [a for a, _ in H36M17.bones]
    children = [c for _, c in H36M17.bones]
    d_in = p[:, children] - p[:, parents]
    d_out = out[:, children] - out[:, parents]
    cos = (d_in * d_out).sum(-1) / np.linalg.norm(d_in, axis=-1) / np.linalg.norm(d_out, axis=-1)
    assert np.allclose(cos, 1, atol=1e-9)
    assert np.allclose(out[:, 0], p[:, 0])


def test_enforce_bone_lengths_given_lengths():
    p = _poses(5)
    lengths = np.full(17, 0.25)
    assert np.allclose(bone_lengths(enforce_bone_lengths(p, lengths=lengths)), 0.25)


def test_root_translation_recovers_known_position():
    rng = np.random.default_rng(1)
    pose = _poses(20, 2)
    pose -= pose[:, :1]
    root = np.stack([rng.uniform(-1, 1, 20), rng.uniform(-0.5, 0.5, 20), rng.uniform(3, 9, 20)], -1)
    cam = pose + root[:, None]
    rays = cam[..., :2] / cam[..., 2:]
    est = solve_root_translation(pose, rays)
    assert np.allclose(est, root, atol=1e-6)
    # A pose 10 % too large puts the person about 10 % further away.
    far = solve_root_translation(pose * 1.1, rays)
    assert np.all(far[:, 2] > root[:, 2] * 1.05)


def _forearm_ratio(poses: np.ndarray) -> np.ndarray:
    """Forearm / upper arm, left and right, per frame."""
    b = bone_lengths(poses, H36M17)
    kids = [c for _, c in H36M17.bones]
    le, lw, re, rw = (kids.index(H36M17.index(n)) for n in ("left_elbow", "left_wrist", "right_elbow", "right_wrist"))
    return np.stack([b[:, lw] / b[:, le], b[:, rw] / b[:, re]], -1)


def test_short_forearms_lengthened_to_the_training_proportion():
    from poselift.geometry.skeletons import H36M_BONE_LENGTHS, skeleton_prior_lengths

    p = enforce_bone_lengths(_poses(), lengths=np.concatenate([[0.0], H36M_BONE_LENGTHS]))
    lw, rw = H36M17.index("left_wrist"), H36M17.index("right_wrist")
    for j, k in ((lw, 0.7), (rw, 1.2)):                  # left forearm hedged short, right long
        p[:, j] = p[:, j - 1] + k * (p[:, j] - p[:, j - 1])
    lengths = skeleton_prior_lengths(p)
    ratio = H36M_BONE_LENGTHS[12] / H36M_BONE_LENGTHS[11]  # forearm / upper arm
    assert np.isclose(lengths[lw] / lengths[lw - 1], ratio)
    assert np.isclose(lengths[rw], 1.2 * H36M_BONE_LENGTHS[15])   # never shortened
    others = [j for j in range(1, 17) if j not in (lw, rw)]
    assert np.allclose(lengths[others], np.asarray(H36M_BONE_LENGTHS)[np.array(others) - 1])


@pytest.mark.shared
@pytest.mark.slow
def test_infer_keeps_the_shipped_models_forearms_in_proportion(tmp_path):
    """Real BlazePose 2D of a shared video (the detector ``infer`` runs), lifted by the shipped
    ``default`` as ``infer`` does: the network's hands come out short for their upper arms;
    the constant bones give the forearms the trained proportion by default, each bone's median
    with ``median``, and no other joint moves."""
    from dataclasses import replace

    from conftest import shared_video
    from poselift.cli.main import main
    from poselift.geometry.skeletons import H36M_BONE_LENGTHS
    from poselift.lift.pipeline import Tracks2D, lift_tracks, model_bone_prior
    from poselift.lift.weights import load_model

    video = shared_video("taiji_seed.mp4")
    assert main(["infer", str(video), "-o", str(tmp_path), "--end", "6", "--no-render", "--no-progress"]) == 0
    z = np.load(tmp_path / "taiji_seed.npz")
    tr = Tracks2D(z["keypoints_2d"][:1], z["scores_2d"][:1], z["valid"][:1], "h36m17",
                  int(z["image_size"][0]), int(z["image_size"][1]), float(z["fps"]))
    lm = load_model("default")
    assert model_bone_prior(lm) == H36M_BONE_LENGTHS
    auto = lift_tracks(lm, tr, fixed_bones=True, bone_proportions="auto").poses_3d[0]
    median = lift_tracks(lm, tr, fixed_bones=True, bone_proportions="median").poses_3d[0]
    ok = np.isfinite(auto).all(axis=(1, 2))
    trained = H36M_BONE_LENGTHS[12] / H36M_BONE_LENGTHS[11]
    short = _forearm_ratio(median[ok])[0]
    assert (short < trained - 0.02).any(), f"the network's forearms were not short here: {short}"
    assert np.allclose(_forearm_ratio(auto[ok]), np.maximum(short, trained), atol=1e-4)
    np.testing.assert_allclose(auto[ok], z["poses_3d"][0][ok], atol=1e-5)   # what infer wrote
    hands = [H36M17.index("left_wrist"), H36M17.index("right_wrist")]
    rest = [j for j in range(17) if j not in hands]
    np.testing.assert_allclose(auto[ok][:, rest], median[ok][:, rest], atol=1e-5)
    # A model whose card names no training skeleton keeps the medians.
    plain = replace(lm, meta={**lm.meta, "training": {"config": {"retarget": "none"}}})
    assert model_bone_prior(plain) is None
    np.testing.assert_allclose(lift_tracks(plain, tr, fixed_bones=True).poses_3d[0][ok], median[ok], atol=1e-6)
