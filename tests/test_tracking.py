"""Person selection over time, gap filling and time resampling (synthetic data only)."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.detect.base import Person2D, bbox_from_keypoints
from poselift.detect.tracking import fill_gaps, resample_sequence, select_person, track_single_person

J = 17


def _person(center_x: float, center_y: float, height: float, score: float = 0.9, seed: int = 0) -> Person2D:
    """A stick figure: 17 joints spread over a box ``height`` tall centred at the point."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.5, 0.5, size=(J, 2)) * np.array([0.4, 1.0])  # fixed per seed: a "pose"
    kp = (base * height + np.array([center_x, center_y])).astype(np.float32)
    sc = np.full(J, score, np.float32)
    return Person2D(keypoints=kp, scores=sc, layout="coco17", bbox=bbox_from_keypoints(kp), score=score)


def _crossing(T: int = 60, fps: float = 30.0):
    """A walks left->right, B right->left at the same height; they overlap mid-way.

    The detector lists them in arbitrary order each frame.
    """
    rng = np.random.default_rng(1)
    t = np.arange(T) / fps
    frames, truth = [], []
    for i in range(T):
        a = _person(100 + 8 * i, 300, 300, seed=10)
        b = _person(100 + 8 * (T - 1) - 8 * i, 305, 290, seed=20)
        people = [a, b]
        order = rng.permutation(2)
        frames.append([people[k] for k in order])
        truth.append(int(np.flatnonzero(order == 0)[0]))  # where A sits in the list
    return frames, t, np.array(truth)


def test_consistent_selection_follows_one_person_through_crossing():
    frames, t, truth = _crossing()
    chosen = select_person(frames, t)
    first = chosen[0]
    # Whoever is picked first (both are complete and about the same size) must be kept.
    follows_a = truth[0] == first
    expected = truth if follows_a else 1 - truth
    np.testing.assert_array_equal(chosen, expected)


def test_per_frame_strategies_pick_what_they_say():
    small, big = _person(100, 100, 100, score=0.95, seed=1), _person(400, 300, 300, score=0.6, seed=2)
    partial = _person(300, 300, 400, score=0.9, seed=3)
    partial.scores[:10] = 0.0
    frames, t = [[small, big, partial]], [0.0]
    assert select_person(frames, t, "highest-score")[0] == 0
    assert select_person(frames, t, "largest")[0] == 2
    assert select_person(frames, t, "most-complete")[0] == 1  # ties broken by box area
    with pytest.raises(ValueError, match="unknown person selection"):
        select_person(frames, t, "random")


def test_consistent_does_not_switch_when_tracked_person_vanishes():
    fps, T = 30.0, 40
    t = np.arange(T) / fps
    frames = []
    for i in range(T):
        a = _person(200 + 2 * i, 300, 300, seed=10)
        b = _person(700, 300, 250, seed=20)
        # A is missed for frames 10..19 (0.33 s, under the 1 s re-acquisition time).
        frames.append([b] if 10 <= i < 20 else [a, b])
    chosen = select_person(frames, t)
    assert (chosen[10:20] == -1).all()
    assert (chosen[:10] == 0).all() and (chosen[20:] == 0).all()


def test_gap_filling_interpolates_short_and_invalidates_long_gaps():
    fps, T = 10.0, 40
    t = np.arange(T) / fps
    truth = np.stack([np.stack([t * 100 + j, t * 50 - j], axis=-1) for j in range(J)], axis=1)
    kp, sc = truth.copy(), np.ones((T, J), np.float32)
    present = np.ones(T, bool)
    present[5:8] = False     # 0.3 s hole: filled
    present[20:32] = False   # 1.2 s hole: invalid
    kp[~present], sc[~present] = 0, 0
    sc[12, 3] = 0.1          # a low-confidence joint in a present frame: re-estimated
    kp[12, 3] = (999, 999)
    out_kp, out_sc, valid, filled = fill_gaps(kp, sc, t, score_threshold=0.3, max_gap_s=0.5, present=present)
    assert valid[5:8].all() and filled[5:8].all()
    np.testing.assert_allclose(out_kp[5:8], truth[5:8], atol=1e-3)
    np.testing.assert_allclose(out_kp[12, 3], truth[12, 3], atol=1e-3)
    assert filled[12, 3] and not filled[12, 4]
    assert 0 < out_sc[6, 0] < 1
    assert not valid[20:32].any()
    assert (out_sc[20:32] == 0).all() and (out_kp[20:32] == 0).all()
    assert valid[:5].all() and valid[32:].all()


def test_gap_filling_edges_and_limit_boundary():
    fps, T = 10.0, 20
    t = np.arange(T) / fps
    kp = np.tile(np.arange(T, dtype=np.float32)[:, None, None], (1, J, 2))
    sc = np.ones((T, J), np.float32)
    sc[:3] = 0     # 0.3 s at the start: held at the first good value
    sc[-8:] = 0    # 0.8 s at the end: left invalid
    out_kp, out_sc, valid, filled = fill_gaps(kp, sc, t, max_gap_s=0.3)
    assert valid[:3].all() and (out_kp[:3] == 3).all()
    assert not valid[-8:].any()
    # Exactly max_gap_s of missing time in the middle is still filled.
    sc2 = np.ones((T, J), np.float32)
    sc2[5:8] = 0
    assert fill_gaps(kp, sc2, t, max_gap_s=0.3)[2].all()
    assert not fill_gaps(kp, sc2, t, max_gap_s=0.29)[2][5:8].any()


def test_track_single_person_end_to_end():
    frames, t, truth = _crossing(T=30)
    for i in (7, 8):
        frames[i] = []  # detector missed everyone
    res = track_single_person(frames, t, max_gap_s=0.2)
    assert res.keypoints.shape == (30, J, 2) and res.scores.shape == (30, J) and res.valid.shape == (30,)
    assert res.valid.all() and res.filled[7:9].all() and (res.chosen[7:9] == -1).all()
    assert res.layout == "coco17"
    with pytest.raises(ValueError, match="no detection"):
        track_single_person([[], []], [0.0, 0.1])
    empty = track_single_person([[], []], [0.0, 0.1], num_joints=J)
    assert not empty.valid.any()


def test_resample_sequence_linear_and_masks():
    t_src = np.array([0.0, 0.1, 0.2, 0.3])
    x = np.array([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0], [3.0, 30.0]], np.float32)
    t_dst = np.array([-0.05, 0.0, 0.05, 0.25, 0.3, 0.4])
    y = resample_sequence(x, t_src, t_dst)
    np.testing.assert_allclose(y[:, 0], [0.0, 0.0, 0.5, 2.5, 3.0, 3.0], atol=1e-6)
    assert y.dtype == np.float32
    # A round trip through a finer grid returns the original samples.
    fine = np.linspace(0, 0.3, 31)
    np.testing.assert_allclose(resample_sequence(resample_sequence(x, t_src, fine), fine, t_src), x, atol=1e-5)
    kp = np.random.default_rng(0).normal(size=(4, J, 2))
    assert resample_sequence(kp, t_src, fine).shape == (31, J, 2)
    mask = np.array([True, False, True, True])
    m = resample_sequence(mask, t_src, np.array([0.0, 0.05, 0.15, 0.2, 0.25]))
    np.testing.assert_array_equal(m, [True, False, False, True, True])
    with pytest.raises(ValueError, match="increasing"):
        resample_sequence(x, t_src[::-1], t_dst)
