"""VideoPose3D's data files, read safely and written compatibly.

``data_3d_<dataset>.npz``
    ``positions_3d``: ``{subject: {action: float32 (T, J, 3)}}``, metres, world frame.
``data_2d_<dataset>_<keypoints>.npz``
    ``positions_2d``: ``{subject: {action: [float32 (T, J, C) per camera]}}`` pixels
    (``C`` = 2, or more with confidences), and ``metadata``: ``{"layout_name",
    "num_joints", "keypoints_symmetry": [left, right]}``.
Custom dataset (``data_2d_custom_<name>.npz``)
    ``positions_2d``: ``{video: {"custom": [float32 (T, J, 2)]}}`` and ``metadata`` as
    above plus ``video_metadata: {video: {"w": int, "h": int}}``.
Detectron per-video npz (written by VideoPose3D's ``infer_video_d2.py``)
    ``boxes``: per frame ``[[], float (N, 5)]`` (x0, y0, x1, y1, score);
    ``keypoints``: per frame ``[[], float (N, 4, 17)]`` (x, y, logit, probability);
    ``segments``; ``metadata``: ``{"w", "h"}``. :func:`load_detectron_video` keeps the
    best-scoring box of each frame and fills frames without detections by linear
    interpolation, as VideoPose3D's ``prepare_data_2d_custom`` does.

Every reader goes through :func:`poselift.io.safe_npz.load_npz`: nothing in a file can
run code. Readers also take ``data``, the dict ``load_npz`` already returned for the
file, so a caller that sniffed the kind first does not read the file twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import InputError
from poselift.geometry.skeletons import get_skeleton
from poselift.io.safe_npz import load_npz, save_npz

_SUGGESTED_SYMMETRY = {
    "coco": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
    "h36m": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}


def suggest_metadata(layout_name: str) -> dict[str, Any]:
    """Metadata block for a 2D file in ``layout_name`` (``coco`` or ``h36m`` naming as VideoPose3D)."""
    sk = get_skeleton(layout_name)
    sym = _SUGGESTED_SYMMETRY.get(layout_name, [list(sk.joints_left), list(sk.joints_right)])
    return {"layout_name": layout_name, "num_joints": sk.num_joints, "keypoints_symmetry": sym}


def _require(d: dict[str, Any], key: str, path: Path) -> Any:
    if key not in d:
        raise InputError(f"missing '{key}' (keys present: {', '.join(sorted(d)) or 'none'})", path)
    return d[key]


def _as_seq(a: Any, path: Path, where: str, coords: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"{where} is not a numeric array", path) from None
    if arr.ndim != 3 or (coords is not None and arr.shape[-1] < coords):
        raise InputError(f"{where} has shape {arr.shape}, expected (frames, joints, {coords or 'C'})", path)
    return arr


# --------------------------------------------------------------------------- data_3d
def load_data_3d(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``positions_3d[subject][action]`` -> float32 ``(T, J, 3)`` metres."""
    p = Path(path)
    pos = _require(load_npz(p), "positions_3d", p)
    if not isinstance(pos, dict):
        raise InputError("'positions_3d' is not a dict of subjects", p)
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in pos.items():
        if not isinstance(actions, dict):
            raise InputError(f"positions_3d[{subject!r}] is not a dict of actions", p)
        out[str(subject)] = {str(a): _as_seq(v, p, f"positions_3d[{subject!r}][{a!r}]", 3)[..., :3]
                             for a, v in actions.items()}
    return out


def save_data_3d(path: str | Path, positions_3d: dict[str, dict[str, np.ndarray]], **extra: Any) -> None:
    """Write ``positions_3d`` (metres) in VideoPose3D's layout (atomic)."""
    data = {s: {a: np.asarray(v, dtype=np.float32) for a, v in acts.items()} for s, acts in positions_3d.items()}
    save_npz(path, positions_3d=_obj(data), **{k: _obj(v) for k, v in extra.items()})


def _obj(x: Any) -> np.ndarray:
    # Wrap a Python object in a 0-d object array, which is how VideoPose3D stores dicts.
    arr = np.empty((), dtype=object)
    arr[()] = x
    return arr


