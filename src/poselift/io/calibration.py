"""Multi-camera calibration files: Qualisys QCA (``*.qca.txt``, XML).

Conventions of the QCA format (Qualisys Track Manager export, as also read by pose2sim),
checked here by reprojecting triangulated keypoints of a real recording
(``benchmarks/multiview.py``, median reprojection error about 10 px with MediaPipe):

* ``transform``: ``r11..r33`` form a matrix ``M`` (``r_ij`` = row ``i``, column ``j``)
  whose rows are the camera's axes expressed in the world frame, and ``x, y, z`` is the
  camera centre ``C`` in millimetres. Qualisys' camera axes have ``y`` up and the camera
  looking along ``-z``; the computer-vision camera frame (``x`` right, ``y`` down, ``z``
  forward, the one :mod:`poselift.geometry.cameras` and the lifters use) is that frame
  turned 180 degrees about ``x``. So ``X_cam = diag(1, -1, -1) @ M @ (X_world - C)``.
* ``intrinsic``: focal lengths and principal point are in sensor units, 64 per pixel
  (``sensorMaxU = 69568 = 64 * 1087``); the principal point is relative to the sensor
  origin, so the video window's ``fov_video`` ``left``/``top`` are subtracted.
  ``radialDistortion1..3`` and ``tangentalDistortion1..2`` (sic) are the Brown-Conrady
  coefficients ``k1, k2, k3, p1, p2`` on normalised image coordinates (as in OpenCV).
* The world frame of a Qualisys lab is usually ``Z`` up (verified for the shared
  recording: every camera centre has ``z`` of 1.7-2.1 m and looks down).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.errors import InputError

#: Sensor units per pixel in QCA intrinsics.
QCA_SUBPIXELS = 64.0

#: Qualisys camera axes (y up, looking along -z) -> vision camera axes (y down, z forward).
_QUALISYS_TO_VISION = np.diag([1.0, -1.0, -1.0])


@dataclass
class CalibratedCamera:
    """One calibrated camera (pinhole + Brown-Conrady distortion).

    Attributes:
        name: camera label (QCA ``serial``).
        R: ``(3, 3)`` world -> camera rotation; camera frame ``x`` right, ``y`` down,
            ``z`` forward (the optical axis).
        t: ``(3,)`` metres, so that ``X_cam = R @ X_world + t``.
        K: ``(3, 3)`` intrinsic matrix in pixels of ``image_size``.
        dist: ``(5,)`` ``k1, k2, p1, p2, k3`` (OpenCV order) on normalised coordinates.
        image_size: ``(width, height)`` pixels the intrinsics refer to.
    """

    name: str
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    dist: np.ndarray
    image_size: tuple[int, int]

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates, metres ``(3,)``."""
        return -self.R.T @ self.t

    def world_to_camera(self, x: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` metres -> camera frame ``(..., 3)`` metres."""
        return np.asarray(x, dtype=np.float64) @ self.R.T + self.t

    def projection_matrix(self) -> np.ndarray:
        """``(3, 4)`` ``K [R | t]`` (undistorted pixels, world metres)."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    def distort_normalized(self, xy: np.ndarray) -> np.ndarray:
        """Apply the lens distortion to normalised coordinates ``(..., 2)``."""
        k1, k2, p1, p2, k3 = self.dist
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        return np.stack([xd, yd], axis=-1)

    def undistort_normalized(self, xy_d: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Invert :meth:`distort_normalized` (``(..., 2)``): the fixed point of
        ``x = (x_d - tangential(x)) / radial(x)``, which converges for the mild lenses of
        motion-capture cameras."""
        k1, k2, p1, p2, k3 = self.dist
        xd = np.asarray(xy_d, dtype=np.float64)
        x, y = xd[..., 0].copy(), xd[..., 1].copy()
        for _ in range(iterations):
            r2 = x * x + y * y
            radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
            dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
            x = (xd[..., 0] - dx) / radial
            y = (xd[..., 1] - dy) / radial
        return np.stack([x, y], axis=-1)

    def project(self, x_world: np.ndarray, distort: bool = True) -> np.ndarray:
        """World points ``(..., 3)`` metres -> pixels ``(..., 2)`` (NaN behind the camera)."""
        xc = self.world_to_camera(x_world)
        z = xc[..., 2:3]
        with np.errstate(invalid="ignore", divide="ignore"):
            n = np.where(z > 1e-6, xc[..., :2] / z, np.nan)
        if distort:
            n = self.distort_normalized(n)
        return n @ self.K[:2, :2].T + self.K[:2, 2]

    def undistort_pixels(self, uv: np.ndarray) -> np.ndarray:
        """Distorted pixels ``(..., 2)`` -> ideal pinhole pixels ``(..., 2)`` (same K)."""
        uv = np.asarray(uv, dtype=np.float64)
        n = (uv - self.K[:2, 2]) @ np.linalg.inv(self.K[:2, :2]).T
        n = self.undistort_normalized(n)
        return n @ self.K[:2, :2].T + self.K[:2, 2]

    def for_image_size(self, width: int, height: int, mode: str = "crop") -> "CalibratedCamera":
        """The camera as seen in a video of another size.

        ``mode="crop"``: the video is the calibrated window with columns/rows cut evenly
        from both sides (the principal point moves by half the difference);
        ``"scale"``: the video is the window resized (focal and principal point scale
        per axis).
        """
        w0, h0 = self.image_size
        K = self.K.copy()
        if mode == "crop":
            K[0, 2] -= (w0 - width) / 2.0
            K[1, 2] -= (h0 - height) / 2.0
        elif mode == "scale":
            sx, sy = width / w0, height / h0
            K[0] *= sx
            K[1] *= sy
        else:
            raise ValueError(f"unknown mode {mode!r}; choose crop or scale")
        return CalibratedCamera(self.name, self.R, self.t, K, self.dist, (int(width), int(height)))


def parse_qca(text: str, source: str | Path | None = None) -> list[CalibratedCamera]:
    """Cameras of a QCA XML document, in file order. See the module docstring for units.

    Raises:
        InputError: not a QCA document, or a camera lacks ``transform``/``intrinsic``.
    """
    try:
        root = ET.fromstring(text.encode() if isinstance(text, str) else text)
    except ET.ParseError as exc:
        raise InputError(f"not a QCA calibration (XML error: {exc})", source) from None
    cams = root.findall("./cameras/camera")
    if root.tag != "calibration" or not cams:
        raise InputError("not a QCA calibration (no <calibration><cameras><camera>)", source)
    out = []
    for i, cam in enumerate(cams):
        name = cam.get("serial") or f"camera{i + 1}"
        tr, intr = cam.find("transform"), cam.find("intrinsic")
        fov = cam.find("fov_video")
        if tr is None or intr is None:
            raise InputError(f"camera {name!r} has no transform or intrinsic block", source)
        try:
            M = np.array([[float(tr.get(f"r{r}{c}")) for c in (1, 2, 3)] for r in (1, 2, 3)])
            centre = np.array([float(tr.get(k)) for k in ("x", "y", "z")]) / 1000.0
            g = lambda k, d=None: float(intr.get(k, d)) if intr.get(k, d) is not None else None  # noqa: E731
            fu, fv = g("focalLengthU") / QCA_SUBPIXELS, g("focalLengthV") / QCA_SUBPIXELS
            cu, cv = g("centerPointU") / QCA_SUBPIXELS, g("centerPointV") / QCA_SUBPIXELS
            skew = (g("skew", "0") or 0.0) / QCA_SUBPIXELS
            dist = np.array([g("radialDistortion1", "0"), g("radialDistortion2", "0"),
                             g("tangentalDistortion1", "0"), g("tangentalDistortion2", "0"),
                             g("radialDistortion3", "0")])
            if fov is not None:
                left, top = float(fov.get("left", 0)), float(fov.get("top", 0))
                width = int(round(float(fov.get("right")) - left + 1))
                height = int(round(float(fov.get("bottom")) - top + 1))
            else:
                left = top = 0.0
                width = int(round((g("sensorMaxU") - (g("sensorMinU", "0") or 0)) / QCA_SUBPIXELS)) + 1
                height = int(round((g("sensorMaxV") - (g("sensorMinV", "0") or 0)) / QCA_SUBPIXELS)) + 1
        except (TypeError, ValueError) as exc:
            raise InputError(f"camera {name!r}: missing or bad number ({exc})", source) from None
        R = _QUALISYS_TO_VISION @ M
        t = -R @ centre
        K = np.array([[fu, skew, cu - left], [0.0, fv, cv - top], [0.0, 0.0, 1.0]])
        out.append(CalibratedCamera(name, R, t, K, dist, (width, height)))
    return out


def read_qca(path: str | Path) -> list[CalibratedCamera]:
    """Read a Qualisys ``.qca.txt`` file (see :func:`parse_qca`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read calibration ({exc.strerror or exc})", p) from None
    return parse_qca(text, p)
