"""Human3.6M motion in exponential-map form (the motion-prediction release).

File format
-----------
One frame per line, 50 fps, 99 comma-separated floats (``.txt`` or ``.txt.gz``):

* columns 0-2: root translation **since the previous frame**, in millimetres, expressed
  in the root's frame of the previous frame (a body-relative velocity: summed naively,
  a subject walking to and fro in the 4 m capture area "travels" 44 m straight ahead);
* columns 3-5: root rotation since the previous frame, an exponential map (radians);
* columns ``3 + 3j .. 5 + 3j`` for ``j = 1..31``: rotation of joint ``j`` of the
  32-joint skeleton relative to its parent, an exponential map (radians).

The first frame's increments are zero. Decoding follows the published one (Jain et
al.'s ``revertCoordinateSpace``, also in Martinez et al.'s human-motion-prediction):
with row-vector rotation matrices ``R_t = exp(w_t) R_{t-1}`` and
``T_t = T_{t-1} + R_{t-1}^T v_t``, starting from ``R = I`` and ``T = 0``. Joint rotations
compose the same way (``R_j = exp(r_j) R_parent``) and a child sits at
``offset_j R_parent + x_parent``. In the column-vector convention used here that is
``G_j = G_parent @ Rod(r_j).T`` and ``x_j = x_parent + G_parent @ offset_j``.

Coordinates
-----------
The skeleton's own frame is **Y up**, millimetres: legs hang along ``-y``, toes point
along ``+z``, the right hip (joint 1) sits at ``-x``. :func:`yup_to_zup` turns it into a
Z-up world (``(x, y, z) -> (x, -z, y)``, a proper rotation, so left and right are
kept) like the Human3.6M world frame. The 32 joints follow
:data:`poselift.geometry.skeletons.H36M32`.

All subjects share one canonical skeleton in this release (bone lengths below).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from poselift.errors import InputError
from poselift.geometry.skeletons import H36M32, h36m32_to_h36m17

__all__ = ["H36M_EXPMAP_OFFSETS_MM", "H36M_EXPMAP_PARENTS", "load_expmap", "expmap_to_matrix",
           "decode_root", "forward_kinematics", "level_to_floor", "yup_to_zup", "read_h36m_expmap", "EXPMAP_FPS"]

EXPMAP_FPS = 50.0

#: Parent of each of the 32 joints (same tree as ``H36M32``).
H36M_EXPMAP_PARENTS = np.array(H36M32.parents, dtype=np.int64)

# Published bone offsets of the canonical exp-map skeleton (mm, parent frame, Y up).
# Joints with a zero offset duplicate their parent (hand/thumb anchors, end sites).
H36M_EXPMAP_OFFSETS_MM = np.array([
    [0.0, 0.0, 0.0],
    [-132.948591, 0.0, 0.0],
    [0.0, -442.894612, 0.0],
    [0.0, -454.206447, 0.0],
    [0.0, 0.0, 162.767078],
    [0.0, 0.0, 74.999437],
    [132.948826, 0.0, 0.0],
    [0.0, -442.894413, 0.0],
    [0.0, -454.206590, 0.0],
    [0.0, 0.0, 162.767426],
    [0.0, 0.0, 74.999948],
    [0.0, 0.1, 0.0],
    [0.0, 233.383263, 0.0],
    [0.0, 257.077681, 0.0],
    [0.0, 121.134938, 0.0],
    [0.0, 115.002227, 0.0],
    [0.0, 257.077681, 0.0],
    [0.0, 151.034226, 0.0],
    [0.0, 278.882773, 0.0],
    [0.0, 251.733451, 0.0],
    [0.0, 0.0, 0.0],
    [0.0, 0.0, 99.999627],
    [0.0, 100.000188, 0.0],
    [0.0, 0.0, 0.0],
    [0.0, 257.077681, 0.0],
    [0.0, 151.031437, 0.0],
    [0.0, 278.892924, 0.0],
    [0.0, 251.728680, 0.0],
    [0.0, 0.0, 0.0],
    [0.0, 0.0, 99.999888],
    [0.0, 137.499922, 0.0],
    [0.0, 0.0, 0.0],
])

_NUM_COLUMNS = 99


def load_expmap(path: str | Path) -> np.ndarray:
    """Read one exp-map sequence. Returns ``(T, 99)`` float64 (see the module docstring).

    Raises:
        InputError: unreadable file, wrong column count or non-numeric values.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read file ({getattr(exc, 'strerror', None) or exc})", p) from None
    text = raw.decode("ascii", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError("empty exp-map file", p)
    ncols = lines[0].count(",") + 1
    if ncols != _NUM_COLUMNS:
        raise InputError(f"expected {_NUM_COLUMNS} comma-separated values per line, got {ncols}", p)
    try:
        data = np.array(text.replace(",", " ").split(), dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"non-numeric value ({exc})", p) from None
    if data.size != len(lines) * _NUM_COLUMNS:
        raise InputError(f"ragged lines: {data.size} values over {len(lines)} lines", p)
    data = data.reshape(len(lines), _NUM_COLUMNS)
    if not np.isfinite(data).all():
        raise InputError("NaN or infinite values", p)
    return data


def expmap_to_matrix(r: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: axis-angle vectors ``(..., 3)`` (radians) -> ``(..., 3, 3)``.

    The result rotates column vectors by ``|r|`` about ``r / |r|`` (right-hand rule).
    """
    r = np.asarray(r, dtype=np.float64)
    theta = np.linalg.norm(r, axis=-1)[..., None, None]
    k = np.zeros(r.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -r[..., 2], r[..., 1]
    k[..., 1, 0], k[..., 1, 2] = r[..., 2], -r[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -r[..., 1], r[..., 0]
    # sin(t)/t and (1-cos t)/t^2 with their limits at 0, so tiny angles stay exact.
    small = theta < 1e-8
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(safe) / safe)
    b = np.where(small, 0.5, (1.0 - np.cos(safe)) / safe ** 2)
    return np.eye(3) + a * k + b * (k @ k)


def decode_root(expmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the per-frame root increments into an absolute trajectory.

    Args:
        expmap: ``(T, 99)`` raw rows.
    Returns:
        ``G (T, 3, 3)`` root orientation (local -> skeleton frame, column vectors) and
        ``t (T, 3)`` root position in mm, both in the Y-up skeleton frame, starting at
        identity and the origin.
    """
    expmap = np.asarray(expmap, dtype=np.float64)
    # Rod(w).T is the column-vector form of the published row-vector update.
    steps = np.swapaxes(expmap_to_matrix(expmap[:, 3:6]), -1, -2)
    T = expmap.shape[0]
    G = np.empty((T, 3, 3))
    t = np.empty((T, 3))
    g_prev, t_prev = np.eye(3), np.zeros(3)
    # A running product has no vectorised form; 3x3 products are cheap.
    for i in range(T):
        t_prev = t_prev + g_prev @ expmap[i, 0:3]
        g_prev = g_prev @ steps[i]
        G[i], t[i] = g_prev, t_prev
    return G, t


def forward_kinematics(expmap: np.ndarray, with_trajectory: bool = True) -> np.ndarray:
    """Joint positions of the 32-joint skeleton.

    Args:
        expmap: ``(T, 99)`` raw rows (or ``(99,)`` for one frame).
        with_trajectory: integrate the root translation and rotation increments; with
            ``False`` the root stays at the origin with the identity orientation (a
            body-centred pose, like the motion-prediction literature).
    Returns:
        ``(T, 32, 3)`` float64 positions in mm, Y-up skeleton frame.
    """
    x = np.atleast_2d(np.asarray(expmap, dtype=np.float64))
    if x.shape[-1] != _NUM_COLUMNS:
        raise ValueError(f"expected (T, {_NUM_COLUMNS}) exp-map rows, got shape {x.shape}")
    T = x.shape[0]
    local = np.swapaxes(expmap_to_matrix(x[:, 3:].reshape(T, 32, 3)), -1, -2)
    if with_trajectory:
        g_root, t_root = decode_root(x)
    else:
        g_root, t_root = np.broadcast_to(np.eye(3), (T, 3, 3)), np.zeros((T, 3))
    G = np.empty((T, 32, 3, 3))
    pos = np.empty((T, 32, 3))
    G[:, 0], pos[:, 0] = g_root, t_root + H36M_EXPMAP_OFFSETS_MM[0]
    for j in range(1, 32):
        p = H36M_EXPMAP_PARENTS[j]
        pos[:, j] = pos[:, p] + G[:, p] @ H36M_EXPMAP_OFFSETS_MM[j]
        G[:, j] = G[:, p] @ local[:, j]
    return pos


def yup_to_zup(x: np.ndarray) -> np.ndarray:
    """Rotate points ``(..., 3)`` from a Y-up frame to Z-up: ``(x, y, z) -> (x, -z, y)``."""
    x = np.asarray(x)
    return np.stack([x[..., 0], -x[..., 2], x[..., 1]], axis=-1)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` to unit vector ``b``. ``(3,), (3,) -> (3, 3)``."""
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        # Opposite vectors: half turn about any axis perpendicular to a.
        perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return expmap_to_matrix(np.pi * perp / np.linalg.norm(perp))
    return expmap_to_matrix(axis / s * np.arctan2(s, c))


def level_to_floor(pos: np.ndarray, min_floor_spread_mm: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """Undo the unknown first-frame tilt and put the floor at ``y = 0``.

    The release starts every sequence with the root orientation set to identity, so a
    subject whose pelvis was tipped on frame 0 ends up walking on a slope (S1 walking:
    22 degrees, 1.3 m of height change). The floor is recovered as the plane through the
    lowest joint of every frame when those points spread over a real area (a plane fit
    leaves 5-25 mm residuals on such sequences); for clips spent in one place the mean
    pelvis->thorax direction is taken as up.

    Args:
        pos: ``(T, 32, 3)`` mm, Y-up skeleton frame (from :func:`forward_kinematics`).
        min_floor_spread_mm: RMS spread the floor points need along their second
            principal direction for the plane fit to be used.
    Returns:
        levelled positions ``(T, 32, 3)`` (floor at ``y = 0``, root starting above the
        origin) and the ``(3, 3)`` rotation applied.
    """
    T = pos.shape[0]
    lowest = pos[np.arange(T), pos[:, :, 1].argmin(1)]
    body_up = pos[:, 13] - pos[:, 0]
    body_up = (body_up / np.linalg.norm(body_up, axis=-1, keepdims=True)).mean(0)
    body_up /= np.linalg.norm(body_up)
    centre = lowest.mean(0)
    up = body_up
    if T >= 3:
        _, sv, vt = np.linalg.svd(lowest - centre, full_matrices=False)
        sv = sv / np.sqrt(T)
        if sv[1] >= min_floor_spread_mm and sv[2] < 0.2 * sv[1]:
            up = vt[2] if vt[2] @ body_up > 0 else -vt[2]
    R = _rotation_between(up, np.array([0.0, 1.0, 0.0]))
    out = pos @ R.T
    lowest_y = out[:, :, 1].min(1)
    out[:, :, 1] -= np.median(lowest_y)
    out[:, :, [0, 2]] -= out[0, 0, [0, 2]]
    return out, R


def read_h36m_expmap(path: str | Path, num_joints: int = 17, with_trajectory: bool = True,
                     level: bool = True) -> np.ndarray:
    """Read a sequence and return world joint positions.

    Args:
        path: ``<action>_<k>.txt[.gz]``.
        num_joints: 17 (VideoPose3D's layout, ``H36M17``) or 32 (``H36M32``).
        with_trajectory: see :func:`forward_kinematics`.
        level: apply :func:`level_to_floor` (floor at ``z = 0``, the root starting
            above the world origin).
    Returns:
        ``(T, num_joints, 3)`` float32 in metres, Z-up world, 50 fps.
    """
    if num_joints not in (17, 32):
        raise ValueError(f"num_joints must be 17 or 32, got {num_joints}")
    pos = forward_kinematics(load_expmap(path), with_trajectory)
    if level:
        pos = level_to_floor(pos)[0]
    pos = yup_to_zup(pos) / 1000.0
    if num_joints == 17:
        pos = h36m32_to_h36m17(pos)
    return pos.astype(np.float32)
