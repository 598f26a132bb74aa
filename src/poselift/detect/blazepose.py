"""Single-person BlazePose on the TFLite runtime: MediaPipe's pose graph without MediaPipe.

The shipped ``pose_detection.tflite`` and ``pose_landmark_{lite,full,heavy}.tflite``
(see ``poselift/detect/models/NOTICE``) run through ``ai-edge-litert``; the model
decoding is that of :mod:`poselift.detect.blazepose_multi`. What this module adds is
MediaPipe's single-person tracking and filtering, as its ``PoseLandmarkCpu`` and
``PoseLandmarkFiltering`` graphs configure them:

* **Detection only when needed.** The person detector runs on the whole (letterboxed)
  frame when nobody is tracked; its best detection gives the crop. From then on each
  frame's crop comes from the previous frame's two auxiliary landmarks (33: hips
  centre, 34: the point fixing scale and rotation), MediaPipe's "landmarks to ROI"
  rule. When the pose-presence score drops below ``min_tracking_confidence`` the
  person is lost; unlike MediaPipe, which waits for the next frame, the detector is
  run again on the same frame so one bad crop costs no frame.
* **Landmark smoothing** (``smooth_landmarks``): visibilities through a low-pass
  filter (``alpha = 0.1``); coordinates, in pixels, through a one-euro filter
  (``min_cutoff = 0.1``, ``beta = 40``, ``derivate_cutoff = 1``) whose speed term is
  divided by the person's size (mean of the landmarks' box width and height), with
  the sampling rate taken from the real frame times; the two auxiliary landmarks, which
  place the next crop, through a heavier one (``min_cutoff = 0.01``, ``beta = 1``). All
  filters restart when the person is lost.
"""

from __future__ import annotations

import math

import numpy as np

from poselift.detect.base import Detector, Person2D, bbox_from_keypoints
from poselift.detect.blazepose_multi import BlazePoseMultiDetector, Roi, roi_from_points


class OneEuroFilter:
    """One-euro filter over an array of values, as MediaPipe implements it.

    ``x_hat = a * x + (1 - a) * x_hat_prev`` with ``a = 1 / (1 + tau / Te)``,
    ``tau = 1 / (2 pi f_c)``, ``Te`` the time since the last sample and
    ``f_c = min_cutoff + beta * |dx_hat|``, where ``dx_hat`` is the low-passed
    (``derivate_cutoff``) rate of change of the raw values times ``value_scale``
    (per second). The first sample passes unchanged.
    """

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.derivate_cutoff = float(min_cutoff), float(beta), float(derivate_cutoff)
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._raw: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, te: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / te)

    def __call__(self, value: np.ndarray, t: float, value_scale: float = 1.0) -> np.ndarray:
        v = np.asarray(value, dtype=np.float64)
        if self._t is None or self._x is None or self._raw is None:
            self._t, self._raw, self._x, self._dx = t, v.copy(), v.copy(), np.zeros_like(v)
            return v.copy()
        te = t - self._t
        if te <= 0:  # MediaPipe passes a sample with a non-increasing time through unfiltered
            return v.copy()
        freq = 1.0 / te
        dv = (v - self._raw) * value_scale * freq
        a_d = self._alpha(self.derivate_cutoff, te)
        self._dx = a_d * dv + (1 - a_d) * self._dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._dx), te)
        self._x = a * v + (1 - a) * self._x
        self._raw, self._t = v.copy(), t
        return self._x.copy()


