"""Importers of precomputed 2D keypoints (COCO results/dataset JSON, OpenPose, AlphaPose).

Everything lands in one :class:`KeypointSequence`. Image points are pixels, ``x`` right
and ``y`` down, origin at the top-left corner of the image. Every importer outputs the
``coco17`` layout (OpenPose BODY_25/COCO-18 and AlphaPose Halpe-26/136 are mapped to it
by joint name), because that is what the lifter's layout converter accepts.

Person slots: when a file carries track ids (AlphaPose ``idx``, OpenPose ``person_id``
>= 0) slot ``p`` is one identity over time; otherwise people are ranked per frame by
detection score and slot ``p`` is "the p-th best person of that frame", not an
identity. :meth:`KeypointSequence.people_per_frame` hands the candidates to
:mod:`poselift.detect.tracking`, which picks one consistent person.

Files may be gzip-compressed (``.gz``).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import InputError, PoseliftError
from poselift.geometry.skeletons import COCO17

OPENPOSE_BODY25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
OPENPOSE_COCO18 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
)
# OpenPose name -> COCO-17 name; Neck, MidHip and the feet have no COCO twin.
_OPENPOSE_TO_COCO = {
    "Nose": "nose", "LEye": "left_eye", "REye": "right_eye", "LEar": "left_ear", "REar": "right_ear",
    "LShoulder": "left_shoulder", "RShoulder": "right_shoulder", "LElbow": "left_elbow",
    "RElbow": "right_elbow", "LWrist": "left_wrist", "RWrist": "right_wrist", "LHip": "left_hip",
    "RHip": "right_hip", "LKnee": "left_knee", "RKnee": "right_knee", "LAnkle": "left_ankle",
    "RAnkle": "right_ankle",
}


def _openpose_index(names: tuple[str, ...]) -> np.ndarray:
    """Source index for each COCO-17 joint."""
    inv = {coco: names.index(op) for op, coco in _OPENPOSE_TO_COCO.items()}
    return np.array([inv[n] for n in COCO17.joint_names])


_OPENPOSE_LAYOUTS = {25: ("BODY_25", _openpose_index(OPENPOSE_BODY25)),
                     18: ("COCO-18", _openpose_index(OPENPOSE_COCO18))}

# AlphaPose's COCO, Halpe-26 and Halpe-136 outputs all start with the 17 COCO joints
# in COCO order.
_ALPHAPOSE_JOINTS = (17, 26, 136)


@dataclass
class KeypointSequence:
    """2D keypoints of up to ``P`` people over ``T`` frames.

    Attributes:
        keypoints: ``(P, T, J, 2)`` float32 pixels; 0 where nothing was detected.
        scores: ``(P, T, J)`` float32 confidences in ``[0, 1]``; 0 marks a missing
            joint or an empty person slot.
        layout: skeleton name (``"coco17"`` for every importer here).
        fps: frame rate in frames/s if known, else None.
        image_size: ``(width, height)`` pixels if known, else None.
        frame_indices: ``(T,)`` int64 video frame number of each time step.
        track_ids: ``(P,)`` int64 identity of each slot, or None when slots are per-frame
            score ranks.
        source: format the data came from (``"coco"``, ``"openpose"``, ``"alphapose"``...).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    layout: str
    fps: float | None = None
    image_size: tuple[int, int] | None = None
    frame_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    track_ids: np.ndarray | None = None
    source: str = ""

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.scores = np.asarray(self.scores, dtype=np.float32)
        if self.keypoints.ndim != 4 or self.keypoints.shape[-1] != 2:
            raise ValueError(f"keypoints must be (P, T, J, 2), got {self.keypoints.shape}")
        if self.scores.shape != self.keypoints.shape[:3]:
            raise ValueError(f"scores {self.scores.shape} do not match keypoints {self.keypoints.shape}")
        if len(self.frame_indices) == 0 and self.num_frames:
            self.frame_indices = np.arange(self.num_frames, dtype=np.int64)
        self.frame_indices = np.asarray(self.frame_indices, dtype=np.int64)
        if self.frame_indices.shape != (self.num_frames,):
            raise ValueError(f"{self.num_frames} frames but {self.frame_indices.shape} frame indices")

    @property
    def num_people(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[2])

    @property
    def present(self) -> np.ndarray:
        """``(P, T)`` bool: the slot holds a detection in that frame."""
        return self.scores.max(axis=-1, initial=0.0) > 0

    @property
    def timestamps(self) -> np.ndarray | None:
        """``(T,)`` seconds of each step (``frame_indices / fps``), or None without fps."""
        return None if not self.fps else self.frame_indices / float(self.fps)

    def people_per_frame(self) -> list[list[Any]]:
        """Per frame, the detections as :class:`poselift.detect.base.Person2D` (for tracking)."""
        from poselift.detect.base import Person2D, bbox_from_keypoints

        out: list[list[Any]] = []
        present = self.present
        for t in range(self.num_frames):
            people = []
            for p in np.flatnonzero(present[:, t]):
                kp, sc = self.keypoints[p, t], self.scores[p, t]
                people.append(Person2D(keypoints=kp, scores=sc, layout=self.layout,
                                       bbox=bbox_from_keypoints(kp, sc, min_score=0.0),
                                       score=float(sc[sc > 0].mean())))
            out.append(people)
        return out


