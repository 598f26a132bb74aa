"""Streaming video input and output on PyAV (FFmpeg bundled in the wheel, no system ffmpeg).

Conventions
-----------
* Frames are RGB ``uint8`` arrays shaped ``(H, W, 3)``, already turned upright: the
  rotation a phone stores in the container (display matrix side data, or the older
  ``rotate`` tag) is applied, so ``H, W`` are the display size.
* Timestamps are presentation times in seconds on the container's clock (the clock a
  player shows, which is also what ``start``/``end`` refer to). The first frame is not
  necessarily at 0: a stream may start late (``taiji_seed.mp4``'s first frame is at
  2.67 s). Variable frame rate is kept as is: frames are never duplicated or padded.
* Rotations are counter-clockwise degrees in ``{0, 90, 180, 270}``: the angle by which a
  decoded frame must be turned to be shown upright.

Reading is streaming: one decoded frame is alive at a time, so memory does not grow
with the video's length.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from poselift.fsutil import publish as _publish
from poselift.errors import InputError

#: Container extensions the reader is tested with (others FFmpeg knows usually work too).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".gif")

# Seeking costs a keyframe lookup; below this start time decoding from the beginning
# is as fast and avoids demuxers whose seeking is unreliable (GIF, some AVI).
_SEEK_MIN_S = 2.0


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns about a video without decoding it fully.

    Attributes:
        path: the file.
        width, height: display size in pixels, after rotation.
        fps: nominal frame rate in frames/s (the container's average rate; for variable
            frame rate videos the true rate differs from frame to frame).
        frame_count: number of frames, from the container when it records it, else
            estimated as ``duration * fps``.
        duration: seconds.
        rotation: counter-clockwise degrees applied to decoded frames, 0/90/180/270.
        codec: decoder name, e.g. ``"h264"``.
        start_time: presentation time of the stream's start in seconds (container clock).
    """

    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    rotation: int
    codec: str
    start_time: float = 0.0


@dataclass
class Frame:
    """One decoded frame.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, upright.
        time: presentation timestamp in seconds (container clock).
        index: 0-based position of the frame in the video stream (frames dropped by
            ``fps`` and those before ``start`` count too). Exact when decoding starts
            at the beginning; when a late ``start`` makes the reader seek, estimated
            from the timestamp and the nominal frame rate.
    """

    image: np.ndarray
    time: float
    index: int


_TIME_RE = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)\s*$")


def parse_time(value: str | float | int | None) -> float | None:
    """Parse a time given as seconds (``"12.5"``, ``12.5``), ``"mm:ss"`` or ``"hh:mm:ss(.ms)"``.

    Returns seconds as a float, or ``None`` for ``None``/empty input.

    Raises:
        ValueError: for anything else, including negative times and minutes/seconds
            fields of 60 or more in the colon forms.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        m = _TIME_RE.match(text)
        if m:
            hours = int(m.group(1)) if m.group(1) else 0
            minutes, secs = int(m.group(2)), float(m.group(3))
            if secs >= 60 or (m.group(1) and minutes >= 60):
                raise ValueError(f"invalid time {text!r}: minutes and seconds must be below 60")
            seconds = hours * 3600 + minutes * 60 + secs
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"invalid time {text!r}: use seconds, mm:ss or hh:mm:ss(.ms)") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid time {value!r}: must be a non-negative number of seconds")
    return seconds


def normalize_rotation(degrees: float) -> int:
    """Round any angle to the nearest quarter turn, in ``{0, 90, 180, 270}``."""
    return int(round(float(degrees) / 90.0)) % 4 * 90


def rotate_image(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an ``(H, W, ...)`` image counter-clockwise by ``rotation`` degrees (a multiple of 90).

    Returns a C-contiguous array (MediaPipe and OpenCV want contiguous input);
    ``(H, W)`` become ``(W, H)`` for 90 and 270.
    """
    k = normalize_rotation(rotation) // 90
    if k == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, k=k, axes=(0, 1)))


def _av():
    import av  # deferred so `poselift --help` does not load FFmpeg

    return av


