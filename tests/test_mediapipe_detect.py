"""Detector registry and the embedded MediaPipe BlazePose backend (real model, offline)."""

from __future__ import annotations

import importlib.util
import os
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from poselift.detect.base import (DetectorUnavailableError, Person2D, available_detectors, bbox_from_keypoints,
                                  get_detector, register_detector)

SHARED = Path(os.environ.get("POSELIFT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
VIDEOS = SHARED / "videos"
needs_shared = pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"shared test videos not found at {VIDEOS} "
                                  "(set POSELIFT_SHARED to the shared/ folder)")
needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None,
                                     reason="mediapipe is not installed")


def test_person2d_normalises_types_and_validates():
    p = Person2D(keypoints=[[1, 2], [3, 4]], scores=[1.5, -0.2], layout="x", bbox=(0, 0, 2, 2), score=1)
    assert p.keypoints.dtype == np.float32 and p.scores.tolist() == [1.0, 0.0] and p.area == 4.0
    with pytest.raises(ValueError):
        Person2D(keypoints=np.zeros((3, 2)), scores=np.zeros(2), layout="x", bbox=(0, 0, 1, 1), score=0)
    assert bbox_from_keypoints(np.array([[1, 5], [3, 2], [100, 100]]), np.array([1, 1, 0]), 0.5) == (1, 2, 3, 5)


@pytest.fixture
def fake_backend():
    from poselift.detect import base

    register_detector("needs-missing-pkg", "poselift.nowhere:Nothing", requires=("surely_not_a_package_xyz",),
                      install_hint="pip install surely-not")
    yield
    base._REGISTRY.pop("needs-missing-pkg", None)


def test_registry_reports_missing_optional_backend_cleanly(fake_backend):
    with pytest.raises(DetectorUnavailableError, match="needs the package.*surely_not_a_package_xyz.*pip install"):
        get_detector("needs-missing-pkg")
    assert "not installed" in available_detectors()["needs-missing-pkg"]
    with pytest.raises(DetectorUnavailableError, match="unknown detector"):
        get_detector("nope")
    if importlib.util.find_spec("detectron2") is None:
        with pytest.raises(DetectorUnavailableError, match="detectron2"):
            get_detector("detectron2")


@pytest.fixture(scope="module")
def offline():
    """Fail loudly if anything tries the network while the detector is built or run."""
    mp_download = pytest.importorskip("mediapipe.python.solutions.download_utils")

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    saved = (mp_download.download_oss_model, urllib.request.urlopen, socket.socket.connect)
    mp_download.download_oss_model = refuse
    urllib.request.urlopen = refuse
    socket.socket.connect = refuse
    yield
    mp_download.download_oss_model, urllib.request.urlopen, socket.socket.connect = saved


@pytest.fixture(scope="module")
def detector(offline):
    det = get_detector("mediapipe")
    yield det
    det.close()


@needs_mediapipe
def test_lite_and_heavy_are_refused_without_download(offline):
    from poselift.detect.mediapipe_pose import landmark_model_path

    for model in ("lite", "heavy"):
        if landmark_model_path(model).exists():
            continue
        with pytest.raises(DetectorUnavailableError, match="not installed.*does not download"):
            get_detector("mediapipe", model=model)
    with pytest.raises(ValueError, match="unknown MediaPipe pose model"):
        get_detector("mediapipe", model="huge")


@needs_mediapipe
def test_blank_frame_gives_nothing(detector):
    detector.reset()
    assert detector.detect(np.zeros((240, 320, 3), np.uint8), 0.0) == []
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8), 0.04) == []
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((240, 320, 3), np.float32), 0.08)


@needs_mediapipe
@needs_shared
def test_finds_the_person_on_taiji(detector):
    from poselift.detect.tracking import track_single_person
    from poselift.io.video import read_frames

    detector.reset()
    frames, times = [], []
    for f in read_frames(VIDEOS / "taiji_seed.mp4", end=10.0):
        people = detector.detect(f.image, f.time)
        frames.append(people)
        times.append(f.time)
        h, w = f.image.shape[:2]
    found = [p for p in frames if p]
    assert len(found) >= 0.9 * len(frames), f"person found in only {len(found)}/{len(frames)} frames"
    assert all(len(p) == 1 for p in found)
    p = found[len(found) // 2][0]
    assert p.layout == "blazepose33" and p.keypoints.shape == (33, 2) and p.scores.shape == (33,)
    assert p.keypoints.dtype == np.float32 and 0 <= p.scores.min() and p.scores.max() <= 1
    assert p.world_landmarks is not None and p.world_landmarks.shape == (33, 3)
    # Pixels, not normalised coordinates: the body spans a good part of the 448x336 frame.
    x0, y0, x1, y1 = p.bbox
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and (y1 - y0) > 0.3 * h
    assert p.score > 0.5
    # World landmarks are metres: shoulder width of an adult is 0.25-0.5 m.
    shoulder = np.linalg.norm(p.world_landmarks[11] - p.world_landmarks[12])
    assert 0.2 < shoulder < 0.6
    track = track_single_person(frames, np.array(times))
    assert track.valid.mean() > 0.9
    # A timestamp jump backwards (a new video) is handled by resetting the tracker.
    img = next(iter(read_frames(VIDEOS / "taiji_seed.mp4", start=5, end=5.2))).image
    assert detector.detect(img, 0.0)
