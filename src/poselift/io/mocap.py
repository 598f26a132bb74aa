"""Motion capture from several sources as one kind of clip: H36M-17 joints, metres, Z up.

Every importer ends in a :class:`MocapClip`: ``positions`` ``(T, 17, 3)`` float32 in
metres, in a right-handed world frame with **Z up** (the Human3.6M world convention;
the floor is at about ``z = 0``), joints in :data:`poselift.geometry.skeletons.H36M17`
order, sampled at ``fps`` (50 by default, Human3.6M's rate).

Sources
-------
* Human3.6M exp-map text files (:mod:`poselift.io.h36m_expmap`).
* BVH files (:mod:`poselift.io.bvh`) of any skeleton with a registered joint map
  (:data:`SKELETON_MAPS`); the map is chosen from the joint names.
* VideoPose3D ``data_3d_<name>.npz`` files (``positions_3d[subject][action]`` of
  ``(T, 17 or 32, 3)`` metres, world frame), read with the restricted unpickler of
  :mod:`poselift.io.safe_npz`; their frame rate is taken as 50 fps unless said.

Joint maps
----------
A :class:`SkeletonMap` says how to build each H36M-17 joint from BVH joint positions:
``joints[target] = {bvh_joint: weight, ...}`` with weights summing to 1, so a target can
be a joint, a midpoint or a point on the line through two joints beyond them (an
extrapolation, e.g. Human3.6M's head joint near the top of the skull from a BVH neck and
head). Add a skeleton with :func:`register_skeleton_map`, from a dict or a JSON file::

    {
      "name": "my-studio",
      "unit_scale": 0.01,              # metres per BVH unit (centimetres here)
      "up_axis": "y",                  # BVH files are Y up; "z" also accepted
      "licence": "CC BY 4.0, My Studio",
      "joints": {
        "pelvis": {"Hips": 1.0},
        "right_hip": {"RightUpLeg": 1.0}, "right_knee": {"RightLeg": 1.0},
        "right_ankle": {"RightFoot": 1.0},
        "left_hip": {"LeftUpLeg": 1.0}, "left_knee": {"LeftLeg": 1.0},
        "left_ankle": {"LeftFoot": 1.0},
        "spine": {"Hips": 0.5, "Neck": 0.5}, "thorax": {"Neck": 1.0},
        "neck_nose": {"Neck": -0.8, "Head": 1.8}, "head": {"Neck": -2.5, "Head": 3.5},
        "left_shoulder": {"LeftArm": 1.0}, "left_elbow": {"LeftForeArm": 1.0},
        "left_wrist": {"LeftHand": 1.0},
        "right_shoulder": {"RightArm": 1.0}, "right_elbow": {"RightForeArm": 1.0},
        "right_wrist": {"RightHand": 1.0}
      }
    }

A file is matched to the registered map whose source joints it all has (the one using
most joints wins). BVH "left" is trusted to be the performer's left.

Caching
-------
Imported clips are cached as ``.npz`` under ``$POSELIFT_CACHE`` (default
``~/.cache/poselift/mocap``), keyed by the source's absolute path, modification time,
size, the target frame rate and the joint map, so re-importing a collection only reads
small files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from poselift.errors import InputError, PoseliftError
from poselift.geometry.skeletons import H36M17, h36m32_to_h36m17
from poselift.io.bvh import BvhMotion, read_bvh
from poselift.timeseries import resample_sequence
from poselift.io.h36m_expmap import EXPMAP_FPS, read_h36m_expmap, yup_to_zup

__all__ = ["MocapClip", "SkeletonMap", "SKELETON_MAPS", "register_skeleton_map", "detect_skeleton_map",
           "bvh_to_h36m17", "resample", "load_bvh_clip", "load_h36m_expmap_clip", "load_data_3d_npz",
           "load_mocap_file", "find_mocap_files", "load_mocap_collection", "cache_dir",
           "LICENCE_H36M", "LICENCE_CMU", "LICENCE_BANDAI"]

DEFAULT_FPS = 50.0
_CACHE_VERSION = 1

LICENCE_H36M = "Human3.6M: non-commercial research use only (vision.imar.ro/human3.6m)"
LICENCE_CMU = ("CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu): free for research and "
               "commercial use, the data may not be resold; acknowledge mocap.cs.cmu.edu, created "
               "with funding from NSF EIA-0196217")
LICENCE_BANDAI = "CC BY-NC 4.0, Bandai Namco Research Inc. (Bandai-Namco-Research-Motiondataset)"


@dataclass
class MocapClip:
    """One motion sequence in poselift's common form.

    Attributes:
        name: unique, ``"<dataset>/<subject>/<action>"``.
        dataset: source collection, e.g. ``"h36m-expmap"``, ``"bandai-namco"``, ``"cmu-daz"``.
        subject: performer key (``"S1"``, ``"cmu_02"``...).
        action: clip key within the subject.
        fps: frames per second of ``positions``.
        positions: ``(T, 17, 3)`` float32, metres, Z-up world, H36M-17 joint order.
        layout: always ``"h36m17"``.
        licence: terms of the source data.
        source: path of the file the clip came from.
        skeleton: joint map or reader that produced it (``"bandai-namco"``, ``"h36m-expmap"``...).
    """

    name: str
    dataset: str
    subject: str
    action: str
    fps: float
    positions: np.ndarray
    layout: str = H36M17.name
    licence: str = ""
    source: str = ""
    skeleton: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered, ``(T - 1) / fps``."""
        return max(self.num_frames - 1, 0) / self.fps


