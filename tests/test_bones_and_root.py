"""Constant bone lengths and the geometric root solve."""

from __future__ import annotations

import numpy as np

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
