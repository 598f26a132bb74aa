"""Frames keep their identity (issue 11, item 2): every step's source frame index and
time travel to the npz (``frame_index``, ``time_s``), JSON, CSV, the viewer, ``poselift
lift``, and the rendering, which draws each step on the video frame of its index.

Real decoding, the shipped ``default`` model (NumPy backend), real keypoint files read by
the real importers; the ``--start`` test uses ``../shared/videos/taiji_seed.mp4``, whose
video stream starts 2.67 s into the container's clock (skipped when ``../shared`` is absent).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from poselift.cli.main import main
from poselift.geometry.skeletons import COCO17
from poselift.io.video import VideoWriter, read_frames

W, H, FPS, N = 320, 240, 25.0, 40
FIRST = 10  # the partial keypoint file starts at this frame


def infer(*args) -> int:
    return main(["infer", *map(str, args), "--no-progress"])


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


# --------------------------------------------------------------------------- --start keeps source times
@pytest.mark.shared
def test_start_keeps_source_times_in_npz_json_csv(taiji, tmp_path):
    out = tmp_path / "out"
    assert infer(taiji, "-o", out, "--start", "3", "--end", "4.5", "--no-render", "--export", "json,csv,html") == 0
    frames = list(read_frames(taiji, 3.0, 4.5))
    d = load(out / "taiji_seed.npz")
    np.testing.assert_array_equal(d["frame_index"], [f.index for f in frames])
    np.testing.assert_allclose(d["time_s"], [f.time for f in frames])
    assert d["time_s"][0] >= 3.0 and d["frame_index"][0] > 0, "not rebased to 0"
    # The same frames from the start of the video: same numbers at the same frames.
    whole = {f.index: f.time for f in read_frames(taiji, None, 4.5)}
    assert all(whole[i] == pytest.approx(t) for i, t in zip(d["frame_index"], d["time_s"]))

    doc = json.loads((out / "taiji_seed.json").read_text())
    assert doc["frame_index"] == d["frame_index"].tolist()
    np.testing.assert_allclose(doc["time_s"], d["time_s"], atol=1e-6)

    with open(out / "taiji_seed.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == d["valid"].size * 17
    for r in rows[::13]:
        t = int(r["frame"])  # the step: the npz's T index
        assert float(r["time_s"]) == pytest.approx(d["time_s"][t], abs=1e-6)
        assert int(r["frame_index"]) == d["frame_index"][t]

    page = (out / "taiji_seed.html").read_text()
    assert f'"frameIndex":[{d["frame_index"][0]},' in page

    # `poselift lift` on infer's npz carries the identity through.
    lifted = tmp_path / "lifted.npz"
    assert main(["lift", str(out / "taiji_seed.npz"), "-o", str(lifted)]) == 0
    e = load(lifted)
    np.testing.assert_array_equal(e["frame_index"], d["frame_index"])
    np.testing.assert_array_equal(e["time_s"], d["time_s"])


@pytest.mark.shared
def test_fps_keeps_the_indices_of_the_frames_analysed(taiji, tmp_path):
    assert infer(taiji, "-o", tmp_path, "--end", "3", "--fps", "5", "--no-render") == 0
    d = load(tmp_path / "taiji_seed.npz")
    frames = list(read_frames(taiji, None, 3.0, fps=5))
    np.testing.assert_array_equal(d["frame_index"], [f.index for f in frames])
    assert set(np.diff(d["frame_index"]).tolist()) == {3}, "every third frame of a 15 fps video"
    np.testing.assert_allclose(np.diff(d["time_s"]), 0.2, atol=1e-3)


# --------------------------------------------------------------------------- keypoint file from frame 10
def person(k: int) -> np.ndarray:
    """A standing person (COCO-17 pixels) walking right 3 px a frame: frame ``k``'s pose."""
    off = {"nose": (0, -.42), "left_eye": (.02, -.44), "right_eye": (-.02, -.44), "left_ear": (.04, -.43),
           "right_ear": (-.04, -.43), "left_shoulder": (.11, -.32), "right_shoulder": (-.11, -.32),
           "left_elbow": (.15, -.17), "right_elbow": (-.15, -.17), "left_wrist": (.16, -.03),
           "right_wrist": (-.16, -.03), "left_hip": (.07, 0), "right_hip": (-.07, 0), "left_knee": (.08, .25),
           "right_knee": (-.08, .25), "left_ankle": (.08, .5), "right_ankle": (-.08, .5)}
    kp = np.array([off[n] for n in COCO17.joint_names]) * 170.0
    kp[:, 0] += 80 + 3.0 * k
    kp[:, 1] += 125 + 4.0 * np.sin(k / 3)
    j = COCO17.joint_names.index("left_wrist")
    kp[j, 1] -= 25 * np.sin(k / 4)
    return kp


