"""``poselift infer --multi-person``: the multi-person BlazePose detector, the
multi-person tracker, and the CLI path (issue 5, item 1).

Real runs use the shared videos (real litert inference, real decoding) and skip when
``../shared`` is absent. Identity is checked from the pixels, independently of the
tracker's own cues: each track's torso colour (clothing) must stay the same over the
clip, the two people's colours must differ, and a track's box centre must never jump
between frames by more than a fraction of the person's size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_dir
from poselift.cli.main import main
from poselift.detect.base import Person2D, bbox_from_keypoints, get_detector
from poselift.detect.multitrack import track_people
from poselift.io.video import read_frames
from poselift.lift.model import ModelConfig, TemporalModel
from poselift.lift.weights import save_model

pytest.importorskip("ai_edge_litert", reason="multi-person detection needs ai-edge-litert")


# --------------------------------------------------------------------------- synthetic tracking
def _person(cx: float, cy: float, height: float, seed: int, look: tuple[float, float, float] | None = None) -> Person2D:
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.5, 0.5, size=(33, 2)) * np.array([0.4, 1.0])  # a fixed "pose" per person
    kp = (base * height + np.array([cx, cy])).astype(np.float32)
    return Person2D(keypoints=kp, scores=np.full(33, 0.9, np.float32), layout="blazepose33",
                    bbox=bbox_from_keypoints(kp), score=0.9,
                    appearance=None if look is None else np.array(look, np.float32))


@pytest.mark.parametrize("with_looks", [False, True])
def test_crossing_and_brief_exit_keep_identities(with_looks):
    """A walks right, B walks left (they overlap mid-way); later B leaves the frame for
    0.6 s and comes back where it left. Detections come in random order."""
    fps, T = 30.0, 150
    t = np.arange(T) / fps
    rng = np.random.default_rng(3)
    look_a, look_b = ((0.1, 0.4, 0.7), (0.9, 0.9, 0.9)) if with_looks else (None, None)
    frames, truth = [], []
    for i in range(T):
        xa = 100 + 6 * min(i, 90)
        xb = 640 - 6 * min(i, 90)
        people = [_person(xa, 300, 300, 10, look_a), _person(xb, 305, 290, 20, look_b)]
        ids = [0, 1]
        if 110 <= i < 128:  # B away
            people, ids = people[:1], ids[:1]
        order = rng.permutation(len(people))
        frames.append([people[k] for k in order])
        truth.append([ids[k] for k in order])
    tracks = track_people(frames, t)
    assert len(tracks) == 2
    for tr in tracks:
        who = {truth[i][k] for i, k in enumerate(tr.chosen) if k >= 0}
        assert len(who) == 1, "a track switched people"
    a = next(tr for tr in tracks if truth[0][tr.chosen[0]] == 0)
    b = next(tr for tr in tracks if tr is not a)
    assert (a.chosen >= 0).all()
    assert (b.chosen[110:128] == -1).all() and (b.chosen[128:] >= 0).all(), "B re-claimed its own track"


def test_short_tracks_dropped_and_max_people():
    fps, T = 30.0, 90
    t = np.arange(T) / fps
    frames = []
    for i in range(T):
        people = [_person(200, 300, 300, 1), _person(600, 300, 250, 2)]
        if 40 <= i < 50:  # a 10-frame ghost: shorter than min_track_s
            people.append(_person(900, 200, 100, 3))
        frames.append(people)
    assert len(track_people(frames, t)) == 2
    one = track_people(frames, t, max_people=1)
    assert len(one) == 1 and float(np.median(one[0].keypoints[:, :, 0])) == pytest.approx(200, abs=60)
    assert track_people([[] for _ in range(5)], np.arange(5) / fps) == []


# --------------------------------------------------------------------------- real videos
def _video(name: str) -> Path:
    p = shared_dir() / "videos" / name
    if not p.is_file():
        pytest.skip(f"shared test video {p} is absent (set POSELIFT_SHARED or put shared/ beside the checkout)")
    return p


def _detect(path: Path, end: float | None = None):
    det = get_detector("blazepose-multi")
    people, times, images = [], [], []
    for fr in read_frames(path, None, end):
        people.append(det.detect(fr.image, fr.time))
        times.append(fr.time)
        images.append(fr.image)
    return people, np.asarray(times), images


def _torso_colour(img: np.ndarray, kp: np.ndarray) -> np.ndarray:
    """Median RGB (0-1) of the middle of the shoulder-hip quadrilateral, measured here
    independently of the detector's own descriptor."""
    q = kp[[11, 12, 24, 23]]
    c = q.mean(0)
    q = c + 0.4 * (q - c)
    (x0, y0), (x1, y1) = np.floor(q.min(0)).astype(int), np.ceil(q.max(0)).astype(int)
    h, w = img.shape[:2]
    patch = img[max(y0, 0):min(y1, h - 1) + 1, max(x0, 0):min(x1, w - 1) + 1].reshape(-1, 3)
    return np.median(patch, 0) / 255.0 if len(patch) else np.full(3, np.nan)


