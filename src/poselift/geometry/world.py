"""World placement: from camera-frame skeletons to a Y-up world with the floor at Y = 0.

A monocular video does not show where the floor is, but people stand on it: over a
clip, the lowest foot of each standing frame traces the ground (with the 2D given, only
frames whose feet the detector saw, in the image and confidently scored, count: a foot
out of the picture is the network's guess). The floor is fitted to those points
(robustly, so jumps and sitting do not tilt it); when the feet hardly move (a
person dancing on the spot), a plane through them is ill-determined, and the up
direction is then taken from the body itself (the mean pelvis-to-thorax direction of
upright frames) with the floor height from the lowest feet. The floor's height puts the
lower ankle of *standing* frames one ankle height above it (see :func:`standing_frames`:
upright, feet in view, the lower foot at its lowest and not moving up or down; a jump's
flight or a foot out of the picture is not standing), and one floor serves everyone in
the video; :func:`ground_trajectory` then moves each person along their camera rays so
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

import warnings
from dataclasses import dataclass

import numpy as np

from poselift.geometry.skeletons import H36M17

_ANKLES = (H36M17.joint_names.index("right_ankle"), H36M17.joint_names.index("left_ankle"))
_PELVIS, _THORAX = H36M17.joint_names.index("pelvis"), H36M17.joint_names.index("thorax")
# Mocap ankle joint centres sit this far above the sole (Human3.6M and CMU skeletons).
ANKLE_HEIGHT_M = 0.08

# Standing frames (see standing_frames). A foot on the floor is at the lowest it gets
# around that moment: within _CONTACT_TOL_M of the lowest height of the lower ankle over
# +-_CONTACT_WINDOW_S (longer than a step's stance and than a bounce on a bed, so a
# flight is never its own minimum), and hardly moving vertically.
_CONTACT_WINDOW_S = 0.4
_CONTACT_TOL_M = 0.05
_CONTACT_SPEED_M_S = 1.0
# Feet in view (see feet_in_view): an ankle scored at least this by the detector, and
# inside the image by at least this fraction of the person's height in the image: the
# sole reaches about an ankle height (5 % of a body) beyond the ankle, so a foot nearer
# the frame's edge is cut by it and its ankle partly guessed.
FOOT_MIN_SCORE = 0.5
FOOT_EDGE_MARGIN = 0.05


def feet_in_view(keypoints_2d: np.ndarray, scores_2d: np.ndarray, image_size: tuple[int, int],
                 min_score: float = FOOT_MIN_SCORE, margin: float = FOOT_EDGE_MARGIN) -> np.ndarray:
    """Frames whose two ankles the detector actually saw.

    Args:
        keypoints_2d: ``(P, T, 17, 2)`` H36M-17 pixels (NaN where absent).
        scores_2d: ``(P, T, 17)`` confidences in ``[0, 1]``.
        image_size: ``(width, height)`` pixels.
        min_score: least confidence of each ankle.
        margin: least distance of each ankle from the image border, as a fraction of the
            person's height in the image (the vertical extent of their 17 keypoints).
    Returns:
        ``(P, T)`` bool. Where a foot is out of the picture or hidden, the lifted ankle is
        the network's guess, and a guess must neither set the floor nor be pulled onto it.
    """
    all_kp = np.asarray(keypoints_2d, np.float64)
    kp = all_kp[..., list(_ANKLES), :]                                      # (P, T, 2, 2)
    sc = np.asarray(scores_2d, np.float64)[..., list(_ANKLES)]
    w, h = float(image_size[0]), float(image_size[1])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)              # frames without 2D: all NaN
        tall = np.nanmax(all_kp[..., 1], axis=-1) - np.nanmin(all_kp[..., 1], axis=-1)   # (P, T)
        m = (margin * tall)[..., None]
        inside = (kp[..., 0] >= m) & (kp[..., 0] <= w - m) & (kp[..., 1] >= m) & (kp[..., 1] <= h - m)
        return (inside & (sc >= min_score)).all(axis=-1)


def standing_frames(heights: np.ndarray, usable: np.ndarray, fps: float) -> np.ndarray:
    """Frames of one person where the lower foot is on the floor.

    Args:
        heights: ``(T,)`` height of the lower ankle along the up direction, metres, any
            offset (NaN where unknown); only differences matter, so the choice does not
            depend on where the floor is.
        usable: ``(T,)`` frames that may stand at all (valid, upright, feet in view).
        fps: frame rate.
    Returns:
        ``(T,)`` bool: usable frames whose lower ankle is within 5 cm of its lowest
        usable height over +-0.4 s and moves vertically by less than 1 m/s (the
        surface gives a little: a mattress, a sprung floor, the lift's depth jitter). Flights
        of a jump or a bounce, and a foot swinging, are not standing.
    """
    h = np.asarray(heights, np.float64)
    use = np.asarray(usable, bool) & np.isfinite(h)
    t = len(h)
    if not use.any():
        return use
    half = max(1, int(round(_CONTACT_WINDOW_S * max(fps, 1.0))))
    low = np.where(use, h, np.inf)
    local = low.copy()
    for k in range(1, min(half, t - 1) + 1):
        local[:-k] = np.minimum(local[:-k], low[k:])
        local[k:] = np.minimum(local[k:], low[:-k])
    # Vertical speed by central differences between neighbouring known frames.
    fin = np.isfinite(h)
    speed = np.full(t, np.inf)
    prev_ok, next_ok = np.r_[False, fin[:-1]], np.r_[fin[1:], False]
    hp, hn = np.r_[np.nan, h[:-1]], np.r_[h[1:], np.nan]
    both = fin & prev_ok & next_ok
    speed[both] = np.abs(hn[both] - hp[both]) / 2.0
    only_n = fin & ~prev_ok & next_ok
    speed[only_n] = np.abs(hn[only_n] - h[only_n])
    only_p = fin & prev_ok & ~next_ok
    speed[only_p] = np.abs(h[only_p] - hp[only_p])
    speed *= max(fps, 1.0)
    return use & (h - local <= _CONTACT_TOL_M) & (speed <= _CONTACT_SPEED_M_S)


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


def estimate_world_frame(poses_cam: np.ndarray, valid: np.ndarray | None = None,
                         feet_visible: np.ndarray | None = None, fps: float = 30.0) -> WorldFrame:
    """Fit the floor under absolute camera-frame skeletons.

    Args:
        poses_cam: ``(P, T, 17, 3)`` or ``(T, 17, 3)`` H36M-17 joints, metres, camera
            frame (x right, y down, z forward), i.e. ``poses_3d + trajectory``.
        valid: ``(P, T)`` / ``(T,)`` frames to use (default: all finite frames).
        feet_visible: ``(P, T)`` / ``(T,)`` frames whose feet the detector saw
            (:func:`feet_in_view`); only they place the floor when there are at least
            10 of them (default: every frame counts).
        fps: frame rate (standing frames are chosen over a window in seconds).
    Returns:
        the :class:`WorldFrame`; one floor shared by every person, one ankle height
        under the lower ankle of their standing frames (:func:`standing_frames`).
    Raises:
        ValueError: when no frame has finite joints.
    """
    x = np.asarray(poses_cam, dtype=np.float64)
    if x.ndim == 3:
        x = x[None]
        valid = None if valid is None else np.asarray(valid)[None]
        feet_visible = None if feet_visible is None else np.asarray(feet_visible)[None]
    ok = np.isfinite(x).all(axis=(2, 3))
    if valid is not None:
        ok &= np.asarray(valid, bool)
    frames = x[ok]                                           # (N, 17, 3)
    if len(frames) == 0:
        raise ValueError("no valid 3D frame to place in the world")
    seen = ok
    if feet_visible is not None and (ok & np.asarray(feet_visible, bool)).sum() >= 10:
        seen = ok & np.asarray(feet_visible, bool)
    spine = frames[:, _THORAX] - frames[:, _PELVIS]
    spine /= np.linalg.norm(spine, axis=-1, keepdims=True) + 1e-9
    body_up = spine.mean(axis=0)
    body_up /= np.linalg.norm(body_up)
    xs = np.where(ok[..., None, None], x, 0.0)
    feet = xs[:, :, list(_ANKLES)]                           # (P, T, 2, 3)
    which = np.argmin(feet @ body_up, axis=2)                # (P, T) the lower ankle
    lowest_all = np.take_along_axis(feet, which[..., None, None], axis=2)[:, :, 0]   # (P, T, 3)
    # The plane goes through the feet of standing frames (chosen along the body's up,
    # which is close enough for that): the flights of someone bouncing in place are most
    # of their frames, too many for the fit's trimming, and tilt the floor towards them.
    first = np.stack([standing_frames(np.where(ok[p], lowest_all[p] @ body_up, np.nan),
                                      seen[p] & _upright(xs[p], body_up), fps) for p in range(len(x))])
    on_floor = first if first.sum() >= 20 else seen
    lowest = lowest_all[on_floor]
    person = np.nonzero(on_floor)[0]                         # whose frame each point is
    up, method = body_up, "body-up"
    if len(lowest) >= 20:
        n, _, ratio = _robust_plane(lowest, body_up, person)
        spread = np.ptp(lowest @ np.linalg.svd(lowest - lowest.mean(0))[2][:2].T, axis=0)
        # A plane needs the feet to cover some floor in both directions, and a floor
        # tilted more than 30 degrees from the body's mean up is not believable.
        if ratio > 0.15 and spread.min() > 0.4 and float(n @ body_up) > np.cos(np.radians(30)):
            up, method = n, "feet-plane"
    heights = np.where(ok, lowest_all @ up, np.nan)          # (P, T)
    upright = ok & _upright(xs, up)
    # The floor lies one ankle height below the lower ankle of standing frames: the
    # moments each person's feet are down and still (the bottom of a jump, the stance
    # of a step), never a flight or a guessed foot. (A low quantile of all frames, used
    # before, sat on the extreme of the depth noise, which with a pitched camera moves
    # feet up and down by +-0.2 m; a median of all upright frames counted flights.)
    stand = np.stack([standing_frames(heights[p], upright[p] & seen[p], fps) for p in range(len(x))])
    if stand.sum() >= 5:
        level = float(np.median(heights[stand]))
    else:
        level = _standing_level(heights[ok], upright[ok])
    floor = level - ANKLE_HEIGHT_M
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
_MIN_CONTACTS = 3  # fewer standing frames than this pin nothing (one frame may be a fluke)


def ground_trajectory(poses_3d: np.ndarray, trajectory: np.ndarray, valid: np.ndarray,
                      frame: WorldFrame | None, fps: float = 30.0,
                      feet_visible: np.ndarray | None = None) -> np.ndarray:
    """Move each person along their camera rays so that their feet stand on the floor.

    Monocular root depth is the least certain quantity of the reconstruction: frame to
    frame it jitters by 0.1-0.2 m, and a person's overall distance is off by their
    unknown height. With a camera above or below the hips, depth errors move the feet
    up and down against the floor (hovering, sinking), and the jitter slides planted
    feet over it. The floor is known, so on standing frames it pins the depth: each
    root slides along its own camera ray (its 2D position unchanged) by ``delta_t``
    metres, solved per person by least squares on the lower ankle's height error, plus
    a cost on the root depth's acceleration (smooth depth, no sliding) and a small one
    on ``delta`` itself. Only standing frames (:func:`standing_frames`: upright, feet in
    view, the lower foot down and still) give a height target; the others (flights,
    swings, feet out of the picture) follow the neighbouring frames' depth, and a person
    never seen standing is only smoothed, not pulled onto a floor.

    Args:
        poses_3d: ``(P, T, 17, 3)`` root-relative joints, metres, camera frame.
        trajectory: ``(P, T, 3)`` root positions, metres, camera frame.
        valid: ``(P, T)``.
        frame: the shared floor (:func:`estimate_world_frame`); None only smooths the
            depth along the rays (no floor term), which is how the floor is first fitted:
            depth jitter spreads each foot along its ray and would tilt a plane.
        fps: frame rate (the depth smoothness is set in seconds, not frames).
        feet_visible: ``(P, T)`` frames whose feet the detector saw (:func:`feet_in_view`);
            default: all.
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
            usable = _upright(poses[p, run], up) & (frame is not None)
            if feet_visible is not None:
                usable &= np.asarray(feet_visible, bool)[p, run]
            gram = smooth * _second_difference_gram(len(run))
            delta = np.zeros(len(run))
            for _ in range(3):
                # Standing frames from the current heights (their choice does not depend
                # on the floor's height, so a person far off the floor keeps them).
                contact = standing_frames(err + gain * delta, usable, fps).astype(np.float64)
                if contact.sum() < _MIN_CONTACTS:
                    contact[:] = 0.0
                # The prior weighs against the standing frames as a whole, so that a person
                # seen standing in a fifth of the frames is grounded as firmly as one
                # standing all along; nobody standing: the depth is only smoothed.
                prior = _PRIOR * (contact.mean() if contact.any() else 1.0)
                ab = gram.copy()
                ab[2] += contact * gain ** 2 + prior
                rhs = -contact * gain * err - _banded_matvec(gram, dist)
                delta = solveh_banded(ab, rhs)
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
                   fps: float = 30.0, ground: bool = True, keypoints_2d: np.ndarray | None = None,
                   scores_2d: np.ndarray | None = None,
                   image_size: tuple[int, int] | None = None) -> WorldPlacement:
    """The npz contract's camera-frame arrays -> world-frame joints on one shared floor.

    Args:
        poses_3d: ``(P, T, 17, 3)`` root-relative joints, metres, camera frame.
        trajectory: ``(P, T, 3)`` root positions, metres, camera frame.
        valid: ``(P, T)``.
        fps: frame rate (for the grounding's depth smoothness).
        ground: refine the root depth so the feet stand on the floor
            (:func:`ground_trajectory`); the floor is then refitted and the roots
            grounded once more on it.
        keypoints_2d, scores_2d, image_size: the 2D the lift was made from (``(P, T, 17,
            2)`` H36M-17 pixels, ``(P, T, 17)``, ``(width, height)``); when given, only
            frames whose feet are in view (:func:`feet_in_view`) place the floor and pin
            the depth.
    Raises:
        ValueError: when no frame has finite joints.
    """
    poses = np.asarray(poses_3d, np.float64)
    traj = np.asarray(trajectory, np.float64)
    valid = np.asarray(valid, bool)
    seen = None
    if keypoints_2d is not None and scores_2d is not None and image_size is not None:
        seen = feet_in_view(keypoints_2d, scores_2d, image_size)
    if ground:
        smooth = ground_trajectory(poses, traj, valid, None, fps)
        frame = estimate_world_frame(poses + smooth[:, :, None, :], valid, seen, fps)
        traj = ground_trajectory(poses, traj, valid, frame, fps, seen)
        # Each refit is followed by a grounding, so the roots stand on the floor that is
        # returned: with few standing frames (a child bouncing on a bed) a refit alone
        # moved the floor by centimetres away from the feet.
        for _ in range(2):
            frame = estimate_world_frame(poses + traj[:, :, None, :], valid, seen, fps)
            traj = ground_trajectory(poses, traj, valid, frame, fps, seen)
    else:
        frame = estimate_world_frame(poses + traj[:, :, None, :], valid, seen, fps)
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


