"""Rigid-segment skeleton fit: the H36M17 skeleton as a chain of rigid bodies.

A lifting network predicts 17 points per frame. Even with constant bone lengths
(:func:`~poselift.geometry.skeletons.enforce_bone_lengths`), the pelvis (hips and spine
around the pelvis joint) and the thorax (neck and shoulders around the thorax joint)
change shape from frame to frame: on a tennis serve the right-hip–spine angle swings
between 52° and 92°. A skeleton of rigid bones, as in a BVH file or a game-engine rig,
cannot follow that, so a BVH written from such points re-imports centimetres away
from them. This module fits, per person, the skeleton such a rig *can* play back:

* Bone lengths: the median of each bone over the valid frames.
* Two rigid segments with one constant shape each over the whole clip: the **pelvis**
  (``right_hip``, ``left_hip``, ``spine`` around ``pelvis``) and the **thorax**
  (``neck_nose``, ``left_shoulder``, ``right_shoulder`` around ``thorax``). The shape is
  fitted over time by generalised Procrustes (alternating per-frame weighted rotations
  and the shape averaged in the segment's frame), each child at its median bone length.
* Per frame, from the root outwards: a segment's rotation is the weighted least-squares
  (Kabsch) rotation taking its shape onto the network's points, measured from the
  segment's *fitted* origin; the ``spine``/``neck_nose`` child is weighted
  :data:`UP_WEIGHT` times the hips/shoulders so the chain above it moves least. A joint
  with one child (knees, elbows, spine, neck...) points its bone from its fitted
  position at the network's child, so errors do not pile up along a chain.

Everything is rotation- and translation-equivariant, so the fit commutes with the
camera-to-world transform, and it is idempotent: a fitted skeleton fits to itself.

Rest pose (the segment frames and :data:`REST_DIRECTIONS`) is the BVH exporter's: Y up,
+X the person's left, +Z the way they face; T-pose arms along ±X, legs and spine along ∓Y.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.geometry.skeletons import H36M17

__all__ = ["SEGMENTS", "REST_DIRECTIONS", "UP_WEIGHT", "RigidSkeleton", "rest_offsets", "pose_chain", "min_rotation",
           "fit_rigid_skeleton", "kabsch", "two_vector_frame"]

NAMES = H36M17.joint_names
PARENTS = np.asarray(H36M17.parents)
CHILDREN = [[c for c, p in enumerate(H36M17.parents) if p == j] for j in range(len(NAMES))]
_J = {n: i for i, n in enumerate(NAMES)}
#: Rigid segments: joint -> (child giving "up", child on the right, child on the left).
SEGMENTS = {_J["pelvis"]: (_J["spine"], _J["right_hip"], _J["left_hip"]),
            _J["thorax"]: (_J["neck_nose"], _J["right_shoulder"], _J["left_shoulder"])}
_UP, _DOWN, _LEFT, _RIGHT = (0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)
#: Rest (T-pose) direction of every bone whose parent has a single child.
REST_DIRECTIONS = {_J[n]: np.asarray(d) for n, d in {
    "right_knee": _DOWN, "right_ankle": _DOWN, "left_knee": _DOWN, "left_ankle": _DOWN,
    "thorax": _UP, "head": _UP, "left_elbow": _LEFT, "left_wrist": _LEFT,
    "right_elbow": _RIGHT, "right_wrist": _RIGHT}.items()}
#: Procrustes weight of a segment's "up" child (spine, neck) relative to its side children.
UP_WEIGHT = 4.0
_SHAPE_ITERATIONS = 4


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-12, n, 1.0)


def two_vector_frame(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation with columns x (along ``lateral``, made orthogonal to
    ``up``), y (along ``up``), z = x × y."""
    y = _unit(up)
    x = _unit(lateral - np.sum(lateral * y, -1, keepdims=True) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def kabsch(rest: np.ndarray, target: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations ``R`` minimising ``sum_k w_k |R rest_k - target_tk|^2``.

    ``rest`` ``(K, 3)``, ``target`` ``(T, K, 3)``, ``w`` ``(K,)`` (no translation: the
    points are measured from the segment's origin)."""
    H = np.einsum("k,ki,tkj->tij", w, rest, target)
    U, _, Vt = np.linalg.svd(H)
    V, Ut = np.swapaxes(Vt, -1, -2), np.swapaxes(U, -1, -2)
    D = np.broadcast_to(np.eye(3), H.shape).copy()
    D[:, 2, 2] = np.sign(np.linalg.det(V @ Ut))
    return V @ D @ Ut


def min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` smallest rotations taking the unit vector ``a`` ``(3,)`` onto unit vectors ``b`` ``(T, 3)``."""
    v = np.cross(a, b)
    c = np.sum(a * b, -1)
    K = np.zeros(b.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    K[..., 1, 0], K[..., 2, 0], K[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    opposite = c < -1 + 1e-9
    denom = np.where(opposite, 1.0, 1.0 + c)[..., None, None]
    R = np.eye(3) + K + K @ K / denom
    if opposite.any():  # half turn about any axis perpendicular to a
        perp = _unit(np.cross(a, (1.0, 0.0, 0.0) if abs(a[0]) < 0.9 else (0.0, 1.0, 0.0)))
        R[opposite] = 2 * np.outer(perp, perp) - np.eye(3)
    return R


def _segment_weights(j: int) -> np.ndarray:
    up = SEGMENTS[j][0]
    return np.array([UP_WEIGHT if c == up else 1.0 for c in CHILDREN[j]])


def rest_offsets(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-person constant skeleton: rest offsets ``(J, 3)`` and bone lengths ``(J,)``.

    Args:
        X: ``(T, J, 3)`` H36M17 joints of the frames to fit (all finite), any units and
            any right-handed axes (the shapes are expressed in each segment's own frame).
    Returns:
        ``offsets[c]``: the bone ending at ``c`` in its parent's rest frame — a segment
        child at its fitted place in the segment's frame (x toward the left child, y toward
        the up child), every other bone ``length * REST_DIRECTIONS[c]``; ``lengths[c]``
        its median length (0 for the root).
    """
    X = np.asarray(X, dtype=np.float64)
    bone = X[:, 1:] - X[:, PARENTS[1:]]
    lengths = np.concatenate([[0.0], np.median(np.linalg.norm(bone, axis=-1), axis=0)])
    offsets = np.zeros((len(NAMES), 3))
    for j, (up, right, left) in SEGMENTS.items():
        kids = CHILDREN[j]
        obs = X[:, kids] - X[:, j:j + 1]                                   # (T, K, 3)
        w = _segment_weights(j)
        # Start from the median layout in the two-vector frame, then alternate rotations
        # and the shape (generalised Procrustes), each child kept at its median length.
        F = two_vector_frame(X[:, up] - X[:, j], X[:, left] - X[:, right])
        local = np.einsum("tji,tkj->tki", F, obs)
        shape = _unit(np.median(_unit(local), axis=0)) * lengths[kids][:, None]
        for _ in range(_SHAPE_ITERATIONS):
            R = kabsch(shape, obs, w)
            local = np.einsum("tji,tkj->tki", R, obs)
            shape = _unit(local.mean(axis=0)) * lengths[kids][:, None]
        # Gauge: express the shape in its own two-vector frame (up child on +y, the
        # right-to-left direction in the xy plane), so the rest pose stands upright.
        k = {c: i for i, c in enumerate(kids)}
        G = two_vector_frame(shape[k[up]], shape[k[left]] - shape[k[right]])
        offsets[kids] = shape @ G
    for c, d in REST_DIRECTIONS.items():
        offsets[c] = lengths[c] * d
    return offsets, lengths


def pose_chain(X: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame rotations of the rigid skeleton ``offsets`` following the points ``X``.

    Args:
        X: ``(T, J, 3)`` target joints (finite); the root is taken as it is.
        offsets: ``(J, 3)`` from :func:`rest_offsets`.
    Returns:
        global rotations ``(T, J, 3, 3)`` (joint frame -> the axes of ``X``; leaves copy
        their parent's) and the fitted joints ``(T, J, 3)``, float64.
    """
    X = np.asarray(X, dtype=np.float64)
    T, J = X.shape[:2]
    G = np.zeros((T, J, 3, 3))
    rec = np.zeros_like(X)
    rec[:, 0] = X[:, 0]
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    for j in range(J):
        p = PARENTS[j]
        Gp = G[:, p] if p >= 0 else eye
        kids = CHILDREN[j]
        if j in SEGMENTS:
            G[:, j] = kabsch(offsets[kids], X[:, kids] - rec[:, j][:, None], _segment_weights(j))
        elif len(kids) == 1:
            c = kids[0]
            d_local = _unit(np.einsum("tji,tj->ti", Gp, X[:, c] - rec[:, j]))
            G[:, j] = Gp @ min_rotation(_unit(offsets[c]), d_local)
        else:
            G[:, j] = Gp
        for c in kids:
            rec[:, c] = rec[:, j] + np.einsum("tij,j->ti", G[:, j], offsets[c])
    return G, rec


@dataclass
class RigidSkeleton:
    """Result of :func:`fit_rigid_skeleton`.

    Attributes:
        positions: ``(T, 17, 3)`` fitted joints, the input's units and axes (NaN on the
            frames that were not fitted).
        offsets: ``(17, 3)`` rest offsets (see :func:`rest_offsets`).
        lengths: ``(17,)`` bone lengths.
        rotations: ``(T, 17, 3, 3)`` global joint rotations (NaN where not fitted).
    """

    positions: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    rotations: np.ndarray


def fit_rigid_skeleton(poses: np.ndarray, valid: np.ndarray | None = None) -> RigidSkeleton:
    """Fit one person's rigid skeleton (module docstring) to their per-frame joints.

    Args:
        poses: ``(T, 17, 3)`` H36M17 joints, absolute or root-relative, any units/axes.
        valid: ``(T,)`` frames to use; default: the finite frames. The others come back NaN.
    Returns:
        :class:`RigidSkeleton`; ``positions`` keep each frame's root joint unchanged.
    Raises:
        ValueError: wrong shape or no frame to fit.
    """
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (len(NAMES), 3):
        raise ValueError(f"poses must be (T, {len(NAMES)}, 3), got {x.shape}")
    ok = np.isfinite(x).all(axis=(1, 2))
    if valid is not None:
        ok &= np.asarray(valid, bool)
    if not ok.any():
        raise ValueError("no finite frame to fit a skeleton to")
    offsets, lengths = rest_offsets(x[ok])
    G, rec = pose_chain(x[ok], offsets)
    pos = np.full_like(x, np.nan)
    rot = np.full(x.shape[:2] + (3, 3), np.nan)
    pos[ok], rot[ok] = rec, G
    return RigidSkeleton(pos, offsets, lengths, rot)