def _check_identity(people, times, images, tracks, min_cover: list[float], distinct_clothes: bool) -> None:
    T = len(times)
    medians = []
    for tr, cover in zip(tracks, min_cover):
        idx = np.flatnonzero(tr.chosen >= 0)
        assert len(idx) >= cover * T, f"track present in {len(idx)}/{T} frames"
        dets = [people[i][tr.chosen[i]] for i in idx]
        # 1. Motion: between consecutive detected frames the box centre moves less than
        # half the person's box diagonal per 1/10 s, far below a jump to the other person.
        c = np.array([[(p.bbox[0] + p.bbox[2]) / 2, (p.bbox[1] + p.bbox[3]) / 2] for p in dets])
        diag = np.array([np.hypot(p.bbox[2] - p.bbox[0], p.bbox[3] - p.bbox[1]) for p in dets])
        step = np.linalg.norm(np.diff(c, axis=0), axis=1) / np.maximum(diag[1:], 1)
        dt = np.diff(times[idx])
        assert np.all(step[dt < 0.1] < 0.5), f"a jump of {step[dt < 0.1].max():.2f} box diagonals"
        # 2. Appearance: the torso colour stays that of the track's own clothes.
        cols = np.array([_torso_colour(images[i], p.keypoints) for i, p in zip(idx, dets)])
        cols = cols[np.isfinite(cols).all(1)]
        med = np.median(cols, 0)
        same = np.linalg.norm(cols - med, axis=1) < 0.3
        assert same.mean() > 0.8, f"only {same.mean():.0%} of frames look like the track's person"
        medians.append(med)
    if distinct_clothes:
        assert np.linalg.norm(medians[0] - medians[1]) > 0.3, "the two tracks look like the same person"
    # 3. Never the same person twice: where both tracks are present, their boxes are apart.
    both = np.flatnonzero((tracks[0].chosen >= 0) & (tracks[1].chosen >= 0))
    assert len(both) > 0
    for i in both:
        a, b = people[i][tracks[0].chosen[i]], people[i][tracks[1].chosen[i]]
        assert tracks[0].chosen[i] != tracks[1].chosen[i]
        ca = np.array([(a.bbox[0] + a.bbox[2]) / 2, (a.bbox[1] + a.bbox[3]) / 2])
        cb = np.array([(b.bbox[0] + b.bbox[2]) / 2, (b.bbox[1] + b.bbox[3]) / 2])
        assert np.linalg.norm(ca - cb) > 0.1 * np.hypot(a.bbox[2] - a.bbox[0], a.bbox[3] - a.bbox[1])


@pytest.fixture(scope="module")
def kids_bed():
    """The detections of the whole kids-bed clip (one detection pass for the tests below)."""
    video = _video("multi2_kids_bed_occlusion_edge_sam2.mp4")
    return (video, *_detect(video))


@pytest.mark.shared
@pytest.mark.slow
def test_kids_bed_two_people_keep_identity(kids_bed):
    _, people, times, images = kids_bed
    tracks = track_people(people, times)
    assert len(tracks) == 2
    # The girl is in view all along; the boy is hidden behind her or cut by the frame
    # edge for most of the first 4 s and followed after that. Her grey top and his
    # white shirt are too alike for a colour contrast, so only steadiness is checked.
    _check_identity(people, times, images, tracks, [0.9, 0.2], distinct_clothes=False)


