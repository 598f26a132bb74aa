"""The detector keypoint model (data.keypoint_style) and the vectorised batch generator."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import median_filter

from poselift.data.keypoint_style import BLAZEPOSE, KeypointStyle, body_frame
from poselift.data.synth import CameraBatch, DetectorNoise, look_at, sample_cameras
from poselift.geometry.skeletons import coco17_to_h36m17
from poselift.lift.inference import _running_median

# A person standing upright (Z up, metres), left side at +x: facing -y.
STAND = np.array([[0, 0, 0.95], [-0.12, 0, 0.95], [-0.12, 0, 0.50], [-0.12, 0, 0.08], [0.12, 0, 0.95],
                  [0.12, 0, 0.50], [0.12, 0, 0.08], [0, 0, 1.20], [0, 0, 1.45], [0, -0.05, 1.55], [0, 0, 1.70],
                  [0.18, 0, 1.45], [0.20, 0, 1.15], [0.22, 0, 0.90], [-0.18, 0, 1.45], [-0.20, 0, 1.15],
                  [-0.22, 0, 0.90]])


def test_body_frame_faces_forward():
    f = body_frame(np.array([1.0, 0, 0]), np.array([0.1, 0, 1.0]))
    np.testing.assert_allclose(f, [[1, 0, 0], [0, 0, 1], [0, -1, 0]], atol=1e-12)


def test_known_offsets_give_the_expected_2d():
    style = KeypointStyle(thigh_ratio=1.2, hip_half_width=0.3, hip_forward=0.1, shoulder_half_width=0.5,
                          shoulder_forward=0.0, nose_up=0.4, nose_forward=0.5, ear_up=0.45, ear_forward=0.1,
                          ear_half_width=0.2, variation=0.0)
    pose = np.repeat(STAND[None, None], 3, axis=1)                  # (1, 3, 17, 3)
    coco = style.apply(pose)[0, 0]
    shin, thigh = 0.42, 0.45
    hip_mid = np.array([0, -0.1 * shin, 0.95 + 1.2 * shin - thigh])  # raised, and forward (= -y)
    np.testing.assert_allclose(coco[11], hip_mid + [0.3 * shin, 0, 0], atol=1e-9)   # left hip
    np.testing.assert_allclose(coco[12], hip_mid - [0.3 * shin, 0, 0], atol=1e-9)   # right hip
    np.testing.assert_allclose(coco[5], [0.5 * shin, 0, 1.45], atol=1e-9)           # left shoulder
    np.testing.assert_allclose(coco[6], [-0.5 * shin, 0, 1.45], atol=1e-9)
    np.testing.assert_allclose(coco[0], [0, -0.5 * shin, 1.45 + 0.4 * shin], atol=1e-9)   # nose
    np.testing.assert_allclose(coco[3], [0.2 * shin, -0.1 * shin, 1.45 + 0.45 * shin], atol=1e-9)
    for c, h in ((13, 5), (14, 2), (15, 6), (16, 3), (7, 12), (10, 16)):            # limbs unchanged
        np.testing.assert_allclose(coco[c], STAND[h])
    # Through a camera 3 m in front of the person (it faces -y), at hip height, looking at it.
    eye = np.array([0.0, -3.0, 1.0])
    R = look_at(eye, np.array([0.0, 0.0, 1.0]))
    cams = CameraBatch(R=R[None], C=eye[None], f=np.array([1000.0]), c=np.array([[500.0, 400.0]]),
                       size=np.array([[1000.0, 800.0]]))
    px = cams.project(cams.to_camera(coco[None, None]))[0, 0]
    xc = (coco - eye) @ R.T
    np.testing.assert_allclose(px, 1000 * xc[:, :2] / xc[:, 2:] + [500, 400], atol=1e-9)
    h17 = coco17_to_h36m17(px)
    np.testing.assert_allclose(h17[0], 0.5 * (px[11] + px[12]))     # pelvis from the restyled hips
    # The 2D thigh is longer than the joint-centre thigh by the raise (1.2 x shin vs 0.45 m).
    plain = cams.project(cams.to_camera(STAND[None, None]))[0, 0]
    assert np.linalg.norm(h17[4] - h17[5]) > 1.08 * np.linalg.norm(plain[4] - plain[5])
    assert np.linalg.norm(h17[11] - h17[14]) > 1.1 * np.linalg.norm(plain[11] - plain[14])


def test_style_follows_the_body_when_it_turns_and_varies_per_sequence():
    c, s = np.cos(1.1), np.sin(1.1)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    a = BLAZEPOSE.apply(STAND[None, None])[0, 0]
    b = BLAZEPOSE.apply((STAND @ Rz.T)[None, None])[0, 0]
    np.testing.assert_allclose(b, a @ Rz.T, atol=1e-9)
    rng = np.random.default_rng(0)
    v = BLAZEPOSE.apply(np.repeat(STAND[None, None], 200, axis=0), rng)[:, 0]
    widths = np.linalg.norm(v[:, 5] - v[:, 6], axis=-1) / (2 * 0.42)
    assert abs(np.median(widths) - BLAZEPOSE.shoulder_half_width) < 0.01
    assert 0.5 * BLAZEPOSE.variation < np.std(widths) / np.mean(widths) < 1.5 * BLAZEPOSE.variation


def test_running_median_matches_scipy():
    rng = np.random.default_rng(1)
    for w in (1, 4, 27, 81):
        for causal in (False, True):
            a = rng.normal(size=(4, 120, 2))
            origin = w // 2 - (1 - w % 2) if causal else 0
            ref = median_filter(a, size=(1, w, 1), mode="nearest", origin=(0, origin, 0))
            np.testing.assert_array_equal(_running_median(a, w, causal, 1), ref)


def test_batch_noise_off_is_identity_and_gaps_are_interpolated():
    rng = np.random.default_rng(2)
    t = np.arange(50, dtype=np.float64)
    kp = np.stack([np.stack([100 + 2 * t + j, 300 - t + 3 * j], -1) for j in range(17)], 1)[None].repeat(6, 0)
    clean = DetectorNoise(jitter=(0, 0), offset=0, drop_joint=0, drop_frame=0, swap=0)
    out, score = clean.batch(rng, kp)
    np.testing.assert_allclose(out, kp, atol=1e-3)
    gaps = DetectorNoise(jitter=(0, 0), offset=0, drop_joint=0.2, drop_frame=0.1, swap=0)
    out, score = gaps.batch(rng, kp)
    assert (score == np.float32(0.1)).mean() > 0.05           # frames were dropped...
    np.testing.assert_allclose(out, kp, atol=1e-3)            # ...and refilled on the straight line
    swaps = DetectorNoise(jitter=(0, 0), offset=0, drop_joint=0, drop_frame=0, swap=0.05)
    out, _ = swaps.batch(rng, kp)
    moved = ~np.isclose(out, kp).all(-1)
    assert moved.any() and set(np.flatnonzero(moved.any((0, 1)))) <= {1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16}


def test_noise_batch_levels_match_the_per_sequence_noise():
    rng = np.random.default_rng(3)
    kp = np.repeat((STAND[None, :, [0, 2]] * [400, -400] + [500, 700])[None], 40, axis=1).repeat(64, 0)
    noise = DetectorNoise(drop_joint=0, drop_frame=0, swap=0)
    batch = np.std(noise.batch(rng, kp)[0] - kp)
    single = np.std(np.stack([noise(rng, kp[i])[0] for i in range(64)]) - kp)
    assert 0.7 < batch / single < 1.4


def test_sampled_cameras_frame_the_person():
    rng = np.random.default_rng(4)
    pose = np.repeat(STAND[None, None], 30, axis=1).repeat(200, 0)
    cams = sample_cameras(rng, pose)
    np.testing.assert_allclose(np.matmul(cams.R, cams.R.transpose(0, 2, 1)), np.eye(3)[None].repeat(200, 0), atol=1e-9)
    xc = cams.to_camera(pose)
    assert (xc[..., 2] > 0.5).all()
    px = cams.project(xc)
    inside = ((px >= 0) & (px <= cams.size[:, None, None])).all(-1).mean()
    assert inside > 0.9


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_sampler_uses_the_style_share(prob):
    from poselift.train.trainer import ChunkSampler, Clip, TrainConfig

    rig = STAND.copy()           # a BVH rig's proportions: hips 30 cm, shoulders 24 cm apart
    rig[[1, 2, 3], 0], rig[[4, 5, 6], 0], rig[[14, 15, 16], 0], rig[[11, 12, 13], 0] = -0.15, 0.15, -0.12, 0.12
    clips = [Clip("stand", np.repeat(rig[None], 60, 0).astype(np.float32), "S1")]
    cfg = TrainConfig(architecture="3,3", chunk=8, noise="detector", style_prob=prob, input_norm="focal")
    s = ChunkSampler(clips, cfg, 9, 0)
    s.noise = DetectorNoise(jitter=(0, 0), offset=0, drop_joint=0, drop_frame=0, swap=0)
    b = s.sample(16)
    x = b["inputs"].numpy()
    shoulders = np.linalg.norm(x[..., 11, :] - x[..., 14, :], axis=-1)
    hips = np.linalg.norm(x[..., 1, :] - x[..., 4, :], axis=-1)
    ratio = np.median(hips / shoulders)
    # The rig's joints: hips 1.25 x the shoulders' width; the detector's: about 0.6 of it.
    expected = BLAZEPOSE.hip_half_width / BLAZEPOSE.shoulder_half_width if prob else 0.30 / 0.24
    assert abs(ratio - expected) < 0.06, (ratio, expected)
    assert b["target"].shape == (16, 8, 17, 3)
