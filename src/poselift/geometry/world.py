"""World placement: from camera-frame skeletons to a Y-up world with the floor at Y = 0.

A monocular video does not show where the floor is, but people stand on it: over a
clip, the lowest foot of each frame traces the ground. The floor is fitted to those
points (robustly, so jumps and sitting do not tilt it); when the feet hardly move (a
person dancing on the spot), a plane through them is ill-determined, and the up
direction is then taken from the body itself (the mean pelvis-to-thorax direction of
upright frames) with the floor height from the lowest feet. The floor's height puts the
lower ankle of standing frames one ankle height above it, and one floor serves everyone
in the video; :func:`ground_trajectory` then moves each person along their camera rays so
their feet meet it (:func:`place_in_world` does all of it).

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


def _robust_plane(points: np.ndarray, up_hint: np.ndarray, groups: np.ndarray | None = None,
                  iters: int = 3) -> tuple[np.ndarray, float, float]:
    """Least-squares plane normal through ``points (N, 3)`` with outliers above it trimmed.

    With ``groups`` (``(N,)`` person index), each person's points are centred on their
    own mean first: one person's distance error (a monocular lift's unknown scale)
    shifts their feet off the others' but must not tilt the shared floor.

    Returns the unit normal (sign agreeing with ``up_hint``), the offset ``d`` of
    ``n . x = d`` (over all points), and the ratio of the two in-plane spreads (small =
    degenerate).
    """
    g = np.zeros(len(points), np.int64) if groups is None else np.asarray(groups)
    keep = np.ones(len(points), bool)
    n, d, ratio = up_hint, 0.0, 0.0
    for _ in range(iters):
        centred = np.empty_like(points)
        for k in np.unique(g):
            sel = g == k
            centred[sel] = points[sel] - points[sel & keep].mean(axis=0) if (sel & keep).any() else 0.0
        _, sv, vt = np.linalg.svd(centred[keep], full_matrices=False)
        n = vt[2] if np.dot(vt[2], up_hint) >= 0 else -vt[2]
        d = float(n @ points[keep].mean(axis=0))
        ratio = float(sv[1] / max(sv[0], 1e-9))
        # Feet above the fitted plane are steps in the air; keep the lowest 70 %.
        h = centred @ n
        keep = h <= np.quantile(h, 0.7)
        if keep.sum() < 10:
            break
    return n, d, ratio


def _upright(frames: np.ndarray, up: np.ndarray, max_deg: float = 35.0) -> np.ndarray:
    """``(N,)`` frames whose pelvis-to-thorax direction is within ``max_deg`` of ``up``."""
    spine = frames[..., _THORAX, :] - frames[..., _PELVIS, :]
    cos = (spine @ up) / (np.linalg.norm(spine, axis=-1) + 1e-9)
    return cos > np.cos(np.radians(max_deg))


def _standing_level(heights: np.ndarray, upright: np.ndarray) -> float:
    """Typical height of the lower ankle while standing, from per-frame lower-ankle heights.

    Jumps, steps and depth noise only ever add frames *above* the standing level, so
    the top 20 % of upright frames are dropped and the median of the rest is taken.
    Falls back to all frames when fewer than 10 are upright.
    """
    h = heights[upright] if upright.sum() >= 10 else heights
    return float(np.median(h[h <= np.quantile(h, 0.8)]))


def estimate_world_frame(poses_cam: np.ndarray, valid: np.ndarray | None = None) -> WorldFrame:
    """Fit the floor under absolute camera-frame skeletons.

    Args:
        poses_cam: ``(P, T, 17, 3)`` or ``(T, 17, 3)`` H36M-17 joints, metres, camera
            frame (x right, y down, z forward), i.e. ``poses_3d + trajectory``.
        valid: ``(P, T)`` / ``(T,)`` frames to use (default: all finite frames).
    Returns:
        the :class:`WorldFrame`; one floor shared by every person.
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
    person = np.nonzero(ok)[0]                               # (N,) whose frame it is
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
        n, _, ratio = _robust_plane(lowest, body_up, person)
        spread = np.ptp(lowest @ np.linalg.svd(lowest - lowest.mean(0))[2][:2].T, axis=0)
        # A plane needs the feet to cover some floor in both directions, and a floor
        # tilted more than 30 degrees from the body's mean up is not believable.
        if ratio > 0.15 and spread.min() > 0.4 and float(n @ body_up) > np.cos(np.radians(30)):
            up, method = n, "feet-plane"
    heights = lowest @ up
    # The floor lies one ankle height below where the lower ankle typically is while
    # standing. (A low quantile of all frames, used before, sat on the extreme of the
    # depth noise, which with a pitched camera moves feet up and down by +-0.2 m, and so
    # left the typical standing ankle 0.2 m above the floor.)
    floor = _standing_level(heights, _upright(frames, up)) - ANKLE_HEIGHT_M
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