@pytest.mark.shared
@pytest.mark.slow
def test_kids_bed_feet_on_the_bed_only_where_seen_standing(kids_bed):
    """Two children jumping on a bed: airborne most of the time, the boy's feet cut by the
    bottom edge whenever they touch the bed. ``--world``'s floor (the bed) is placed from
    the frames where a child is seen standing (feet in the picture, at the bottom of a
    bounce, still); there the lower ankle is at ankle height for every child seen so. A
    child never seen standing keeps the lifted depth instead of being pulled onto the
    floor. (Taking every upright frame as standing, the girl's median ankle was 0.12 m
    up and the boy's 0.19 m: the flights.)"""
    from poselift.geometry.world import ANKLE_HEIGHT_M, feet_in_view, foot_contact_metrics
    from poselift.infer import InferOptions, _effective_fps, multi_tracks, resolve_focal
    from poselift.lift.pipeline import lift_tracks
    from poselift.lift.weights import list_models, load_model

    if "default" not in list_models():
        pytest.skip("no shipped 'default' model")
    video, people, times, images = kids_bed
    opts = InferOptions(multi_person=True)
    h, w = images[0].shape[:2]
    fps = _effective_fps(times, 30.0)
    tracks, _ = multi_tracks(people, times, opts, (w, h), fps)
    res = lift_tracks(load_model("default"), tracks, root_relative=True, focal_px=resolve_focal(opts, w, h),
                      fixed_bones=True, geometric_trajectory=True, repair_flips=True)
    lifted = res.trajectory.copy()
    res.add_world()                                   # what infer --world writes
    seen = feet_in_view(res.keypoints_2d, res.scores_2d, res.image_size)
    m = foot_contact_metrics(res.extra["poses_world"], res.valid, fps, seen)
    print("feet per person:", m)
    assert len(m) == 2
    # The girl stands at the bottom of her bounces (14 frames with the shipped default; the
    # count moves with the model, the ankle-height checks below are what matter).
    assert max(p["standing"] for p in m) >= 10, m
    for k, p in enumerate(m):
        if p["standing"] >= 5:
            assert abs(p["ankle_height_m"] - ANKLE_HEIGHT_M) <= 0.03, (k, p)
            # ... and her flights are in the air, well above it.
            assert p["ankle_height_upright_m"] > p["ankle_height_m"] + 0.03, (k, p)
        elif p["standing"] == 0:
            # Never seen standing: the depth is only smoothed (which keeps its mean), not
            # moved towards the floor.
            v = res.valid[k]
            change = np.linalg.norm(res.trajectory[k][v], axis=-1) - np.linalg.norm(lifted[k][v], axis=-1)
            assert abs(change.mean()) < 0.01, (k, change.mean())


@pytest.mark.shared
@pytest.mark.slow
def test_basketball_two_people_keep_identity():
    people, times, images = _detect(_video("multi2_basketball_gym_mmaction2.mp4"))
    tracks = track_people(people, times)
    assert len(tracks) == 2
    # White shirt: found all along; blue shirt: lost while small and blurred at the far
    # end of the court (about 2.5 s), then re-identified onto her own track.
    _check_identity(people, times, images, tracks, [0.75, 0.6], distinct_clothes=True)


def _multiview(name: str) -> Path:
    p = shared_dir() / "data" / "multiview" / "pose2sim-single" / name
    if not p.is_file():
        pytest.skip(f"shared multi-view recording {p} is absent (set POSELIFT_SHARED or put shared/ beside the checkout)")
    return p


@pytest.mark.shared
@pytest.mark.slow
def test_pose2sim_bystander_in_the_background_gets_her_own_track():
    """Besides the man on the force plate, a woman stands in the background of cam01
    (and cam02) for all 100 frames, a fifth of the frame height, face masked: too small
    for the detector in the short-side tiles (she used to get no track at all)."""
    people, times, images = _detect(_multiview("cam01.mp4"))
    tracks = track_people(people, times)
    assert len(tracks) == 2, f"{len(tracks)} tracks"
    # Bare skin against a dark jacket: the torso colours tell the two apart.
    _check_identity(people, times, images, tracks, [0.9, 0.9], distinct_clothes=True)
    H = images[0].shape[0]
    heights = []
    for tr in tracks:
        idx = np.flatnonzero(tr.chosen >= 0)
        boxes = np.array([people[i][tr.chosen[i]].bbox for i in idx])
        heights.append(float(np.median(boxes[:, 3] - boxes[:, 1])))
        if heights[-1] < 0.3 * H:
            # The bystander stands still: her box stays where she is (a crop that slid
            # onto the man or onto the floor would move by far more).
            c = (boxes[:, :2] + boxes[:, 2:]) / 2
            assert np.linalg.norm(c - np.median(c, 0), axis=1).max() < 0.25 * heights[-1]
    # The man's box is about 0.4 of the frame height, hers about 0.2.
    small, large = sorted(heights)
    assert 0.15 * H < small < 0.3 * H and large > 1.5 * small, f"box heights {heights} of {H} px"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3], channels=16,
                      dropout=0.25)
    torch.manual_seed(0)
    model = TemporalModel(cfg.num_joints_in, cfg.in_features, cfg.num_joints_out, cfg.filter_widths,
                          dropout=cfg.dropout, channels=cfg.channels)
    meta = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test"}
    return save_model(tmp_path_factory.mktemp("model") / "tiny", model.eval(), cfg, meta)