# ---------------------------------------------------------------------------- helpers

# A keypoint JSON of an hour of 60 fps video with 10 people is about 100 MiB.
MAX_JSON_BYTES = 512 * 2**20


def _read_json(path: Path) -> Any:
    from poselift.fsutil import read_bounded

    raw = read_bounded(path, MAX_JSON_BYTES, what="keypoint file")
    try:
        return json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON: {str(exc).splitlines()[0]}", path) from None
    except RecursionError:
        raise InputError("not valid JSON: nested too deeply", path) from None


def _number(value: Any, what: str, path: Path, kind: type = float) -> Any:
    """A JSON number field as ``kind``, or a one-line error naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{what} must be a number, got {_short_repr(value)}", path)
    v = float(value)
    if not np.isfinite(v) or (kind is int and (not v.is_integer() or abs(v) > 2**53)):
        raise InputError(f"{what} must be a finite {'whole ' if kind is int else ''}number, got {_short_repr(value)}",
                         path)
    return int(v) if kind is int else v


def _short_repr(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 40 else r[:37] + "..."


_DIGITS = re.compile(r"(\d+)")
MAX_FRAME_NUMBER = 10**12
# No camera makes images over 65536 px a side; keypoints beyond 10 such sides are garbage.
MAX_PIXEL = 655360.0


def _frame_number(name: Any) -> int | None:
    """Frame number from an int id or the last digit run of a name like ``"frame_0012.jpg"``."""
    if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
        n = int(name)
    elif isinstance(name, float) and name.is_integer():
        n = int(name)
    elif isinstance(name, str):
        runs = _DIGITS.findall(Path(name).stem)
        if not runs:
            return None
        n = int(runs[-1][-18:])  # int() of a 5000-digit run is an error; no video has 10^18 frames
    else:
        return None
    return n if 0 <= n < MAX_FRAME_NUMBER else None


def _flat_keypoints(values: Any, allowed_joints: tuple[int, ...], what: str, path: Path) -> np.ndarray:
    """Validate a flat ``[x, y, c] * J`` list; returns ``(J, 3)`` float32."""
    if not isinstance(values, (list, tuple)):
        raise InputError(f"{what}: keypoints must be a list of numbers", path)
    n = len(values)
    if n % 3 or n // 3 not in allowed_joints:
        expected = " or ".join(f"{j * 3} ({j} joints x 3)" for j in allowed_joints)
        raise InputError(f"{what}: expected {expected} keypoint values, got {n}", path)
    try:
        # float64 first: a value beyond float32's range must be seen, not overflow to inf.
        arr = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what}: keypoints must be numbers", path) from None
    bad = ~np.isfinite(arr).all(axis=1)
    arr[bad] = 0.0  # a NaN joint is a missing joint
    far = np.abs(arr[:, :2]).max(axis=1) > MAX_PIXEL
    if far.any():
        j = int(np.flatnonzero(far)[0])
        raise InputError(f"{what}: joint {j} at ({arr[j, 0]:.3g}, {arr[j, 1]:.3g}) px is outside any image "
                         f"(|x|, |y| <= {MAX_PIXEL:g})", path)
    arr[:, 2] = np.clip(arr[:, 2], -1.0, 2.0)  # confidences are clipped to [0, 1] later
    return arr.astype(np.float32)


def _score(det: dict, joints: np.ndarray, what: str, path: Path) -> float:
    """A detection's score: its ``score`` field, else the mean joint confidence; NaN counts as 0."""
    if "score" not in det:
        return float(np.nan_to_num(joints[:, 2].mean()))
    return _number(det["score"], f"{what}.score", path)


