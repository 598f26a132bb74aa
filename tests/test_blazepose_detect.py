"""The default detector: BlazePose's shipped models on ai-edge-litert with MediaPipe's
tracking and filters (issue 11, item 4). Real models, real video, offline."""

from __future__ import annotations

import importlib.util
import math
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_dir
from poselift.detect.base import get_detector
from poselift.detect.blazepose import OneEuroFilter
from poselift.detect.blazepose_multi import LM_SIZE, MODELS_DIR, refine_from_heatmap

pytest.importorskip("ai_edge_litert", reason="the BlazePose detector needs ai-edge-litert")


def _taiji() -> Path:
    p = shared_dir() / "videos" / "taiji_seed.mp4"
    if not p.is_file():
        pytest.skip(f"shared test video {p} is absent (set POSELIFT_SHARED or put shared/ beside the checkout)")
    return p


@pytest.fixture
def offline():
    """Fail loudly if anything tries the network while the detector is built or run."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    saved = (urllib.request.urlopen, socket.socket.connect)
    urllib.request.urlopen = refuse
    socket.socket.connect = refuse
    yield
    urllib.request.urlopen, socket.socket.connect = saved


def test_models_and_licence_are_shipped():
    for f in ("pose_detection.tflite", "pose_landmark_lite.tflite", "pose_landmark_full.tflite",
              "pose_landmark_heavy.tflite", "LICENSE", "NOTICE"):
        assert (MODELS_DIR / f).is_file(), f
    assert "Apache License" in (MODELS_DIR / "LICENSE").read_text()


def _loop_refine(points, heatmap):
    """MediaPipe's RefineLandmarksFromHeatmap written as its documented loop (reference)."""
    out = np.asarray(points, np.float64).copy()
    conf = 1.0 / (1.0 + np.exp(-heatmap.astype(np.float64)))
    n, half = 64, 3
    for i in range(out.shape[0]):
        col, row = int(out[i, 0] / LM_SIZE * n), int(out[i, 1] / LM_SIZE * n)
        if col < 0 or col >= n or row < 0:
            continue
        win = conf[max(0, row - half):min(n, row + half + 1), max(0, col - half):min(n, col + half + 1), i]
        if win.size == 0 or win.max() < 0.5:
            continue
        rows, cols = np.mgrid[max(0, row - half):min(n, row + half + 1), max(0, col - half):min(n, col + half + 1)]
        out[i] = [(cols * win).sum() / win.sum() / n * LM_SIZE, (rows * win).sum() / win.sum() / n * LM_SIZE]
    return out


def test_heatmap_refinement():
    # One confident cell: the landmark moves onto it (cell index / 64, no half-cell offset).
    hm = np.full((64, 64, 39), -50.0, np.float32)
    pts = np.full((39, 2), 128.0)
    hm[30, 34, 0] = 5.0
    got = refine_from_heatmap(pts, hm)
    np.testing.assert_allclose(got[0], [34 / 64 * 256, 30 / 64 * 256], atol=1e-6)
    np.testing.assert_allclose(got[1:], pts[1:])          # unsure heatmaps keep the regression
    rng = np.random.default_rng(0)
    for _ in range(50):  # edges, outside points, partial windows: same as the loop
        p = rng.uniform(-30, 290, (39, 2))
        h = rng.normal(-1, 2, (64, 64, 39)).astype(np.float32)
        np.testing.assert_allclose(refine_from_heatmap(p, h), _loop_refine(p, h), atol=1e-9)


def test_one_euro_filter():
    f = OneEuroFilter(min_cutoff=0.1, beta=40.0)
    np.testing.assert_array_equal(f(np.array([5.0]), 0.0), [5.0])   # the first sample passes
    rng = np.random.default_rng(1)
    still = 100 + rng.normal(0, 1.0, 60)
    out = np.array([f(np.array([v]), (i + 1) / 30, 1 / 200)[0] for i, v in enumerate(still)])
    assert out[10:].std() < 0.5 * still[10:].std()      # noise on a still point is damped
    f.reset()
    ramp = np.arange(60) * 10.0                          # fast motion is followed with little lag
    out = np.array([f(np.array([v]), i / 30, 1 / 200)[0] for i, v in enumerate(ramp)])
    assert abs(out[-1] - ramp[-1]) < 0.1 * (ramp[-1] - ramp[0])
    assert math.isclose(f(np.array([1.0]), 59 / 30)[0], 1.0)  # a repeated time passes unfiltered


def test_blank_frame_gives_nothing(offline):
    det = get_detector("blazepose")
    assert det.detect(np.zeros((240, 320, 3), np.uint8), 0.0) == []
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((240, 320, 3), np.float32), 0.04)


@pytest.mark.parametrize("model", ["lite", "full", "heavy"])
def test_every_landmark_model_finds_the_person(model, offline):
    from poselift.io.video import read_frames

    det = get_detector("blazepose", model=model)
    found, h = [], 0
    for f in read_frames(_taiji(), end=5.0):
        found.append(det.detect(f.image, f.time))
        h, w = f.image.shape[:2]
    people = [p[0] for p in found if p]
    assert len(people) >= 0.9 * len(found) and all(len(p) <= 1 for p in found)
    p = people[-1]
    assert p.layout == "blazepose33" and p.keypoints.shape == (33, 2) and p.world_landmarks.shape == (33, 3)
    x0, y0, x1, y1 = p.bbox
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and (y1 - y0) > 0.3 * h and p.score > 0.5
    shoulder = np.linalg.norm(p.world_landmarks[11] - p.world_landmarks[12])
    assert 0.2 < shoulder < 0.6


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe is not installed")
def test_agrees_with_mediapipe_graph(offline):
    """The same models, tracking and filters as MediaPipe's graph give nearly the same landmarks."""
    from poselift.geometry.skeletons import BLAZEPOSE33, COCO17
    from poselift.io.video import read_frames

    coco = [BLAZEPOSE33.index(n) for n in COCO17.joint_names]
    ours, theirs = get_detector("blazepose"), get_detector("mediapipe")
    d = []
    for f in read_frames(_taiji(), end=8.0):
        a, b = ours.detect(f.image, f.time), theirs.detect(f.image, f.time)
        assert bool(a) == bool(b)
        if a:
            size = np.hypot(a[0].bbox[2] - a[0].bbox[0], a[0].bbox[3] - a[0].bbox[1])
            vis = (a[0].scores[coco] > 0.5) & (b[0].scores[coco] > 0.5)
            d.append(np.median(np.linalg.norm(a[0].keypoints[coco] - b[0].keypoints[coco], axis=1)[vis]) / size)
    theirs.close()
    assert len(d) > 50 and np.median(d) < 0.02, f"median distance {np.median(d):.3f} of the person's size"
