"""World placement: from camera-frame skeletons to a Y-up world with the floor at Y = 0.

A monocular video does not show where the floor is, but people stand on it: over a
clip, the lowest foot of each frame traces the ground. The floor is fitted to those
points (robustly, so jumps and sitting do not tilt it); when the feet hardly move (a
person dancing on the spot), a plane through them is ill-determined, and the up
direction is then taken from the body itself (the mean pelvis-to-thorax direction of
upright frames) with the floor height from the lowest feet.

Conventions of the world frame (what Blender, Unity and BVH users expect):

* metres, right-handed, **Y up**, the floor is the plane ``Y = 0``;
* ``X`` is the camera's right direction laid onto the floor, ``Z = X x Y`` points from
  the scene back towards the camera;
* the origin is the point of the floor below the first valid root position.

``X_world = R @ X_camera + t`` with ``R, t`` from :func:`estimate_world_frame`; the
camera sits at ``t`` (its centre), so ``t[1]`` is the camera's height above the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.geometry.skeletons import H36M17

_ANKLES = (H36M17.joint_names.index("right_ankle"), H36M17.joint_names.index("left_ankle"))
_PELVIS, _THORAX = H36M17.joint_names.index("pelvis"), H36M17.joint_names.index("thorax")
# Mocap ankle joint centres sit this far above the sole (Human3.6M and CMU skeletons).
ANKLE_HEIGHT_M = 0.08


@dataclass
class WorldFrame:
    """Camera-to-world transform ``X_world = R @ X_camera + t`` (metres).

    Attributes:
        R: ``(3, 3)`` rotation.
        t: ``(3,)`` translation; the camera centre in world coordinates.
        method: ``"feet-plane"`` (floor fitted to the feet) or ``"body-up"`` (up from
            the spine, floor height from the feet).
    """

    R: np.ndarray
    t: np.ndarray
    method: str

    @property
    def matrix(self) -> np.ndarray:
        """``(4, 4)`` homogeneous camera-to-world matrix."""
        m = np.eye(4)
        m[:3, :3] = self.R
        m[:3, 3] = self.t
        return m

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` -> world ``(..., 3)`` (NaN stays NaN)."""
        p = np.asarray(points, dtype=np.float64)
        return (p @ self.R.T + self.t).astype(np.float32)


def _robust_plane(points: np.ndarray, up_hint: np.ndarray, iters: int = 3) -> tuple[np.ndarray, float, float]:
    """Least-squares plane through ``points (N, 3)`` with outliers above it trimmed.

    Returns the unit normal (sign agreeing with ``up_hint``), the offset ``d`` of
    ``n . x = d``, and the ratio of the two in-plane spreads (small = degenerate).
    """
    keep = np.ones(len(points), bool)
    n, d, ratio = up_hint, 0.0, 0.0
    for _ in range(iters):
        p = points[keep]
        c = p.mean(axis=0)
        _, sv, vt = np.linalg.svd(p - c, full_matrices=False)
        n = vt[2] if np.dot(vt[2], up_hint) >= 0 else -vt[2]
        d = float(n @ c)
        ratio = float(sv[1] / max(sv[0], 1e-9))
        # Feet above the fitted plane are steps in the air; keep the lowest 70 %.
        h = points @ n - d
        keep = h <= np.quantile(h, 0.7)
        if keep.sum() < 10:
            break
    return n, d, ratio


def estimate_world_frame(poses_cam: np.ndarray, valid: np.ndarray | None = None) -> WorldFrame:
    """Fit the floor under absolute camera-frame skeletons.

    Args:
        poses_cam: ``(P, T, 17, 3)`` or ``(T, 17, 3)`` H36M-17 joints, metres, camera
            frame (x right, y down, z forward), i.e. ``poses_3d + trajectory``.
        valid: ``(P, T)`` / ``(T,)`` frames to use (default: all finite frames).
    Returns:
        the :class:`WorldFrame`.
    Raises:
        ValueError: when no frame has finite joints.
    """
    x = np.asarray(poses_cam, dtype=np.float64)
    if x.ndim == 3:
        x = x[None]
        valid = None if valid is None else np.asarray(valid)[None]
    ok = np.isfinite(x).all(axis=(2, 3))
    if valid is not None:
        ok &= np.asarray(valid, bool)
    frames = x[ok]                                           # (N, 17, 3)
    if len(frames) == 0:
        raise ValueError("no valid 3D frame to place in the world")
    spine = frames[:, _THORAX] - frames[:, _PELVIS]
    spine /= np.linalg.norm(spine, axis=-1, keepdims=True) + 1e-9
    body_up = spine.mean(axis=0)
    body_up /= np.linalg.norm(body_up)
    feet = frames[:, list(_ANKLES)]                          # (N, 2, 3)
    lowest = feet[np.arange(len(feet)), np.argmin(feet @ body_up, axis=1)]
    up, method = body_up, "body-up"
    if len(lowest) >= 20:
        n, _, ratio = _robust_plane(lowest, body_up)
        spread = np.ptp(lowest @ np.linalg.svd(lowest - lowest.mean(0))[2][:2].T, axis=0)
        # A plane needs the feet to cover some floor in both directions, and a floor
        # tilted more than 30 degrees from the body's mean up is not believable.
        if ratio > 0.15 and spread.min() > 0.4 and float(n @ body_up) > np.cos(np.radians(30)):
            up, method = n, "feet-plane"
    heights = lowest @ up
    floor = float(np.quantile(heights, 0.05)) - ANKLE_HEIGHT_M
    # World axes in camera coordinates: Y = up, X = camera right on the floor.
    x_axis = np.array([1.0, 0.0, 0.0]) - up * up[0]
    if np.linalg.norm(x_axis) < 1e-6:                       # camera looking straight down the up axis
        x_axis = np.array([0.0, 0.0, 1.0]) - up * up[2]
    x_axis /= np.linalg.norm(x_axis)
    z_axis = np.cross(x_axis, up)
    R = np.stack([x_axis, up, z_axis])                        # rows: world axes in camera coords
    root0 = frames[0, _PELVIS]
    origin = root0 - (float(root0 @ up) - floor) * up         # floor point under the first root
    t = -R @ origin
    return WorldFrame(R=R, t=t, method=method)


def to_world(poses_3d: np.ndarray, trajectory: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, WorldFrame]:
    """The npz contract's camera-frame arrays -> world-frame joints.

    Args:
        poses_3d: ``(P, T, 17, 3)`` root-relative joints, metres, camera frame.
        trajectory: ``(P, T, 3)`` root positions, metres, camera frame.
        valid: ``(P, T)``.
    Returns:
        ``poses_world (P, T, 17, 3)`` float32 (NaN where invalid) and the frame.
    """
    absolute = np.asarray(poses_3d, np.float64) + np.asarray(trajectory, np.float64)[:, :, None, :]
    frame = estimate_world_frame(absolute, valid)
    world = frame.apply(absolute)
    world[~np.asarray(valid, bool)] = np.nan
    return world, frame
