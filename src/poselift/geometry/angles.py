"""Joint angles, segment ratios and body orientation of 3D skeletons.

Angles are degrees. Functions take joint positions ``(..., J, 3)`` in any consistent
unit and frame; the ones that need a vertical direction take ``up`` (a 3-vector in the
same frame: ``(0, 0, 1)`` for a Z-up lab, ``(0, -1, 0)`` for a camera frame with ``y``
down and an upright camera).
"""

from __future__ import annotations

import numpy as np

from poselift.geometry.skeletons import H36M17

_J = {n: i for i, n in enumerate(H36M17.joint_names)}

#: H36M-17 (proximal, joint, distal) triples whose flexion is reported.
FLEXION_JOINTS: dict[str, tuple[int, int, int]] = {
    "left_knee": (_J["left_hip"], _J["left_knee"], _J["left_ankle"]),
    "right_knee": (_J["right_hip"], _J["right_knee"], _J["right_ankle"]),
    "left_elbow": (_J["left_shoulder"], _J["left_elbow"], _J["left_wrist"]),
    "right_elbow": (_J["right_shoulder"], _J["right_elbow"], _J["right_wrist"]),
}


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unsigned angle between vectors ``(..., 3)`` in degrees, ``[0, 180]`` (NaN for a zero vector)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.sum(a * b, axis=-1) / (na * nb)
        # atan2 of |cross| and dot is accurate near 0 and 180 degrees, arccos is not.
        s = np.linalg.norm(np.cross(a, b), axis=-1) / (na * nb)
    return np.degrees(np.arctan2(s, c))


def flexion_angle(proximal: np.ndarray, joint: np.ndarray, distal: np.ndarray) -> np.ndarray:
    """Flexion at ``joint`` in degrees: 0 for a straight limb, 90 for a right angle.

    It is 180 minus the angle between the segments ``joint->proximal`` and
    ``joint->distal`` (equivalently the angle between ``proximal->joint`` and
    ``joint->distal``). Inputs ``(..., 3)``.
    """
    return angle_between(np.asarray(joint) - np.asarray(proximal), np.asarray(distal) - np.asarray(joint))


def limb_flexions(poses: np.ndarray) -> dict[str, np.ndarray]:
    """Knee and elbow flexion of H36M-17 poses ``(..., 17, 3)``: name -> ``(...)`` degrees."""
    p = np.asarray(poses)
    return {name: flexion_angle(p[..., a, :], p[..., b, :], p[..., c, :]) for name, (a, b, c) in FLEXION_JOINTS.items()}


def segment_ratio(poses: np.ndarray, proximal: tuple[int, int], distal: tuple[int, int]) -> np.ndarray:
    """Length of segment ``proximal`` (joint pair) over that of ``distal``: ``(...)``."""
    p = np.asarray(poses, dtype=np.float64)
    lp = np.linalg.norm(p[..., proximal[1], :] - p[..., proximal[0], :], axis=-1)
    ld = np.linalg.norm(p[..., distal[1], :] - p[..., distal[0], :], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return lp / ld


def limb_ratios(poses: np.ndarray) -> dict[str, np.ndarray]:
    """Thigh/shin and upper-arm/forearm length ratios of H36M-17 poses, averaged over
    both sides per frame: ``{"thigh_shin": (...), "upperarm_forearm": (...)}``."""
    out = {}
    for key, pairs in (("thigh_shin", (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))),
                       ("upperarm_forearm", (("left_shoulder", "left_elbow", "left_wrist"),
                                             ("right_shoulder", "right_elbow", "right_wrist")))):
        r = [segment_ratio(poses, (_J[a], _J[b]), (_J[b], _J[c])) for a, b, c in pairs]
        out[key] = 0.5 * (r[0] + r[1])
    return out


def tilt_from_up(vectors: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Angle of vectors ``(..., 3)`` from the ``up`` direction, degrees (0 = vertical)."""
    return angle_between(vectors, np.broadcast_to(np.asarray(up, np.float64), np.shape(vectors)))


def trunk_tilt(poses: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Tilt of the H36M-17 pelvis->thorax vector from ``up``, degrees ``(...)``."""
    p = np.asarray(poses)
    return tilt_from_up(p[..., _J["thorax"], :] - p[..., _J["pelvis"], :], up)


def facing_direction(poses: np.ndarray, up: np.ndarray, use_shoulders: bool = True) -> np.ndarray:
    """Unit forward direction of H36M-17 bodies on the floor plane ``(..., 3)``.

    The body's left-right axis is the hip line (``left_hip - right_hip``), plus the
    shoulder line when ``use_shoulders``; forward is ``lateral x up`` (a person whose
    left is ``-x`` in a Z-up frame faces ``+y``), projected onto the plane normal to
    ``up``. NaN where the lateral axis is vertical or missing.
    """
    p = np.asarray(poses, dtype=np.float64)
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    lat = p[..., _J["left_hip"], :] - p[..., _J["right_hip"], :]
    if use_shoulders:
        lat = lat + p[..., _J["left_shoulder"], :] - p[..., _J["right_shoulder"], :]
    fwd = np.cross(lat, up)
    fwd = fwd - np.sum(fwd * up, axis=-1, keepdims=True) * up
    n = np.linalg.norm(fwd, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1e-9, fwd / n, np.nan)


def yaw_difference(a: np.ndarray, b: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Signed angle from direction ``a`` to ``b`` about ``up``, degrees in ``(-180, 180]``
    (counter-clockwise seen from above is positive). Inputs ``(..., 3)`` on the floor plane."""
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    s = np.sum(np.cross(a, b) * up, axis=-1)
    c = np.sum(a * b, axis=-1)
    return np.degrees(np.arctan2(s, c))
