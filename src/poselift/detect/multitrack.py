"""Several people over time: per-frame detections -> one gap-filled track per person.

:func:`track_people` links detections frame to frame by bipartite matching
(:func:`scipy.optimize.linear_sum_assignment`) on a cost that combines keypoint
distance to each track's motion-predicted pose (normalised by the person's box
diagonal), box overlap and box-size change. A track that finds no detection stays
claimable for ``reid_s`` seconds with a gate that widens with the time it has been
missing, so a person hidden for a moment (occlusion, a crossing, a short exit)
gets their own track back. Afterwards, fragments that still belong together (one
ends, another starts later near where and at the size the first one was) are
merged, short tracks are dropped, and the ``max_people`` tracks with the most
frames are kept. Each track is gap-filled with :func:`~poselift.detect.tracking.fill_gaps`.

Image points are pixels (``x`` right, ``y`` down); timestamps are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from poselift.detect.base import Person2D
from poselift.detect.tracking import TrackResult, _frame_period, _iou as _box_iou, fill_gaps

_INFEASIBLE = 1e6
_UNMATCHED = 10.0  # cost of leaving a track or a detection unmatched; above any gated pair


def _box_center(b: Sequence[float]) -> np.ndarray:
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])


def _size(p: Person2D) -> float:
    """Person scale in pixels: the box diagonal."""
    return float(max(1.0, np.hypot(p.bbox[2] - p.bbox[0], p.bbox[3] - p.bbox[1])))


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)
    dets: list[int] = field(default_factory=list)
    last: Person2D | None = None
    last_t: float = 0.0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, pixels/s
    sizes: list[float] = field(default_factory=list)
    looks: list[np.ndarray] = field(default_factory=list)  # appearance descriptors seen

    def add(self, i: int, k: int, p: Person2D, t: float) -> None:
        if self.last is not None and t > self.last_t:
            v = (_box_center(p.bbox) - _box_center(self.last.bbox)) / (t - self.last_t)
            # Light smoothing: detector jitter should not steer the prediction.
            self.velocity = 0.5 * self.velocity + 0.5 * v
        self.frames.append(i)
        self.dets.append(k)
        self.last, self.last_t = p, t
        self.sizes.append(_size(p))
        if p.appearance is not None:
            self.looks.append(np.asarray(p.appearance, np.float64))

    def size(self) -> float:
        return float(np.median(self.sizes[-15:]))

    def look(self, last: int = 30) -> np.ndarray | None:
        """Median appearance over the ``last`` detections (robust to a blurred or occluded frame)."""
        return np.median(self.looks[-last:], axis=0) if len(self.looks) >= 3 else None


def _look_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    if a is None or b is None or len(a) != len(b):
        return 0.0
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def _match_cost(tr: _Track, p: Person2D, t: float, score_threshold: float, max_match_distance: float,
                reid_s: float, period: float, max_look_distance: float) -> float:
    """Cost of giving detection ``p`` to track ``tr`` at time ``t`` (``_INFEASIBLE`` outside the gate)."""
    last = tr.last
    assert last is not None
    dt = t - tr.last_t
    missing = max(0.0, dt - period)
    # Predict with the track's velocity, but not far into a gap: people stop and turn.
    shift = tr.velocity * min(dt, 0.5)
    size = tr.size()
    pred_box = (last.bbox[0] + shift[0], last.bbox[1] + shift[1], last.bbox[2] + shift[0], last.bbox[3] + shift[1])
    both = (last.scores >= score_threshold) & (p.scores >= score_threshold)
    if both.sum() >= 3:
        d = float(np.linalg.norm(last.keypoints[both] + shift - p.keypoints[both], axis=-1).mean()) / size
    else:
        d = float(np.linalg.norm(_box_center(pred_box) - _box_center(p.bbox))) / size
    iou = _box_iou(pred_box, p.bbox)
    size_change = abs(np.log(_size(p) / size))
    # The gate widens with the time the person has been unseen: they may have moved.
    gate = max_match_distance * (1.0 + 2.0 * missing / max(reid_s, 1e-6))
    # From one frame to the next the look may drift (a ball held against the chest,
    # shade), so it is compared with the last few frames only and a crop that jumped
    # to someone else still stands out; after a gap it is compared with the last
    # second and must match more closely, as nothing else ties the two.
    if missing < 1.5 * period:
        look = _look_distance(tr.look(5), p.appearance)
        look_gate = 1.6 * max_look_distance
    else:
        look = _look_distance(tr.look(30), p.appearance)
        look_gate = max_look_distance
    if d > gate or size_change > np.log(2.0) or look > look_gate:
        return _INFEASIBLE
    return d + 0.5 * (1.0 - iou) + 0.5 * size_change + 0.3 * missing / max(reid_s, 1e-6) + look


def link_detections(frames: Sequence[Sequence[Person2D]], timestamps: Sequence[float] | np.ndarray,
                    score_threshold: float = 0.3, max_match_distance: float = 0.5,
                    reid_s: float = 1.5, max_look_distance: float = 0.5) -> list[list[tuple[int, int]]]:
    """Online frame-to-frame linking.

    Returns, per track, its ``(frame index, detection index)`` pairs in time order.
    """
    t = np.asarray(timestamps, dtype=np.float64)
    period = _frame_period(t)
    tracks: list[_Track] = []
    for i, people in enumerate(frames):
        if not people:
            continue
        live = [k for k, tr in enumerate(tracks) if t[i] - tr.last_t <= reid_s + 1e-9]
        cost = np.full((len(live), len(people)), _INFEASIBLE)
        for a, k in enumerate(live):
            for b, p in enumerate(people):
                cost[a, b] = _match_cost(tracks[k], p, float(t[i]), score_threshold, max_match_distance,
                                         reid_s, period, max_look_distance)
        taken = set()
        if len(live):
            # "Stay unmatched" options for every track and detection: without them the
            # assignment must pair as many rows as it can, and would rather give a
            # person to the wrong track than leave a gated-out pair unmatched.
            n, m = cost.shape
            full = np.full((n + m, m + n), _INFEASIBLE)
            full[:n, :m] = cost
            full[np.arange(n), m + np.arange(n)] = _UNMATCHED
            full[n + np.arange(m), np.arange(m)] = _UNMATCHED
            full[n:, m:] = 0.0
            rows, cols = linear_sum_assignment(full)
            for r, c in zip(rows, cols):
                if r < n and c < m and cost[r, c] < _INFEASIBLE:
                    tracks[live[r]].add(i, int(c), people[c], float(t[i]))
                    taken.add(int(c))
        for b, p in enumerate(people):
            if b not in taken:
                tr = _Track()
                tr.add(i, b, p, float(t[i]))
                tracks.append(tr)
    return [list(zip(tr.frames, tr.dets)) for tr in tracks]


def _merge_fragments(links: list[list[tuple[int, int]]], frames: Sequence[Sequence[Person2D]], t: np.ndarray,
                     merge_gap_s: float, max_speed: float, max_overlap_s: float = 0.5,
                     max_look_distance: float = 0.5) -> list[list[tuple[int, int]]]:
    """Join fragments of one person.

    Two cases: a track that ends and one that starts later where the first could have
    got to (``max_speed`` box diagonals per second) at a similar size and look; or two
    tracks that overlap briefly (at most ``max_overlap_s``) and stay on top of each
    other while they do (a person detected twice for a moment). Greedy by cost; in
    overlapping frames the higher-scoring detection is kept.
    """
    def person(f: tuple[int, int]) -> Person2D:
        return frames[f[0]][f[1]]

    def look(lk: list[tuple[int, int]]) -> np.ndarray | None:
        got = [person(f).appearance for f in lk if person(f).appearance is not None]
        return np.median(got, axis=0) if got else None

    while True:
        best = None
        for a, la in enumerate(links):
            fa = {f: k for f, k in la}
            size = float(np.median([_size(person(f)) for f in la[-15:]]))
            for b, lb in enumerate(links):
                if a == b or lb[0][0] <= la[0][0]:
                    continue
                gap = t[lb[0][0]] - t[la[-1][0]]
                if gap > merge_gap_s:
                    continue
                look_d = _look_distance(look(la[-30:]), look(lb[:30]))
                if look_d > max_look_distance:
                    continue
                if gap > 0:
                    end, start = person(la[-1]), person(lb[0])
                    dist = float(np.linalg.norm(_box_center(end.bbox) - _box_center(start.bbox))) / size
                    size_change = abs(np.log(_size(start) / size))
                    if dist > 0.5 + max_speed * gap or size_change > np.log(2.0):
                        continue
                    c = dist + size_change + gap + look_d
                else:
                    shared = [(f, k) for f, k in lb if f in fa]
                    if not shared or t[shared[-1][0]] - t[shared[0][0]] > max_overlap_s or lb[-1][0] <= la[-1][0]:
                        continue
                    d = max(float(np.linalg.norm(_box_center(person((f, fa[f])).bbox)
                                                 - _box_center(person((f, k)).bbox))) / size for f, k in shared)
                    if d > 0.3:
                        continue
                    c = d + look_d
                if best is None or c < best[0]:
                    best = (c, a, b)
        if best is None:
            return links
        _, a, b = best
        merged: dict[int, int] = dict(links[a])
        for f, k in links[b]:
            if f not in merged or person((f, k)).score > person((f, merged[f])).score:
                merged[f] = k
        links[a] = sorted(merged.items())
        del links[b]


def _drop_shadows(links: list[list[tuple[int, int]]], frames: Sequence[Sequence[Person2D]],
                  share: float = 0.5) -> list[list[tuple[int, int]]]:
    """Drop tracks that sit on a longer track's person for most of their frames (a crop
    holding part of someone, e.g. only the upper body, next to the crop holding all
    of them): in at least ``share`` of their frames the box centre lies within a
    quarter of the other person's box diagonal."""
    links = sorted(links, key=len, reverse=True)
    kept: list[list[tuple[int, int]]] = []
    for lk in links:
        on_top = 0
        for f, k in lk:
            p = frames[f][k]
            for other in kept:
                q_k = dict(other).get(f)
                if q_k is None:
                    continue
                q = frames[f][q_k]
                if np.linalg.norm(_box_center(p.bbox) - _box_center(q.bbox)) < 0.25 * max(_size(p), _size(q)):
                    on_top += 1
                    break
        if on_top < share * len(lk):
            kept.append(lk)
    return kept