# --------------------------------------------------------------------------- joint maps

@dataclass(frozen=True)
class SkeletonMap:
    """How a BVH skeleton becomes H36M-17 (see the module docstring for the format).

    Attributes:
        name: registry key, also the default dataset name.
        joints: for each of the 17 H36M joint names, ``{bvh_joint: weight}`` (weights sum to 1).
        unit_scale: metres per BVH unit.
        up_axis: ``"y"`` (converted to Z up) or ``"z"`` (kept).
        licence: default licence of data using this skeleton.
    """

    name: str
    joints: dict[str, dict[str, float]]
    unit_scale: float = 0.01
    up_axis: str = "y"
    licence: str = ""

    def __post_init__(self) -> None:
        missing = [n for n in H36M17.joint_names if n not in self.joints]
        extra = [n for n in self.joints if n not in H36M17.joint_names]
        if missing or extra:
            raise ValueError(f"joint map {self.name!r}: missing targets {missing}, unknown targets {extra}")
        for target, weights in self.joints.items():
            if not weights or abs(sum(weights.values()) - 1.0) > 1e-6:
                raise ValueError(f"joint map {self.name!r}: weights of {target!r} must sum to 1")
        if self.up_axis not in ("y", "z"):
            raise ValueError(f"joint map {self.name!r}: up_axis must be 'y' or 'z'")
        if not self.unit_scale > 0:
            raise ValueError(f"joint map {self.name!r}: unit_scale must be positive")

    @property
    def source_joints(self) -> set[str]:
        return {j for w in self.joints.values() for j in w}

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """``(17, J)`` weights turning ``(..., J, 3)`` BVH positions into H36M-17."""
        index = {n: i for i, n in enumerate(names)}
        W = np.zeros((H36M17.num_joints, len(names)))
        for t, target in enumerate(H36M17.joint_names):
            for src, w in self.joints[target].items():
                W[t, index[src]] += w
        return W

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def _lr(side_fmt: str, **kw: Any) -> dict[str, dict[str, float]]:
    """Left/right joint entries from a name pattern, e.g. ``"{}Thigh"`` with ``l``/``r``."""
    out: dict[str, dict[str, float]] = {}
    for side, tag in (("left", kw["left"]), ("right", kw["right"])):
        for target, src in kw["parts"].items():
            out[f"{side}_{target}"] = {side_fmt.format(tag=tag, part=src): 1.0}
    return out