def _assemble(frames: dict[int, list[tuple[np.ndarray, float, int | None]]], source: str,
              fps: float | None, image_size: tuple[int, int] | None, path: Path,
              extra_frames: list[int] = ()) -> KeypointSequence:
    """Build a sequence from ``frame -> [(joints (17, 3), score, track_id | None)]``.

    Frame numbers are spread over their full integer range so that time steps are
    regular; frames without detections get empty slots.
    """
    numbers = sorted(set(frames) | set(extra_frames))
    if not numbers or not any(frames.values()):
        raise InputError("no person keypoints in file", path)
    lo, hi = numbers[0], numbers[-1]
    # A sparse id scheme (e.g. COCO image ids in the hundreds of thousands) is kept as
    # a list instead of being expanded into mostly empty frames.
    if hi - lo + 1 <= 10 * len(numbers) + 100:
        frame_indices = np.arange(lo, hi + 1, dtype=np.int64)
    else:
        frame_indices = np.asarray(numbers, dtype=np.int64)
    pos = {int(f): i for i, f in enumerate(frame_indices)}
    tracked = all(tid is not None for dets in frames.values() for _, _, tid in dets)
    if tracked:
        ids = sorted({tid for dets in frames.values() for _, _, tid in dets})
        slot_of = {tid: i for i, tid in enumerate(ids)}
        num_people = len(ids)
    else:
        num_people = max(len(d) for d in frames.values())
    T, J = len(frame_indices), COCO17.num_joints
    kp = np.zeros((num_people, T, J, 2), np.float32)
    sc = np.zeros((num_people, T, J), np.float32)
    for f, dets in frames.items():
        t = pos[f]
        if not tracked:
            dets = sorted(dets, key=lambda d: -d[1])
        for rank, (joints, _, tid) in enumerate(dets):
            p = slot_of[tid] if tracked else rank
            if tracked and sc[p, t].any():
                continue  # duplicate id in one frame: keep the first (best) one
            kp[p, t] = joints[:, :2]
            sc[p, t] = np.clip(joints[:, 2], 0.0, 1.0)
    sc[~np.isfinite(kp).all(axis=-1)] = 0.0
    kp[sc == 0] = 0.0
    return KeypointSequence(keypoints=kp, scores=sc, layout="coco17", fps=fps, image_size=image_size,
                            frame_indices=frame_indices,
                            track_ids=np.asarray(ids, np.int64) if tracked else None, source=source)


# ---------------------------------------------------------------------------- formats

