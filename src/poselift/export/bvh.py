"""BVH export: one person's 3D skeleton (H36M17) as a Biovision Hierarchy motion file.

Conventions of the written file
-------------------------------
* Axes: Y up, Z toward the viewer (the camera), X to the camera's right. A camera-frame
  point ``(x, y, z)`` (x right, y down, z forward) becomes ``(x, -y, -z)``: a 180° turn
  about x, so the frame stays right-handed. A person facing the camera faces +Z.
* Units: centimetres by default (``units="m"`` for metres).
* Hierarchy: the H36M17 joints under their own names. ``ROOT pelvis`` has six channels
  ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``; every other joint has
  ``Zrotation Xrotation Yrotation`` (local ``R = Rz @ Rx @ Ry``, degrees). Ankles, wrists
  and the head end in an ``End Site`` a quarter of their bone's length beyond them, along
  the bone.
* Rest pose (all channels zero): a T-pose-like pose built from the person's median bone
  lengths: spine, neck and head straight up, legs straight down, arms horizontal
  sideways (left arm toward +X). The hips and spine around the pelvis and the neck and
  shoulders around the thorax keep the person's own shapes, fitted over the clip
  (:func:`poselift.geometry.rigid.rest_offsets`), since their rotations cannot change them.
* The motion is the rigid skeleton fitted to the positions
  (:mod:`poselift.geometry.rigid`): the pelvis and thorax rotate by weighted Procrustes
  onto their children, every other joint by the smallest rotation (in its parent's
  frame) aiming its bone at the observed child. The file therefore plays back exactly
  :func:`~poselift.geometry.rigid.fit_rigid_skeleton` of its input, which is what
  ``poselift infer`` stores (with fixed bones, the default): re-imported, the joints
  match the npz to float precision without smoothing.
* Root translation: the pelvis position from ``trajectory``. Without one (``None`` or
  all zero) the pelvis stays above the origin, raised so the lowest ankle over the clip
  touches ``Y = 0``.
* Invalid frames hold the previous valid pose (the first valid pose before it): BVH has
  no gaps.
* Smoothing (``smooth=True``): a centred Gaussian (σ = 1 frame) over the joint positions
  before solving rotations; symmetric, so zero-phase (no lag).
* Euler angles are unwrapped over time (for each frame the one of the two equivalent
  ZXY triples, shifted by multiples of 360°, nearest to the previous frame's), so they
  do not jump by 360°.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poselift.errors import PoseliftError
from poselift.fsutil import atomic_write
from poselift.geometry.rigid import pose_chain, rest_offsets
from poselift.geometry.skeletons import H36M17

__all__ = ["write_bvh", "matrices_to_zxy", "camera_to_bvh", "bvh_to_camera"]

NAMES = H36M17.joint_names
PARENTS = np.asarray(H36M17.parents)
CHILDREN = [[c for c, p in enumerate(H36M17.parents) if p == j] for j in range(len(NAMES))]
_J = {n: i for i, n in enumerate(NAMES)}
_UNITS = {"cm": 100.0, "m": 1.0}
END_FRACTION = 0.25


def camera_to_bvh(p: np.ndarray) -> np.ndarray:
    """Camera axes (x right, y down, z forward) to BVH axes (Y up, Z toward the camera)."""
    return np.asarray(p, dtype=np.float64) * np.array([1.0, -1.0, -1.0])


def bvh_to_camera(p: np.ndarray) -> np.ndarray:
    """Inverse of :func:`camera_to_bvh` (the same flip)."""
    return camera_to_bvh(p)


def _hold_invalid(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid frames by the previous valid one (the first valid before it)."""
    idx = np.where(valid, np.arange(len(valid)), -1)
    idx = np.maximum.accumulate(idx)
    idx[idx < 0] = np.flatnonzero(valid)[0]
    return x[idx]


def _gaussian_zero_phase(x: np.ndarray, sigma: float) -> np.ndarray:
    """Centred Gaussian along axis 0, edges padded with the end values."""
    if sigma <= 0 or len(x) < 2:
        return x
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.concatenate([np.repeat(x[:1], r, 0), x, np.repeat(x[-1:], r, 0)])
    out = np.zeros_like(x)
    for i, w in enumerate(k):
        out += w * pad[i:i + len(x)]
    return out