# Derived joints, calibrated against the Human3.6M exp-map skeleton (mean bone lengths
# are in the module tests and the import report):
#  * Human3.6M's hip joints sit 13.3 cm either side of the pelvis, wider than the
#    anatomical hip centres BVH rigs use, so hips are pushed outwards from the pelvis;
#  * its thorax is the base of the neck, its spine about halfway up to it;
#  * its neck/nose and head joints continue the neck line 12 and 24 cm above the thorax.
_BANDAI_JOINTS: dict[str, dict[str, float]] = {
    "pelvis": {"Hips": 1.0},
    "right_hip": {"Hips": -1.0, "UpperLeg_R": 2.0},
    "right_knee": {"LowerLeg_R": 1.0},
    "right_ankle": {"Foot_R": 1.0},
    "left_hip": {"Hips": -1.0, "UpperLeg_L": 2.0},
    "left_knee": {"LowerLeg_L": 1.0},
    "left_ankle": {"Foot_L": 1.0},
    "spine": {"Spine": 0.5, "Chest": 0.5},
    "thorax": {"Neck": 1.0},
    "neck_nose": {"Neck": -0.85, "Head": 1.85},
    "head": {"Neck": -2.6, "Head": 3.6},
    "left_shoulder": {"UpperArm_L": 1.0},
    "left_elbow": {"LowerArm_L": 1.0},
    "left_wrist": {"Hand_L": 1.0},
    "right_shoulder": {"UpperArm_R": 1.0},
    "right_elbow": {"LowerArm_R": 1.0},
    "right_wrist": {"Hand_R": 1.0},
}

# CMU "DAZ-friendly" conversion: hip (root, pelvis centre), abdomen, chest, neck, head,
# l/rCollar, l/rShldr, l/rForeArm, l/rHand, l/rButtock, l/rThigh, l/rShin, l/rFoot.
_CMU_DAZ_JOINTS: dict[str, dict[str, float]] = {
    "pelvis": {"hip": 1.0},
    "right_hip": {"hip": -0.5, "rThigh": 1.5},
    "right_knee": {"rShin": 1.0},
    "right_ankle": {"rFoot": 1.0},
    "left_hip": {"hip": -0.5, "lThigh": 1.5},
    "left_knee": {"lShin": 1.0},
    "left_ankle": {"lFoot": 1.0},
    "spine": {"abdomen": 0.5, "chest": 0.5},
    "thorax": {"neck": 1.0},
    "neck_nose": {"neck": -0.7, "head": 1.7},
    "head": {"neck": -2.35, "head": 3.35},
    "left_shoulder": {"lShldr": 1.0},
    "left_elbow": {"lForeArm": 1.0},
    "left_wrist": {"lHand": 1.0},
    "right_shoulder": {"rShldr": 1.0},
    "right_elbow": {"rForeArm": 1.0},
    "right_wrist": {"rHand": 1.0},
}

# CMU's own ASF/AMC skeleton converted to BVH without rescaling (e.g. cmu-daz 16_xx):
# lengths in the ASF unit of 1/0.45 inch; a joint named after a bone sits at that
# bone's proximal end (lfemur = hip centre, ltibia = knee, lfoot = ankle).
_CMU_ASF_JOINTS: dict[str, dict[str, float]] = {
    # The ASF root sits 10 cm above the femur heads; Human3.6M's pelvis is between them.
    "pelvis": {"lfemur": 0.5, "rfemur": 0.5},
    "right_hip": {"rfemur": 1.25, "lfemur": -0.25},
    "right_knee": {"rtibia": 1.0},
    "right_ankle": {"rfoot": 1.0},
    "left_hip": {"lfemur": 1.25, "rfemur": -0.25},
    "left_knee": {"ltibia": 1.0},
    "left_ankle": {"lfoot": 1.0},
    "spine": {"lfemur": 0.25, "rfemur": 0.25, "lowerneck": 0.5},
    "thorax": {"lowerneck": 1.0},
    "neck_nose": {"upperneck": 0.5, "head": 0.5},
    "head": {"head": 0.5, "head_end": 0.5},
    "left_shoulder": {"lhumerus": 1.0},
    "left_elbow": {"lradius": 1.0},
    "left_wrist": {"lwrist": 1.0},
    "right_shoulder": {"rhumerus": 1.0},
    "right_elbow": {"rradius": 1.0},
    "right_wrist": {"rwrist": 1.0},
}