# --------------------------------------------------------------------------- data_2d
def load_data_2d(path: str | Path, data: dict[str, Any] | None = None
                 ) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, Any]]:
    """``(positions_2d, metadata)``; each action is a list of float32 ``(T, J, C)`` per camera."""
    p = Path(path)
    d = load_npz(p) if data is None else data
    pos = _require(d, "positions_2d", p)
    meta = _require(d, "metadata", p)
    if not isinstance(pos, dict) or not isinstance(meta, dict):
        raise InputError("'positions_2d' and 'metadata' must be dicts", p)
    nj = meta.get("num_joints")
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in pos.items():
        if not isinstance(actions, dict):
            raise InputError(f"positions_2d[{subject!r}] is not a dict", p)
        out[str(subject)] = {}
        for action, cams in actions.items():
            if isinstance(cams, np.ndarray) and cams.dtype != object:
                cams = [cams]
            seqs = [_as_seq(c, p, f"positions_2d[{subject!r}][{action!r}]", 2) for c in cams]
            for s in seqs:
                if nj is not None and s.shape[1] != nj:
                    raise InputError(f"positions_2d[{subject!r}][{action!r}] has {s.shape[1]} joints, "
                                     f"metadata says {nj}", p)
            out[str(subject)][str(action)] = seqs
    return out, meta


def save_data_2d(path: str | Path, positions_2d: dict[str, dict[str, list[np.ndarray]]],
                 metadata: dict[str, Any]) -> None:
    """Write a VideoPose3D 2D file (atomic)."""
    data = {s: {a: [np.asarray(c, dtype=np.float32) for c in cams] for a, cams in acts.items()}
            for s, acts in positions_2d.items()}
    save_npz(path, positions_2d=_obj(data), metadata=_obj(dict(metadata)))


# --------------------------------------------------------------------------- custom dataset
@dataclass
class CustomVideo:
    """One video of a VideoPose3D custom dataset: keypoints ``(T, J, 2)`` pixels."""

    name: str
    keypoints: np.ndarray
    width: int
    height: int
    layout: str


def load_custom_dataset(path: str | Path, data: dict[str, Any] | None = None) -> dict[str, CustomVideo]:
    """Read ``data_2d_custom_*.npz`` into ``{video: CustomVideo}``."""
    p = Path(path)
    pos, meta = load_data_2d(p, data)
    vmeta = meta.get("video_metadata")
    if not isinstance(vmeta, dict):
        raise InputError("metadata has no 'video_metadata' (not a VideoPose3D custom dataset)", p)
    layout_name = str(meta.get("layout_name", "coco"))
    try:
        layout = get_skeleton(layout_name).name
    except KeyError as exc:
        raise InputError(str(exc.args[0]), p) from None
    out = {}
    for video, actions in pos.items():
        if "custom" not in actions or not actions["custom"]:
            raise InputError(f"positions_2d[{video!r}] has no 'custom' entry", p)
        if video not in vmeta or not {"w", "h"} <= set(vmeta[video]):
            raise InputError(f"video_metadata has no w/h for {video!r}", p)
        kp = actions["custom"][0][..., :2]
        if kp.shape[1] != get_skeleton(layout).num_joints:
            raise InputError(f"{video!r}: {kp.shape[1]} joints, but layout {layout_name} has "
                             f"{get_skeleton(layout).num_joints}", p)
        out[video] = CustomVideo(video, kp, int(vmeta[video]["w"]), int(vmeta[video]["h"]), layout)
    if not out:
        raise InputError("custom dataset holds no videos", p)
    return out


def save_custom_dataset(path: str | Path, videos: dict[str, CustomVideo]) -> None:
    """Write a custom dataset readable by VideoPose3D's ``run.py -d custom``."""
    layouts = {v.layout for v in videos.values()}
    if len(layouts) != 1:
        raise ValueError(f"all videos must share one layout, got {sorted(layouts)}")
    layout = layouts.pop()
    name = {"coco17": "coco", "h36m17": "h36m"}.get(layout, layout)
    meta = suggest_metadata(name)
    meta["video_metadata"] = {k: {"w": int(v.width), "h": int(v.height)} for k, v in videos.items()}
    save_data_2d(path, {k: {"custom": [v.keypoints[..., :2]]} for k, v in videos.items()}, meta)


# --------------------------------------------------------------------------- Detectron per-video
@dataclass
class DetectronVideo:
    """Best detection per frame: ``keypoints (T, 17, 2)`` pixels (COCO), ``scores (T, 17)``,
    ``boxes (T, 4)``, ``detected (T,)`` (False where the frame was interpolated)."""

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray
    width: int
    height: int


