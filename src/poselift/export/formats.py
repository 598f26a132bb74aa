"""Writers for the result in other formats: JSON, CSV and VideoPose3D's ``.npy`` export.

All take the npz contract's arrays (see :class:`poselift.lift.pipeline.Result3D`) and
write atomically (temp file in the same folder, then rename).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from poselift.fsutil import atomic_write as _atomic_write


def _finite_or_none(a: np.ndarray) -> Any:
    """Nested lists with NaN replaced by None (JSON has no NaN)."""
    a = np.asarray(a, dtype=np.float64)
    out = np.round(a, 6).astype(object)
    out[~np.isfinite(a)] = None
    return out.tolist()


def write_json(path: Path, arrays: Mapping[str, Any]) -> Path:
    """One JSON object with the same keys as the npz; NaN (invalid frames) become ``null``."""
    doc = {
        "poses_3d": _finite_or_none(arrays["poses_3d"]),
        "trajectory": _finite_or_none(arrays["trajectory"]),
        "keypoints_2d": _finite_or_none(arrays["keypoints_2d"]),
        "scores_2d": _finite_or_none(arrays["scores_2d"]),
        "valid": np.asarray(arrays["valid"], bool).tolist(),
        "fps": float(arrays["fps"]),
        "image_size": [int(v) for v in np.asarray(arrays["image_size"]).ravel()],
        "joint_names": [str(n) for n in arrays["joint_names"]],
        "parents": [int(p) for p in arrays["parents"]],
        "units": {"poses_3d": "metres, camera frame (x right, y down, z forward), root at origin",
                  "trajectory": "metres, camera frame", "keypoints_2d": "pixels"},
    }
    # Each step's source frame: its index and its time on the source's clock (seconds).
    if "frame_index" in arrays:
        doc["frame_index"] = [int(v) for v in np.asarray(arrays["frame_index"]).ravel()]
    if "time_s" in arrays:
        doc["time_s"] = _finite_or_none(np.asarray(arrays["time_s"]).ravel())
        doc["units"]["time_s"] = "seconds, the source video's clock (frame_index: 0-based frame of the source)"
    # Optional additions (intrinsics used, world placement) follow the same names as the npz.
    for key in ("focal_length", "principal_point", "poses_world", "camera_to_world"):
        if key in arrays:
            val = np.asarray(arrays[key], np.float64)
            doc[key] = float(val) if val.ndim == 0 else _finite_or_none(val)
    if "poses_world" in arrays:
        doc["units"]["poses_world"] = "metres, world frame (Y up, floor at Y = 0, Z toward the camera)"
        doc["units"]["camera_to_world"] = "4x4 row-major, X_world = R X_camera + t, metres"
        # The roots in the world, for tools that only want where people are.
        doc["trajectory_world"] = _finite_or_none(np.asarray(arrays["poses_world"])[:, :, 0])
        doc["units"]["trajectory_world"] = "metres, world frame (the pelvis of poses_world)"
    return _atomic_write(path, lambda p: p.write_text(json.dumps(doc, separators=(",", ":"))))


#: ``frame`` is the step (the npz's T axis); ``time_s`` is that frame's time on the source
#: video's clock (so ``--start`` keeps the video's times).
CSV_COLUMNS = ("person", "frame", "time_s", "joint", "joint_name", "x", "y", "z", "u", "v", "score", "valid",
               "root_x", "root_y", "root_z")
#: Appended after :data:`CSV_COLUMNS` when the arrays carry the world frame (``--world``):
#: the joint and the root in world metres (Y up, floor at Y = 0, Z toward the camera).
CSV_WORLD_COLUMNS = ("world_x", "world_y", "world_z", "root_world_x", "root_world_y", "root_world_z")
#: Always last (after the world columns, so no earlier column moves): the step's frame in
#: the source video (its ``frame_index``).
CSV_FRAME_COLUMNS = ("frame_index",)


def fmt(v: float, spec: str = ".6g") -> str:
    """A CSV cell: the number, or empty when it is not finite (an invalid frame)."""
    return "" if not np.isfinite(v) else format(float(v), spec)


def write_csv(path: Path, arrays: Mapping[str, Any]) -> Path:
    """One row per person, frame and joint: 3D (metres), 2D (pixels), score, validity, root;
    with ``poses_world`` also the joint and root in the world frame (:data:`CSV_WORLD_COLUMNS`);
    last the source frame (:data:`CSV_FRAME_COLUMNS`)."""
    poses = np.asarray(arrays["poses_3d"])
    kp = np.asarray(arrays["keypoints_2d"])
    sc = np.asarray(arrays["scores_2d"])
    valid = np.asarray(arrays["valid"], bool)
    traj = np.asarray(arrays["trajectory"])
    world = np.asarray(arrays["poses_world"]) if "poses_world" in arrays else None
    names = [str(n) for n in arrays["joint_names"]]
    fps = float(arrays["fps"])
    p_n, t_n, j_n = poses.shape[:3]
    frame_index = (np.asarray(arrays["frame_index"], np.int64).ravel() if "frame_index" in arrays
                   else np.arange(t_n))
    if "time_s" in arrays:
        times = [fmt(v, ".6f") for v in np.asarray(arrays["time_s"], np.float64).ravel()]
    else:  # arrays from before time_s: the steps' times from the start
        times = [f"{t / fps:.6f}" if fps > 0 else "" for t in range(t_n)]

    def writer(p: Path) -> None:
        with p.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CSV_COLUMNS + (CSV_WORLD_COLUMNS if world is not None else ()) + CSV_FRAME_COLUMNS)
            for pi in range(p_n):
                for t in range(t_n):
                    r = traj[pi, t]
                    for j in range(j_n):
                        x, y, z = poses[pi, t, j]
                        row = (pi, t, times[t], j, names[j], fmt(x), fmt(y),
                               fmt(z), fmt(kp[pi, t, j, 0]), fmt(kp[pi, t, j, 1]), fmt(sc[pi, t, j]),
                               int(valid[pi, t]), fmt(r[0]), fmt(r[1]), fmt(r[2]))
                        if world is not None:
                            q, root = world[pi, t, j], world[pi, t, 0]
                            row += (fmt(q[0]), fmt(q[1]), fmt(q[2]), fmt(root[0]), fmt(root[1]), fmt(root[2]))
                        w.writerow(row + (int(frame_index[t]),))
    return _atomic_write(path, writer)


def write_npy(path: Path, poses: np.ndarray) -> Path:
    """VideoPose3D's ``--viz-export``: camera-space poses ``(T, 17, 3)`` as a ``.npy``."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(poses, dtype=np.float32))
    return _atomic_write(Path(path), lambda p: p.write_bytes(buf.getvalue()))