class _LowPass:
    def __init__(self, alpha: float) -> None:
        self.alpha = float(alpha)
        self.value: np.ndarray | None = None

    def __call__(self, v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        self.value = v.copy() if self.value is None else self.alpha * v + (1 - self.alpha) * self.value
        return self.value.copy()

    def reset(self) -> None:
        self.value = None


def _object_scale(points: np.ndarray) -> float:
    """MediaPipe's object scale: mean of the width and height of the points' box (pixels)."""
    span = points.max(axis=0) - points.min(axis=0)
    return float(span.mean())


class BlazePoseDetector(Detector):
    """One person per frame with BlazePose's models on ``ai-edge-litert`` (offline; the default).

    Args:
        model: landmark model ``"lite"``, ``"full"`` (default) or ``"heavy"``, all shipped.
        min_detection_confidence: person-detector threshold in ``[0, 1]`` (MediaPipe's 0.5).
        min_tracking_confidence: pose-presence score below which the person is lost and
            the detector runs again (MediaPipe's 0.5).
        smooth_landmarks: MediaPipe's landmark filters (see the module docstring); they
            use the frame times passed to :meth:`detect`.
        static_image_mode: detect in every frame (no tracking, no smoothing).
        num_threads: TFLite CPU threads per model.

    Output per person (at most one): ``keypoints`` (33, 2) pixels, ``blazepose33``;
    ``scores`` = (smoothed) landmark visibility; ``score`` = mean visibility of the 17
    COCO joints; ``bbox`` = box around the landmarks with visibility > 0.5;
    ``world_landmarks`` (33, 3) metres, hip-centred (x right, y down, z away from the camera).
    """

    name = "blazepose"
    layout = "blazepose33"

    def __init__(self, model: str = "full", min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth_landmarks: bool = True,
                 static_image_mode: bool = False, num_threads: int = 1) -> None:
        # The multi-person detector holds the models and their decoding; with no tiles it
        # looks at the letterboxed frame only, as MediaPipe's single-person graph does.
        self._net = BlazePoseMultiDetector(max_people=1, tiles=False, model=model,
                                           min_detection_confidence=min_detection_confidence,
                                           num_threads=num_threads, refine_heatmap=True)
        self.model = model
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.smooth = bool(smooth_landmarks) and not static_image_mode
        self._static = bool(static_image_mode)
        self.stateful = not static_image_mode
        self._coco_idx = self._net._coco_idx
        self._xy = OneEuroFilter(0.1, 40.0, 1.0)
        self._vis = _LowPass(0.1)
        self._aux_xy = OneEuroFilter(0.01, 1.0, 1.0)
        self._roi: Roi | None = None

    def _restart(self) -> None:
        self._roi = None
        for f in (self._xy, self._vis, self._aux_xy):
            f.reset()

    def _track(self, image: np.ndarray, roi: Roi):
        pts, vis, world, presence = self._net.landmarks(image, roi)
        return (pts, vis, world) if presence >= self.min_tracking_confidence else None

    def detect(self, frame_rgb: np.ndarray, timestamp_s: float) -> list[Person2D]:
        """See :meth:`Detector.detect`. Returns zero or one person."""
        image = np.asarray(frame_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {image.dtype} {image.shape}")
        image = np.ascontiguousarray(image)
        got = None
        if self._roi is not None and not self._static:
            got = self._track(image, self._roi)
        if got is None:
            self._restart()
            people = self._net.detect_people(image)
            if people:
                got = self._track(image, people[0][0])
        if got is None:
            self._restart()
            return []
        pts, vis, world = got
        t = float(timestamp_s)
        kp, sc, aux = pts[:33].astype(np.float64), vis[:33], pts[33:35].astype(np.float64)
        if self.smooth:
            sc = self._vis(sc)
            kp = self._xy(kp, t, 1.0 / max(_object_scale(kp), 1e-6))
            aux = self._aux_xy(aux, t, 1.0 / max(_object_scale(aux), 1e-6))
        if not self._static:
            self._roi = roi_from_points(aux[0], aux[1])
        kp32 = kp.astype(np.float32)
        sc32 = np.clip(sc, 0.0, 1.0).astype(np.float32)
        return [Person2D(keypoints=kp32, scores=sc32, layout=self.layout,
                         bbox=bbox_from_keypoints(kp32, sc32, min_score=0.5),
                         score=float(sc32[self._coco_idx].mean()), world_landmarks=world[:33])]

    def reset(self) -> None:
        self._restart()

    def close(self) -> None:
        self._net.close()
