"""One person over time: selection among detections, gap filling, time resampling.

The single-person route needs one skeleton per frame. :func:`select_person` picks a
detection per frame; the default ``"consistent"`` strategy locks onto a large, complete
person and then follows that person (constant-velocity prediction, keypoint distance
and box overlap), so the output never jumps to another person when two cross or one
is briefly lost. :func:`fill_gaps` then interpolates short holes and marks long ones
invalid rather than inventing motion. :func:`track_single_person` does both.

Image points are pixels (``x`` right, ``y`` down); timestamps are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from poselift.timeseries import resample_sequence  # noqa: F401  (re-exported)
from poselift.detect.base import Person2D

STRATEGIES = ("consistent", "highest-score", "largest", "most-complete")


@dataclass
class TrackResult:
    """One person's 2D track.

    Attributes:
        keypoints: ``(T, J, 2)`` float32 pixels; joints without any value are 0.
        scores: ``(T, J)`` float32 in ``[0, 1]``; filled joints carry half the
            interpolated confidence of their neighbours, joints without value 0.
        valid: ``(T,)`` bool, every joint of the frame has a detected or filled value.
        filled: ``(T, J)`` bool, the joint was interpolated (or held at an edge).
        chosen: ``(T,)`` int, index of the picked detection in each frame's list, -1
            where none was picked.
        layout: skeleton name of the keypoints.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    valid: np.ndarray
    filled: np.ndarray
    chosen: np.ndarray
    layout: str


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _completeness(p: Person2D, thr: float) -> float:
    return float((p.scores >= thr).mean()) if p.num_joints else 0.0


def _keypoint_distance(a: Person2D | np.ndarray, a_scores: np.ndarray, b: Person2D, thr: float,
                       scale: float) -> float:
    """Mean distance over joints confident in both, divided by ``scale`` (inf if none shared)."""
    both = (a_scores >= thr) & (b.scores >= thr)
    if not both.any():
        return float("inf")
    d = np.linalg.norm(np.asarray(a)[both] - b.keypoints[both], axis=-1)
    return float(d.mean() / max(scale, 1.0))


def _pick_static(people: Sequence[Person2D], strategy: str, thr: float) -> int:
    if strategy == "highest-score":
        return int(np.argmax([p.score for p in people]))
    if strategy == "largest":
        return int(np.argmax([p.area for p in people]))
    # most-complete; box area breaks ties between equally complete people
    return max(range(len(people)), key=lambda i: (_completeness(people[i], thr), people[i].area))


def _initial_quality(people: Sequence[Person2D], thr: float) -> np.ndarray:
    # "Most complete large person": completeness times the square root of the box area
    # relative to the largest box, so a full-body bystander beats a cropped close-up
    # only when it is not much smaller.
    areas = np.array([p.area for p in people], dtype=np.float64)
    rel = np.sqrt(areas / areas.max()) if areas.max() > 0 else np.ones(len(people))
    comp = np.array([_completeness(p, thr) for p in people])
    return comp * rel


