"""Skeleton layouts and conversions between them.

Every layout is a :class:`Skeleton`: ordered joint names, the parent of each joint
(-1 for the root) and the left/right symmetric joint indices used for flip
augmentation. Arrays of joints are always shaped ``(..., J, C)`` where ``J`` is the
layout's joint count and ``C`` the number of coordinates (2 for image points, 3 for
3D points); conversions keep every leading axis and every coordinate channel, so they
work on pixels, normalised screen coordinates, metres or confidence-augmented arrays
alike.

Layouts
-------
``h36m17``
    The 17-joint Human3.6M layout in VideoPose3D's order. It is the lifter's layout.
``h36m32``
    The full 32-joint Human3.6M motion-capture skeleton; :func:`h36m32_to_h36m17`
    keeps the 17 joints VideoPose3D keeps.
``coco17``
    MS-COCO person keypoints (Detectron2, OpenPose-COCO subset, AlphaPose...).
``blazepose33``
    MediaPipe BlazePose landmarks.
``humaneva15``
    HumanEva-I 15-joint layout as used by VideoPose3D.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A joint layout.

    Attributes:
        name: registry key, e.g. ``"h36m17"``.
        joint_names: one name per joint, in array order.
        parents: parent index per joint, ``-1`` for the root.
        joints_left: indices of the left-side joints.
        joints_right: indices of the matching right-side joints, pairwise with
            ``joints_left`` (``joints_left[i]`` mirrors ``joints_right[i]``).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]
    bones: tuple[tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.joint_names) != len(self.parents):
            raise ValueError(f"{self.name}: {len(self.joint_names)} names but {len(self.parents)} parents")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError(f"{self.name}: left/right lists differ in length")
        if not self.bones:
            object.__setattr__(self, "bones", tuple((p, j) for j, p in enumerate(self.parents) if p >= 0))

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right twin."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm

    def children(self, joint: int) -> list[int]:
        return [j for j, p in enumerate(self.parents) if p == joint]


H36M17 = Skeleton(
    name="h36m17",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck_nose", "head",
        "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

# Joint names follow the Human3.6M motion-capture skeleton; joints sharing a position
# with their parent (the "site" and duplicated thumb/hand joints) keep distinct names.
H36M32 = Skeleton(
    name="h36m32",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "right_toe_base", "right_toe_site",
        "left_hip", "left_knee", "left_ankle", "left_toe_base", "left_toe_site",
        "spine", "spine1", "thorax", "neck_nose", "head",
        "left_shoulder_anchor", "left_shoulder", "left_elbow", "left_wrist", "left_thumb",
        "left_thumb_site", "left_hand", "left_hand_site",
        "right_shoulder_anchor", "right_shoulder", "right_elbow", "right_wrist", "right_thumb",
        "right_thumb_site", "right_hand", "right_hand_site",
    ),
    parents=(-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12,
             16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30),
    joints_left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    joints_right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)

#: Indices of the 32-joint skeleton kept by VideoPose3D's 17-joint layout.
H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

COCO17 = Skeleton(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    # COCO has no kinematic tree; this one hangs everything off the nose/shoulders so
    # that drawing and bone statistics have something sensible to use.
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    joints_left=(1, 3, 5, 7, 9, 11, 13, 15),
    joints_right=(2, 4, 6, 8, 10, 12, 14, 16),
    bones=((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
           (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16)),
)

BLAZEPOSE33 = Skeleton(
    name="blazepose33",
    joint_names=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
             11, 12, 23, 24, 25, 26, 27, 28, 27, 28),
    joints_left=(1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
    joints_right=(4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32),
)

HUMANEVA15 = Skeleton(
    name="humaneva15",
    joint_names=(
        "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle",
        "right_hip", "right_knee", "right_ankle", "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M17, H36M32, COCO17, BLAZEPOSE33, HUMANEVA15)}

# VideoPose3D's custom-dataset metadata names its layouts differently.
_LAYOUT_ALIASES = {"coco": "coco17", "h36m": "h36m17", "humaneva15": "humaneva15",
                   "blazepose": "blazepose33", "mediapipe": "blazepose33"}


def get_skeleton(name: str) -> Skeleton:
    """Return a layout by name (``h36m17``, ``coco``/``coco17``, ``blazepose33``, ...)."""
    key = _LAYOUT_ALIASES.get(name.lower(), name.lower())
    try:
        return SKELETONS[key]
    except KeyError:
        raise KeyError(f"unknown keypoint layout {name!r}; known: {', '.join(sorted(SKELETONS))}") from None


def skeleton_for_joint_count(num_joints: int) -> Skeleton:
    """Guess the layout from a joint count (17 is ambiguous: H36M-17 is assumed)."""
    for s in (H36M17, BLAZEPOSE33, H36M32, HUMANEVA15):
        if s.num_joints == num_joints:
            return s
    raise ValueError(f"no known keypoint layout has {num_joints} joints")


def _mid(x: np.ndarray, a: int, b: int) -> np.ndarray:
    return 0.5 * (x[..., a, :] + x[..., b, :])


def h36m32_to_h36m17(x: np.ndarray, has_score: bool = False) -> np.ndarray:
    """Keep VideoPose3D's 17 joints of the 32-joint mocap skeleton. ``(..., 32, C) -> (..., 17, C)``."""
    return np.asarray(x)[..., H36M32_TO_17, :]