def load_coco_json(path: str | Path, fps: float | None = None) -> KeypointSequence:
    """COCO keypoints: a results list ``[{"image_id", "category_id", "keypoints", "score"}]``
    or a dataset dict with ``images`` and ``annotations``.

    ``keypoints`` are 17 x ``(x, y, v)``. In a dataset dict ``v`` is COCO's label flag
    (0 unlabeled, 1 occluded, 2 visible), imported as score 0/1/1; in a results list
    it is a confidence, clipped to ``[0, 1]``. Only person annotations
    (``category_id`` 1, or absent) are read; crowd annotations are skipped. Frame
    numbers come from the image ids (or ``frame_id``/digits of ``file_name`` in a
    dataset dict when ids are not frame numbers).
    """
    path = Path(path)
    data = _read_json(path)
    return _coco_from_data(data, path, fps)


def _coco_from_data(data: Any, path: Path, fps: float | None) -> KeypointSequence:
    image_size = None
    extra: list[int] = []
    if isinstance(data, dict):
        if not isinstance(data.get("annotations"), list):
            raise InputError("COCO JSON: expected a list of results or a dict with 'annotations'", path)
        anns, is_gt = data["annotations"], True
        images = data.get("images") or []
        id_to_frame: dict[Any, int] = {}
        for i, im in enumerate(images):
            if not isinstance(im, dict) or "id" not in im:
                raise InputError(f"COCO JSON: images[{i}] has no 'id'", path)
            num = im.get("frame_id", im.get("frame_index"))
            if num is not None:
                num = _number(num, f"COCO JSON: images[{i}].frame_id", path, int)
                if not 0 <= num < MAX_FRAME_NUMBER:
                    raise InputError(f"COCO JSON: images[{i}].frame_id {num} is out of range", path)
            elif "file_name" in im:
                num = _frame_number(im.get("file_name"))
            try:
                id_to_frame[im["id"]] = num if num is not None else i
            except TypeError:
                raise InputError(f"COCO JSON: images[{i}].id must be a number or a string", path) from None
        if len(set(id_to_frame.values())) != len(id_to_frame):
            # File names do not number frames uniquely: fall back to list order.
            id_to_frame = {im["id"]: i for i, im in enumerate(images)}
        extra = list(id_to_frame.values())
        if images and "width" in images[0] and "height" in images[0]:
            image_size = (_number(images[0]["width"], "COCO JSON: images[0].width", path, int),
                          _number(images[0]["height"], "COCO JSON: images[0].height", path, int))
            from poselift.geometry.intrinsics import check_image_size
            try:
                check_image_size(*image_size)
            except PoseliftError as exc:
                raise InputError(f"COCO JSON: images[0]: {exc}", path) from None
    elif isinstance(data, list):
        anns, is_gt, id_to_frame = data, False, {}
    else:
        raise InputError("COCO JSON: expected a list of results or a dict with 'annotations'", path)
    frames: dict[int, list] = {}
    for i, ann in enumerate(anns):
        what = f"COCO JSON: {'annotations' if is_gt else 'result'}[{i}]"
        if not isinstance(ann, dict) or "keypoints" not in ann or "image_id" not in ann:
            raise InputError(f"{what} needs 'image_id' and 'keypoints'", path)
        if ann.get("category_id", 1) != 1 or ann.get("iscrowd", 0):
            continue
        try:
            hash(ann["image_id"])
        except TypeError:
            raise InputError(f"{what}: image_id must be a number or a string", path) from None
        joints = _flat_keypoints(ann["keypoints"], (17,), what, path)
        if is_gt:
            joints[:, 2] = (joints[:, 2] > 0).astype(np.float32)
            if not joints[:, 2].any():
                continue
        if id_to_frame:
            if ann["image_id"] not in id_to_frame:
                raise InputError(f"{what}: image_id {ann['image_id']!r} is not in 'images'", path)
            frame = id_to_frame[ann["image_id"]]
        else:
            frame = _frame_number(ann["image_id"])
            if frame is None:
                raise InputError(f"{what}: cannot read a frame number from image_id {ann['image_id']!r}", path)
        score = _score(ann, joints, what, path)
        tid = ann.get("track_id")
        tid = None if tid is None else _number(tid, f"{what}.track_id", path, int)
        frames.setdefault(frame, []).append((joints, score, tid))
    if not any(frames.values()):
        raise InputError("no person keypoints in file", path)
    # Track ids are usable only if every detection has one.
    if not all(t is not None for d in frames.values() for *_, t in d):
        frames = {f: [(j, s, None) for j, s, _ in d] for f, d in frames.items()}
    return _assemble(frames, "coco", fps, image_size, path, extra)