SKELETON_MAPS: dict[str, SkeletonMap] = {}


def register_skeleton_map(spec: SkeletonMap | dict[str, Any] | str | Path) -> SkeletonMap:
    """Add (or replace) a joint map from a :class:`SkeletonMap`, a dict or a JSON file.

    Raises:
        InputError: unreadable JSON file.
        ValueError: an invalid map (targets missing, weights not summing to 1...).
    """
    if isinstance(spec, (str, Path)):
        try:
            spec = json.loads(Path(spec).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read joint map ({exc})", spec) from None
    if isinstance(spec, dict):
        spec = SkeletonMap(name=spec["name"], joints={k: dict(v) for k, v in spec["joints"].items()},
                           unit_scale=float(spec.get("unit_scale", 0.01)), up_axis=spec.get("up_axis", "y"),
                           licence=spec.get("licence", ""))
    SKELETON_MAPS[spec.name] = spec
    return spec


register_skeleton_map(SkeletonMap("bandai-namco", _BANDAI_JOINTS, 0.01, "y", LICENCE_BANDAI))
register_skeleton_map(SkeletonMap("cmu-daz", _CMU_DAZ_JOINTS, 0.01, "y", LICENCE_CMU))
register_skeleton_map(SkeletonMap("cmu-asf", _CMU_ASF_JOINTS, 0.0254 / 0.45, "y", LICENCE_CMU))


def detect_skeleton_map(joint_names: Iterable[str]) -> SkeletonMap:
    """The registered map whose source joints are all in ``joint_names`` (most joints wins).

    Raises:
        InputError: no registered map fits (the message lists what is missing).
    """
    names = set(joint_names)
    fits = [m for m in SKELETON_MAPS.values() if m.source_joints <= names]
    if fits:
        return max(fits, key=lambda m: len(m.source_joints))
    best = min(SKELETON_MAPS.values(), key=lambda m: len(m.source_joints - names))
    missing = sorted(best.source_joints - names)[:4]
    raise InputError(f"unknown BVH skeleton (closest map {best.name!r} lacks joints {', '.join(missing)}); "
                     "register a joint map with poselift.io.mocap.register_skeleton_map")


def bvh_to_h36m17(bvh: BvhMotion, skeleton_map: SkeletonMap | None = None) -> np.ndarray:
    """Forward kinematics, joint map, units and axes: ``(T, 17, 3)`` float64 metres, Z up."""
    m = skeleton_map or detect_skeleton_map(bvh.names)
    pos = bvh.positions()
    out = np.einsum("kj,tjc->tkc", m.matrix(bvh.names), pos) * m.unit_scale
    return yup_to_zup(out) if m.up_axis == "y" else out


# --------------------------------------------------------------------------- resampling

def _nice_fps(fps: float) -> float:
    # "Frame Time: 0.0333333" means 30 fps, not 30.00003.
    r = round(fps)
    return float(r) if r > 0 and abs(fps - r) < 1e-3 * fps else float(fps)


def resample(x: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear interpolation over time. ``(T, ...) -> (T', ...)``.

    Output frame ``k`` is at time ``k / fps_out``; frames run while inside the input's
    span ``[0, (T - 1) / fps_in]``.
    """
    x = np.asarray(x)
    if x.shape[0] < 2 or abs(fps_in - fps_out) < 1e-9:
        return x
    span = (x.shape[0] - 1) / fps_in
    n = int(np.floor(span * fps_out + 1e-6)) + 1
    t_src = np.arange(x.shape[0]) / fps_in
    return resample_sequence(x, t_src, np.arange(n) / fps_out).astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------- cache

def cache_dir() -> Path:
    """Cache folder: ``$POSELIFT_CACHE`` if set, else ``~/.cache/poselift/mocap``."""
    env = os.environ.get("POSELIFT_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "poselift" / "mocap"


def _cache_key(path: Path, fps: float, extra: str) -> str:
    st = path.stat()
    key = f"{_CACHE_VERSION}|{path.resolve()}|{st.st_mtime_ns}|{st.st_size}|{fps:.6f}|{extra}"
    return hashlib.sha1(key.encode()).hexdigest()


def _cache_read(key: str) -> list[MocapClip] | None:
    f = cache_dir() / f"{key}.npz"
    if not f.is_file():
        return None
    try:
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return [MocapClip(positions=z[f"p{i}"], **m) for i, m in enumerate(meta)]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged cache entry is rebuilt


def _cache_write(key: str, clips: list[MocapClip]) -> None:
    d = cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        meta = [{k: v for k, v in asdict(c).items() if k != "positions"} for c in clips]
        tmp = d / f".{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, meta=np.array(json.dumps(meta)), **{f"p{i}": c.positions for i, c in enumerate(clips)})
        tmp.replace(d / f"{key}.npz")
    except OSError:
        pass  # caching is an optimisation; a read-only home must not break imports


# ----------------------------------------------------------------------------- readers

_KNOWN_BVH_DATASETS = ("bandai-namco", "cmu-daz", "cmu-dance")


def _strip_suffixes(path: Path) -> str:
    name = path.name
    for suf in (".gz", ".bvh", ".txt", ".npz"):
        if name.lower().endswith(suf):
            name = name[: -len(suf)]
    return name


def _bvh_identity(path: Path, skeleton: SkeletonMap) -> tuple[str, str, str]:
    """(dataset, subject, action) from the folder and file names."""
    folder = path.parent.name
    dataset = folder if folder in _KNOWN_BVH_DATASETS else skeleton.name
    action = _strip_suffixes(path)
    m = re.fullmatch(r"(\d+)_\d+", action)
    subject = f"cmu_{m.group(1)}" if m and dataset.startswith("cmu") else dataset
    return dataset, subject, action


# 11 hours at 50 fps: more is a lying Frame Time, not motion capture.
MAX_RESAMPLED_FRAMES = 2_000_000


def load_bvh_clip(path: str | Path, fps: float = DEFAULT_FPS, skeleton_map: SkeletonMap | None = None,
                  dataset: str | None = None) -> MocapClip:
    """Import one BVH file as a :class:`MocapClip` (no caching; see :func:`load_mocap_file`)."""
    p = Path(path)
    bvh = read_bvh(p)
    m = skeleton_map or detect_skeleton_map(bvh.names)
    if bvh.num_frames == 0:
        raise InputError("BVH file has no frames", p)
    pos = bvh_to_h36m17(bvh, m)
    if not np.isfinite(pos).all():
        raise InputError("motion contains NaN or infinite values", p)
    src_fps = _nice_fps(bvh.fps)
    if fps and (bvh.num_frames - 1) / src_fps * fps > MAX_RESAMPLED_FRAMES:
        raise InputError(f"{bvh.num_frames} frames at {src_fps:g} fps would be more than "
                         f"{MAX_RESAMPLED_FRAMES} frames at {fps:g} fps", p)
    pos = resample(pos, src_fps, fps) if fps else pos
    ds, subject, action = _bvh_identity(p, m)
    ds = dataset or ds
    return MocapClip(name=f"{ds}/{subject}/{action}", dataset=ds, subject=subject, action=action,
                     fps=float(fps or src_fps), positions=pos.astype(np.float32), licence=m.licence,
                     source=str(p), skeleton=m.name)


def load_h36m_expmap_clip(path: str | Path, fps: float = DEFAULT_FPS, joints: int = 17) -> MocapClip:
    """Import one Human3.6M exp-map sequence (subject from the folder, e.g. ``S1``).

    ``joints=32`` keeps the full Human3.6M skeleton (what VideoPose3D's
    ``Human36mDataset`` reads); 17 is the H36M-17 layout.
    """
    p = Path(path)
    pos = read_h36m_expmap(p, num_joints=joints)
    pos = resample(pos, EXPMAP_FPS, fps) if fps else pos
    subject, action = p.parent.name, _strip_suffixes(p)
    return MocapClip(name=f"h36m-expmap/{subject}/{action}", dataset="h36m-expmap", subject=subject,
                     action=action, fps=float(fps or EXPMAP_FPS), positions=pos.astype(np.float32),
                     licence=LICENCE_H36M, source=str(p), skeleton="h36m-expmap")


def load_data_3d_npz(path: str | Path, fps: float = DEFAULT_FPS, source_fps: float = 50.0,
                     joints: int = 17) -> list[MocapClip]:
    """Import a VideoPose3D ``data_3d_<name>.npz`` (``positions_3d[subject][action]``).

    Arrays of 32 joints are reduced to H36M-17, 17-joint arrays are taken as H36M-17;
    positions are assumed to be metres in a Z-up world (as VideoPose3D's Human3.6M file).

    Raises:
        InputError: no ``positions_3d`` dict, or arrays of an unexpected shape.
    """
    from poselift.io.safe_npz import load_npz  # the lead's restricted unpickler

    p = Path(path)
    data = load_npz(p)
    pos3d = data.get("positions_3d")
    if not isinstance(pos3d, dict):
        raise InputError("no positions_3d dictionary (not a VideoPose3D data_3d file)", p)
    name = _strip_suffixes(p)
    ds = name[len("data_3d_"):] if name.startswith("data_3d_") else name
    meta = data.get("metadata")
    licence = meta.get("licence", "") if isinstance(meta, dict) and isinstance(meta.get("licence", ""), str) else ""
    clips = []
    for subject, actions in pos3d.items():
        if not isinstance(actions, dict):
            raise InputError(f"positions_3d[{subject!r}] is not a dictionary", p)
        for action, arr in actions.items():
            a = np.asarray(arr, dtype=np.float32)
            if a.ndim != 3 or a.shape[-1] != 3 or a.shape[1] not in (17, 32):
                raise InputError(f"positions_3d[{subject!r}][{action!r}] has shape {a.shape}, "
                                 "expected (T, 17 or 32, 3)", p)
            if joints == 32 and a.shape[1] != 32:
                raise InputError(f"positions_3d[{subject!r}][{action!r}] has {a.shape[1]} joints; "
                                 "--joints 32 needs 32-joint sources", p)
            if a.shape[1] == 32 and joints == 17:
                a = h36m32_to_h36m17(a)
            a = resample(a, source_fps, fps) if fps else a
            clips.append(MocapClip(name=f"{ds}/{subject}/{action}", dataset=ds, subject=str(subject),
                                   action=str(action), fps=float(fps or source_fps),
                                   positions=np.ascontiguousarray(a, dtype=np.float32),
                                   licence=licence, source=str(p), skeleton="videopose3d"))
    return clips


def _kind(path: Path) -> str:
    n = path.name.lower()
    if n.endswith((".bvh", ".bvh.gz")):
        return "bvh"
    if n.endswith((".txt", ".txt.gz")):
        return "expmap"
    if n.endswith(".npz"):
        return "npz"
    raise InputError("unsupported file type (expected .bvh[.gz], H3.6M exp-map .txt[.gz] or data_3d .npz)",
                     path)


def load_mocap_file(path: str | Path, fps: float = DEFAULT_FPS, cache: bool = True,
                    joints: int = 17) -> list[MocapClip]:
    """Import one file of any supported kind, through the on-disk cache.

    ``joints``: 17 (H36M-17, every kind) or 32 (the full Human3.6M skeleton, for
    exp-map files and 32-joint data_3d files only; BVH files are refused).

    Returns:
        the clips it holds (one for BVH and exp-map files, any number for ``.npz``).
    Raises:
        InputError: unreadable or malformed file, unknown skeleton.
    """
    from poselift.fsutil import check_input

    p = Path(path)
    kind = _kind(p)
    check_input(p, what="mocap file")
    if joints not in (17, 32):
        raise InputError(f"joints must be 17 or 32, not {joints}", p)
    if joints == 32 and kind == "bvh":
        raise InputError("BVH skeletons map onto 17 joints only; --joints 32 needs Human3.6M exp-map or "
                         "32-joint data_3d sources", p)
    maps = "|".join(f"{m.name}:{m.digest()}" for m in SKELETON_MAPS.values()) if kind == "bvh" else ""
    key = _cache_key(p, fps, f"{kind}|{maps}" + ("|j32" if joints == 32 else "")) if cache else ""
    if cache:
        hit = _cache_read(key)
        if hit is not None:
            return hit
    try:
        if kind == "bvh":
            clips = [load_bvh_clip(p, fps)]
        elif kind == "expmap":
            clips = [load_h36m_expmap_clip(p, fps, joints)]
        else:
            clips = load_data_3d_npz(p, fps, joints=joints)
    except PoseliftError as exc:
        if exc.path is None:  # e.g. an unknown skeleton: say which file
            raise InputError(super(PoseliftError, exc).__str__(), p) from None
        raise
    except (ValueError, IndexError, MemoryError) as exc:
        raise InputError(f"cannot import ({type(exc).__name__}: {exc})", p) from None
    if cache:
        _cache_write(key, clips)
    return clips


_DATASET_FOLDERS = {"h36m-expmap": "h36m-expmap", "bandai-namco": "bvh/bandai-namco",
                    "cmu-daz": "bvh/cmu-daz", "cmu-dance": "bvh/cmu-dance"}


def _dataset_of(path: Path) -> str:
    parts = [q.lower() for q in path.parts]
    for ds in _DATASET_FOLDERS:
        if ds in parts:
            return ds
    name = _strip_suffixes(path)
    return name[len("data_3d_"):] if name.startswith("data_3d_") else path.parent.name


def find_mocap_files(root_or_files: str | Path | Iterable[str | Path],
                     datasets: Sequence[str] | None = None) -> list[Path]:
    """Files to import: given files as they are, folders searched recursively.

    Args:
        root_or_files: a folder (``../shared/data`` style: ``h36m-expmap/S1/*.txt.gz``,
            ``bvh/<dataset>/*.bvh.gz``, ``data_3d_*.npz``), a file, or a list of either.
        datasets: keep only files of these datasets (folder names such as
            ``h36m-expmap``, ``bandai-namco``, ``cmu-daz``, ``cmu-dance``, or ``<name>`` of
            ``data_3d_<name>.npz``); ``None`` keeps all.
    Returns:
        sorted, de-duplicated paths.
    """
    items = [root_or_files] if isinstance(root_or_files, (str, Path)) else list(root_or_files)
    wanted = {d.lower() for d in datasets} if datasets else None
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                n = f.name.lower()
                if not f.is_file():
                    continue
                if n.endswith((".bvh", ".bvh.gz")) or (n.endswith(".npz") and n.startswith("data_3d_")):
                    out.append(f)
                elif n.endswith((".txt", ".txt.gz")) and "h36m-expmap" in [q.lower() for q in f.parts]:
                    out.append(f)
        else:
            out.append(p)  # a missing or odd file is reported when it is loaded
    if wanted is not None:
        out = [f for f in out if _dataset_of(f).lower() in wanted]
    seen: set[Path] = set()
    uniq = []
    for f in out:
        if f not in seen:
            seen.add(f)
            uniq.append(f)
    return uniq


def load_mocap_collection(root_or_files: str | Path | Iterable[str | Path], fps: float = DEFAULT_FPS,
                          datasets: Sequence[str] | None = None, cache: bool = True,
                          errors: list[InputError] | None = None, progress: bool = False) -> list[MocapClip]:
    """Import every supported file under folders and/or in a file list.

    Args:
        root_or_files: see :func:`find_mocap_files`.
        fps: target frame rate (linear resampling); ``0`` keeps each source's rate.
        datasets: dataset filter, see :func:`find_mocap_files`.
        cache: use the on-disk cache (:func:`cache_dir`).
        errors: when given, a bad file is appended here and skipped; when ``None`` the
            first bad file raises.
        progress: show a tqdm progress bar on stderr.
    Returns:
        clips in file order, each ``positions`` ``(T, 17, 3)`` float32 metres, Z up.
    """
    files = find_mocap_files(root_or_files, datasets)
    it: Iterable[Path] = files
    if progress:
        from tqdm import tqdm
        it = tqdm(files, desc="import", unit="file")
    clips: list[MocapClip] = []
    for f in it:
        try:
            clips.extend(load_mocap_file(f, fps, cache))
        except InputError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return clips