def foot_contact_metrics(poses_world: np.ndarray, valid: np.ndarray, fps: float,
                         feet_visible: np.ndarray | None = None) -> list[dict[str, float]]:
    """How well each person's feet meet the floor ``Y = 0`` (world frame, metres).

    Standing frames are those of :func:`standing_frames`: valid, spine within 35 degrees
    of vertical, both ankles in view (``feet_visible (P, T)``, see :func:`feet_in_view`;
    default: all), and the *lower* ankle at its lowest over +-0.4 s and not moving
    vertically: the foot on the floor. Their choice does not depend on the floor's
    height, so ``ankle_height_m`` measures where the floor was put.

    Returns, per person:
        ``standing``: number of standing frames;
        ``upright``: number of valid upright frames (standing or not);
        ``ankle_height_m``: median height of the lower ankle on standing frames (an
        ankle joint sits about :data:`ANKLE_HEIGHT_M` above the sole); NaN when the
        person never stands with their feet in view;
        ``ankle_height_upright_m``: the same over all upright frames (flights included);
        ``skate_m_s``: median horizontal speed of that foot between consecutive standing
        frames (the same foot on both frames: the one lower on the first), metres/second;
        ``penetration_frac``: share of valid frames with the feet in view whose lower
        ankle is more than 3 cm below ankle height (the sole under the floor);
        ``penetration_m``: mean depth below ankle height over those frames (0 when above).
    """
    w = np.asarray(poses_world, np.float64)
    valid = np.asarray(valid, bool) & np.isfinite(w).all(axis=(-1, -2))
    seen = np.ones(valid.shape, bool) if feet_visible is None else np.asarray(feet_visible, bool)
    out = []
    up = np.array([0.0, 1.0, 0.0])
    for p in range(w.shape[0]):
        x = w[p]
        ankles = x[:, list(_ANKLES)]                                    # (T, 2, 3)
        which = np.argmin(np.where(np.isfinite(ankles[..., 1]), ankles[..., 1], np.inf), axis=1)
        low = ankles[np.arange(len(x)), which]                          # (T, 3)
        upright = valid[p] & _upright(x, up)
        stand = standing_frames(np.where(valid[p], low[:, 1], np.nan), upright & seen[p], fps)
        pair = stand[:-1] & stand[1:]
        t = np.flatnonzero(pair)
        foot_next = ankles[t + 1, which[t]]
        speed = np.linalg.norm((foot_next - low[t])[:, [0, 2]], axis=-1) * fps
        h = low[valid[p] & seen[p], 1]
        below = np.maximum(0.0, ANKLE_HEIGHT_M - h)
        out.append({
            "standing": int(stand.sum()),
            "upright": int(upright.sum()),
            "ankle_height_m": float(np.median(low[stand, 1])) if stand.any() else float("nan"),
            "ankle_height_upright_m": float(np.median(low[upright, 1])) if upright.any() else float("nan"),
            "skate_m_s": float(np.median(speed)) if len(speed) else float("nan"),
            "penetration_frac": float((below > 0.03).mean()) if len(h) else float("nan"),
            "penetration_m": float(below.mean()) if len(h) else float("nan"),
        })
    return out