def load_alphapose_json(path: str | Path, fps: float | None = None) -> KeypointSequence:
    """AlphaPose ``alphapose-results.json``: ``[{"image_id": "0.jpg", "keypoints", "score", "idx"?}]``.

    Keypoints may be COCO-17, Halpe-26 or Halpe-136 (the first 17 joints, COCO order,
    are kept). ``idx`` (present when AlphaPose tracked people) becomes the track id; a
    list-valued ``idx`` uses its first entry. Frame numbers are the digits of ``image_id``.
    """
    path = Path(path)
    return _alphapose_from_data(_read_json(path), path, fps)


def _alphapose_from_data(data: Any, path: Path, fps: float | None) -> KeypointSequence:
    if not isinstance(data, list):
        raise InputError("AlphaPose JSON: expected a list of results", path)
    frames: dict[int, list] = {}
    for i, det in enumerate(data):
        what = f"AlphaPose JSON: result[{i}]"
        if not isinstance(det, dict) or "keypoints" not in det or "image_id" not in det:
            raise InputError(f"{what} needs 'image_id' and 'keypoints'", path)
        frame = _frame_number(det["image_id"])
        if frame is None:
            raise InputError(f"{what}: cannot read a frame number from image_id {det['image_id']!r}", path)
        joints = _flat_keypoints(det["keypoints"], _ALPHAPOSE_JOINTS, what, path)[:17]
        tid = det.get("idx")
        if isinstance(tid, list):
            tid = tid[0] if tid and not isinstance(tid[0], list) else None
        score = _score(det, joints, what, path)
        tid = None if tid is None else _number(tid, f"{what}.idx", path, int)
        frames.setdefault(frame, []).append((joints, score, tid))
    if frames and not all(t is not None for d in frames.values() for *_, t in d):
        frames = {f: [(j, s, None) for j, s, _ in d] for f, d in frames.items()}
    return _assemble(frames, "alphapose", fps, None, path)


def _openpose_people(data: Any, path: Path) -> list[tuple[np.ndarray, float, int | None]]:
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise InputError("OpenPose JSON: expected a dict with a 'people' list", path)
    out = []
    for i, person in enumerate(data["people"]):
        values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if values is not None and not isinstance(values, (list, tuple)):
            raise InputError(f"OpenPose JSON: people[{i}].pose_keypoints_2d must be a list of numbers", path)
        if values is None:
            raise InputError(f"OpenPose JSON: people[{i}] has no 'pose_keypoints_2d'", path)
        if len(values) == 0:
            continue
        joints = _flat_keypoints(values, (25, 18), f"OpenPose JSON: people[{i}]", path)
        _, index = _OPENPOSE_LAYOUTS[joints.shape[0]]
        coco = joints[index]
        if not coco[:, 2].any():
            continue
        pid = person.get("person_id")
        if isinstance(pid, list):
            pid = pid[0] if pid else None
        pid = None if pid is None else _number(pid, f"OpenPose JSON: people[{i}].person_id", path, int)
        pid = pid if pid is not None and pid >= 0 else None
        out.append((coco, float(coco[coco[:, 2] > 0, 2].mean()), pid))
    return out