def _from_coco_like(x: np.ndarray, idx: dict[str, int], has_score: bool = False) -> np.ndarray:
    """Shared COCO/BlazePose -> H36M-17 construction.

    Definitions (documented contract):
      * pelvis = midpoint of the hips; thorax = midpoint of the shoulders;
      * spine = midpoint of pelvis and thorax;
      * neck/nose = the nose (Human3.6M's joint sits at the lower face);
      * head = midpoint of the ears, moved 30 % of the thorax->ears distance further
        from the thorax, because Human3.6M's head joint lies near the top of the
        skull rather than at ear level.
    With ``has_score`` the last channel is a confidence: derived joints get the mean
    confidence of their sources (the head: the ears').
    """
    x = np.asarray(x)
    out = np.zeros(x.shape[:-2] + (17, x.shape[-1]), dtype=np.result_type(x.dtype, np.float32))
    lhip, rhip, lsh, rsh = idx["left_hip"], idx["right_hip"], idx["left_shoulder"], idx["right_shoulder"]
    pelvis = _mid(x, lhip, rhip)
    thorax = _mid(x, lsh, rsh)
    ears = _mid(x, idx["left_ear"], idx["right_ear"])
    out[..., 0, :] = pelvis
    for k, name in ((1, "right_hip"), (2, "right_knee"), (3, "right_ankle"), (4, "left_hip"),
                    (5, "left_knee"), (6, "left_ankle"), (11, "left_shoulder"), (12, "left_elbow"),
                    (13, "left_wrist"), (14, "right_shoulder"), (15, "right_elbow"), (16, "right_wrist")):
        out[..., k, :] = x[..., idx[name], :]
    out[..., 7, :] = 0.5 * (pelvis + thorax)
    out[..., 8, :] = thorax
    out[..., 9, :] = x[..., idx["nose"], :]
    out[..., 10, :] = ears + 0.3 * (ears - thorax)
    if has_score:
        # Extrapolation is wrong for confidences.
        out[..., 10, -1] = ears[..., -1]
    return out


def coco17_to_h36m17(x: np.ndarray, has_score: bool = False) -> np.ndarray:
    """COCO-17 -> H36M-17 (see :func:`_from_coco_like` for the derived joints)."""
    return _from_coco_like(x, {n: i for i, n in enumerate(COCO17.joint_names)}, has_score)


def blazepose33_to_h36m17(x: np.ndarray, has_score: bool = False) -> np.ndarray:
    """BlazePose-33 -> H36M-17 (same definitions as COCO-17; BlazePose ankles are used for ankles)."""
    return _from_coco_like(x, {n: i for i, n in enumerate(BLAZEPOSE33.joint_names)}, has_score)


