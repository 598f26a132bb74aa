"""Small private video encoder for :mod:`poselift.render` (PyAV, no system ffmpeg).

``poselift.io.video.VideoWriter`` is the project's general writer; this one stays
separate for now because rendering needs what that writer lacks: a target bitrate
(``--viz-bitrate``), a fixed-palette GIF that keeps the skeleton colours exact (the
general writer's ``rgb8`` GIF rounds them to 3-3-2 bits), and the ~4x cheaper OpenCV
RGB->I420 conversion. Fold it into ``io.video`` once that writer grows those options.
It only knows the two outputs the renderer needs (``.mp4`` and ``.gif``) and always
writes atomically: frames go to a hidden temporary file in the destination folder,
which is renamed over the destination only after the container was closed cleanly.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np

from poselift.fsutil import publish as _publish
from poselift.errors import PoseliftError

SUPPORTED_SUFFIXES = (".mp4", ".gif")


def _pick_h264() -> str:
    # PyAV wheels ship libx264, but distro builds of FFmpeg may lack it.
    for name in ("libx264", "libopenh264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # noqa: BLE001 - any failure means "not usable here"
            continue
    raise PoseliftError("this PyAV build has no H.264 or MPEG-4 encoder")


def gif_palette(extra_colors: Sequence[tuple[int, int, int]] = ()) -> np.ndarray:
    """A fixed 256-entry RGB palette ``(256, 3) uint8``: a 6x7x5 colour cube, a grey ramp
    and ``extra_colors`` (the skeleton colours, so they survive quantisation exactly)."""
    r, g, b = np.meshgrid(np.linspace(0, 255, 6), np.linspace(0, 255, 7), np.linspace(0, 255, 5),
                          indexing="ij")
    cube = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)  # 210 entries
    extra = np.asarray(list(extra_colors)[:30], dtype=np.float64).reshape(-1, 3)
    greys = np.linspace(0, 255, 256 - len(cube) - len(extra))[:, None].repeat(3, axis=1)
    return np.clip(np.round(np.concatenate([cube, greys, extra])), 0, 255).astype(np.uint8)


def _palette_lut(palette: np.ndarray) -> np.ndarray:
    """Nearest palette index for every 5-bit-per-channel colour: ``(32, 32, 32) uint8``."""
    levels = np.arange(32, dtype=np.float32) * 8 + 4
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    pal = palette.astype(np.float32)[None]
    best = np.empty(grid.shape[0], dtype=np.uint8)
    for i in range(0, grid.shape[0], 4096):  # chunked to keep the distance matrix small
        d = ((grid[i:i + 4096] - pal) ** 2).sum(-1)
        best[i:i + 4096] = d.argmin(1)
    return best.reshape(32, 32, 32)


class AtomicVideoWriter:
    """Write RGB frames to ``path`` (``.mp4`` H.264/MPEG-4 yuv420p, or ``.gif``).

    Frames must all be ``(height, width, 3) uint8`` RGB; for ``.mp4`` the height and
    width must be even (yuv420p). Use as a context manager: leaving the block with an
    exception (including ``KeyboardInterrupt``) deletes the temporary file and leaves
    ``path`` untouched.

    Raises:
        PoseliftError: unsupported extension, missing/unwritable output folder, or
            an encoder failure, always as a one-line message.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, *,
                 bitrate_kbps: int = 3000, gif_colors: Sequence[tuple[int, int, int]] = (),
                 preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.kind = self.path.suffix.lower()
        if self.kind not in SUPPORTED_SUFFIXES:
            raise PoseliftError(f"unsupported output format {self.path.suffix!r}; use .mp4 or .gif",
                                self.path)
        if self.kind == ".mp4" and (width % 2 or height % 2):
            raise ValueError(f"yuv420p needs even frame sizes, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width, self.height = int(width), int(height)
        self.codec_name = ""
        self._tmp: str | None = None
        self._container = None
        self._stream = None
        folder = self.path.parent
        if not folder.is_dir():
            raise PoseliftError(f"output folder {str(folder)!r} does not exist or is not a folder", self.path)
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=folder)
            os.close(fd)
        except OSError as e:
            raise PoseliftError(f"cannot write to output folder: {e.strerror or e}", self.path) from None
        try:
            self._open(fps, bitrate_kbps, gif_colors, preset)
        except BaseException:
            self._discard()
            raise

    def _open(self, fps: float, bitrate_kbps: int, gif_colors: Sequence[tuple[int, int, int]],
              preset: str) -> None:
        if self.kind == ".gif":
            # GIF delays are whole centiseconds, so the rate must be expressible in them.
            rate = Fraction(100, max(2, round(100 / fps)))
            self._container = av.open(self._tmp, "w", format="gif")
            self._stream = self._container.add_stream("gif", rate=rate)
            self._stream.pix_fmt = "pal8"
            self.codec_name = "gif"
            self._palette = gif_palette(gif_colors)
            self._lut = _palette_lut(self._palette)
            argb = np.empty((256, 4), dtype=np.uint8)
            argb[:, 0] = 255
            argb[:, 1:] = self._palette
            self._argb = argb
        else:
            rate = Fraction(fps).limit_denominator(1001)
            self.codec_name = _pick_h264()
            self._container = av.open(self._tmp, "w", format="mp4",
                                      options={"movflags": "+faststart"})
            self._stream = self._container.add_stream(self.codec_name, rate=rate)
            self._stream.pix_fmt = "yuv420p"
            self._stream.bit_rate = int(bitrate_kbps) * 1000
            if self.codec_name == "libx264":
                self._stream.options = {"preset": preset}
            # Encoder threads are where the second core earns its keep while the
            # caller draws the next frame on the first one.
            self._stream.codec_context.thread_count = 0
            self._stream.codec_context.thread_type = "AUTO"
            # Tag what cv2's RGB->I420 conversion produces (BT.601 matrix, limited range);
            # untagged HD video would be decoded as BT.709 by browsers, shifting hues.
            self._stream.codec_context.colorspace = 6  # AVCOL_SPC_SMPTE170M
            self._stream.codec_context.color_range = 1  # AVCOL_RANGE_MPEG
        self._stream.width = self.width
        self._stream.height = self.height

    def write(self, rgb: np.ndarray) -> None:
        """Encode one ``(height, width, 3) uint8`` RGB frame."""
        if rgb.shape != (self.height, self.width, 3):
            raise ValueError(f"frame of shape {rgb.shape}, writer expects {(self.height, self.width, 3)}")
        if self.kind == ".gif":
            idx = self._lut[rgb[..., 0] >> 3, rgb[..., 1] >> 3, rgb[..., 2] >> 3]
            frame = av.VideoFrame.from_ndarray((idx, self._argb), format="pal8")
        else:
            # OpenCV's I420 conversion is ~4x faster than swscale's rgb24->yuv420p here.
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except OSError as e:  # PyAV's errno errors (disk full) are OSErrors too
            raise PoseliftError(f"cannot write output: {e.strerror or e}", self.path) from None
        except av.FFmpegError as e:
            raise PoseliftError(f"video encoding failed: {e}", self.path) from None

    def close(self) -> None:
        """Flush, close and move the finished file to its destination."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
            _publish(self._tmp, self.path)
            self._tmp = None
        except OSError as e:
            self._discard()
            raise PoseliftError(f"cannot write output: {e.strerror or e}", self.path) from None
        except av.FFmpegError as e:
            self._discard()
            raise PoseliftError(f"video encoding failed: {e}", self.path) from None
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - already failing; the file is deleted anyway
                pass
            self._container = None
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None

    def __enter__(self) -> "AtomicVideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._discard()
