"""Left/right flip repair of the detector's 2D (detect.lr_repair), on real detector output."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.detect.lr_repair import repair_left_right
from poselift.geometry.skeletons import H36M17
from poselift.lift.pipeline import Tracks2D, lift_tracks
from poselift.lift.weights import load_model

LEFT_ARM, RIGHT_ARM = [12, 13], [15, 16]     # elbow, wrist (H36M-17)


@pytest.fixture(scope="module")
def taiji_2d(tmp_path_factory):
    """Real BlazePose 2D of 12 s of tai chi (the detector poselift runs), H36M-17 layout."""
    from conftest import shared_dir
    from poselift.cli.main import main

    shared = shared_dir()
    if not (shared / "videos" / "taiji_seed.mp4").is_file():
        pytest.skip(f"shared video {shared / 'videos' / 'taiji_seed.mp4'} is absent")
    out = tmp_path_factory.mktemp("taiji")
    assert main(["infer", str(shared / "videos" / "taiji_seed.mp4"), "-o", str(out), "--end", "12",
                 "--no-render"]) == 0
    z = np.load(out / "taiji_seed.npz")
    kp, sc, valid = z["keypoints_2d"][0], z["scores_2d"][0], z["valid"][0]
    assert valid.all()
    return kp, sc, int(z["image_size"][0]), int(z["image_size"][1]), float(z["fps"])


def _swap(kp: np.ndarray, frames, left, right) -> np.ndarray:
    out = kp.copy()
    out[np.ix_(frames, left + right)] = kp[np.ix_(frames, right + left)]
    return out


def _wrists(kp, sc, w, h, fps, repair: bool) -> np.ndarray:
    lm = load_model("default")
    tr = Tracks2D(kp[None], sc[None], np.ones((1, len(kp)), bool), "h36m17", w, h, fps)
    res = lift_tracks(lm, tr, fixed_bones=True, geometric_trajectory=True, repair_flips=repair)
    return res.poses_3d[0][:, [13, 16]]


def test_single_frame_arm_swap_is_undone(taiji_2d):
    kp, sc, w, h, fps = taiji_2d
    # The frame of the middle half where the two wrists are farthest apart.
    q = len(kp) // 4
    t = q + int(np.argmax(np.linalg.norm(kp[q:-q, 13] - kp[q:-q, 16], axis=-1)))
    swapped = _swap(kp, [t], LEFT_ARM, RIGHT_ARM)
    assert np.linalg.norm(swapped[t, 13] - kp[t, 13]) > 10           # the arms really are apart
    base = _wrists(kp, sc, w, h, fps, True)
    fixed = _wrists(swapped, sc, w, h, fps, True)
    raw = _wrists(swapped, sc, w, h, fps, False)
    extra = np.linalg.norm(fixed - base, axis=-1).max()
    assert extra <= 0.03, extra                                       # at most 3 cm more
    assert np.linalg.norm(raw - base, axis=-1).max() > 0.03          # without the repair it jumps


def test_whole_body_flip_over_30_frames_is_repaired(taiji_2d):
    kp, sc, *_ = taiji_2d
    assert len(kp) >= 80               # the flip is the detector's exception, not its rule
    frames = list(range(25, 55))
    flipped = kp.copy()
    flipped[frames] = kp[frames][:, H36M17.flip_permutation()]
    fixed, _, report = repair_left_right(flipped, sc, np.ones(len(kp), bool), "h36m17")
    np.testing.assert_allclose(fixed, kp, atol=1e-4)
    assert np.flatnonzero(report.body).tolist() == frames


def test_short_whole_body_flip_is_repaired(taiji_2d):
    kp, sc, *_ = taiji_2d
    # Five frames where left and right stay well apart in the image (side-on, where they
    # overlap, no 2D rule can see a relabelling: the README states that limit).
    sep = np.linalg.norm(kp[:, list(H36M17.joints_left)] - kp[:, list(H36M17.joints_right)], axis=-1).mean(-1)
    start = 60 + int(np.argmax([sep[i - 3: i + 8].min() for i in range(60, len(kp) - 10)]))
    frames = list(range(start, start + 5))
    flipped = kp.copy()
    flipped[frames] = kp[frames][:, H36M17.flip_permutation()]
    fixed, _, report = repair_left_right(flipped, sc, np.ones(len(kp), bool), "h36m17")
    np.testing.assert_allclose(fixed, kp, atol=1e-4)
    assert np.flatnonzero(report.body).tolist() == frames


def test_a_real_turn_is_not_a_flip():
    """A person turning on the spot, seen by a camera: left and right cross in 2D
    continuously; nothing may be relabelled."""
    from test_keypoint_style import STAND

    t = 120
    yaw = np.linspace(0, 2 * np.pi, t)
    pts = []
    for a in yaw:
        c, s = np.cos(a), np.sin(a)
        p = STAND @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
        pts.append(np.stack([500 + 400 * p[:, 0], 800 - 400 * p[:, 2]], -1))
    kp = np.array(pts)
    fixed, _, report = repair_left_right(kp, np.ones(kp.shape[:2]), np.ones(t, bool), "h36m17")
    assert report.frames_changed == 0
    np.testing.assert_array_equal(fixed, kp.astype(np.float32))


def test_repair_works_in_the_detector_layout_and_keeps_gaps():
    from poselift.geometry.skeletons import BLAZEPOSE33

    rng = np.random.default_rng(0)
    kp = np.cumsum(rng.normal(0, 0.5, (50, 33, 2)), axis=0) + rng.uniform(450, 550, (1, 33, 2))
    kp[:, list(BLAZEPOSE33.joints_left), 0] += 250           # the left side on the image right,
    kp[:, list(BLAZEPOSE33.joints_right), 0] -= 250          # as for a person facing the camera
    valid = np.ones(50, bool)
    valid[20:23] = False
    kp[~valid] = np.nan

    # The detector swaps a whole arm: elbow, wrist and the hand points with it.
    arm = ("elbow", "wrist", "pinky", "index", "thumb")
    left = [BLAZEPOSE33.index(f"left_{n}") for n in arm]
    right = [BLAZEPOSE33.index(f"right_{n}") for n in arm]
    bad = _swap(kp, [10], left, right)
    fixed, _, report = repair_left_right(bad, np.ones((50, 33)), valid, "blazepose33")
    np.testing.assert_allclose(fixed[valid], kp[valid], atol=1e-3)
    assert np.isnan(fixed[~valid]).all()
    assert report.limbs["arm"].tolist().count(True) == 1 and report.limbs["arm"][10]



LEFT_LEG, RIGHT_LEG = [5, 6], [2, 3]         # knee, ankle (H36M-17)


def _separation(kp: np.ndarray, left, right) -> np.ndarray:
    """Per frame, the smallest image distance between a left joint and its right twin."""
    return np.linalg.norm(kp[:, left] - kp[:, right], axis=-1).min(-1)


def _apart_window(sep: np.ndarray, length: int, min_px: float) -> tuple[int, int]:
    """The first frames ``[a, a + length)`` with the two limbs at least ``min_px`` apart
    from 3 frames before to 3 after: a swap there is visible at both ends and inside (where
    the limbs overlap, no 2D rule can tell the labels apart)."""
    for a in range(3, len(sep) - length - 3):
        if sep[a - 3:a + length + 3].min() >= min_px:
            return a, a + length
    pytest.skip(f"no {length}-frame window with the limbs {min_px} px apart in this 2D")


def test_long_limb_swap_at_the_start_of_a_track_is_repaired(taiji_2d):
    """A track whose first 20 frames have the legs' labels swapped, then corrected with a
    jump: the labelling the detector keeps for most of the track wins."""
    kp, sc, *_ = taiji_2d
    a, b = _apart_window(_separation(kp, LEFT_LEG, RIGHT_LEG), 20, 25)
    valid = np.arange(len(kp)) >= a                 # the track starts at a
    swapped = _swap(kp, list(range(a, b)), LEFT_LEG, RIGHT_LEG)
    fixed, _, report = repair_left_right(swapped, sc, valid, "h36m17")
    np.testing.assert_allclose(fixed[valid], kp[valid], atol=1e-4)
    assert np.flatnonzero(report.limbs["leg"]).tolist() == list(range(a, b))


def test_long_limb_swap_confirmed_at_both_ends_is_repaired(taiji_2d):
    """30 frames of swapped arms, entered and left with a jump across the body."""
    kp, sc, *_ = taiji_2d
    a, b = _apart_window(_separation(kp, LEFT_ARM, RIGHT_ARM), 30, 25)
    swapped = _swap(kp, list(range(a, b)), LEFT_ARM, RIGHT_ARM)
    fixed, _, report = repair_left_right(swapped, sc, np.ones(len(kp), bool), "h36m17")
    np.testing.assert_allclose(fixed, kp, atol=1e-4)
    assert np.flatnonzero(report.limbs["arm"]).tolist() == list(range(a, b))


def test_long_relabelling_the_detector_does_not_confirm_is_left_as_detected(taiji_2d):
    """Legs labelled the other way from a jump until a frame where the two legs overlap:
    the detector never jumps back, so only the continuity pass says the run is wrong,
    and a run that long is left as detected (short ones are still relabelled)."""
    kp, sc, *_ = taiji_2d
    sep = _separation(kp, LEFT_LEG, RIGHT_LEG)
    a, _ = _apart_window(sep, 1, 25)
    overlap = np.flatnonzero(sep[a + 20:] < 8)
    if not len(overlap):
        pytest.skip("the legs never overlap 20 frames after the swap in this 2D")
    b = a + 20 + int(overlap[0])
    swapped = _swap(kp, list(range(a, b)), LEFT_LEG, RIGHT_LEG)
    fixed, _, report = repair_left_right(swapped, sc, np.ones(len(kp), bool), "h36m17", max_limb_frames=12)
    np.testing.assert_allclose(fixed[a:b], swapped[a:b], atol=1e-4)
    assert not report.limbs["leg"][a:b].any()