def blazepose33_to_coco17(x: np.ndarray, has_score: bool = False) -> np.ndarray:
    """BlazePose-33 -> COCO-17 by name (every COCO joint exists in BlazePose)."""
    idx = [BLAZEPOSE33.index(n) for n in COCO17.joint_names]
    return np.asarray(x)[..., idx, :]


#: H36M-17 joint feeding each HumanEva-15 joint (HumanEva order; every one has a direct twin).
_HE15_FROM_H36M17 = (0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10)


def h36m17_to_humaneva15(x: np.ndarray, has_score: bool = False) -> np.ndarray:
    """H36M-17 -> HumanEva-15 by selecting the 15 shared joints (head = H36M head)."""
    return np.asarray(x)[..., _HE15_FROM_H36M17, :]


def humaneva15_to_h36m17(x: np.ndarray, has_score: bool = False) -> np.ndarray:
    """HumanEva-15 -> H36M-17: shared joints copied; spine = mid(pelvis, thorax),
    neck/nose = mid(thorax, head)."""
    x = np.asarray(x)
    out = np.zeros(x.shape[:-2] + (17, x.shape[-1]), dtype=np.result_type(x.dtype, np.float32))
    out[..., _HE15_FROM_H36M17, :] = x
    out[..., 7, :] = _mid(x, 0, 1)
    out[..., 9, :] = _mid(x, 1, 14)
    return out


_CONVERTERS: dict[tuple[str, str], Callable[..., np.ndarray]] = {
    ("h36m32", "h36m17"): h36m32_to_h36m17,
    ("coco17", "h36m17"): coco17_to_h36m17,
    ("blazepose33", "h36m17"): blazepose33_to_h36m17,
    ("blazepose33", "coco17"): blazepose33_to_coco17,
    ("h36m17", "humaneva15"): h36m17_to_humaneva15,
    ("humaneva15", "h36m17"): humaneva15_to_h36m17,
}


def convert(x: np.ndarray, src: str | Skeleton, dst: str | Skeleton, has_score: bool = False) -> np.ndarray:
    """Convert joints ``(..., J_src, C)`` from layout ``src`` to ``dst``.

    ``has_score`` says the last channel is a confidence rather than a coordinate.

    Raises:
        ValueError: if the joint count does not match ``src`` or no conversion exists.
    """
    s = src if isinstance(src, Skeleton) else get_skeleton(src)
    d = dst if isinstance(dst, Skeleton) else get_skeleton(dst)
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-2] != s.num_joints:
        raise ValueError(f"expected {s.num_joints} joints for layout {s.name}, got array of shape {x.shape}")
    if s.name == d.name:
        return x
    fn = _CONVERTERS.get((s.name, d.name))
    if fn is None and (s.name, "h36m17") in _CONVERTERS and ("h36m17", d.name) in _CONVERTERS:
        mid = _CONVERTERS[(s.name, "h36m17")](x, has_score)
        return _CONVERTERS[("h36m17", d.name)](mid, has_score)
    if fn is None:
        raise ValueError(f"no conversion from {s.name} to {d.name}")
    return fn(x, has_score)


