"""Multi-person BlazePose: the wheel's detector and landmark models run directly.

MediaPipe's legacy pose graph follows one person. Its two models are not limited to
one: ``pose_detection.tflite`` is an SSD detector that reports every person it sees,
and ``pose_landmark_full.tflite`` works on any person crop. This module runs both
through ``ai-edge-litert`` (the TFLite runtime), loading the ``.tflite`` files shipped
in ``poselift/detect/models`` (Apache-2.0, see the NOTICE there); nothing is downloaded.

Per frame:

1. **Detection** (every ``detect_every`` frames, and in the frame after a tracked
   person was lost): the whole frame, letterboxed to 224x224, plus overlapping square
   tiles along the long side, so that people much smaller than the frame still appear
   large enough to the 224x224 detector. Raw SSD outputs are decoded against BlazePose's
   2254 anchors, thresholded and merged by weighted non-maximum suppression within a
   tile; across tiles the detection from the tile that sees the body whole wins.
2. **Person crops**: a detection gives a rotated square region of interest (ROI)
   centred on its keypoint 0 (mid-hip), side ``2 * |kp1 - kp0| * 1.25``, turned so the
   hip -> kp1 direction points up. Detections centred on an already followed person
   are ignored. A new crop is verified by the landmark model (presence at least
   ``min_new_person_confidence``, hips where the detector put them); a larger and an
   upright variant are tried when the detector's alignment points are poor (small
   people). People lost in the last 1.5 s are looked for again where their motion
   would have taken them (the detector keys on faces and misses blurred people).
3. **Landmarks** per crop: a 256x256 crop through the landmark model gives 39 points
   (the 33 BlazePose landmarks plus alignment points; optionally refined on the
   model's heatmaps as MediaPipe does) and a pose-presence score; the
   points are mapped back to the frame, and points 33/34 give the next frame's ROI,
   as in MediaPipe's own tracking. A crop whose presence drops below
   ``min_tracking_confidence`` is dropped; of two crops that converged on the same
   person (same head, or nearly the same landmarks) the older one is kept.

The decoding constants below are those of MediaPipe's BlazePose graph configuration
(pose detection CPU graph, detection-to-ROI and landmarks-to-ROI subgraphs).

This detector does not keep identities in its output: it returns the people of each
frame (best first) and :mod:`poselift.detect.multitrack` links them over time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.detect.base import Detector, DetectorUnavailableError, Person2D, bbox_from_keypoints

# BlazePose's .tflite files, vendored (Apache-2.0; provenance and checksums in NOTICE).
MODELS_DIR = Path(__file__).with_name("models")
LANDMARK_MODELS = ("lite", "full", "heavy")


def model_path(name: str) -> Path:
    """Shipped model file: ``"detector"`` or a landmark model ``"lite"``/``"full"``/``"heavy"``."""
    if name == "detector":
        return MODELS_DIR / "pose_detection.tflite"
    if name not in LANDMARK_MODELS:
        raise DetectorUnavailableError(f"unknown BlazePose landmark model {name!r}; choose lite, full or heavy")
    return MODELS_DIR / f"pose_landmark_{name}.tflite"

# --- BlazePose graph facts ------------------------------------------------------------
DET_SIZE = 224                # detector input, RGB in [-1, 1], letterboxed
LM_SIZE = 256                 # landmark input, RGB in [0, 1]
NUM_LANDMARKS = 39            # 33 body landmarks + 6 auxiliary (33/34: ROI alignment points)
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHOR_MIN_SCALE, ANCHOR_MAX_SCALE = 0.1484375, 0.75
SCORE_CLIP = 100.0            # raw logits are clipped to +-100 before the sigmoid
NMS_IOU = 0.3                 # weighted NMS overlap threshold
ROI_SCALE = 1.25              # the ROI is enlarged by this factor
ROI_TARGET_ANGLE = math.pi / 2  # the alignment vector should point up
FINE_TILE_FRACTION = 0.5      # fine tiles: this fraction of the frame's short side
FINE_TILE_MIN_PX = 96         # no fine tiles smaller than this (upsampled noise finds ghosts)
CONFIRM_SCORE = 0.6           # detector score that confirms a fine-tile person (see _confirmed)
HEATMAP_SIZE = 64             # landmark model's per-landmark heatmaps, 64x64x39
HEATMAP_KERNEL = 7            # refinement window (RefineLandmarksFromHeatmap kernel_size)
HEATMAP_MIN_CONFIDENCE = 0.5  # refine only where the window's peak is at least this


def refine_from_heatmap(points: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's heatmap refinement of landmark positions.

    Each landmark ``points (39, 2)`` (crop pixels of the 256x256 input) is replaced by
    the confidence-weighted mean cell of its heatmap channel within a 7x7 window around
    it (``heatmap (64, 64, 39)`` raw logits, sigmoid applied here; the window shrinks at
    the heatmap's edges), when the window's peak confidence is at least 0.5; a landmark
    left of, right of or above the heatmap is kept. As in MediaPipe, the mean cell
    index (no half-cell offset) divided by 64 is the new normalised position.
    """
    out = np.asarray(points, np.float64).copy()
    n, half = HEATMAP_SIZE, (HEATMAP_KERNEL - 1) // 2
    # int() truncation towards zero, as the C++ float -> int conversion does.
    col = np.trunc(out[:, 0] / LM_SIZE * n).astype(int)
    row = np.trunc(out[:, 1] / LM_SIZE * n).astype(int)
    use = (col >= 0) & (col < n) & (row >= 0) & (row < n + half)
    if not use.any():
        return out
    idx = np.flatnonzero(use)
    k = np.arange(-half, half + 1)
    r = row[idx, None, None] + k[None, :, None]          # window cells, (L, 7, 1)
    c = col[idx, None, None] + k[None, None, :]          # (L, 1, 7)
    # Cells outside the heatmap count as confidence 0: MediaPipe's shrunken window.
    inside = (r >= 0) & (r < n) & (c >= 0) & (c < n)
    logits = heatmap[np.clip(r, 0, n - 1), np.clip(c, 0, n - 1), idx[:, None, None]].astype(np.float64)
    conf = np.where(inside, 1.0 / (1.0 + np.exp(-logits)), 0.0)   # (L, 7, 7)
    total = conf.sum(axis=(1, 2))
    ok = (conf.max(axis=(1, 2)) >= HEATMAP_MIN_CONFIDENCE) & (total > 0)
    mean_c = (conf * c).sum(axis=(1, 2)) / np.maximum(total, 1e-12)
    mean_r = (conf * r).sum(axis=(1, 2)) / np.maximum(total, 1e-12)
    out[idx[ok], 0] = mean_c[ok] / n * LM_SIZE
    out[idx[ok], 1] = mean_r[ok] / n * LM_SIZE
    return out