def select_person(frames: Sequence[Sequence[Person2D]], timestamps: Sequence[float] | np.ndarray,
                  strategy: str = "consistent", score_threshold: float = 0.3,
                  max_match_distance: float = 0.5, reacquire_after_s: float = 1.0) -> np.ndarray:
    """Pick one detection per frame.

    Args:
        frames: per frame, the detections (possibly none).
        timestamps: ``(T,)`` seconds, increasing.
        strategy: ``"consistent"`` (default: start with the most complete large person,
            then follow it), ``"highest-score"``, ``"largest"`` or ``"most-complete"``
            (the last three decide frame by frame and may switch people).
        score_threshold: joints at or above it count as detected.
        max_match_distance: "consistent" only; largest mean keypoint distance to the
            predicted pose, as a fraction of the tracked person's box diagonal, for a
            detection to be the same person.
        reacquire_after_s: "consistent" only; once the person has been unmatched this
            long, start over with the best candidate (the person left and someone, maybe
            the same person, is in view).

    Returns:
        ``(T,)`` int index into each frame's list, -1 where nobody was picked.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown person selection {strategy!r}; choose {', '.join(STRATEGIES)}")
    t = np.asarray(timestamps, dtype=np.float64)
    if len(t) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(t)} timestamps")
    selector = PersonSelector(strategy, score_threshold, max_match_distance, reacquire_after_s)
    return np.array([selector.step(people, float(ti)) for people, ti in zip(frames, t)], dtype=np.int64)


class PersonSelector:
    """:func:`select_person` one frame at a time (``poselift live`` uses it; the batch
    function is a loop over it, so a live track picks the person ``infer`` would pick).

    ``step(people, t)`` returns the index of the chosen detection in ``people`` (seconds
    ``t``, increasing) or -1. The arguments are :func:`select_person`'s.
    """

    def __init__(self, strategy: str = "consistent", score_threshold: float = 0.3,
                 max_match_distance: float = 0.5, reacquire_after_s: float = 1.0) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown person selection {strategy!r}; choose {', '.join(STRATEGIES)}")
        self.strategy, self.thr = strategy, score_threshold
        self.max_d, self.reacquire = max_match_distance, reacquire_after_s
        self.last: Person2D | None = None
        self.last_t = 0.0
        self.velocity = np.zeros(2)  # box-centre velocity, pixels/s

    def step(self, people: Sequence[Person2D], t: float) -> int:
        if not people:
            return -1
        if self.strategy != "consistent":
            return _pick_static(people, self.strategy, self.thr)
        last = self.last
        if last is not None and t - self.last_t > self.reacquire:
            last = None
        if last is None:
            k = int(np.argmax(_initial_quality(people, self.thr)))
        else:
            shift = self.velocity * (t - self.last_t)
            pred_kp = last.keypoints + shift.astype(np.float32)
            pred_box = (last.bbox[0] + shift[0], last.bbox[1] + shift[1],
                        last.bbox[2] + shift[0], last.bbox[3] + shift[1])
            diag = float(np.hypot(last.bbox[2] - last.bbox[0], last.bbox[3] - last.bbox[1]))
            k, best_cost = -1, float("inf")
            for j, p in enumerate(people):
                d = _keypoint_distance(pred_kp, last.scores, p, self.thr, diag)
                iou = _iou(pred_box, p.bbox)
                if not np.isfinite(d):
                    # No joint confident in both: fall back to box overlap alone.
                    d = self.max_d * (1.0 - iou) * 2 if iou > 0 else float("inf")
                cost = d - 0.25 * iou * self.max_d
                if d <= self.max_d and cost < best_cost:
                    k, best_cost = j, cost
            if k < 0:
                self.last = last  # the tracked person is not among the detections: a gap
                return -1
        p = people[k]
        if last is not None and t > self.last_t:
            c_new = np.array([(p.bbox[0] + p.bbox[2]) / 2, (p.bbox[1] + p.bbox[3]) / 2])
            c_old = np.array([(last.bbox[0] + last.bbox[2]) / 2, (last.bbox[1] + last.bbox[3]) / 2])
            # Light smoothing: detector jitter should not steer the prediction.
            self.velocity = 0.5 * self.velocity + 0.5 * (c_new - c_old) / (t - self.last_t)
        else:
            self.velocity = np.zeros(2)
        self.last, self.last_t = p, float(t)
        return k


def _frame_period(t: np.ndarray) -> float:
    d = np.diff(t)
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 0.0


def fill_gaps(keypoints: np.ndarray, scores: np.ndarray, timestamps: Sequence[float] | np.ndarray,
              score_threshold: float = 0.3, max_gap_s: float = 0.5,
              present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate short gaps of each joint; leave long ones unfilled.

    A joint sample is *good* when its frame is present and its score is at least
    ``score_threshold``. Runs of non-good samples whose missing duration (time between
    the surrounding good samples minus one frame period) is at most ``max_gap_s`` are
    linearly interpolated in time; runs at the start or end of the sequence are held at
    the nearest good value under the same limit. Longer runs keep the detector's own
    low-confidence value if it has one (score > 0), else stay without value.

    Args:
        keypoints: ``(T, J, 2)`` pixels.
        scores: ``(T, J)`` confidences; 0 means "no value".
        timestamps: ``(T,)`` seconds, increasing.
        score_threshold: confidence below which a joint is re-estimated.
        max_gap_s: longest hole that is filled, in seconds.
        present: ``(T,)`` bool, a person was detected in the frame (default: any score > 0).

    Returns:
        ``(keypoints (T, J, 2) float32, scores (T, J) float32, valid (T,) bool,
        filled (T, J) bool)``; ``valid`` is True where every joint has a value.
    """
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    sc = np.array(scores, dtype=np.float32, copy=True)
    t = np.asarray(timestamps, dtype=np.float64)
    T, J = sc.shape
    if kp.shape != (T, J, 2) or t.shape != (T,):
        raise ValueError(f"shapes disagree: keypoints {kp.shape}, scores {sc.shape}, timestamps {t.shape}")
    if present is None:
        present = sc.max(axis=1, initial=0.0) > 0
    present = np.asarray(present, dtype=bool)
    filled = np.zeros((T, J), dtype=bool)
    period = _frame_period(t)
    tol = 1e-6 + 1e-3 * period
    has_value = present[:, None] & (sc > 0)
    for j in range(J):
        good = present & (sc[:, j] >= score_threshold)
        gi = np.flatnonzero(good)
        if len(gi) == 0:
            continue
        bad = np.flatnonzero(~good)
        if len(bad) == 0:
            continue
        nxt = np.searchsorted(gi, bad)
        has_prev, has_next = nxt > 0, nxt < len(gi)
        prev_i = gi[np.clip(nxt - 1, 0, len(gi) - 1)]
        next_i = gi[np.clip(nxt, 0, len(gi) - 1)]
        interior = has_prev & has_next
        missing = np.where(interior, t[next_i] - t[prev_i] - period,
                           np.where(has_prev, t[bad] - t[prev_i], t[next_i] - t[bad]))
        # Edge runs: the duration of the whole run decides, not each sample's distance.
        lead = bad[~has_prev]
        if len(lead):
            missing[~has_prev] = t[gi[0]] - t[lead[0]]
        trail = bad[~has_next]
        if len(trail):
            missing[~has_next] = t[trail[-1]] - t[gi[-1]]
        ok = missing <= max_gap_s + tol
        fill_in = bad[ok & interior]
        if len(fill_in):
            for d in range(2):
                kp[fill_in, j, d] = np.interp(t[fill_in], t[gi], kp[gi, j, d])
            sc[fill_in, j] = 0.5 * np.interp(t[fill_in], t[gi], sc[gi, j])
        hold = ok & ~interior
        if hold.any():
            src = np.where(has_prev, prev_i, next_i)[hold]
            kp[bad[hold], j] = kp[src, j]
            sc[bad[hold], j] = 0.5 * sc[src, j]
        filled[bad[ok], j] = True
    keep_raw = has_value & ~filled
    without = ~(filled | keep_raw)
    kp[without] = 0.0
    sc[without] = 0.0
    sc = np.clip(sc, 0.0, 1.0)
    valid = ~without.any(axis=1)
    return kp, sc, valid, filled