def bone_lengths(x: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Length of every (parent, child) bone. ``(..., J, 3) -> (..., B)`` in the input's units."""
    x = np.asarray(x)
    p = [a for a, _ in skeleton.bones]
    c = [b for _, b in skeleton.bones]
    return np.linalg.norm(x[..., c, :] - x[..., p, :], axis=-1)


#: Bone lengths, metres, of the Human3.6M skeleton (the exp-map release's canonical one), in
#: :data:`H36M17` bone order (the bone ending at joints 1..16). ``--retarget h36m`` gives every
#: training clip these lengths.
H36M_BONE_LENGTHS = (0.1329, 0.4429, 0.4542, 0.1329, 0.4429, 0.4542, 0.2335, 0.2571, 0.1211, 0.115,
                     0.151, 0.2789, 0.2517, 0.151, 0.2789, 0.2517)


def skeleton_prior_lengths(poses: np.ndarray, prior: Sequence[float] = H36M_BONE_LENGTHS) -> np.ndarray:
    """Per-joint bone lengths ``(17,)`` (root 0): each bone's median over ``poses``, except that
    a forearm shorter than its upper arm allows under ``prior``'s proportions is lengthened to it.

    A lifter trained on one skeleton (``--retarget h36m``) was only ever shown forearms of that
    skeleton's proportion, but where it is unsure of a hand it hedges towards the middle of
    the places the hand could be, and the forearm it outputs comes out short: 22 % against
    the upper arm on the real four-view recording, where the triangulated arm shows none of
    it. Shoulders and elbows are better determined, so the upper arm sets the length.
    Measured there (``benchmarks/multiview.py``): forearm error -22 % -> -6 %, P1 121.0 ->
    120.1 mm, P2 83.9 -> 84.1 mm. Giving *every* bone the prior's proportions (size from the
    median ratio) was worse for P1 and P2 (131.3, 85.9 mm): the triangulated hips and
    shoulders are the detector's keypoints, not joint centres; lengthening the shins the same
    way as the forearms made P2 86.0 mm.

    Args:
        poses: ``(T, 17, 3)`` :data:`H36M17` joints of one person (NaN frames ignored).
        prior: ``(16,)`` bone lengths of the training skeleton, in :data:`H36M17` bone order.
    Returns:
        ``(17,)`` lengths for :func:`enforce_bone_lengths`, units of ``poses``.
    """
    x = np.asarray(poses, dtype=np.float64)
    parents = np.maximum(np.asarray(H36M17.parents), 0)
    norm = np.linalg.norm(x - x[:, parents], axis=-1)
    lengths = np.nanmedian(np.where(np.isfinite(norm), norm, np.nan), axis=0)
    return lengthen_short_forearms(lengths, prior)


def lengthen_short_forearms(lengths: np.ndarray, prior: Sequence[float] = H36M_BONE_LENGTHS) -> np.ndarray:
    """``lengths (17,)`` per joint (root ignored, set to 0) with each forearm at least its upper
    arm times ``prior``'s forearm/upper-arm ratio (see :func:`skeleton_prior_lengths`)."""
    out = np.array(lengths, dtype=np.float64)
    out[0] = 0.0
    ref = np.concatenate([[0.0], np.asarray(prior, dtype=np.float64)])
    for side in ("left", "right"):
        elbow, wrist = H36M17.index(f"{side}_elbow"), H36M17.index(f"{side}_wrist")
        out[wrist] = max(out[wrist], out[elbow] * ref[wrist] / ref[elbow])
    return out


def enforce_bone_lengths(poses: np.ndarray, skeleton: Skeleton = H36M17,
                         lengths: np.ndarray | None = None) -> np.ndarray:
    """Give every frame the same bone lengths, keeping each bone's direction.

    A lifting network predicts each frame's bones slightly longer or shorter; a real
    person's bones do not change. Joints are rebuilt from the root outwards:
    ``new[child] = new[parent] + L_bone * unit(old[child] - old[parent])``.

    Args:
        poses: ``(T, J, 3)``; frames holding NaN are left as they are.
        skeleton: layout whose ``parents`` define the bones (parents must precede children).
        lengths: ``(J,)`` length of the bone ending at each joint (root ignored); default:
            the median over the finite frames.
    Returns:
        ``(T, J, 3)`` with constant bone lengths, same units.
    """
    x = np.asarray(poses, dtype=np.float64)
    parents = np.asarray(skeleton.parents)
    if any(p >= j for j, p in enumerate(parents) if p >= 0):
        raise ValueError(f"{skeleton.name}: parents must precede their children")
    vec = x - x[:, np.maximum(parents, 0)]
    norm = np.linalg.norm(vec, axis=-1)
    if lengths is None:
        lengths = np.nanmedian(np.where(np.isfinite(norm), norm, np.nan), axis=0)
    out = x.copy()
    for j, p in enumerate(parents):
        if p < 0:
            continue
        unit = vec[:, j] / np.maximum(norm[:, j:j + 1], 1e-9)
        out[:, j] = out[:, p] + lengths[j] * unit
    return out.astype(np.asarray(poses).dtype)
