"""BVH (Biovision Hierarchy) motion-capture files: parser and forward kinematics.

Format facts this module relies on
----------------------------------
* ``HIERARCHY`` declares a tree of ``ROOT``/``JOINT`` blocks, each with an ``OFFSET``
  (translation from the parent joint, in the file's unit, in the parent's frame) and a
  ``CHANNELS n name...`` list; ``End Site`` blocks carry only an ``OFFSET``.
* ``MOTION`` gives ``Frames: T``, ``Frame Time: dt`` (seconds) and ``T`` lines of
  channel values in the order the channels were declared, depth first.
* Rotation channels are Euler angles in **degrees**. For channels listed as
  ``Zrotation Xrotation Yrotation`` the joint's local rotation is
  ``R = Rz(z) @ Rx(x) @ Ry(y)`` acting on column vectors (the first listed axis is the
  outermost). Any order and any subset of axes is accepted.
* A joint's local transform is ``translate(t) @ rotate(R)``: the translation moves the
  joint's origin in its parent's frame, the rotation turns everything below it.

Position channels on a joint other than the root
------------------------------------------------
Importers disagree on whether ``Xposition``... *replace* a joint's ``OFFSET`` or are
*added* to it. This module replaces, component by component (a joint declaring only
``Yposition`` keeps the offset's x and z). Evidence: Bandai-Namco's motion dataset
declares six channels on every joint; for all joints but ``Hips`` the position channels
repeat the ``OFFSET`` exactly, and ``Hips`` has ``OFFSET`` ``(0.8, 94.0, -452.2)`` cm
while its channels hold about ``(-0.5, 93.5, -9.0)`` cm on frame 0. Replacing puts the
hips 93.5 cm above the floor next to the root; adding would double every bone
(a 188 cm hip height, legs of 80 cm per segment reach) and throw the body 4.5 m away.
``position_mode="add"`` is available for files written by tools that add.

Output coordinates are the file's own (usually Y up, centimetres for the datasets
poselift reads); :mod:`poselift.io.mocap` converts units and axes.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from poselift.errors import InputError

__all__ = ["BvhMotion", "read_bvh", "parse_bvh", "euler_to_matrix", "forward_kinematics"]

_POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
_ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_VALID_CHANNELS = _POSITION_CHANNELS + _ROTATION_CHANNELS


@dataclass
class BvhMotion:
    """A parsed BVH file, kept close to the file so it can be written back unchanged.

    End sites are stored as joints without channels (``is_end_site[j]`` true) named
    ``"<parent>_end"``, so forward kinematics also gives their positions (a head top,
    a toe tip).

    Attributes:
        names: ``J`` joint names in file (depth-first) order; the root is index 0.
        parents: ``(J,)`` int parent index per joint, ``-1`` for the root.
        offsets: ``(J, 3)`` float64 ``OFFSET`` of each joint, file units, parent frame.
        channels: per joint, its channel names in declaration order (``()`` for end sites).
        motion: ``(T, C)`` float64 channel values per frame, columns in file order
            (degrees for rotations, file units for positions).
        frame_time: seconds per frame (``Frame Time``).
        is_end_site: ``(J,)`` bool.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    motion: np.ndarray
    frame_time: float
    is_end_site: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        self.parents = np.asarray(self.parents, dtype=np.int64)
        self.offsets = np.asarray(self.offsets, dtype=np.float64).reshape(-1, 3)
        self.motion = np.asarray(self.motion, dtype=np.float64).reshape(-1, self.num_channels)
        if self.is_end_site.size == 0:
            self.is_end_site = np.array([len(c) == 0 and j > 0 for j, c in enumerate(self.channels)],
                                        dtype=bool)
        if not (len(self.names) == len(self.parents) == len(self.offsets) == len(self.channels)):
            raise ValueError("names, parents, offsets and channels must have one entry per joint")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def channel_start(self) -> np.ndarray:
        """``(J,)`` first column of each joint's channels in :attr:`motion`."""
        counts = np.array([len(c) for c in self.channels], dtype=np.int64)
        return np.concatenate([[0], np.cumsum(counts)[:-1]])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def positions(self, position_mode: Literal["replace", "add"] = "replace") -> np.ndarray:
        """World positions of every joint: ``(T, J, 3)`` float64, file units and axes."""
        return forward_kinematics(self, position_mode)[0]


# ----------------------------------------------------------------------------- parsing

