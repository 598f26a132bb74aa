"""One validated pinhole camera: focal length, principal point and image size, in pixels.

Every place that needs the lens (``infer``, ``lift``, ``evaluate``, training, the root
solver) builds an :class:`Intrinsics` with :func:`resolve_intrinsics` and turns pixels
into camera rays with :func:`pixels_to_rays`, so the rules (which option wins, what is
a sane value) live here once.

Conventions: pixels have ``x`` right and ``y`` down from the top-left image corner;
rays are ``(pixel - principal point) / focal``, the camera-frame ``(X / Z, Y / Z)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from poselift.errors import PoseliftError

# A diagonal field of view beyond 170 degrees is a fisheye, which a pinhole cannot model;
# below 1 degree it is a telescope. Focal lengths are bounded to the same range of lenses
# relative to the image (0.01 to 100 image sizes), so typos such as -5 or 0 are refused.
FOV_RANGE_DEG = (1.0, 170.0)
FOCAL_RANGE_REL = (0.01, 100.0)
MAX_IMAGE_SIDE = 65536


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera without distortion.

    Attributes:
        focal_px: focal length in pixels (square pixels), > 0.
        center_px: principal point ``(cx, cy)`` in pixels.
        width, height: image size in pixels, both > 0.
    """

    focal_px: float
    center_px: tuple[float, float]
    width: int
    height: int

    def __post_init__(self) -> None:
        check_image_size(self.width, self.height)
        f = float(self.focal_px)
        side = max(self.width, self.height)
        lo, hi = FOCAL_RANGE_REL[0] * side, FOCAL_RANGE_REL[1] * side
        if not (math.isfinite(f) and lo <= f <= hi):
            raise PoseliftError(f"focal length must be between {lo:g} and {hi:g} pixels for a "
                                f"{self.width}x{self.height} image, got {f:g}")
        cx, cy = (float(v) for v in self.center_px)
        if not (math.isfinite(cx) and math.isfinite(cy)):
            raise PoseliftError(f"principal point must be finite, got ({cx:g}, {cy:g})")
        object.__setattr__(self, "focal_px", f)
        object.__setattr__(self, "center_px", (cx, cy))


def check_image_size(width: int, height: int) -> None:
    """Refuse image sizes that are not positive whole numbers up to 65536 pixels."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError, OverflowError):
        raise PoseliftError(f"image size must be whole numbers, got {width!r} x {height!r}") from None
    if w != width or h != height or not (0 < w <= MAX_IMAGE_SIDE and 0 < h <= MAX_IMAGE_SIDE):
        raise PoseliftError(f"image size must be between 1 and {MAX_IMAGE_SIDE} pixels a side, "
                            f"got {width!r} x {height!r}")


def focal_from_fov(fov_degrees: float, width: int, height: int) -> float:
    """Pixel focal length for a field of view along the image's long side.

    For portrait frames (height > width) the field of view is taken along the long
    side, which is how phone makers quote it. Raises :class:`PoseliftError` outside
    ``FOV_RANGE_DEG``.
    """
    fov = float(fov_degrees)
    if not (math.isfinite(fov) and FOV_RANGE_DEG[0] <= fov <= FOV_RANGE_DEG[1]):
        raise PoseliftError(f"--fov must be between {FOV_RANGE_DEG[0]:g} and {FOV_RANGE_DEG[1]:g} degrees, "
                            f"got {fov:g}")
    return max(width, height) / 2 / math.tan(math.radians(fov) / 2)


def default_focal_length(width: int, height: int) -> float:
    """A 26 mm-equivalent phone main camera: ``f_px = 26 / 43.27 * diagonal_px`` (a 35 mm
    equivalent focal length spans the frame diagonal of 43.27 mm)."""
    return focal_from_35mm(26.0, width, height)


def focal_from_35mm(f_eq_mm: float, width: int, height: int) -> float:
    """Pixel focal length for a 35 mm-equivalent lens (diagonal convention)."""
    return f_eq_mm / 43.27 * float(np.hypot(width, height))


def resolve_intrinsics(width: int, height: int, focal_px: float | None = None, fov: float | None = None,
                       center_px: tuple[float, float] | None = None) -> Intrinsics:
    """The camera of one video: ``focal_px`` if given, else from ``fov`` (degrees along the
    long side), else a 26 mm-equivalent lens; principal point at the image centre unless
    given. Zero, negative, non-finite or absurd values raise :class:`PoseliftError`
    (``None`` means "not given"; 0 is an error, not a default)."""
    check_image_size(width, height)
    if focal_px is not None and fov is not None:
        raise PoseliftError("give --focal-length or --fov, not both")
    if focal_px is not None:
        f = float(focal_px)
    elif fov is not None:
        f = focal_from_fov(fov, width, height)
    else:
        f = default_focal_length(width, height)
    c = center_px if center_px is not None else (width / 2, height / 2)
    return Intrinsics(f, (float(c[0]), float(c[1])), int(width), int(height))


def pixels_to_rays(points_px: np.ndarray, intr: Intrinsics | None = None, *, focal_px: float | None = None,
                   center_px: tuple[float, float] | np.ndarray | None = None,
                   dtype: type = np.float64) -> np.ndarray:
    """Pixels ``(..., 2)`` -> focal-normalised camera rays ``(pixel - c) / f`` ``(..., 2)``.

    Give either an :class:`Intrinsics` or ``focal_px`` and ``center_px`` (already
    validated elsewhere, e.g. a dataset's calibrated camera). NaN pixels stay NaN.
    """
    if intr is not None:
        focal_px, center_px = intr.focal_px, intr.center_px
    if focal_px is None or center_px is None:
        raise ValueError("pixels_to_rays needs intrinsics or a focal length and principal point")
    p = np.asarray(points_px, dtype=dtype)
    return ((p - np.asarray(center_px, dtype=dtype)) / dtype(focal_px)).astype(dtype, copy=False)
