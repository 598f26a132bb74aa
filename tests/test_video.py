"""Video reading/writing: videos generated here with PyAV, plus the shared real clips."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from poselift.errors import InputError  # noqa: E402
from poselift.io.video import (VideoReader, VideoWriter, parse_time, probe, read_frames,  # noqa: E402
                               rotate_image)

SHARED = Path(os.environ.get("POSELIFT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
VIDEOS = SHARED / "videos"
needs_shared = pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"shared test videos not found at {VIDEOS} "
                                  "(set POSELIFT_SHARED to the shared/ folder)")


def _pattern(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    """Frame i: a white 8x8 square at the top-left and a bar whose position encodes i."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:8, :8] = 255
    img[h - 8:, (4 * i) % (w - 8):(4 * i) % (w - 8) + 8, 1] = 255
    return img


def _make_video(path: Path, n: int = 10, fps: int = 10, codec: str = "libx264", rotation: int | None = None,
                pts: list[int] | None = None, size: tuple[int, int] = (48, 64)) -> Path:
    """Encode ``n`` pattern frames; ``pts`` in units of 1/fps allows variable frame rate."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.height, s.width = size
        s.pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_pattern(i, *size), format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = Fraction(1, fps)
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


@pytest.mark.parametrize("ext,codec", [("mp4", "libx264"), ("mov", "libx264"), ("mkv", "libx264"),
                                       ("webm", "libvpx-vp9"), ("avi", "mpeg4"), ("gif", "gif")])
def test_reads_generated_containers(tmp_path, ext, codec):
    path = _make_video(tmp_path / f"clip.{ext}", n=8, codec=codec)
    frames = list(read_frames(path))
    assert len(frames) == 8
    f = frames[3]
    assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
    assert f.time == pytest.approx(0.3, abs=0.011) and f.index == 3
    assert f.image[:6, :6].mean() > 200 and f.image[20:28, 30:38].mean() < 40
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.fps == pytest.approx(10, rel=0.05)
    assert info.frame_count == pytest.approx(8, abs=1)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path, rotation):
    path = _make_video(tmp_path / "phone.mp4", n=3, rotation=rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((48, 64) if rotation in (90, 270) else (64, 48))
    img = next(iter(read_frames(path))).image
    assert img.shape[:2] == (info.height, info.width)
    # The white corner square moves where a counter-clockwise turn puts the top-left corner.
    corner = {90: img[-8:, :8], 180: img[-8:, -8:], 270: img[:8, -8:]}[rotation]
    assert corner.mean() > 200
    raw = next(iter(read_frames(path, apply_rotation=False))).image
    assert raw.shape == (48, 64, 3)


def test_rotate_image_helper():
    img = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(rotate_image(img, 90), [[2, 5], [1, 4], [0, 3]])
    np.testing.assert_array_equal(rotate_image(img, -90), rotate_image(img, 270))
    np.testing.assert_array_equal(rotate_image(img, 360), img)
    assert rotate_image(np.zeros((2, 3, 3)), 90).flags.c_contiguous


def test_variable_frame_rate_timestamps_kept(tmp_path):
    pts = [0, 1, 2, 5, 6, 10, 11]  # holes: no padding or duplication expected
    path = _make_video(tmp_path / "vfr.mkv", n=len(pts), pts=pts)
    times = [f.time for f in read_frames(path)]
    np.testing.assert_allclose(times, np.array(pts) / 10, atol=2e-3)


def test_start_end_and_fps_drop(tmp_path):
    path = _make_video(tmp_path / "c.mp4", n=60, fps=30)
    frames = list(read_frames(path, start="0:00.5", end=1.0))
    assert [f.index for f in frames] == list(range(15, 30))
    assert frames[0].time == pytest.approx(0.5, abs=1e-3)
    half = list(read_frames(path, fps=15))
    assert [f.index for f in half] == list(range(0, 60, 2))
    odd = list(read_frames(path, fps=12))
    assert 23 <= len(odd) <= 25 and np.all(np.diff([f.time for f in odd]) > 0.05)
    assert len(list(read_frames(path, fps=60))) == 60  # never invents frames
    with pytest.raises(InputError, match="no frames in the range"):
        list(read_frames(path, start=5))
    with pytest.raises(ValueError, match="after start"):
        list(read_frames(path, start=1, end=0.5))
    reader = VideoReader(path, start="00:00:01", fps=10)
    assert reader.info.frame_count == 60 and len(list(reader)) == 10


def test_seek_on_a_longer_video_is_frame_exact(tmp_path):
    # Keyframes every 12 frames, so the seek lands before `start` and frames are discarded.
    path = tmp_path / "long.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10, options={"g": "12", "keyint_min": "12", "sc_threshold": "0"})
        s.height, s.width, s.pix_fmt = 48, 64, "yuv420p"
        for i in range(60):
            for pkt in s.encode(av.VideoFrame.from_ndarray(_pattern(i), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    frames = list(read_frames(path, start=3.05, end="0:04"))
    assert [f.index for f in frames] == list(range(31, 40))
    assert frames[0].time == pytest.approx(3.1, abs=1e-3)


def test_parse_time():
    assert parse_time("12.5") == 12.5
    assert parse_time("1:05") == 65.0
    assert parse_time("01:02:03.250") == pytest.approx(3723.25)
    assert parse_time(7) == 7.0 and parse_time(None) is None and parse_time("") is None
    for bad in ("1:75", "abc", "-3", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_bad_inputs_raise_input_error(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="file is empty"):
        probe(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(InputError, match="cannot decode video"):
        list(read_frames(junk))
    text = tmp_path / "notes.mov"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(InputError, match="cannot decode video"):
        probe(text)
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "missing.mp4")
    # A truncated file: the header survives, the frame data does not.
    good = _make_video(tmp_path / "good.mp4", n=30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[:600])
    with pytest.raises(InputError) as info:
        list(read_frames(cut))
    assert str(cut) in str(info.value) and "\n" not in str(info.value)
    # An audio-only file has no video stream.
    wav = tmp_path / "tone.wav"
    with av.open(str(wav), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for pkt in s.encode(frame):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    with pytest.raises(InputError, match="no video stream"):
        probe(wav)


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "out.webm"])
def test_writer_roundtrip_odd_size_and_atomic(tmp_path, name):
    path = tmp_path / name
    with VideoWriter(path, fps=12) as w:
        for i in range(6):
            w.write(_pattern(i, 47, 63))
        assert not path.exists()  # still under a temporary name
    frames = list(read_frames(path))
    assert len(frames) == 6
    h, w_ = frames[0].image.shape[:2]
    assert (h, w_) == ((47, 63) if name.endswith(".gif") else (48, 64))
    assert frames[2].image[:6, :6].mean() > 180
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_writer_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "fail.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(path, fps=10) as w:
            w.write(_pattern(0))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    w = VideoWriter(path, fps=10)
    w.write(_pattern(0))
    with pytest.raises(ValueError, match="differs"):
        w.write(np.zeros((10, 10, 3), np.uint8))
    w.abort()
    assert list(tmp_path.iterdir()) == []


@needs_shared
def test_shared_videos_decode():
    taiji = VIDEOS / "taiji_seed.mp4"
    info = probe(taiji)
    assert (info.width, info.height, info.rotation) == (448, 336, 0) and info.frame_count == 410
    n, last = 0, -1.0
    for f in read_frames(taiji):
        assert f.image.shape == (336, 448, 3) and f.time > last
        last, n = f.time, n + 1
    assert n == 410
    portrait = probe(VIDEOS / "single_dance_portrait_musepose.mp4")
    assert portrait.height > portrait.width
    clip = list(read_frames(VIDEOS / "single_football_juggling_sam2.mp4", start="0:02", end="0:03"))
    assert len(clip) == 24 and clip[0].image.shape == (720, 1280, 3)