def ssd_anchors() -> np.ndarray:
    """BlazePose detector anchor centres ``(2254, 2)``, normalised ``[0, 1]`` (x, y).

    Every anchor has unit size (``fixed_anchor_size``), so only centres matter.
    Layers with equal stride share one feature map; each layer contributes two anchors
    per cell (aspect ratio 1 and the interpolated scale), hence 2 per cell for strides
    8 and 16 and 6 per cell for the three stride-32 layers.
    """
    out = []
    layer = 0
    n = len(ANCHOR_STRIDES)
    while layer < n:
        stride = ANCHOR_STRIDES[layer]
        same = 0
        while layer + same < n and ANCHOR_STRIDES[layer + same] == stride:
            same += 1
        per_cell = 2 * same
        fm = int(math.ceil(DET_SIZE / stride))
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        layer += same
    return np.concatenate(out).astype(np.float32)


@dataclass
class Roi:
    """A rotated square person crop in frame pixels.

    ``cx, cy``: centre; ``side``: edge length; ``angle``: radians, the rotation that
    takes the crop's axes to the frame's (positive turns the crop's "up" towards the
    frame's +x, i.e. clockwise on screen since y points down).
    """

    cx: float
    cy: float
    side: float
    angle: float

    def crop_to_frame(self, size: int) -> np.ndarray:
        """``(2, 3)`` affine matrix taking crop pixels of a ``size``x``size`` crop to frame pixels."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.side / size
        # frame = centre + R @ ((crop - size/2) * k)
        a = np.array([[c * k, -s * k], [s * k, c * k]])
        t = np.array([self.cx, self.cy]) - a @ np.array([size / 2, size / 2])
        return np.hstack([a, t[:, None]])

    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned box around the rotated square."""
        r = self.side / 2 * (abs(math.cos(self.angle)) + abs(math.sin(self.angle)))
        return (self.cx - r, self.cy - r, self.cx + r, self.cy + r)