def _second_difference_gram(n: int) -> np.ndarray:
    """Upper banded form (3 rows, scipy's ``solveh_banded`` layout) of ``L^T L`` for the
    ``(n - 2, n)`` second-difference operator ``L``."""
    ab = np.zeros((3, n))
    if n < 3:
        return ab
    # Row i of L is (1, -2, 1) at columns i..i+2; accumulate its products band by band.
    i = np.arange(n - 2)
    d0, d1, d2 = np.zeros(n), np.zeros(n - 1), np.zeros(n - 2)
    c = np.array([1.0, -2.0, 1.0])
    for a in range(3):
        d0[i + a] += c[a] * c[a]
        for b in range(a + 1, 3):
            if b - a == 1:
                d1[i + a] += c[a] * c[b]
            else:
                d2[i + a] += c[a] * c[b]
    ab[2] = d0
    ab[1, 1:] = d1
    ab[0, 2:] = d2
    return ab


def _banded_matvec(ab: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``A @ x`` for a symmetric matrix in upper banded form with 3 rows."""
    y = ab[2] * x
    y[:-1] += ab[1, 1:] * x[1:]
    y[1:] += ab[1, 1:] * x[:-1]
    y[:-2] += ab[0, 2:] * x[2:]
    y[2:] += ab[0, 2:] * x[:-2]
    return y


# Grounding weights, for metres of foot height and metres of depth: the cost of root
# depth acceleration (frame-to-frame second difference, at 30 fps; depth from a single
# view jitters by 0.1-0.2 m a frame, which is what makes planted feet slide) and of
# moving a root at all (where the ray is nearly parallel to the floor the foot height
# says little about depth).
_SMOOTH_30FPS = 300.0
_PRIOR = 0.02
_AIRBORNE_M = 0.2   # lower ankle this far above ankle height after grounding: a jump, not contact


def ground_trajectory(poses_3d: np.ndarray, trajectory: np.ndarray, valid: np.ndarray,
                      frame: WorldFrame | None, fps: float = 30.0) -> np.ndarray:
    """Move each person along their camera rays so that their feet stand on the floor.

    Monocular root depth is the least certain quantity of the reconstruction: frame to
    frame it jitters by 0.1-0.2 m, and a person's overall distance is off by their
    unknown height. With a camera above or below the hips, depth errors move the feet
    up and down against the floor (hovering, sinking), and the jitter slides planted
    feet over it. The floor is known, so on standing frames it pins the depth: each
    root slides along its own camera ray (its 2D position unchanged) by ``delta_t``
    metres, solved per person by least squares on the lower ankle's height error, plus
    a cost on the root depth's acceleration (smooth depth, no sliding) and a small one
    on ``delta`` itself. Frames that are not upright, and frames where the foot stays
    clearly above the floor (jumps), give no height target; their depth follows the
    neighbouring frames.

    Args:
        poses_3d: ``(P, T, 17, 3)`` root-relative joints, metres, camera frame.
        trajectory: ``(P, T, 3)`` root positions, metres, camera frame.
        valid: ``(P, T)``.
        frame: the shared floor (:func:`estimate_world_frame`); None only smooths the
            depth along the rays (no floor term), which is how the floor is first fitted:
            depth jitter spreads each foot along its ray and would tilt a plane.
        fps: frame rate (the depth smoothness is set in seconds, not frames).
    Returns:
        the grounded ``(P, T, 3)`` trajectory (float64; NaN stays NaN).
    """
    from scipy.linalg import solveh_banded

    poses = np.asarray(poses_3d, np.float64)
    traj = np.asarray(trajectory, np.float64).copy()
    valid = np.asarray(valid, bool) & np.isfinite(traj).all(-1) & np.isfinite(poses).all(axis=(-1, -2))
    up = frame.R[1] if frame is not None else np.array([0.0, -1.0, 0.0])  # world up, camera coordinates
    floor = float(-frame.t[1]) if frame is not None else 0.0   # up . x of floor points (camera at 0)
    smooth = _SMOOTH_30FPS * (max(fps, 1.0) / 30.0) ** 4       # same cut-off frequency at any rate
    for p in range(traj.shape[0]):
        idx = np.flatnonzero(valid[p])
        if len(idx) < 2:
            continue
        # consecutive runs of valid frames are grounded separately
        for run in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
            root = traj[p, run]
            dist = np.linalg.norm(root, axis=-1)
            ray = root / np.maximum(dist, 1e-9)[:, None]
            gain = ray @ up                                    # foot height change per metre of depth
            ankle_h = (poses[p, run][:, list(_ANKLES)] @ up).min(axis=1) + root @ up - floor
            err = ankle_h - ANKLE_HEIGHT_M                      # metres above where it should be
            contact = _upright(poses[p, run], up).astype(np.float64) * (frame is not None)
            gram = smooth * _second_difference_gram(len(run))
            delta = np.zeros(len(run))
            for _ in range(3):
                ab = gram.copy()
                ab[2] += contact * gain ** 2 + _PRIOR
                rhs = -contact * gain * err - _banded_matvec(gram, dist)
                delta = solveh_banded(ab, rhs)
                # Feet well above this person's grounded level are off the floor (a jump):
                # re-solve without them. Relative to the level, not to the floor, so a
                # person starting far off the floor is not all dropped on the first pass.
                left = err + gain * delta
                on = contact > 0
                level = float(np.median(left[on])) if on.any() else 0.0
                contact = contact * (left - max(level, 0.0) < _AIRBORNE_M)
            delta = np.clip(delta, -0.3 * dist, 0.3 * dist)
            traj[p, run] = root + delta[:, None] * ray
    return traj


@dataclass
class WorldPlacement:
    """Result of :func:`place_in_world`.

    Attributes:
        poses_world: ``(P, T, 17, 3)`` float32 world joints (NaN where invalid).
        frame: the shared :class:`WorldFrame`.
        trajectory: ``(P, T, 3)`` float32 camera-frame roots the world joints were made
            from: ``poses_world = frame.apply(poses_3d + trajectory)``.
    """

    poses_world: np.ndarray
    frame: WorldFrame
    trajectory: np.ndarray


def place_in_world(poses_3d: np.ndarray, trajectory: np.ndarray, valid: np.ndarray,
                   fps: float = 30.0, ground: bool = True) -> WorldPlacement:
    """The npz contract's camera-frame arrays -> world-frame joints on one shared floor.

    Args:
        poses_3d: ``(P, T, 17, 3)`` root-relative joints, metres, camera frame.
        trajectory: ``(P, T, 3)`` root positions, metres, camera frame.
        valid: ``(P, T)``.
        fps: frame rate (for the grounding's depth smoothness).
        ground: refine the root depth so the feet stand on the floor
            (:func:`ground_trajectory`); the floor is then refitted and the roots
            grounded once more on it.
    Raises:
        ValueError: when no frame has finite joints.
    """
    poses = np.asarray(poses_3d, np.float64)
    traj = np.asarray(trajectory, np.float64)
    valid = np.asarray(valid, bool)
    if ground:
        frame = estimate_world_frame(poses + ground_trajectory(poses, traj, valid, None, fps)[:, :, None, :], valid)
        for _ in range(2):
            traj = ground_trajectory(poses, traj, valid, frame, fps)
            frame = estimate_world_frame(poses + traj[:, :, None, :], valid)
    else:
        frame = estimate_world_frame(poses + traj[:, :, None, :], valid)
    world = frame.apply(poses + traj[:, :, None, :])
    world[~valid] = np.nan
    return WorldPlacement(world, frame, traj.astype(np.float32))


def to_world(poses_3d: np.ndarray, trajectory: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, WorldFrame]:
    """:func:`place_in_world` without grounding: the rigid placement of the given roots.

    Returns:
        ``poses_world (P, T, 17, 3)`` float32 (NaN where invalid) and the frame.
    """
    placed = place_in_world(poses_3d, trajectory, valid, ground=False)
    return placed.poses_world, placed.frame


def foot_contact_metrics(poses_world: np.ndarray, valid: np.ndarray, fps: float) -> list[dict[str, float]]:
    """How well each person's feet meet the floor ``Y = 0`` (world frame, metres).

    Standing frames are valid frames whose spine is within 35 degrees of vertical; on
    them the *lower* ankle is taken as the foot on the floor.

    Returns, per person:
        ``standing``: number of standing frames;
        ``ankle_height_m``: median height of the lower ankle on standing frames (an
        ankle joint sits about :data:`ANKLE_HEIGHT_M` above the sole);
        ``skate_m_s``: median horizontal speed of that foot between consecutive standing
        frames (the same foot on both frames: the one lower on the first), metres/second;
        ``penetration_frac``: share of valid frames whose lower ankle is more than 3 cm
        below ankle height (the sole under the floor);
        ``penetration_m``: mean depth below ankle height over valid frames (0 when above).
    """
    w = np.asarray(poses_world, np.float64)
    valid = np.asarray(valid, bool) & np.isfinite(w).all(axis=(-1, -2))
    out = []
    up = np.array([0.0, 1.0, 0.0])
    for p in range(w.shape[0]):
        x = w[p]
        ankles = x[:, list(_ANKLES)]                                    # (T, 2, 3)
        which = np.argmin(ankles[..., 1], axis=1)
        low = ankles[np.arange(len(x)), which]                          # (T, 3)
        stand = valid[p] & _upright(x, up)
        pair = stand[:-1] & stand[1:]
        t = np.flatnonzero(pair)
        foot_next = ankles[t + 1, which[t]]
        speed = np.linalg.norm((foot_next - low[t])[:, [0, 2]], axis=-1) * fps
        h = low[valid[p], 1]
        below = np.maximum(0.0, ANKLE_HEIGHT_M - h)
        out.append({
            "standing": int(stand.sum()),
            "ankle_height_m": float(np.median(low[stand, 1])) if stand.any() else float("nan"),
            "skate_m_s": float(np.median(speed)) if len(speed) else float("nan"),
            "penetration_frac": float((below > 0.03).mean()) if len(h) else float("nan"),
            "penetration_m": float(below.mean()) if len(h) else float("nan"),
        })
    return out