def load_detectron_video(path: str | Path, data: dict[str, Any] | None = None) -> DetectronVideo:
    """Read a per-video npz from VideoPose3D's Detectron scripts (see module doc)."""
    p = Path(path)
    d = load_npz(p) if data is None else data
    boxes, kps = _require(d, "boxes", p), _require(d, "keypoints", p)
    meta = _require(d, "metadata", p)
    if not isinstance(meta, dict) or not {"w", "h"} <= set(meta):
        raise InputError("metadata must be a dict with 'w' and 'h'", p)
    try:
        t, t_kp = len(boxes), len(kps)
    except TypeError:
        raise InputError("'boxes' and 'keypoints' must hold one entry per frame", p) from None
    if t == 0 or t_kp != t:
        raise InputError(f"{t} frames of boxes but {t_kp} of keypoints", p)
    bb = np.full((t, 4), np.nan, np.float32)
    kp = np.full((t, 17, 4), np.nan, np.float32)
    for i in range(t):
        try:
            fb, fk = boxes[i][1], kps[i][1]
            empty = len(fb) == 0 or len(fk) == 0
        except (IndexError, TypeError, KeyError):
            raise InputError(f"frame {i}: expected Detectron's [[], boxes] / [[], keypoints] entries", p) from None
        if empty:
            continue
        try:
            fb = np.asarray(fb, dtype=np.float32)
            fk = np.asarray(fk, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(f"frame {i}: boxes/keypoints are not numeric arrays", p) from None
        if fb.ndim != 2 or fb.shape[1] < 5 or fk.ndim != 3 or fk.shape[1:] != (4, 17):
            raise InputError(f"frame {i}: boxes {fb.shape} / keypoints {fk.shape}, expected (N, 5) / "
                             "(N, 4, 17) COCO keypoints", p)
        best = int(np.argmax(fb[:, 4]))
        bb[i] = fb[best, :4]
        kp[i] = fk[best].T
    detected = ~np.isnan(bb[:, 0])
    if not detected.any():
        raise InputError("no person detected in any frame", p)
    idx = np.arange(t)
    for c in range(4):
        bb[:, c] = np.interp(idx, idx[detected], bb[detected, c])
    for j in range(17):
        for c in range(4):
            kp[:, j, c] = np.interp(idx, idx[detected], kp[detected, j, c])
    return DetectronVideo(keypoints=kp[..., :2], scores=kp[..., 3], boxes=bb, detected=detected,
                          width=int(meta["w"]), height=int(meta["h"]))


def save_detectron_video(path: str | Path, boxes: list[np.ndarray], keypoints: list[np.ndarray],
                         width: int, height: int) -> None:
    """Write the Detectron per-video layout: per frame ``(N, 5)`` boxes and ``(N, 4, 17)`` keypoints."""
    bx = np.empty((len(boxes), 2), dtype=object)
    kx = np.empty((len(keypoints), 2), dtype=object)
    for i, (b, k) in enumerate(zip(boxes, keypoints)):
        bx[i, 0], bx[i, 1] = [], (np.asarray(b, np.float32) if len(b) else [])
        kx[i, 0], kx[i, 1] = [], (np.asarray(k, np.float32) if len(k) else [])
    seg = np.empty(len(boxes), dtype=object)
    save_npz(path, boxes=bx, segments=seg, keypoints=kx, metadata=_obj({"w": int(width), "h": int(height)}))


def detect_npz_kind(path: str | Path, data: dict[str, Any] | None = None) -> str:
    """Which VideoPose3D npz this is: ``custom``, ``data_2d``, ``data_3d``, ``detectron`` or ``poselift``."""
    p = Path(path)
    d = load_npz(p) if data is None else data
    if "poses_3d" in d or ("keypoints_2d" in d and "scores_2d" in d):
        return "poselift"
    if "positions_3d" in d:
        return "data_3d"
    if "positions_2d" in d:
        meta = d.get("metadata")
        return "custom" if isinstance(meta, dict) and "video_metadata" in meta else "data_2d"
    if "boxes" in d and "keypoints" in d:
        return "detectron"
    raise InputError(f"unrecognised npz content (keys: {', '.join(sorted(d)) or 'none'})", p)
