"""2D person keypoint detectors: one interface, one registry.

A detector turns one RGB frame into a list of :class:`Person2D`. Image points are
pixels with ``x`` to the right and ``y`` down, origin at the top-left corner of the
top-left pixel (as in :mod:`poselift.geometry.cameras`).

Backends register a factory under a name; optional backends name the Python packages
they need, so :func:`get_detector` can refuse them with one clear line when the package
is missing instead of failing inside an import.
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from poselift.errors import PoseliftError


class DetectorUnavailableError(PoseliftError):
    """A detector that cannot run here (missing optional package or model file)."""


@dataclass
class Person2D:
    """One detected person in one frame.

    Attributes:
        keypoints: ``(J, 2)`` float32 pixels, in the order of ``layout``.
        scores: ``(J,)`` float32 confidences in ``[0, 1]``.
        layout: skeleton name from :mod:`poselift.geometry.skeletons`, e.g. ``"blazepose33"``.
        bbox: ``(x0, y0, x1, y1)`` pixels, the person's box (``x1 > x0``, ``y1 > y0``).
        score: overall detection confidence in ``[0, 1]``.
        world_landmarks: optional ``(J, 3)`` float32 metres in a body-centred frame
            (MediaPipe: origin between the hips, ``x`` right, ``y`` down, ``z`` away
            from the camera), or None.
        appearance: optional ``(K,)`` float32 descriptor of the person's look (the
            multi-person detector gives the median RGB of the torso in ``[0, 1]``,
            ``K = 3``) used by the multi-person tracker, or None.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    layout: str
    bbox: tuple[float, float, float, float]
    score: float
    world_landmarks: np.ndarray | None = field(default=None)
    appearance: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(-1, 2)
        self.scores = np.clip(np.asarray(self.scores, dtype=np.float32).reshape(-1), 0.0, 1.0)
        if self.scores.shape[0] != self.keypoints.shape[0]:
            raise ValueError(f"{self.keypoints.shape[0]} keypoints but {self.scores.shape[0]} scores")
        if self.world_landmarks is not None:
            self.world_landmarks = np.asarray(self.world_landmarks, dtype=np.float32).reshape(-1, 3)
        self.bbox = tuple(float(v) for v in self.bbox)  # type: ignore[assignment]
        self.score = float(self.score)

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        x0, y0, x1, y1 = self.bbox
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def bbox_from_keypoints(keypoints: np.ndarray, scores: np.ndarray | None = None,
                        min_score: float = 0.0, margin: float = 0.0) -> tuple[float, float, float, float]:
    """Box around the keypoints ``(J, 2)`` whose score exceeds ``min_score`` (all if none do).

    ``margin`` enlarges the box by that fraction of its size on every side.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    use = np.isfinite(kp).all(axis=1)
    if scores is not None:
        good = use & (np.asarray(scores).reshape(-1) > min_score)
        if good.any():
            use = good
    if not use.any():
        return (0.0, 0.0, 0.0, 0.0)
    (x0, y0), (x1, y1) = kp[use].min(axis=0), kp[use].max(axis=0)
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return (float(x0 - mx), float(y0 - my), float(x1 + mx), float(y1 + my))


class Detector(ABC):
    """Base class of 2D keypoint detectors.

    Subclasses set :attr:`name` and :attr:`layout` and implement :meth:`detect`.
    Detectors may keep state across frames (tracking, smoothing): feed the frames of
    one video in order and call :meth:`reset` before another video.
    """

    name: str = "base"
    layout: str = ""
    #: Whether results depend on earlier frames (then frames must come in order).
    stateful: bool = False

    @abstractmethod
    def detect(self, frame_rgb: np.ndarray, timestamp_s: float) -> list[Person2D]:
        """Find people in one frame.

        Args:
            frame_rgb: ``(H, W, 3)`` uint8 RGB image.
            timestamp_s: presentation time of the frame in seconds, increasing along a
                video (stateful detectors use it for tracking and smoothing).

        Returns:
            Detected people, best first; empty when nobody is found.
        """

    def reset(self) -> None:
        """Forget state from earlier frames (start of a new video)."""

    def close(self) -> None:
        """Release native resources."""

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Detector] | str  # a callable, or "module:attribute" to import lazily
    requires: tuple[str, ...]
    description: str
    install_hint: str


_REGISTRY: dict[str, _Entry] = {}


def register_detector(name: str, factory: Callable[..., Detector] | str, requires: tuple[str, ...] = (),
                      description: str = "", install_hint: str = "") -> None:
    """Register a backend.

    Args:
        name: registry key (lower case).
        factory: a callable returning a :class:`Detector`, or ``"module:attr"`` imported
            only when the detector is requested.
        requires: importable top-level package names the backend needs.
        description: one line for listings.
        install_hint: what to tell the user when a required package is missing.
    """
    _REGISTRY[name.lower()] = _Entry(factory, tuple(requires), description, install_hint)


def _missing(entry: _Entry) -> list[str]:
    return [pkg for pkg in entry.requires if importlib.util.find_spec(pkg) is None]


def available_detectors() -> dict[str, str | None]:
    """Every registered detector name -> None if it can run here, else the reason it cannot."""
    out: dict[str, str | None] = {}
    for name, entry in sorted(_REGISTRY.items()):
        missing = _missing(entry)
        out[name] = f"needs {', '.join(missing)} (not installed)" if missing else None
    return out


def get_detector(name: str, **kwargs: Any) -> Detector:
    """Build a detector by name, e.g. ``get_detector("mediapipe", model="full")``.

    Raises:
        DetectorUnavailableError: unknown name, or an optional package is not installed.
    """
    key = name.lower()
    entry = _REGISTRY.get(key)
    if entry is None:
        raise DetectorUnavailableError(f"unknown detector {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    missing = _missing(entry)
    if missing:
        hint = f"; {entry.install_hint}" if entry.install_hint else ""
        raise DetectorUnavailableError(
            f"detector {key!r} needs the package(s) {', '.join(missing)}, which are not installed{hint}")
    factory = entry.factory
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise DetectorUnavailableError(f"detector {key!r} is not available in this build: {exc}") from None
        factory = getattr(module, attr)
    return factory(**kwargs)


register_detector("blazepose", "poselift.detect.blazepose:BlazePoseDetector", requires=("ai_edge_litert", "cv2"),
                  description="BlazePose (33 landmarks, single person, offline): MediaPipe's pose graph "
                              "on the TFLite runtime with the shipped lite/full/heavy models",
                  install_hint="pip install ai-edge-litert==2.3.0 opencv-python-headless")
register_detector("mediapipe", "poselift.detect.mediapipe_pose:MediaPipePoseDetector", requires=("mediapipe",),
                  description="MediaPipe's own BlazePose graph (33 landmarks, single person, offline)",
                  install_hint='pip install "poselift[mediapipe]"')
register_detector("blazepose-multi", "poselift.detect.blazepose_multi:BlazePoseMultiDetector",
                  requires=("ai_edge_litert", "cv2"),
                  description="BlazePose's detector and landmark models run per person (33 landmarks, "
                              "multi-person, offline; infer --multi-person)",
                  install_hint="pip install ai-edge-litert==2.3.0 opencv-python-headless")
# Detectron2 (VideoPose3D's original 2D detector) is optional: it is not on PyPI and
# needs a model download, so the backend module is only present in builds that add it.
register_detector("detectron2", "poselift.detect.detectron2_pose:Detectron2PoseDetector",
                  requires=("detectron2",),
                  description="Detectron2 Keypoint R-CNN (COCO-17, multi-person, optional)",
                  install_hint="install detectron2 from its project page (it is not on PyPI)")