def _open_input(path: str | os.PathLike):
    """Open a container and its first video stream, turning every failure into InputError."""
    av = _av()
    from poselift.fsutil import check_input

    p = check_input(path, what="video")
    if p.stat().st_size == 0:
        raise InputError("file is empty", p)
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as exc:
        raise InputError(f"cannot decode video: {_short(exc)}", p) from None
    if not container.streams.video:
        audio_only = len(container.streams.audio) > 0
        container.close()
        if audio_only:
            raise InputError("cannot decode video: no video stream in file (audio only)", p)
        raise InputError("cannot decode video: no video stream found (truncated file or not a video)", p)
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise InputError("cannot decode video: unsupported codec", p)
    return container, stream


def _short(exc: Exception) -> str:
    # PyAV messages carry errno and the file name, which InputError already prints.
    msg = getattr(exc, "strerror", None) or str(exc)
    return str(msg).split(": '")[0].strip()


def _tag_rotation(stream) -> int:
    """Counter-clockwise rotation from the legacy ``rotate`` tag (which is clockwise)."""
    tag = stream.metadata.get("rotate") if stream.metadata else None
    if tag is None:
        return 0
    try:
        return normalize_rotation(-float(tag))
    except ValueError:
        return 0


def _frame_rotation(frame, stream) -> int:
    rot = getattr(frame, "rotation", 0) or 0
    return normalize_rotation(rot) if rot else _tag_rotation(stream)


def _nominal_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            f = float(rate)
            if 0 < f < 1000:
                return f
    return 0.0


def _stream_start(stream, container) -> float:
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base) - _container_start(container)
    return 0.0