def track_people(frames: Sequence[Sequence[Person2D]], timestamps: Sequence[float] | np.ndarray,
                 max_people: int | None = None, score_threshold: float = 0.3, max_gap_s: float = 0.5,
                 reid_s: float = 1.5, min_track_s: float = 1.0, max_match_distance: float = 0.5,
                 merge_gap_s: float = 3.0, max_speed: float = 1.5, num_joints: int | None = None,
                 layout: str | None = None) -> list[TrackResult]:
    """Follow every person: link detections, merge fragments, drop short tracks, fill gaps.

    Args:
        frames: per frame, a detector's people (all in one layout, any order).
        timestamps: ``(T,)`` seconds, increasing.
        max_people: keep the tracks with the most frames, at most this many (None: all).
        score_threshold: joints at or above it count as detected (matching and gap filling).
        max_gap_s: longest missing stretch of a track that is interpolated, seconds;
            longer ones stay invalid.
        reid_s: how long an unmatched track can still be claimed by a detection, seconds.
        min_track_s: tracks with fewer detected frames than this duration are dropped.
        max_match_distance: largest mean keypoint distance to the predicted pose, as a
            fraction of the person's box diagonal, for a detection in the next frame to
            continue a track (the gate widens during a gap).
        merge_gap_s: longest gap across which two fragments are joined afterwards.
        max_speed: box diagonals per second a person may have moved during such a gap.
        num_joints, layout: used when no frame has any detection (then no tracks).

    Returns:
        One :class:`~poselift.detect.tracking.TrackResult` per person with ``T`` frames,
        the track with the most frames first; ``chosen`` holds each frame's detection
        index (-1 where the person is absent); ``valid`` marks frames where the person
        is present or a gap was filled.
    """
    t = np.asarray(timestamps, dtype=np.float64)
    if len(t) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(t)} timestamps")
    first = next((p for people in frames for p in people), None)
    if first is None:
        return []
    J, name = first.num_joints, first.layout
    links = link_detections(frames, t, score_threshold, max_match_distance, reid_s)
    # Fragments under 0.2 s are noise (a crop on part of someone for a few frames) that
    # would bridge two people when merged; leaving them out also keeps merging cheap.
    period = _frame_period(t) or 1.0 / 30
    links = _merge_fragments([lk for lk in links if len(lk) >= max(3, 0.2 / period)], frames, t,
                             merge_gap_s, max_speed)
    min_frames = max(2, int(round(min_track_s / period)))
    links = [lk for lk in links if len(lk) >= min_frames]
    links = _drop_shadows(links, frames)
    # Most frames first; the first frame breaks ties so the order is reproducible.
    links.sort(key=lambda lk: (-len(lk), lk[0][0]))
    if max_people is not None:
        links = links[:max_people]
    T = len(frames)
    out = []
    for lk in links:
        chosen = np.full(T, -1, dtype=np.int64)
        kp = np.zeros((T, J, 2), np.float32)
        sc = np.zeros((T, J), np.float32)
        for i, k in lk:
            chosen[i] = k
            kp[i] = frames[i][k].keypoints
            sc[i] = frames[i][k].scores
        kp, sc, valid, filled = fill_gaps(kp, sc, t, score_threshold, max_gap_s, present=chosen >= 0)
        out.append(TrackResult(keypoints=kp, scores=sc, valid=valid, filled=filled, chosen=chosen, layout=name))
    return out