@pytest.mark.shared
def test_cli_multi_person_npz_and_exports(tiny_model, tmp_path):
    video = _video("multi2_basketball_gym_mmaction2.mp4")
    rc = main(["infer", str(video), "-o", str(tmp_path), "--multi-person", "--end", "3",
               "--no-render", "--export", "json,csv,bvh", "--model", str(tiny_model), "--no-progress"])
    assert rc == 0
    with np.load(tmp_path / f"{video.stem}.npz") as d:
        valid, poses, kp = d["valid"], d["poses_3d"], d["keypoints_2d"]
    assert valid.shape[0] == 2 and poses.shape[:2] == valid.shape and kp.shape[:2] == valid.shape
    assert valid.mean(axis=1).min() > 0.8, "both players are in view for the first 3 s"
    assert np.isfinite(poses[valid]).all() and np.isnan(poses[~valid]).all()
    # The two people stand apart: their mean pelvis positions differ.
    assert abs(np.nanmean(kp[0, :, 0, 0]) - np.nanmean(kp[1, :, 0, 0])) > 50
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f"{video.stem}_person0.bvh" in names and f"{video.stem}_person1.bvh" in names
    assert f"{video.stem}.json" in names and f"{video.stem}.csv" in names


@pytest.mark.shared
def test_cli_multi_person_single_person_video_gives_one_track(tiny_model, tmp_path):
    video = _video("single_taichi_outdoor_stgcn.mp4")
    rc = main(["infer", str(video), "-o", str(tmp_path), "--multi-person", "--end", "3", "--no-render",
               "--model", str(tiny_model), "--no-progress"])
    assert rc == 0
    with np.load(tmp_path / f"{video.stem}.npz") as d:
        assert d["valid"].shape[0] == 1 and d["valid"].mean() > 0.9


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("view, people", [("cam01.mp4", 2), ("cam03.mp4", 1)])
def test_cli_multi_person_pose2sim_views(tiny_model, tmp_path, view, people):
    """``infer --multi-person`` on the lab recording: in cam01 the man and the bystander
    behind him, in cam03 the man seen from behind (nobody else is in that view: the
    bystander, triangulated from cam01 and cam02, stands 63 degrees off cam03's axis, whose
    half field of view is 18 degrees); every track covers at least 90 % of the 100 frames
    and keeps its person."""
    video = _multiview(view)
    rc = main(["infer", str(video), "-o", str(tmp_path), "--multi-person", "--no-render",
               "--model", str(tiny_model), "--no-progress"])
    assert rc == 0
    with np.load(tmp_path / f"{video.stem}.npz") as d:
        valid = d["valid"]
        pelvis = d["keypoints_2d"][:, :, 0]           # (P, T, 2) 2D hip centre
    assert valid.shape == (people, 100)
    assert valid.mean(axis=1).min() >= 0.9, f"coverage {valid.mean(axis=1)}"
    # Identity: each track's hip centre moves continuously (the man's steps on the plate
    # are a few pixels a frame; a swap would jump hundreds), and in cam01 the bystander's
    # track stays on her side, left of the man in every frame they share.
    for k in range(people):
        v = valid[k]
        step = np.linalg.norm(np.diff(pelvis[k], axis=0), axis=1)[v[1:] & v[:-1]]
        assert step.max() < 40, f"track {k} jumps {step.max():.0f} px in one frame"
    if people == 2:
        both = valid[0] & valid[1]
        x = pelvis[:, both, 0]
        left = int(np.argmin(np.median(x, axis=1)))
        assert (x[left] < x[1 - left] - 150).all(), "the two tracks' hip centres crossed"


def test_bad_max_people_is_one_clean_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["infer", "x.mp4", "--multi-person", "--max-people", "two"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "--max-people" in err and "Traceback" not in err
