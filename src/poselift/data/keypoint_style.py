"""Where a 2D detector puts its keypoints, relative to mocap joint centres.

Mocap gives joint *centres* (the femoral head, the gleno-humeral joint...). A 2D
detector such as BlazePose was trained on human annotators' clicks: its "hip" sits on
the outside of the pelvis and well above the femoral head, its "shoulder" on the outer
shoulder, its nose and ears on the face. A lifter trained on projected joint centres
meets a detector's 2D whose thigh looks 20 % longer and whose hips look narrower than it
has ever seen and explains the difference the only way it can: by bending limbs in depth.

:class:`KeypointStyle` restyles mocap joints into detector keypoints in 3D, before the
projection, so that the training 2D has the detector's proportions while the 3D targets
stay the mocap joints: the network learns the mapping from detector keypoints to joint
centres. The model is deliberately built from *proportions* of the body (in units of
each clip's own shin length) rather than fixed offsets, because the mocap collections
place their joints differently (Human3.6M's hips are 27 cm apart, the BVH rigs' shoulders
20-23 cm): the restyled 2D then has one definition, the detector's, whatever the source.

Convention:
    Body frames are built from the 3D joints of each frame (any world or camera frame):
    *pelvis frame* — ``lat`` from the right to the left hip, ``up`` from the pelvis
    towards the spine (made orthogonal to ``lat``), ``fwd = lat x up`` (the way the
    person faces); *thorax frame* — the same from the shoulders and the spine->thorax
    direction; *head frame* — ``up`` from the thorax to the head joint, ``lat`` from
    the thorax frame. Lengths are fractions of the clip's median shin (knee->ankle)
    length, a segment whose ends (knee and ankle) detectors and mocap agree on.

The restyled points are the COCO-17 keypoints (nose, eyes, ears, shoulders, elbows,
wrists, hips, knees, ankles); the caller projects them and builds the Human3.6M-17 input
with :func:`poselift.geometry.skeletons.coco17_to_h36m17`, exactly as inference builds it
from BlazePose landmarks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# H36M-17 joint indices.
_PELVIS, _RHIP, _RKNEE, _RANK, _LHIP, _LKNEE, _LANK = 0, 1, 2, 3, 4, 5, 6
_SPINE, _THORAX, _NECK, _HEAD = 7, 8, 9, 10
_LSH, _LEL, _LWR, _RSH, _REL, _RWR = 11, 12, 13, 14, 15, 16
# COCO-17 order: nose, l_eye, r_eye, l_ear, r_ear, l_sh, r_sh, l_el, r_el, l_wr, r_wr,
# l_hip, r_hip, l_knee, r_knee, l_ank, r_ank.
_COCO_FROM_H36M = {7: _LEL, 8: _REL, 9: _LWR, 10: _RWR, 13: _LKNEE, 14: _RKNEE, 15: _LANK, 16: _RANK}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def body_frame(lat_vec: np.ndarray, up_vec: np.ndarray) -> np.ndarray:
    """Orthonormal frames ``(..., 3, 3)`` whose rows are ``lat``, ``up``, ``fwd``.

    ``lat`` is ``lat_vec`` normalised; ``up`` is ``up_vec`` made orthogonal to it;
    ``fwd = lat x up``. For a person standing upright, ``lat`` pointing to their left,
    ``fwd`` is the direction they face.
    """
    lat = _unit(lat_vec)
    up = _unit(up_vec - (up_vec * lat).sum(-1, keepdims=True) * lat)
    fwd = np.cross(lat, up)
    return np.stack([lat, up, fwd], axis=-2)


@dataclass(frozen=True)
class KeypointStyle:
    """Detector keypoint placement, in shin lengths, in the body frames (see module doc).

    Attributes:
        thigh_ratio: detector thigh (hip keypoint -> knee) over shin, for a straight
            leg: the hip keypoint is raised along the pelvis ``up`` axis to give it.
        hip_half_width: half the distance between the hip keypoints.
        hip_forward: the hip keypoints' offset along ``fwd``.
        shoulder_half_width: half the distance between the shoulder keypoints.
        shoulder_forward: the shoulder keypoints' offset along the thorax ``fwd``. Their
            height is the mocap shoulders': a higher detector shoulder would lengthen
            the upper arm, and BlazePose's upper arm is, if anything, shorter against the
            forearm (1.03) than the mocap collections' (1.11-1.19).
        nose_up, nose_forward: the nose above / in front of the shoulder keypoints'
            midpoint, in the head frame.
        ear_up, ear_forward, ear_half_width: the ears, likewise.
        variation: relative standard deviation of every length above, drawn once per
            sequence (people and annotators differ).
    """

    name: str = "blazepose"
    thigh_ratio: float = 1.06
    hip_half_width: float = 0.28
    hip_forward: float = 0.0
    shoulder_half_width: float = 0.45
    shoulder_forward: float = 0.0
    nose_up: float = 0.40
    nose_forward: float = 0.45
    ear_up: float = 0.44
    ear_forward: float = 0.15
    ear_half_width: float = 0.17
    variation: float = 0.06

    def to_dict(self) -> dict:
        return asdict(self)

    def apply(self, joints: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Restyle mocap joints into detector keypoints.

        Args:
            joints: ``(N, T, 17, 3)`` Human3.6M-17 joints, metres, any frame; each of the
                ``N`` sequences is one person (its skeleton is measured over its ``T`` frames).
            rng: draws the per-sequence variation (none when None).
        Returns:
            ``(N, T, 17, 3)`` COCO-17 keypoints in the same frame. The eyes, which the
            Human3.6M-17 input does not use, are set to the nose.
        """
        x = np.asarray(joints, dtype=np.float64)
        n = x.shape[0]
        med = lambda a, b: np.median(np.linalg.norm(x[:, :, a] - x[:, :, b], axis=-1), axis=1)  # noqa: E731
        shin = 0.5 * (med(_RKNEE, _RANK) + med(_LKNEE, _LANK))                    # (N,)
        thigh = 0.5 * (med(_RHIP, _RKNEE) + med(_LHIP, _LKNEE))

        def draw(value: float) -> np.ndarray:
            if rng is None or not self.variation:
                return np.full(n, value)
            return value * (1.0 + self.variation * rng.standard_normal(n))

        def length(value: float) -> np.ndarray:     # (N, 1, 1): broadcast over T and xyz
            return (draw(value) * shin)[:, None, None]

        pelvis, spine, thorax = x[:, :, _PELVIS], x[:, :, _SPINE], x[:, :, _THORAX]
        pf = body_frame(x[:, :, _LHIP] - x[:, :, _RHIP], spine - pelvis)            # (N, T, 3, 3)
        tf = body_frame(x[:, :, _LSH] - x[:, :, _RSH], thorax - spine)
        hf = body_frame(tf[..., 0, :], x[:, :, _HEAD] - thorax)
        out = np.empty(x.shape[:2] + (17, 3))
        for coco, j in _COCO_FROM_H36M.items():
            out[:, :, coco] = x[:, :, j]
        # Hips: raised so that a straight thigh measures thigh_ratio shins, then placed
        # at the detector's width about the pelvis axis.
        raise_by = (draw(self.thigh_ratio) * shin - thigh)[:, None, None]
        hip_mid = pelvis + raise_by * pf[..., 1, :] + length(self.hip_forward) * pf[..., 2, :]
        hw = length(self.hip_half_width)
        out[:, :, 11] = hip_mid + hw * pf[..., 0, :]
        out[:, :, 12] = hip_mid - hw * pf[..., 0, :]
        # Shoulders: about the mocap shoulders' midpoint, at the detector's width.
        sh_mid = 0.5 * (x[:, :, _LSH] + x[:, :, _RSH]) + length(self.shoulder_forward) * tf[..., 2, :]
        sw = length(self.shoulder_half_width)
        out[:, :, 5] = sh_mid + sw * tf[..., 0, :]
        out[:, :, 6] = sh_mid - sw * tf[..., 0, :]
        # Face: nose and ears in the head frame, from the shoulder keypoints' midpoint.
        out[:, :, 0] = sh_mid + length(self.nose_up) * hf[..., 1, :] + length(self.nose_forward) * hf[..., 2, :]
        ear_mid = sh_mid + length(self.ear_up) * hf[..., 1, :] + length(self.ear_forward) * hf[..., 2, :]
        ew = length(self.ear_half_width)
        out[:, :, 3] = ear_mid + ew * hf[..., 0, :]
        out[:, :, 4] = ear_mid - ew * hf[..., 0, :]
        out[:, :, 1] = out[:, :, 2] = out[:, :, 0]
        return out


#: The detector poselift ships (MediaPipe BlazePose); see ``docs/keypoint_style.md``.
BLAZEPOSE = KeypointStyle()

#: ``--keypoint-style`` choices: ``none`` assumes a detector that clicks on joint centres.
KEYPOINT_STYLES: dict[str, KeypointStyle | None] = {"blazepose": BLAZEPOSE, "none": None}
