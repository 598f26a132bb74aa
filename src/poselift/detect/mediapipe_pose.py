"""MediaPipe BlazePose, the embedded default detector (fully offline).

Uses the legacy ``mediapipe.solutions.pose`` graph of the ``mediapipe==0.10.21`` wheel,
which ships ``pose_detection.tflite`` and ``pose_landmark_full.tflite``; nothing is
downloaded. The "lite" and "heavy" landmark models are not in the wheel (MediaPipe
would fetch them from the internet at run time), so they are accepted only when their
``.tflite`` file is already installed beside the full one.

BlazePose tracks a single person: it returns at most one :class:`Person2D` per frame,
in the ``blazepose33`` layout.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from poselift.detect.base import Detector, DetectorUnavailableError, Person2D, bbox_from_keypoints

_COMPLEXITY = {"lite": 0, "full": 1, "heavy": 2}
_MODEL_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}


def _mediapipe_root() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise DetectorUnavailableError("detector 'mediapipe' needs the package mediapipe==0.10.21, "
                                       "which is not installed")
    return Path(spec.origin).parent


def landmark_model_path(model: str = "full") -> Path:
    """Path of the BlazePose landmark ``.tflite`` for ``model`` in lite/full/heavy (may not exist)."""
    return _mediapipe_root() / "modules" / "pose_landmark" / _MODEL_FILES[_COMPLEXITY[model]]


class MediaPipePoseDetector(Detector):
    """BlazePose through MediaPipe, in video (tracking) mode.

    Args:
        model: ``"full"`` (shipped). ``"lite"``/``"heavy"`` only if their model file is
            installed in MediaPipe's ``modules/pose_landmark`` folder.
        min_detection_confidence: person-detector threshold in ``[0, 1]``.
        min_tracking_confidence: below this the landmark tracker re-runs detection.
        smooth_landmarks: MediaPipe's temporal filter; it uses the real frame
            timestamps passed to :meth:`detect`.
        static_image_mode: detect independently in every frame (no tracking, no smoothing).

    Output per person: ``keypoints`` (33, 2) pixels of the frame given; ``scores`` =
    MediaPipe's per-landmark visibility; ``score`` = mean visibility of the 17 COCO
    joints; ``bbox`` = box around the landmarks that are visible (> 0.5);
    ``world_landmarks`` (33, 3) metres, hip-centred.
    """

    name = "mediapipe"
    layout = "blazepose33"

    def __init__(self, model: str = "full", min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, smooth_landmarks: bool = True,
                 static_image_mode: bool = False) -> None:
        if model not in _COMPLEXITY:
            raise ValueError(f"unknown MediaPipe pose model {model!r}; choose lite, full or heavy")
        path = landmark_model_path(model)
        if not path.exists():
            raise DetectorUnavailableError(
                f"MediaPipe pose model {model!r} ({path.name}) is not installed and poselift does not "
                f"download models at run time; use model='full', which ships with mediapipe")
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logs are noise to users
        import mediapipe as mp

        self.model = model
        self.stateful = not static_image_mode
        self._static = static_image_mode
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static_image_mode, model_complexity=_COMPLEXITY[model],
            smooth_landmarks=smooth_landmarks, enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self._last_us: int | None = None
        from poselift.geometry.skeletons import BLAZEPOSE33, COCO17

        self._coco_idx = np.array([BLAZEPOSE33.index(n) for n in COCO17.joint_names])

    def _set_timestamp(self, timestamp_s: float) -> None:
        # The legacy API steps a private clock by 33 ms per call; MediaPipe's landmark
        # smoothing is time-based, so feed it the video's real times instead. The graph
        # requires strictly increasing timestamps: a step back means a new video.
        us = int(round(timestamp_s * 1e6))
        if self._last_us is not None and us <= self._last_us:
            if us < self._last_us - 1_000_000:
                self.reset()
            else:
                us = self._last_us + 1
        if hasattr(self._pose, "_simulated_timestamp"):
            self._pose._simulated_timestamp = us - 33333
        self._last_us = us

    def detect(self, frame_rgb: np.ndarray, timestamp_s: float) -> list[Person2D]:
        """See :meth:`Detector.detect`. Returns zero or one person (BlazePose is single-person)."""
        image = np.asarray(frame_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {image.dtype} {image.shape}")
        if not self._static:
            self._set_timestamp(float(timestamp_s))
        result = self._pose.process(np.ascontiguousarray(image))
        if result.pose_landmarks is None:
            return []
        h, w = image.shape[:2]
        lms = result.pose_landmarks.landmark
        xy = np.array([[lm.x * w, lm.y * h] for lm in lms], dtype=np.float32)
        vis = np.clip(np.array([lm.visibility for lm in lms], dtype=np.float32), 0.0, 1.0)
        world = None
        if result.pose_world_landmarks is not None:
            world = np.array([[lm.x, lm.y, lm.z] for lm in result.pose_world_landmarks.landmark], dtype=np.float32)
        return [Person2D(keypoints=xy, scores=vis, layout=self.layout,
                         bbox=bbox_from_keypoints(xy, vis, min_score=0.5),
                         score=float(vis[self._coco_idx].mean()), world_landmarks=world)]

    def reset(self) -> None:
        self._pose.reset()
        self._last_us = None

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None