def roi_from_points(center: np.ndarray, scale_point: np.ndarray) -> Roi:
    """MediaPipe's alignment-points rule: centre at ``center``, side ``2 * |scale_point - center| * 1.25``,
    rotated so ``center -> scale_point`` points up (both in frame pixels, y down)."""
    d = np.asarray(scale_point, np.float64) - np.asarray(center, np.float64)
    side = 2.0 * float(np.hypot(d[0], d[1])) * ROI_SCALE
    angle = ROI_TARGET_ANGLE - math.atan2(-d[1], d[0])
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return Roi(float(center[0]), float(center[1]), side, angle)


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a (N, 4)`` against ``b (M, 4)`` as x0, y0, x1, y1 -> ``(N, M)``."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = NMS_IOU, weighted: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression as in MediaPipe: each cluster of boxes overlapping the
    best remaining one by more than ``iou_threshold`` becomes one detection whose box and
    keypoints are the score-weighted mean of the cluster and whose score is the best one.

    Args: ``boxes (N, 4)``, ``keypoints (N, K, 2)``, ``scores (N,)``; ``weighted=False``
    keeps the best member of each cluster instead (plain NMS). Returns the same, merged.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    ob, ok, os_ = [], [], []
    iou = _box_iou(boxes, boxes) if len(scores) else np.zeros((0, 0))
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        members = remaining & (iou[i] > iou_threshold)
        members[i] = True
        w = scores[members][:, None] if weighted else (np.arange(len(scores)) == i)[members][:, None].astype(np.float32)
        ob.append((boxes[members] * w).sum(0) / w.sum())
        ok.append((keypoints[members] * w[:, :, None]).sum(0) / w.sum())
        os_.append(scores[i])
        remaining &= ~members
    if not ob:
        return np.zeros((0, 4), np.float32), np.zeros((0,) + keypoints.shape[1:], np.float32), np.zeros(0, np.float32)
    return np.array(ob, np.float32), np.array(ok, np.float32), np.array(os_, np.float32)


def _clip_boxes(b: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    out = b.copy()
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], x0, x1)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], y0, y1)
    return out


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _covered(roi: Roi, others: list[Roi]) -> bool:
    """Whether ``roi`` is centred on a person another ROI already frames: centres
    (mid-hips) closer than a fifth of the larger side and sizes within a factor 2.
    Box overlap would not do: ROIs are much larger than the body, so neighbours' ROIs
    overlap heavily."""
    for o in others:
        big, small = max(roi.side, o.side), min(roi.side, o.side)
        if small > 0.5 * big and math.hypot(roi.cx - o.cx, roi.cy - o.cy) < 0.2 * big:
            return True
    return False


def torso_colour(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray | None:
    """Median RGB in ``[0, 1]`` of the inner half of the shoulder-hip quadrilateral
    (BlazePose-33 points 11, 12, 24, 23), or None when it is off the frame. Clothing
    colour is what tells two people apart when they cross."""
    q = keypoints[[11, 12, 24, 23]].astype(np.float64)
    c = q.mean(axis=0)
    q = c + 0.5 * (q - c)
    h, w = image.shape[:2]
    x0, y0 = np.floor(q.min(axis=0)).astype(int)
    x1, y1 = np.ceil(q.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
    if x1 < x0 or y1 < y0:
        return None
    patch = image[y0:y1 + 1, x0:x1 + 1].reshape(-1, 3)
    return (np.median(patch, axis=0) / 255.0).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -SCORE_CLIP, SCORE_CLIP).astype(np.float64)))