def _container_start(container) -> float:
    # Container start_time is in AV_TIME_BASE (microseconds); None when unknown.
    return (container.start_time or 0) / 1e6


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video: display size (after rotation), nominal fps, frame count, duration, rotation.

    Decodes at most the first frame (to read the display matrix, which FFmpeg attaches
    to decoded frames).

    Raises:
        InputError: missing, empty, non-video or undecodable file, or no frame at all.
    """
    container, stream = _open_input(path)
    try:
        fps = _nominal_fps(stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        try:
            first = next(container.decode(stream), None)
        except _av().FFmpegError as exc:
            raise InputError(f"cannot decode video: {_short(exc)}", path) from None
        if first is None:
            raise InputError("video has no frames", path)
        width, height = first.width, first.height
        rotation = _frame_rotation(first, stream)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1e6
        else:
            duration = 0.0
        count = int(stream.frames or 0)
        if count <= 0:
            count = max(1, int(round(duration * fps))) if fps > 0 else 1
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(path=str(path), width=int(width), height=int(height), fps=fps,
                         frame_count=count, duration=duration, rotation=rotation,
                         codec=stream.codec_context.name, start_time=_stream_start(stream, container))
    finally:
        container.close()


def read_frames(path: str | os.PathLike, start: float | str | None = None, end: float | str | None = None,
                fps: float | None = None, apply_rotation: bool = True,
                threads: int = 0) -> Iterator[Frame]:
    """Decode a video frame by frame.

    Args:
        path: video file (mp4/mov/avi/webm/mkv/gif, anything FFmpeg reads).
        start: first time to return, seconds or ``"mm:ss"``/``"hh:mm:ss.ms"`` (inclusive).
        end: last time, same forms (exclusive).
        fps: target rate in frames/s; frames are dropped to approximate it when the
            source is faster. Frames are never invented: a slower source stays as is.
        apply_rotation: turn frames upright using the container's rotation.
        threads: decoder threads, 0 lets FFmpeg choose.

    Yields:
        :class:`Frame` objects in presentation order.

    Raises:
        InputError: unreadable file, decoding failure, or no frame in the requested range
            (``"video has no frames"``).
        ValueError: malformed ``start``/``end``/``fps``.
    """
    t0, t1 = parse_time(start), parse_time(end)
    if t0 is not None and t1 is not None and t1 <= t0:
        raise ValueError(f"end ({t1:.3f} s) must be after start ({t0:.3f} s)")
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    av = _av()
    container, stream = _open_input(path)
    try:
        stream.thread_type = "AUTO"
        stream.thread_count = int(threads)
        offset = _container_start(container)
        nominal = _nominal_fps(stream)
        seeked = False
        stream_start = _stream_start(stream, container)
        if t0 is not None and t0 >= _SEEK_MIN_S and stream.time_base:
            try:
                # Seek backward to the keyframe before `start`; frames up to it are
                # decoded and discarded below, so the result is frame-exact.
                container.seek(int((t0 + offset) / stream.time_base), stream=stream, backward=True)
                seeked = True
            except av.FFmpegError:
                container.close()
                container, stream = _open_input(path)
        period = 1.0 / fps if fps else 0.0
        next_keep = None
        rotation = None
        last_time = None
        emitted = 0
        index = -1
        stopped = False
        declared = int(stream.frames or 0)
        try:
            for frame in container.decode(stream):
                index += 1
                if frame.time is not None:
                    t = float(frame.time) - offset
                elif last_time is not None:
                    # Some AVI/raw streams lack pts; step by the nominal rate.
                    t = last_time + (1.0 / nominal if nominal else 0.0)
                else:
                    t = 0.0
                last_time = t
                if seeked and index == 0 and nominal:
                    # After a seek the decoder starts at some keyframe of unknown number.
                    index = max(0, int(round((t - stream_start) * nominal)))
                if t0 is not None and t < t0 - 1e-6:
                    continue
                if t1 is not None and t >= t1 - 1e-6:
                    stopped = True
                    break
                if period:
                    # Keep a frame once the target grid reaches it; a quarter-period
                    # tolerance keeps e.g. 30->15 fps at exactly every other frame.
                    if next_keep is not None and t < next_keep - 0.25 * period:
                        continue
                    next_keep = (t if next_keep is None or t > next_keep + period else next_keep) + period
                if rotation is None:
                    rotation = _frame_rotation(frame, stream) if apply_rotation else 0
                image = frame.to_ndarray(format="rgb24")
                if rotation:
                    image = rotate_image(image, rotation)
                emitted += 1
                yield Frame(image=image, time=t, index=index)
        except av.FFmpegError as exc:
            where = f" at {last_time:.3f} s" if last_time is not None else ""
            raise InputError(f"cannot decode video{where}: {_short(exc)}", path) from None
        if not stopped and declared > 0 and index + 1 < declared - max(2, declared // 100):
            # FFmpeg ends a cut-off file quietly; the container still says how long it was.
            from poselift.errors import warn_once

            warn_once(f"video is truncated: decoded {index + 1} of the {declared} frames its header declares",
                      path)
        if emitted == 0:
            if index < 0:
                raise InputError("video has no frames", path)
            rng = f"{t0 or 0:.3f}-{'end' if t1 is None else f'{t1:.3f}'} s"
            hint = " (seek landed past it)" if seeked else ""
            raise InputError(f"video has no frames in the range {rng}{hint}", path)
    finally:
        container.close()


class VideoReader:
    """Iterable wrapper over :func:`read_frames` that also exposes :func:`probe`'s info.

    Example::

        reader = VideoReader("clip.mp4", start="0:05", fps=25)
        for frame in reader:
            frame.image  # (H, W, 3) uint8 RGB
    """

    def __init__(self, path: str | os.PathLike, start: float | str | None = None,
                 end: float | str | None = None, fps: float | None = None,
                 apply_rotation: bool = True) -> None:
        self.path = Path(path)
        self.start = parse_time(start)
        self.end = parse_time(end)
        self.fps = fps
        self.apply_rotation = apply_rotation
        self.info = probe(self.path)

    def __iter__(self) -> Iterator[Frame]:
        return read_frames(self.path, self.start, self.end, self.fps, self.apply_rotation)


def _even(n: int) -> int:
    return n + (n % 2)


class VideoWriter:
    """Write RGB frames to a video, atomically.

    Frames go to a temporary file beside ``path`` that is renamed onto ``path`` by
    :meth:`close`; if writing fails (or the ``with`` block raises) the temporary file is
    removed, so no half-written video is ever left under the final name.

    Codecs: ``.gif`` -> GIF (palette); ``.webm`` -> VP9; ``.avi`` -> MPEG-4 Part 2;
    anything else (``.mp4``, ``.mov``, ``.mkv``) -> H.264 (libx264) when PyAV's FFmpeg
    has it, else MPEG-4 Part 2. 4:2:0 chroma needs even sizes, so odd widths/heights are
    padded by one replicated pixel row/column at the right/bottom.

    Args:
        path: output file; its extension picks the container.
        fps: constant frame rate in frames/s.
        crf: H.264 quality (lower is better; 18-28 is the useful range).
        codec: force an FFmpeg encoder name.

    Example::

        with VideoWriter("out.mp4", fps=30) as w:
            for img in images:  # (H, W, 3) uint8 RGB, all the same size
                w.write(img)
    """

    def __init__(self, path: str | os.PathLike, fps: float, crf: int = 20, codec: str | None = None) -> None:
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.path = Path(path)
        self.fps = float(fps)
        self.crf = int(crf)
        suffix = self.path.suffix.lower()
        self._is_gif = suffix == ".gif"
        self.codec = codec or self._pick_codec(suffix)
        self._tmp: Path | None = None
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None  # (h, w) of the input frames
        self.frames_written = 0

    @staticmethod
    def _pick_codec(suffix: str) -> str:
        av = _av()
        available = av.codecs_available
        if suffix == ".gif":
            return "gif"
        if suffix == ".webm":
            return "libvpx-vp9" if "libvpx-vp9" in available else "libvpx"
        if suffix == ".avi":
            return "mpeg4"
        return "libx264" if "libx264" in available else "mpeg4"

    def _open(self, h: int, w: int) -> None:
        av = _av()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".partial{self.path.suffix}",
                                   dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        fmt = {".mkv": "matroska", ".m4v": "mp4", ".mov": "mov", ".webm": "webm", ".gif": "gif",
               ".avi": "avi"}.get(self.path.suffix.lower())
        # The temporary name still ends with the real extension, but say it explicitly.
        self._container = av.open(str(self._tmp), mode="w", format=fmt or None)
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream(self.codec, rate=rate)
        if self._is_gif:
            stream.width, stream.height = w, h
            stream.pix_fmt = "rgb8"
        else:
            stream.width, stream.height = _even(w), _even(h)
            stream.pix_fmt = "yuv420p"
            if self.codec == "libx264":
                stream.options = {"crf": str(self.crf), "preset": "veryfast"}
            elif self.codec.startswith("libvpx"):
                stream.options = {"crf": str(max(self.crf + 12, 4)), "b": "0"}
            else:
                stream.bit_rate = int(8 * w * h * self.fps / 10)  # ~0.8 bits per pixel
        self._stream = stream
        self._size = (h, w)

    def write(self, image: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (every frame must have the first one's size)."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        if image.dtype != np.uint8:
            image = np.clip(image, 0, 255).astype(np.uint8)
        h, w = image.shape[:2]
        if self._container is None:
            self._open(h, w)
        elif (h, w) != self._size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self._size[1]}x{self._size[0]}")
        if not self._is_gif and (h % 2 or w % 2):
            image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        av = _av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except Exception:
            self.abort()
            raise
        self.frames_written += 1

    def close(self) -> Path:
        """Flush, close and move the file into place. Returns the final path.

        Raises:
            ValueError: nothing was written (no file is created).
        """
        if self._container is None:
            if self.frames_written == 0 and self._tmp is None:
                raise ValueError(f"{self.path}: no frames written")
            return self.path
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except Exception:
            self.abort()
            raise
        self._container = None
        _publish(self._tmp, self.path)
        self._tmp = None
        return self.path

    def abort(self) -> None:
        """Drop the partial output (idempotent)."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # a broken encoder must not hide the original error
                pass
            self._container = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