def matrices_to_zxy(R: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations (``Rz @ Rx @ Ry``) to (T, 3) degrees ``(z, x, y)``, continuous over time."""
    R = np.asarray(R, dtype=np.float64)
    x = np.arcsin(np.clip(R[:, 2, 1], -1.0, 1.0))
    cx = np.cos(x)
    gimbal = cx < 1e-6
    z = np.where(gimbal, np.arctan2(R[:, 1, 0], R[:, 0, 0]), np.arctan2(-R[:, 0, 1], R[:, 1, 1]))
    y = np.where(gimbal, 0.0, np.arctan2(-R[:, 2, 0], R[:, 2, 2]))
    a = np.stack([z, x, y], -1)
    b = np.stack([z + np.pi, np.pi - x, y + np.pi], -1)  # the other triple giving the same matrix
    out = np.empty_like(a)
    out[0] = a[0]
    two_pi = 2 * np.pi
    for t in range(1, len(a)):
        prev = out[t - 1]
        best, best_d = None, np.inf
        for cand in (a[t], b[t]):
            c = cand + two_pi * np.round((prev - cand) / two_pi)
            d = np.sum((c - prev) ** 2)
            if d < best_d:
                best, best_d = c, d
        out[t] = best
    return np.degrees(out)


def _solve(X: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest offsets (J, 3) and local rotations (T, J, 3, 3) of the rigid skeleton fitted to
    the BVH-axes positions X (T, J, 3) (:mod:`poselift.geometry.rigid`; shapes from the valid frames)."""
    offsets, _ = rest_offsets(X[valid])
    G, _ = pose_chain(X, offsets)
    Gp = np.concatenate([np.broadcast_to(np.eye(3), (len(X), 1, 3, 3)), G[:, PARENTS[1:]]], axis=1)
    return offsets, np.swapaxes(Gp, -1, -2) @ G


def write_bvh(path: str | Path, poses: np.ndarray, trajectory: np.ndarray | None, fps: float,
              valid: np.ndarray | None = None, *, units: str = "cm", smooth: bool = True) -> Path:
    """Write one person's motion as BVH (conventions in the module docstring).

    Args:
        path: output ``.bvh`` file (written atomically).
        poses: ``(T, 17, 3)`` H36M17 joints, metres, camera frame, root-relative.
        trajectory: ``(T, 3)`` root position, metres, camera frame; ``None``/all zero: none.
        fps: frame rate (``Frame Time`` = 1/fps).
        valid: ``(T,)`` bool; invalid frames hold the previous valid pose. Default: all
            frames with finite poses.
        units: ``"cm"`` (default) or ``"m"``.
        smooth: zero-phase Gaussian smoothing (σ = 1 frame) of the positions.
    Returns:
        ``path``.
    """
    if units not in _UNITS:
        raise ValueError(f"units must be 'cm' or 'm', got {units!r}")
    poses = np.asarray(poses, dtype=np.float64)
    T = poses.shape[0]
    if poses.shape[1:] != (17, 3):
        raise ValueError(f"poses must be (T, 17, 3), got {poses.shape}")
    finite = np.isfinite(poses).all(axis=(1, 2))
    valid = finite if valid is None else (np.asarray(valid, bool) & finite)
    if T == 0 or not valid.any():
        raise PoseliftError("no valid frame to write as BVH", path)
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    scale = _UNITS[units]
    rel = _hold_invalid(poses - poses[:, :1], valid)
    if trajectory is not None:
        trajectory = np.asarray(trajectory, dtype=np.float64)
        tv = valid & np.isfinite(trajectory).all(-1)
        if not tv.any() or not np.any(trajectory[tv] != 0):
            trajectory = None
    if trajectory is not None:
        root = camera_to_bvh(_hold_invalid(trajectory, tv)) * scale
    else:
        root = None
    X = camera_to_bvh(rel) * scale
    if root is not None:
        X = X + root[:, None]
    if smooth:
        X = _gaussian_zero_phase(X, 1.0)
    if root is None:
        X = X - X[:, :1]  # pelvis above the origin, lowest ankle of the clip on the floor
        X[..., 1] -= X[:, [_J["right_ankle"], _J["left_ankle"]], 1].min()
    offsets, L = _solve(X, valid)
    angles = np.stack([matrices_to_zxy(L[:, j]) for j in range(17)], axis=1)  # (T, J, 3)

    order: list[int] = []
    lines = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        kw = "ROOT" if j == 0 else "JOINT"
        lines.append(f"{ind}{kw} {NAMES[j]}")
        lines.append(f"{ind}{{")
        o = offsets[j]
        lines.append(f"{ind}  OFFSET {o[0]:.6f} {o[1]:.6f} {o[2]:.6f}")
        chans = "Xposition Yposition Zposition Zrotation Xrotation Yrotation" if j == 0 else \
            "Zrotation Xrotation Yrotation"
        lines.append(f"{ind}  CHANNELS {6 if j == 0 else 3} {chans}")
        order.append(j)
        if CHILDREN[j]:
            for c in CHILDREN[j]:
                emit(c, depth + 1)
        else:
            e = END_FRACTION * offsets[j]
            lines.extend([f"{ind}  End Site", f"{ind}  {{",
                          f"{ind}    OFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}",
                          f"{ind}  }}"])
        lines.append(f"{ind}}}")

    emit(0, 0)
    cols = [X[:, 0]] + [angles[:, j] for j in order]
    motion = np.concatenate(cols, axis=1)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / float(fps):.8f}"]
    body = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in motion)
    text = "\n".join(lines) + "\n" + body + "\n"
    return atomic_write(path, lambda p: p.write_text(text))