# Bounds on what a file may expand to: its text (plain or gunzipped), and frames x joints,
# which sets the size of the forward-kinematics arrays (72 bytes per joint and frame).
MAX_TEXT_BYTES = 512 * 2**20
MAX_FRAME_JOINTS = 20_000_000
# Frame rates from 0.1 to 10000 fps; beyond them "Frame Time" is a typo or a trap.
FRAME_TIME_RANGE = (1e-4, 10.0)


def _open_text(path: Path) -> str:
    from poselift.fsutil import read_bounded

    return read_bounded(path, MAX_TEXT_BYTES, what="BVH file").decode("utf-8", errors="replace")


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a ``.bvh`` or gzip-compressed ``.bvh.gz`` file.

    Raises:
        InputError: unreadable file or malformed BVH content (the message names the problem).
    """
    p = Path(path)
    return parse_bvh(_open_text(p), source=p)


def parse_bvh(text: str, source: str | Path | None = None) -> BvhMotion:
    """Parse BVH text (see the module docstring for the conventions)."""
    head, sep, body = text.partition("MOTION")
    if not sep:
        raise InputError("no MOTION section (not a BVH file?)", source)
    tokens = head.split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise InputError("file does not start with HIERARCHY (not a BVH file?)", source)

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    end_site: list[bool] = []
    stack: list[int] = []  # open blocks, as joint indices
    pending: int | None = None  # joint declared, its "{" not seen yet
    i = 1
    n = len(tokens)

    def need(k: int) -> list[str]:
        if i + k > n:
            raise InputError("HIERARCHY ends in the middle of a joint", source)
        return tokens[i:i + k]

    try:
        while i < n:
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                if tok == "ROOT" and (stack or names):
                    raise InputError("more than one ROOT (only single-skeleton files are supported)", source)
                if tok == "JOINT" and not stack:
                    raise InputError("JOINT outside of ROOT", source)
                (name,) = need(2)[1:]
                names.append(name)
                parents.append(stack[-1] if stack else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append(())
                end_site.append(False)
                pending = len(names) - 1
                i += 2
            elif tok == "End":
                if not stack or need(2)[1] != "Site":
                    raise InputError("misplaced End Site", source)
                parent = stack[-1]
                names.append(f"{names[parent]}_end")
                parents.append(parent)
                offsets.append([0.0, 0.0, 0.0])
                channels.append(())
                end_site.append(True)
                pending = len(names) - 1
                i += 2
            elif tok == "{":
                if pending is None:
                    raise InputError("unexpected '{'", source)
                stack.append(pending)
                pending = None
                i += 1
            elif tok == "}":
                if not stack:
                    raise InputError("unbalanced '}'", source)
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                if not stack:
                    raise InputError("OFFSET outside of a joint", source)
                offsets[stack[-1]] = [float(v) for v in need(4)[1:]]
                i += 4
            elif tok == "CHANNELS":
                if not stack or end_site[stack[-1]]:
                    raise InputError("CHANNELS outside of a joint", source)
                k = int(need(2)[1])
                chans = tuple(need(2 + k)[2:])
                bad = [c for c in chans if c not in _VALID_CHANNELS]
                if bad:
                    raise InputError(f"unknown channel {bad[0]!r} on joint {names[stack[-1]]!r}", source)
                channels[stack[-1]] = chans
                i += 2 + k
            else:
                raise InputError(f"unexpected token {tok!r} in HIERARCHY", source)
    except ValueError as exc:  # float()/int() on a malformed number
        raise InputError(f"malformed number in HIERARCHY ({exc})", source) from None
    if stack or pending is not None:
        raise InputError("HIERARCHY has unclosed braces", source)
    if not names:
        raise InputError("HIERARCHY declares no joints", source)

    frames, frame_time, values = _parse_motion(body, source)
    num_channels = sum(len(c) for c in channels)
    if num_channels == 0:
        raise InputError("the skeleton declares no channels", source)
    if values.size % num_channels:
        raise InputError(f"MOTION holds {values.size} numbers, not a multiple of the "
                         f"{num_channels} channels", source)
    rows = values.size // num_channels
    if rows * len(names) > MAX_FRAME_JOINTS:
        raise InputError(f"{rows} frames x {len(names)} joints is more than the {MAX_FRAME_JOINTS} allowed", source)
    if not np.isfinite(values).all():
        raise InputError("MOTION data holds NaN or infinite values", source)
    rows = values.size // num_channels
    if rows != frames:
        if rows < frames:
            from poselift.errors import warn_once

            warn_once(f"header says {frames} frames but only {rows} are present; using {rows}", source)
        else:
            raise InputError(f"header says {frames} frames but {rows} are present", source)
    return BvhMotion(names=names, parents=np.array(parents), offsets=np.array(offsets),
                     channels=channels, motion=values.reshape(rows, num_channels),
                     frame_time=frame_time, is_end_site=np.array(end_site, dtype=bool))


_FRAMES_RE = re.compile(r"Frames:\s*(\d+)")
_FRAME_TIME_RE = re.compile(r"Frame\s+Time:\s*([-+0-9.eE]+)")


def _parse_motion(body: str, source: str | Path | None) -> tuple[int, float, np.ndarray]:
    m_frames = _FRAMES_RE.search(body)
    m_time = _FRAME_TIME_RE.search(body)
    if not m_frames or not m_time:
        raise InputError("MOTION section lacks 'Frames:' or 'Frame Time:'", source)
    frames = int(m_frames.group(1))
    try:
        frame_time = float(m_time.group(1))
    except ValueError:
        raise InputError(f"bad Frame Time {m_time.group(1)!r}", source) from None
    lo, hi = FRAME_TIME_RANGE
    if not lo <= frame_time <= hi:
        raise InputError(f"Frame Time must be between {lo:g} and {hi:g} seconds "
                         f"({1 / hi:g} to {1 / lo:g} fps), got {frame_time:g}", source)
    data = body[m_time.end():]
    # np.loadtxt is an order of magnitude slower on files of 10^6 numbers.
    try:
        values = np.array(data.split(), dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"non-numeric value in MOTION data ({exc})", source) from None
    return frames, frame_time, values


# ---------------------------------------------------------------------------- kinematics

def _axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Elementary rotations about x/y/z for column vectors. ``(T,) -> (T, 3, 3)``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    one, zero = np.ones_like(c), np.zeros_like(c)
    if axis == "X":
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == "Y":
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    elif axis == "Z":
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    else:  # pragma: no cover - guarded by the parser
        raise ValueError(axis)
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """BVH Euler angles to rotation matrices.

    Args:
        angles_deg: ``(T, K)`` angles in degrees, column ``k`` about axis ``order[k]``.
        order: ``K`` axis letters in channel order, e.g. ``"ZXY"``; the result is
            ``R_order[0] @ R_order[1] @ ...`` (column-vector convention).
    Returns:
        ``(T, 3, 3)`` float64 rotation matrices.
    """
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    out = np.broadcast_to(np.eye(3), (a.shape[0], 3, 3)).copy()
    for k, axis in enumerate(order.upper()):
        out = out @ _axis_rotation(axis, a[:, k])
    return out


def forward_kinematics(bvh: BvhMotion, position_mode: Literal["replace", "add"] = "replace",
                       ) -> tuple[np.ndarray, np.ndarray]:
    """World positions and orientations of every joint, vectorised over frames.

    Args:
        bvh: parsed file.
        position_mode: how a joint's position channels combine with its ``OFFSET``:
            ``"replace"`` (default, see the module docstring) or ``"add"``.
    Returns:
        positions ``(T, J, 3)`` float64 in file units and axes, and global rotations
        ``(T, J, 3, 3)`` (rotating a joint's local frame into the world frame).
    """
    if position_mode not in ("replace", "add"):
        raise ValueError(f"position_mode must be 'replace' or 'add', got {position_mode!r}")
    T, J = bvh.num_frames, bvh.num_joints
    pos = np.zeros((T, J, 3))
    rot = np.zeros((T, J, 3, 3))
    starts = bvh.channel_start
    for j in range(J):
        chans = bvh.channels[j]
        cols = bvh.motion[:, starts[j]:starts[j] + len(chans)]
        local_t = np.broadcast_to(bvh.offsets[j], (T, 3)).copy()
        rot_cols, order = [], ""
        for k, ch in enumerate(chans):
            if ch in _POSITION_CHANNELS:
                axis = _POSITION_CHANNELS.index(ch)
                if position_mode == "replace":
                    local_t[:, axis] = cols[:, k]
                else:
                    local_t[:, axis] += cols[:, k]
            else:
                rot_cols.append(k)
                order += ch[0]
        local_r = euler_to_matrix(cols[:, rot_cols], order) if order else np.broadcast_to(np.eye(3), (T, 3, 3))
        p = bvh.parents[j]
        if p < 0:
            pos[:, j] = local_t
            rot[:, j] = local_r
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], local_t)
            rot[:, j] = rot[:, p] @ local_r
    return pos, rot