@dataclass
class _Crop:
    roi: Roi
    age: int = 0  # frames tracked from landmarks, for preferring established crops
    velocity: tuple[float, float] = (0.0, 0.0)  # ROI centre motion, pixels per frame
    lost_at: int = -1  # frame index the crop was lost at (ghosts only)
    ghost: int = -1  # id of the ghost this crop re-tries, -1 for others
    confirm: bool = False  # a fine-tile detection: its landmarks must be confirmed first


class BlazePoseMultiDetector(Detector):
    """Every person in each frame with BlazePose's own models (offline, ``ai-edge-litert``).

    Args:
        max_people: most people followed at once (crops beyond it, lowest scores first,
            are dropped); None for no limit.
        detect_every: run the person detector every this many frames (and in the frame
            after a tracked person was lost); in between, people are followed by their
            landmarks alone, as MediaPipe does.
        tiles: also run the detector on overlapping square tiles along the long side of
            the frame (finds people under about half the frame height; costs one
            detector run per tile), and every ``fine_every`` detector runs a grid of
            squares half the short side (people down to about a quarter of the frame
            height, e.g. a bystander in the background).
        fine_every: run the fine tile grid every this many detector runs (counted on
            the ``detect_every`` cadence, starting with the first frame); 0 never.
            People found there are followed by their landmarks in between.
        min_detection_confidence: detector score threshold in ``[0, 1]``; lower than
            MediaPipe's 0.5 because partly hidden people score 0.4-0.5 and every
            candidate is verified by the landmark model anyway.
        min_new_person_confidence: pose-presence score a new detection's landmarks need
            before the person is followed (the verification step).
        min_tracking_confidence: pose-presence score under which a crop is dropped.
        num_threads: TFLite CPU threads per model (1: as fast as 2 on a busy 2-core
            machine, measured 15-16 ms per detector or landmark run either way).
        model: landmark model, ``"lite"``, ``"full"`` or ``"heavy"`` (all shipped).
        refine_heatmap: refine landmark positions on the model's heatmaps, as MediaPipe's
            graph does (see :func:`refine_from_heatmap`; the single-person detector turns
            it on; off here, where the multi-person tracking was tuned without it).

    Output per person (best first, by ``score``): ``keypoints`` (33, 2) frame pixels in
    the ``blazepose33`` layout; ``scores`` = landmark visibility in ``[0, 1]``;
    ``score`` = mean visibility of the 17 COCO joints times the pose-presence score;
    ``bbox`` = box around the landmarks with visibility > 0.5; ``world_landmarks``
    (33, 3) metres, hip-centred (x right, y down, z away from the camera).
    """

    name = "blazepose-multi"
    layout = "blazepose33"
    stateful = True

    def __init__(self, max_people: int | None = None, detect_every: int = 4, tiles: bool = True,
                 min_detection_confidence: float = 0.4, min_tracking_confidence: float = 0.5,
                 min_new_person_confidence: float = 0.8, fine_every: int = 4,
                 num_threads: int = 1, model: str = "full", refine_heatmap: bool = False) -> None:
        if max_people is not None and max_people < 1:
            raise ValueError(f"max_people must be at least 1, got {max_people}")
        det_path, lm_path = model_path("detector"), model_path(model)
        for p in (det_path, lm_path):
            if not p.is_file():
                raise DetectorUnavailableError(f"BlazePose model {p} is missing from the poselift installation")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise DetectorUnavailableError("BlazePose detection needs the package ai-edge-litert "
                                           "(pip install ai-edge-litert==2.3.0)") from None
        import cv2

        self._cv2 = cv2
        self._det = Interpreter(model_path=str(det_path), num_threads=num_threads)
        self._det.allocate_tensors()
        self._lm = Interpreter(model_path=str(lm_path), num_threads=num_threads)
        self._lm.allocate_tensors()
        self._det_in = self._det.get_input_details()[0]["index"]
        outs = {tuple(d["shape"][1:]): d["index"] for d in self._det.get_output_details()}
        self._det_boxes, self._det_scores = outs[(2254, 12)], outs[(2254, 1)]
        self._lm_in = self._lm.get_input_details()[0]["index"]
        lm_outs = {tuple(d["shape"][1:]): d["index"] for d in self._lm.get_output_details()}
        self._lm_points, self._lm_flag, self._lm_world = lm_outs[(195,)], lm_outs[(1,)], lm_outs[(117,)]
        self._lm_heatmap = lm_outs[(HEATMAP_SIZE, HEATMAP_SIZE, NUM_LANDMARKS)]
        self._anchors = ssd_anchors()
        self.model = model
        self.refine_heatmap = bool(refine_heatmap)
        self.max_people = max_people
        self.detect_every = max(1, int(detect_every))
        self.tiles = tiles
        self.fine_every = max(0, int(fine_every))
        self.ghost_frames = 45  # ~1.5 s at 30 fps
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.min_new_person_confidence = float(min_new_person_confidence)
        from poselift.geometry.skeletons import BLAZEPOSE33, COCO17

        self._coco_idx = np.array([BLAZEPOSE33.index(n) for n in COCO17.joint_names])
        self.reset()

    # ----------------------------------------------------------------- detection
    def _tile_squares(self, w: int, h: int, fine: bool = False) -> list[tuple[float, float, float]]:
        """Squares ``(x0, y0, side)`` in frame pixels the detector looks at: the whole
        frame and the short-side tiles, or with ``fine`` only the grid of small squares
        (see ``fine_every``)."""
        long_side, short = max(w, h), min(w, h)
        if fine:
            return self._fine_squares(w, h)
        squares = [((w - long_side) / 2, (h - long_side) / 2, float(long_side))]  # the letterboxed frame
        if self.tiles and long_side > 1.2 * short:
            # Squares of the short side along the long one, overlapping by at least a
            # third so that a person cut by one tile edge is whole in the next tile.
            n = int(math.ceil((long_side - short) / (short * 2 / 3))) + 1
            for k in range(n):
                off = (long_side - short) * k / (n - 1)
                squares.append((off, 0.0, float(short)) if w >= h else (0.0, off, float(short)))
        return squares

    def _fine_squares(self, w: int, h: int) -> list[tuple[float, float, float]]:
        # The detector keys on the face and shoulders; a person a quarter of the frame
        # height tall (a bystander in the background) has a face of a few detector
        # pixels even in a short-side tile and scores nothing there (measured: below
        # 0.1 for the bystander of the pose2sim lab views, 0.6-0.8 in these squares).
        # Squares of FINE_TILE_FRACTION of the short side, in a grid overlapping by at
        # least a quarter, show such a person twice as large.
        side = FINE_TILE_FRACTION * min(w, h)
        if not self.tiles or side < FINE_TILE_MIN_PX:
            return []

        def offsets(extent: float) -> list[float]:
            n = int(math.ceil(max(extent - side, 0.0) / (0.75 * side))) + 1
            return [float(round((extent - side) * k / max(n - 1, 1))) for k in range(n)]

        return [(x0, y0, side) for y0 in offsets(h) for x0 in offsets(w)]

    def _detect_square(self, frame: np.ndarray, x0: float, y0: float, side: float):
        cv2 = self._cv2
        h, w = frame.shape[:2]
        # Paste the in-frame part, resized with area averaging (large downscales alias
        # badly with bilinear sampling), into a black square.
        k = DET_SIZE / side
        ix0, iy0 = max(0, int(round(x0))), max(0, int(round(y0)))
        ix1, iy1 = min(w, int(round(x0 + side))), min(h, int(round(y0 + side)))
        canvas = np.zeros((DET_SIZE, DET_SIZE, 3), np.float32)
        tw, th = max(1, int(round((ix1 - ix0) * k))), max(1, int(round((iy1 - iy0) * k)))
        # Rounding x0 + side to a pixel can give -1 for an upscaled square that starts inside the frame.
        ox, oy = max(0, int(round((ix0 - x0) * k))), max(0, int(round((iy0 - y0) * k)))
        tw, th = min(tw, DET_SIZE - ox), min(th, DET_SIZE - oy)
        patch = cv2.resize(frame[iy0:iy1, ix0:ix1], (tw, th), interpolation=cv2.INTER_AREA)
        canvas[oy:oy + th, ox:ox + tw] = patch.astype(np.float32) / 127.5 - 1.0
        self._det.set_tensor(self._det_in, canvas[None])
        self._det.invoke()
        raw = self._det.get_tensor(self._det_boxes)[0]
        scores = _sigmoid(self._det.get_tensor(self._det_scores)[0, :, 0])
        keep = scores >= self.min_detection_confidence
        if not keep.any():
            return np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32)
        raw, scores, anchors = raw[keep], scores[keep], self._anchors[keep]
        # Raw values are offsets in detector pixels from the (unit-size) anchor centre.
        cxy = raw[:, 0:2] / DET_SIZE + anchors
        wh = raw[:, 2:4] / DET_SIZE
        kps = raw[:, 4:12].reshape(-1, 4, 2) / DET_SIZE + anchors[:, None, :]
        boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1)
        # Normalised square coordinates -> frame pixels.
        off = np.array([x0, y0], np.float32)
        boxes = boxes * side + np.tile(off, 2)
        kps = kps * side + off
        return boxes, kps, scores

    def detect_people(self, frame_rgb: np.ndarray, fine: bool = False) -> list[tuple[Roi, float]]:
        """Run the person detector over the frame and its tiles (``fine``: over the grid
        of small tiles instead, see ``fine_every``).

        Returns ``(roi, score)`` per person after non-maximum suppression, best first.
        """
        h, w = frame_rgb.shape[:2]
        allb, allk, alls = [], [], []
        for x0, y0, side in self._tile_squares(w, h, fine):
            b, k, s = weighted_nms(*self._detect_square(frame_rgb, x0, y0, side))
            # A person cut by the tile edge gets wrong alignment points there; rank each
            # detection by how much of the body (a square of half-side |kp1 - kp0|
            # around kp0) that lies in the frame also lies in this tile, so the tile
            # that sees the person whole wins the cross-tile suppression below.
            r = np.linalg.norm(k[:, 1] - k[:, 0], axis=1)
            body = np.stack([k[:, 0, 0] - r, k[:, 0, 1] - r, k[:, 0, 0] + r, k[:, 0, 1] + r], axis=1)
            in_frame = _clip_boxes(body, 0, 0, w, h)
            in_tile = _clip_boxes(in_frame, x0, y0, x0 + side, y0 + side)
            frac = _area(in_tile) / np.maximum(_area(in_frame), 1e-6)
            s = s * frac
            allb.append(b)
            allk.append(k)
            alls.append(s)
        boxes, kps, scores = np.concatenate(allb), np.concatenate(allk), np.concatenate(alls)
        # Across tiles keep the best detection of each person instead of averaging: a
        # person cut by a tile edge gets wrong alignment points there, and averaging
        # them with the whole view drags the ROI towards a neighbour.
        boxes, kps, scores = weighted_nms(boxes, kps, scores, weighted=False)
        keep = scores >= 0.5 * self.min_detection_confidence
        boxes, kps, scores = boxes[keep], kps[keep], scores[keep]
        return [(roi_from_points(kps[i, 0], kps[i, 1]), float(scores[i])) for i in range(len(scores))]

    # ----------------------------------------------------------------- landmarks
    def landmarks(self, frame_rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Landmark model on one ROI.

        Returns ``(points (39, 2) frame pixels, visibility (39,) in [0, 1],
        world (39, 3) metres, presence in [0, 1])``.
        """
        cv2 = self._cv2
        m = roi.crop_to_frame(LM_SIZE)
        crop = cv2.warpAffine(frame_rgb, m, (LM_SIZE, LM_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        self._lm.set_tensor(self._lm_in, (crop.astype(np.float32) / 255.0)[None])
        self._lm.invoke()
        raw = self._lm.get_tensor(self._lm_points)[0].reshape(NUM_LANDMARKS, 5)
        # The pose flag leaves the model already squashed to [0, 1] (values never exceed 1).
        presence = float(np.clip(self._lm.get_tensor(self._lm_flag)[0, 0], 0.0, 1.0))
        xy = raw[:, :2]
        if self.refine_heatmap:
            xy = refine_from_heatmap(xy, self._lm.get_tensor(self._lm_heatmap)[0])
        pts = xy @ m[:, :2].T + m[:, 2]
        vis = _sigmoid(raw[:, 3])
        world = self._lm.get_tensor(self._lm_world)[0].reshape(NUM_LANDMARKS, 3).copy()
        c, s = math.cos(roi.angle), math.sin(roi.angle)
        world[:, :2] = world[:, :2] @ np.array([[c, s], [-s, c]])  # undo the crop's rotation
        return pts.astype(np.float32), vis.astype(np.float32), world, presence

    # ----------------------------------------------------------------- per frame
    def detect(self, frame_rgb: np.ndarray, timestamp_s: float) -> list[Person2D]:
        """See :meth:`Detector.detect`. Returns every person found, best first."""
        image = np.asarray(frame_rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {image.dtype} {image.shape}")
        image = np.ascontiguousarray(image)
        crops = list(self._crops)
        h, w = image.shape[:2]
        run_detector = self._frame % self.detect_every == 0 or self._lost
        fine = self.fine_every > 0 and self._frame % (self.detect_every * self.fine_every) == 0
        self._ghosts = [g for g in self._ghosts if self._frame - g.lost_at <= self.ghost_frames]
        if run_detector and self._ghosts:
            # The face-driven detector misses small or blurred people that the landmark
            # model still sees, so a recently lost person is first looked for where
            # their own motion would have taken them.
            for g in self._ghosts:
                n = self._frame - g.lost_at
                roi = Roi(g.roi.cx + g.velocity[0] * n, g.roi.cy + g.velocity[1] * n, g.roi.side, g.roi.angle)
                if not self._sane(roi, w, h) or _covered(roi, [c.roi for c in crops]):
                    continue
                crops.append(_Crop(roi, ghost=id(g)))
        if run_detector:
            for roi, _score in self.detect_people(image):
                # A detection on someone already followed would only duplicate the crop.
                if not _covered(roi, [c.roi for c in crops]):
                    crops.append(_Crop(roi))
        if fine:
            # Small tiles also fire on body parts and things (a black post on the floor
            # gets 0.45-0.55 and landmarks with presence 0.8-1.0), so what only they
            # find must be confirmed (see _confirmed).
            for roi, _score in self.detect_people(image, fine=True):
                if not _covered(roi, [c.roi for c in crops]):
                    crops.append(_Crop(roi, confirm=True))
        found: list[tuple[Person2D, _Crop]] = []
        for crop in crops:
            if not self._sane(crop.roi, w, h):
                continue
            if crop.age == 0:
                pts, vis, world, presence = self._first_landmarks(image, crop.roi)
            else:
                pts, vis, world, presence = self.landmarks(image, crop.roi)
            if presence < (self.min_new_person_confidence if crop.age == 0 else self.min_tracking_confidence):
                continue
            if crop.confirm and not self._confirmed(image, pts[:33]):
                continue
            kp, sc = pts[:33], vis[:33]
            person = Person2D(keypoints=kp, scores=sc, layout=self.layout,
                              bbox=bbox_from_keypoints(kp, sc, min_score=0.5),
                              score=float(sc[self._coco_idx].mean()) * presence, world_landmarks=world[:33],
                              appearance=torso_colour(image, kp))
            nxt = roi_from_points(pts[33], pts[34])
            vel = crop.velocity
            if crop.age > 0:
                v = (nxt.cx - crop.roi.cx, nxt.cy - crop.roi.cy)
                vel = (0.5 * vel[0] + 0.5 * v[0], 0.5 * vel[1] + 0.5 * v[1])
            found.append((person, _Crop(nxt, crop.age + 1, vel, ghost=crop.ghost)))
        found = self._dedupe(found)
        if self.max_people is not None:
            found = found[:self.max_people]
        before = [c for c in self._crops if c.age >= 3]
        self._crops = [c for _, c in found]
        # Established crops that vanished become ghosts (looked for again for a while).
        for c in before:
            if not any(abs(k.roi.cx - c.roi.cx) + abs(k.roi.cy - c.roi.cy) < 0.25 * c.roi.side
                       for k in self._crops):
                self._ghosts.append(_Crop(c.roi, 0, c.velocity, self._frame))
        # A ghost whose person is followed again is done.
        back = {c.ghost for c in self._crops}
        self._ghosts = [g for g in self._ghosts if id(g) not in back]
        self._lost = len(found) < sum(c.age > 0 for c in crops)
        self._frame += 1
        return [p for p, _ in found]

    def _confirmed(self, image: np.ndarray, kp: np.ndarray) -> bool:
        """Whether the detector, shown a square framing the landmarks ``kp (33, 2)`` of a
        new crop (upright, 1.2 and then 1.6 times their extent), finds a person there
        whose mid-hip is near the landmarks' own. On the pose2sim lab views a real
        person scores 0.8-0.96 this way, a post or a crop on someone's legs under 0.45."""
        lo, hi = kp.min(axis=0), kp.max(axis=0)
        extent = float(max(hi - lo))
        if extent <= 0:
            return False
        centre, hip = (lo + hi) / 2, (kp[23] + kp[24]) / 2
        for f in (1.2, 1.6):
            side = f * extent
            _, k, s = weighted_nms(*self._detect_square(image, centre[0] - side / 2, centre[1] - side / 2, side))
            near = np.linalg.norm(k[:, 0] - hip, axis=1) < 0.25 * extent
            if (s[near] >= CONFIRM_SCORE).any():
                return True
        return False

    @staticmethod
    def _sane(roi: Roi, w: int, h: int) -> bool:
        """A crop that shrank to nothing, blew up or drifted off the frame is not a person."""
        long_side = max(w, h)
        if not (0.03 * min(w, h) <= roi.side <= 3.0 * long_side):
            return False
        return -0.5 * roi.side < roi.cx < w + 0.5 * roi.side and -0.5 * roi.side < roi.cy < h + 0.5 * roi.side

    def _first_landmarks(self, image: np.ndarray, roi: Roi):
        """Landmarks for a fresh detection. For people small in the frame the detector's
        alignment points are rough (the ROI comes out too small or tilted), so a larger
        and an upright version of the ROI are tried too and the most confident one wins;
        from the next frame on the landmarks themselves place the crop."""
        best = None
        for variant in (roi, Roi(roi.cx, roi.cy, roi.side * 1.6, roi.angle), Roi(roi.cx, roi.cy, roi.side * 1.6, 0.0)):
            got = self.landmarks(image, variant)
            # Landmarks whose hips land far from the detection's belong to a neighbour
            # that filled the crop, not to the person detected.
            if np.hypot(*(got[0][33] - (roi.cx, roi.cy))) > 0.3 * roi.side:
                continue
            if best is None or got[3] > best[3]:
                best = got
            if best[3] >= 0.9:
                break
        if best is None:
            return got[0], got[1], got[2], 0.0
        return best

    @staticmethod
    def _dedupe(found: list[tuple[Person2D, _Crop]]) -> list[tuple[Person2D, _Crop]]:
        """Drop crops that converged onto a person another crop already covers (keep the
        longer-tracked, then the higher-scoring one); result sorted best first."""
        found = sorted(found, key=lambda pc: (-pc[1].age, -pc[0].score))
        kept: list[tuple[Person2D, _Crop]] = []
        for p, c in found:
            same = False
            for q, _ in kept:
                diag = max(1.0, float(np.hypot(q.bbox[2] - q.bbox[0], q.bbox[3] - q.bbox[1])))
                dist = np.linalg.norm(p.keypoints - q.keypoints, axis=1) / diag
                # Two people never share a head: a crop that slid onto someone's head and
                # shoulders is a duplicate even when its legs went elsewhere.
                if (np.median(dist) < 0.1 or np.median(dist[:13]) < 0.08
                        or _box_iou(np.array([p.bbox]), np.array([q.bbox]))[0, 0] > 0.7):
                    same = True
                    break
            if not same:
                kept.append((p, c))
        kept.sort(key=lambda pc: -pc[0].score)
        return kept

    def reset(self) -> None:
        self._crops: list[_Crop] = []
        self._ghosts: list[_Crop] = []
        self._frame = 0
        self._lost = False

    def close(self) -> None:
        self._det = None
        self._lm = None
