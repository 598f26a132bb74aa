"""Cameras: screen normalisation, quaternion rigid transforms, pinhole projection.

Conventions
-----------
* Image points are pixels, ``x`` to the right and ``y`` down, origin at the top-left
  corner of the top-left pixel.
* Normalised screen coordinates are VideoPose3D's: ``x' = x / w * 2 - 1`` and
  ``y' = y / w * 2 - h / w``; the width maps to ``[-1, 1]`` and the aspect ratio is kept.
* Camera frame: ``x`` right, ``y`` down, ``z`` forward (metres unless said otherwise).
* Quaternions are ``(w, x, y, z)``; ``R`` in :func:`world_to_camera` is the camera's
  orientation, i.e. it rotates camera-frame vectors into the world frame, and ``t`` is
  the camera centre in world coordinates.
* Intrinsic vectors in normalised units follow VideoPose3D:
  ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` (focal length and centre normalised like
  screen points, i.e. divided by ``w / 2``).

Functions accept NumPy arrays or torch tensors and return the same kind.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import numpy as np


class _Torch:
    """torch, imported on first use: it is optional, and slow to import."""

    def __getattr__(self, name: str) -> Any:
        import torch

        return getattr(torch, name)


torch = _Torch()
Array = Union[np.ndarray, "torch.Tensor"]


def _is_torch(x: Any) -> bool:
    # A tensor exists only once torch is imported, so this never imports it.
    mod = sys.modules.get("torch")
    return mod is not None and isinstance(x, mod.Tensor)


def _cat(xs: list, axis: int) -> Array:
    return torch.cat(xs, dim=axis) if _is_torch(xs[0]) else np.concatenate(xs, axis=axis)


def _cross(a: Array, b: Array) -> Array:
    return torch.linalg.cross(a, b, dim=-1) if _is_torch(a) else np.cross(a, b)


def _sum_last(x: Array) -> Array:
    return x.sum(-1, keepdim=True) if _is_torch(x) else x.sum(-1, keepdims=True)


def normalize_screen_coordinates(x: Array, w: float, h: float) -> Array:
    """Pixels -> normalised screen coordinates. ``(..., 2) -> (..., 2)``.

    The offset ``[1, h / w]`` is subtracted in float64, as in VideoPose3D (a Python list
    there), and the result is rounded back to the input's floating dtype, exactly as
    run.py's in-place assignment into its float32 keypoints does (a float32 offset is
    one rounding step off on portrait clips, where ``h / w`` is not a float32).
    """
    if x.shape[-1] != 2:
        raise ValueError(f"expected (..., 2) image points, got shape {tuple(x.shape)}")
    if _is_torch(x):
        offset = torch.tensor([1.0, h / w], dtype=torch.float64, device=x.device)
        return ((x / w * 2).double() - offset).to(x.dtype)
    out = x / w * 2 - np.array([1.0, h / w], dtype=np.float64)
    return out.astype(x.dtype, copy=False) if np.issubdtype(x.dtype, np.floating) else out


def image_coordinates(x: Array, w: float, h: float) -> Array:
    """Normalised screen coordinates -> pixels (inverse of :func:`normalize_screen_coordinates`)."""
    if x.shape[-1] != 2:
        raise ValueError(f"expected (..., 2) screen points, got shape {tuple(x.shape)}")
    offset = x.new_tensor([1.0, h / w]) if _is_torch(x) else np.array([1.0, h / w], dtype=x.dtype)
    return (x + offset) * w / 2


def qrot(q: Array, v: Array) -> Array:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (w, x, y, z)."""
    if q.shape[-1] != 4 or v.shape[-1] != 3:
        raise ValueError("qrot expects q (..., 4) and v (..., 3)")
    if _is_torch(v):
        q = q.to(v).expand(*v.shape[:-1], 4)
    else:
        q = np.broadcast_to(q, v.shape[:-1] + (4,))
    qvec = q[..., 1:]
    uv = _cross(qvec, v)
    uuv = _cross(qvec, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


def qinverse(q: Array) -> Array:
    """Conjugate of unit quaternions (the inverse rotation)."""
    sign = q.new_tensor([1.0, -1.0, -1.0, -1.0]) if _is_torch(q) else np.array([1.0, -1.0, -1.0, -1.0])
    return q * sign


def qmul(a: Array, b: Array) -> Array:
    """Hamilton product ``a * b`` of quaternions ``(..., 4)``."""
    aw, ax, ay, az = (a[..., i] for i in range(4))
    bw, bx, by, bz = (b[..., i] for i in range(4))
    out = [aw * bw - ax * bx - ay * by - az * bz,
           aw * bx + ax * bw + ay * bz - az * by,
           aw * by - ax * bz + ay * bw + az * bx,
           aw * bz + ax * by - ay * bx + az * bw]
    return torch.stack(out, dim=-1) if _is_torch(a) else np.stack(out, axis=-1)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` (w, x, y, z) -> rotation matrices ``(..., 3, 3)``."""
    q = np.asarray(q, dtype=np.float64)
    eye = np.eye(3)
    cols = [qrot(q, np.broadcast_to(eye[i], q.shape[:-1] + (3,))) for i in range(3)]
    return np.stack(cols, axis=-1)


def world_to_camera(x: Array, R: Array, t: Array) -> Array:
    """World points ``(..., 3)`` -> camera frame, given orientation ``R`` and centre ``t``."""
    if _is_torch(x):
        R = torch.as_tensor(R, dtype=x.dtype, device=x.device)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return qrot(qinverse(R), x - t)


def camera_to_world(x: Array, R: Array, t: Array) -> Array:
    """Camera-frame points ``(..., 3)`` -> world (inverse of :func:`world_to_camera`)."""
    if _is_torch(x):
        R = torch.as_tensor(R, dtype=x.dtype, device=x.device)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return qrot(R, x) + t


def project_to_2d(x: Array, intrinsic: Array, clamp: bool = True) -> Array:
    """Project camera-frame points with radial (k1..k3) and tangential (p1, p2) distortion.

    Args:
        x: ``(N, ..., 3)`` camera-frame points.
        intrinsic: ``(N, 9)`` per-camera ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``, in the
            same units as the output (normalised screen units in VideoPose3D, pixels if
            the focal length and centre are in pixels).
        clamp: clamp ``x/z, y/z`` to ``[-1, 1]`` before distortion as VideoPose3D does,
            which keeps the polynomial from folding points behind wide angles.
    Returns:
        ``(N, ..., 2)`` image points.
    """
    intrinsic = _as_like(intrinsic, x)
    if intrinsic.ndim == 1:
        intrinsic = intrinsic[None]
    while intrinsic.ndim < x.ndim:
        intrinsic = intrinsic[:, None] if _is_torch(intrinsic) else np.expand_dims(intrinsic, 1)
    f, c, k, p = intrinsic[..., :2], intrinsic[..., 2:4], intrinsic[..., 4:7], intrinsic[..., 7:9]
    xx = x[..., :2] / x[..., 2:]
    if clamp:
        xx = xx.clamp(-1, 1) if _is_torch(xx) else np.clip(xx, -1, 1)
    r2 = _sum_last(xx ** 2)
    radial = 1 + _sum_last(k * _cat([r2, r2 ** 2, r2 ** 3], axis=-1))
    tan = _sum_last(p * xx)
    xxx = xx * (radial + tan) + p * r2
    return f * xxx + c


def project_to_2d_linear(x: Array, intrinsic: Array) -> Array:
    """Pinhole projection without distortion; same shapes as :func:`project_to_2d`."""
    intrinsic = _as_like(intrinsic, x)
    if intrinsic.ndim == 1:
        intrinsic = intrinsic[None]
    while intrinsic.ndim < x.ndim:
        intrinsic = intrinsic[:, None] if _is_torch(intrinsic) else np.expand_dims(intrinsic, 1)
    f, c = intrinsic[..., :2], intrinsic[..., 2:4]
    return f * x[..., :2] / x[..., 2:] + c


def project_pinhole(x: np.ndarray, focal: float | np.ndarray, center: np.ndarray,
                    radial: np.ndarray | None = None, tangential: np.ndarray | None = None) -> np.ndarray:
    """Project camera-frame points ``(..., 3)`` to pixels with pixel focal length(s) and centre.

    No clamping. Radial terms are Brown-Conrady's; the tangential terms use the same
    polynomial as :func:`project_to_2d` (VideoPose3D's/Human3.6M's, ``x (radial + p.x) + p r^2``),
    which is not OpenCV's ``2 p1 x y + p2 (r^2 + 2 x^2)`` form.
    """
    x = np.asarray(x, dtype=np.float64)
    f = np.broadcast_to(np.asarray(focal, dtype=np.float64), (2,))
    xx = x[..., :2] / x[..., 2:]
    if radial is not None or tangential is not None:
        k = np.zeros(3) if radial is None else np.pad(np.asarray(radial, float), (0, 3 - len(radial)))
        p = np.zeros(2) if tangential is None else np.asarray(tangential, float)
        r2 = (xx ** 2).sum(-1, keepdims=True)
        rad = 1 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
        xx = xx * (rad + (p * xx).sum(-1, keepdims=True)) + p * r2
    return f * xx + np.asarray(center, dtype=np.float64)


def _as_like(a: Any, ref: Array) -> Array:
    if _is_torch(ref):
        return torch.as_tensor(a, dtype=ref.dtype, device=ref.device)
    return np.asarray(a, dtype=ref.dtype)


# Lens helpers live with the validated camera model; re-exported here for old callers.
from poselift.geometry.intrinsics import default_focal_length, focal_from_35mm, focal_from_fov  # noqa: E402,F401


@dataclass(frozen=True)
class Camera:
    """A calibrated camera in pixels.

    Attributes:
        id: camera name.
        res_w, res_h: image size in pixels.
        focal_length: ``(fx, fy)`` pixels. center: ``(cx, cy)`` pixels.
        radial_distortion: ``(k1, k2, k3)``. tangential_distortion: ``(p1, p2)``.
        orientation: camera-to-world quaternion (w, x, y, z), or None.
        translation: camera centre in world metres, or None.
    """

    id: str
    res_w: int
    res_h: int
    focal_length: tuple[float, float]
    center: tuple[float, float]
    radial_distortion: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential_distortion: tuple[float, float] = (0.0, 0.0)
    orientation: tuple[float, float, float, float] | None = None
    translation: tuple[float, float, float] | None = None
    azimuth: float = 0.0

    def intrinsic_normalized(self) -> np.ndarray:
        """VideoPose3D's 9-vector in normalised screen units."""
        f = np.asarray(self.focal_length) / self.res_w * 2
        c = normalize_screen_coordinates(np.asarray(self.center, dtype=np.float64), self.res_w, self.res_h)
        return np.concatenate([f, c, self.radial_distortion, self.tangential_distortion]).astype(np.float32)

    def intrinsic_pixels(self) -> np.ndarray:
        return np.concatenate([self.focal_length, self.center, self.radial_distortion,
                               self.tangential_distortion]).astype(np.float64)

    def world_to_camera(self, x: np.ndarray) -> np.ndarray:
        if self.orientation is None or self.translation is None:
            raise ValueError(f"camera {self.id} has no extrinsics")
        return world_to_camera(x, np.asarray(self.orientation), np.asarray(self.translation))

    def project(self, x_cam: np.ndarray, distort: bool = True) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` -> pixels ``(..., 2)``."""
        if distort:
            return project_pinhole(x_cam, np.asarray(self.focal_length), np.asarray(self.center),
                                   self.radial_distortion, self.tangential_distortion)
        return project_pinhole(x_cam, np.asarray(self.focal_length), np.asarray(self.center))


@lru_cache(maxsize=1)
def _h36m_json() -> dict:
    return json.loads((Path(__file__).with_name("h36m_cameras.json")).read_text())


H36M_SUBJECTS_WITH_EXTRINSICS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")


def h36m_cameras(subject: str | None = None) -> list[Camera]:
    """The four Human3.6M cameras (published calibration).

    With ``subject`` (``"S1"``, ``"S5"``..``"S11"``) the per-subject extrinsics are
    attached, translation converted to metres; without, intrinsics only.
    """
    data = _h36m_json()
    ext = None
    if subject is not None:
        if subject not in data["extrinsics"]:
            raise KeyError(f"no Human3.6M extrinsics for subject {subject!r}")
        ext = data["extrinsics"][subject]
    cams = []
    for i, intr in enumerate(data["intrinsics"]):
        kw: dict[str, Any] = {}
        if ext is not None:
            kw["orientation"] = tuple(ext[i]["orientation"])
            kw["translation"] = tuple(np.asarray(ext[i]["translation"]) / 1000.0)
        cams.append(Camera(id=intr["id"], res_w=intr["res_w"], res_h=intr["res_h"],
                           focal_length=tuple(intr["focal_length"]), center=tuple(intr["center"]),
                           radial_distortion=tuple(intr["radial_distortion"]),
                           tangential_distortion=tuple(intr["tangential_distortion"]),
                           azimuth=intr["azimuth"], **kw))
    return cams


def solve_root_translation(pose_rel: np.ndarray, rays: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Camera-frame root position that best explains 2D rays given a root-relative 3D pose.

    For each frame, finds ``t`` minimising ``sum_j w_j |(p_j + t)_xy - r_j (p_j + t)_z|^2``
    (the algebraic perspective error, linear in ``t``), where ``p_j`` are the pose's
    joints relative to the root and ``r_j`` their focal-normalised image rays
    ``(pixel - principal point) / focal``.

    Args:
        pose_rel: ``(T, J, 3)`` metres, camera frame, root-relative.
        rays: ``(T, J, 2)`` focal-normalised image coordinates of the same joints.
        weights: ``(T, J)`` non-negative confidences (default all 1).
    Returns:
        ``(T, 3)`` root positions in metres (depth clamped to at least 0.1 m).
    """
    p = np.asarray(pose_rel, dtype=np.float64)
    r = np.asarray(rays, dtype=np.float64)
    w = np.ones(p.shape[:2]) if weights is None else np.asarray(weights, dtype=np.float64)
    u, v = r[..., 0], r[..., 1]
    zeros, ones = np.zeros_like(u), np.ones_like(u)
    # Two equations per joint: rows (1, 0, -u) and (0, 1, -v).
    a = np.concatenate([np.stack([ones, zeros, -u], -1), np.stack([zeros, ones, -v], -1)], axis=1)
    b = np.concatenate([u * p[..., 2] - p[..., 0], v * p[..., 2] - p[..., 1]], axis=1)
    ww = np.concatenate([w, w], axis=1)[..., None]
    ata = np.einsum("tji,tjk->tik", a * ww, a) + 1e-9 * np.eye(3)
    atb = np.einsum("tji,tj->ti", a * ww, b)
    t = np.linalg.solve(ata, atb[..., None])[..., 0]
    t[:, 2] = np.maximum(t[:, 2], 0.1)
    return t