def track_single_person(frames: Sequence[Sequence[Person2D]], timestamps: Sequence[float] | np.ndarray,
                        strategy: str = "consistent", score_threshold: float = 0.3,
                        max_gap_s: float = 0.5, num_joints: int | None = None,
                        layout: str | None = None, **select_kwargs) -> TrackResult:
    """Pick one person per frame (:func:`select_person`) and fill gaps (:func:`fill_gaps`).

    Args:
        frames: per frame, a detector's people (all in one layout).
        timestamps: ``(T,)`` seconds.
        strategy, score_threshold: see :func:`select_person`.
        max_gap_s: longest missing stretch that is interpolated, seconds.
        num_joints, layout: needed only when no frame has any detection.
        **select_kwargs: passed to :func:`select_person`.

    Returns:
        A :class:`TrackResult` with ``T`` frames.
    """
    first = next((p for people in frames for p in people), None)
    if first is None and num_joints is None:
        raise ValueError("no detection in any frame; pass num_joints to get an all-invalid track")
    J = first.num_joints if first is not None else int(num_joints)
    name = first.layout if first is not None else (layout or "")
    chosen = select_person(frames, timestamps, strategy, score_threshold, **select_kwargs)
    T = len(frames)
    kp = np.zeros((T, J, 2), np.float32)
    sc = np.zeros((T, J), np.float32)
    for i, k in enumerate(chosen):
        if k >= 0:
            kp[i] = frames[i][k].keypoints
            sc[i] = frames[i][k].scores
    kp, sc, valid, filled = fill_gaps(kp, sc, timestamps, score_threshold, max_gap_s, present=chosen >= 0)
    return TrackResult(keypoints=kp, scores=sc, valid=valid, filled=filled, chosen=chosen, layout=name)