def load_openpose_folder(path: str | Path, fps: float | None = None) -> KeypointSequence:
    """OpenPose ``--write_json`` output: a folder of ``*_keypoints.json``, one per frame.

    Each file holds ``{"people": [{"pose_keypoints_2d": [x, y, c] * J, "person_id"}]}``
    with BODY_25 (``J = 25``) or COCO-18 (``J = 18``) joints, converted to COCO-17 by
    name. OpenPose writes ``(0, 0, 0)`` for undetected joints, which become score 0.
    The frame number is the last digit run of the file name (``video_000000000012_keypoints.json``
    -> 12); without digits, the sorted file order is used. A single ``*_keypoints.json``
    file is read as a one-frame sequence.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(list(path.glob("*_keypoints.json")) + list(path.glob("*_keypoints.json.gz")))
        if not files:
            raise InputError("no *_keypoints.json files in folder (OpenPose --write_json output)", path)
    elif path.exists():
        files = [path]
    else:
        raise InputError("no such file or folder", path)
    numbers = []
    for f in files:
        stem = f.name.split("_keypoints.json")[0]
        runs = _DIGITS.findall(stem)
        numbers.append(int(runs[-1]) if runs else None)
    if None in numbers or len(set(numbers)) != len(numbers):
        numbers = list(range(len(files)))
    frames: dict[int, list] = {}
    for num, f in sorted(zip(numbers, files)):
        frames[num] = _openpose_people(_read_json(f), f)
    if not any(frames.values()):
        raise InputError("no person keypoints in any OpenPose file", path)
    if not all(t is not None for d in frames.values() for *_, t in d):
        frames = {n: [(j, s, None) for j, s, _ in d] for n, d in frames.items()}
    return _assemble(frames, "openpose", fps, None, path, extra_frames=list(frames))


def detect_format(path: str | Path) -> str:
    """Name the keypoint format of ``path``: ``"openpose"``, ``"coco"`` or ``"alphapose"``.

    Raises:
        InputError: the content matches none of them.
    """
    path = Path(path)
    if path.is_dir():
        return "openpose"
    if not path.exists():
        raise InputError("no such file or folder", path)
    data = _read_json(path)
    return _format_of(data, path)


def _format_of(data: Any, path: Path) -> str:
    if isinstance(data, dict):
        if "annotations" in data:
            return "coco"
        if "people" in data:
            return "openpose"
    if isinstance(data, list) and data and isinstance(data[0], dict) and "keypoints" in data[0]:
        first = data[0]
        # AlphaPose names images by file name and may add "idx"/"box"; COCO results use
        # integer ids and a category.
        if isinstance(first.get("image_id"), str) or "idx" in first or "box" in first:
            return "alphapose"
        return "coco"
    if isinstance(data, list) and not data:
        raise InputError("no person keypoints in file (empty list)", path)
    raise InputError("unrecognised keypoint file: expected COCO, OpenPose or AlphaPose JSON "
                     "(VideoPose3D .npz files are read by poselift.io.vp3d)", path)


_LOADERS = {"coco": load_coco_json, "alphapose": load_alphapose_json, "openpose": load_openpose_folder}


def load_keypoints(path: str | Path, fps: float | None = None, format: str | None = None) -> KeypointSequence:
    """Load 2D keypoints from any supported format, detecting it from the content.

    Args:
        path: JSON file (``.json``/``.json.gz``) or OpenPose output folder.
        fps: frame rate to record in the result (none of these formats stores it).
        format: force ``"coco"``, ``"openpose"`` or ``"alphapose"``.

    Raises:
        InputError: unreadable, malformed or unrecognised content, wrong joint count.
    """
    path = Path(path)
    if format is not None:
        fmt = format.lower()
        if fmt not in _LOADERS:
            raise InputError(f"unknown keypoint format {format!r}; choose {', '.join(_LOADERS)}", path)
        return _LOADERS[fmt](path, fps=fps)
    if path.is_dir():
        return load_openpose_folder(path, fps=fps)
    if not path.exists():
        raise InputError("no such file or folder", path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path)
    data = _read_json(path)  # parsed once, then handed to the matching importer
    fmt = _format_of(data, path)
    if fmt == "coco":
        return _coco_from_data(data, path, fps)
    if fmt == "alphapose":
        return _alphapose_from_data(data, path, fps)
    return load_openpose_folder(path, fps=fps)