def write_coco(path: Path, frames: range) -> Path:
    res = [{"image_id": k, "category_id": 1, "score": 0.9,
            "keypoints": np.concatenate([person(k), np.full((17, 1), 0.9)], 1).round(3).ravel().tolist()}
           for k in frames]
    path.write_text(json.dumps(res))
    return path


@pytest.fixture(scope="module")
def marked_video(tmp_path_factory) -> Path:
    """N frames, each telling its number: a bright bar 7 px further right every frame."""
    path = tmp_path_factory.mktemp("vid") / "walk.mp4"
    with VideoWriter(path, fps=FPS) as w:
        for k in range(N):
            img = np.full((H, W, 3), 50, np.uint8)
            img[:, 20 + 7 * k: 24 + 7 * k] = 230
            w.write(img)
    return path


def test_keypoint_file_from_frame_10_is_drawn_on_frame_10(marked_video, tmp_path):
    full_kp = write_coco(tmp_path / "full.json", range(N))
    part_kp = write_coco(tmp_path / "part.json", range(FIRST, N))
    for name, kp in (("full", full_kp), ("part", part_kp)):
        assert infer(marked_video, "--keypoints", kp, "-o", tmp_path / name, "--viz-size", str(H),
                     "--export", "csv") == 0
    part = load(tmp_path / "part" / "walk.npz")
    np.testing.assert_array_equal(part["frame_index"], np.arange(FIRST, N))
    np.testing.assert_allclose(part["time_s"], np.arange(FIRST, N) / FPS)
    with open(tmp_path / "part" / "walk.csv", newline="") as f:
        first = next(csv.DictReader(f))
    assert (first["frame"], first["frame_index"], float(first["time_s"])) == ("0", str(FIRST), FIRST / FPS)

    video = [f.image for f in read_frames(marked_video)]
    full, partial = decode(tmp_path / "full" / "walk.mp4"), decode(tmp_path / "part" / "walk.mp4")
    assert len(full) == len(partial) == len(video) == N, "every video frame is rendered"

    def left(img: np.ndarray) -> np.ndarray:
        return img[:, :W].astype(np.int16)  # the video panel (same size as the video here)

    def drawn(a: np.ndarray, b: np.ndarray) -> int:
        """Pixels that differ by more than encoding noise."""
        return int((np.abs(a - b).max(axis=-1) > 60).sum())

    for k in range(N):
        plain = drawn(left(partial[k]), video[k].astype(np.int16))
        if k < FIRST:
            assert plain < 20, f"frame {k}: no keypoints yet, yet something is drawn ({plain} px)"
            assert drawn(left(full[k]), video[k].astype(np.int16)) > 300, "the full file's skeleton"
        else:
            assert plain > 300, f"frame {k}: the skeleton is missing"
            # The same skeleton on the same video frame as the full file's rendering...
            assert drawn(left(partial[k]), left(full[k])) < 20, f"frame {k} differs from the full file's"
    # ...and not the one of another frame (the person walks 3 px a frame).
    assert drawn(left(partial[FIRST + 5]), left(full[FIRST + 15])) > 100


def test_api_render_matches_frames_by_index(marked_video, tmp_path):
    """The API's Result.render does the same, drawing on the result's video or on frames
    given again (matched by their index, or their position for bare arrays)."""
    import poselift

    part_kp = write_coco(tmp_path / "part.json", range(FIRST, N))
    r = poselift.Pipeline()(marked_video, keypoints=part_kp)
    np.testing.assert_array_equal(r.frame_index, np.arange(FIRST, N))
    a = r.render(tmp_path / "a.mp4", size=H)
    b = r.render(tmp_path / "b.mp4", video=[f.image for f in read_frames(marked_video)], size=H)
    assert a.frames == b.frames == N
    fa, fb = decode(tmp_path / "a.mp4"), decode(tmp_path / "b.mp4")
    # The same pictures (up to the encoder's rounding: a few levels at a few edge pixels).
    assert max(int(np.abs(x.astype(np.int16) - y).max()) for x, y in zip(fa, fb)) < 30
    # Only frames from FIRST on, with --viz-skip counting video frames.
    c = r.render(tmp_path / "c.mp4", size=H, skip=FIRST, limit=5)
    assert c.frames == 5
    fc = decode(tmp_path / "c.mp4")
    # (the 3D view is fitted to the frames shown, so only the video panels are compared)
    assert max(int(np.abs(x[:, :W].astype(np.int16) - y[:, :W]).max()) for x, y in zip(fc, fa[FIRST:FIRST + 5])) < 60
