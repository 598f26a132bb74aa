"""Repair a 2D detector's left/right label flips before lifting.

Single-image detectors decide left from right anew in every frame, and they get it wrong
in two ways that a lifter turns into large 3D errors:

* **Whole-body flips.** A person seen from behind looks, in 2D, almost like the mirror
  image of one facing the camera; BlazePose then labels every left joint as right for
  many frames at a time (35 of 100 frames in one view of the shared multi-view
  recording). The lifted body faces backwards for those frames.
* **Limb swaps.** For one or a few frames one arm or one leg takes the other's labels
  (on a tennis serve, the tossing left arm labelled right for one frame, at score 0.98);
  the 3D wrist jumps across the body and back.

Rule (applied per person and per run of consecutive detected frames):

1. *Continuity of each side.* Frames are visited in order; each is compared with where
   its joints just were (the per-joint median of the last three, already repaired,
   frames; the median over joints, so one glitching joint does not decide). If swapping all left/right labels of the frame
   brings the paired joints much closer to where they just were (the swapped distance
   under half the kept one, and the saving above 10 % of the person's 2D size per joint)
   the frame is taken as flipped and its labels are swapped. Real turns move joints
   continuously and are never swapped; a detector flip makes every paired joint jump
   across the body at once.
2. *Majority.* Continuity fixes the labelling up to one global choice. The run keeps
   the labelling the detector used in most of its frames (weighted by the scores of
   the paired joints): flips are the detector's exceptions, not its rule.
3. *Limbs.* The same continuity test per limb (an arm: elbow, wrist and hand points; a
   leg: knee, ankle and foot points, each tested with and without the shoulder or hip)
   against the repaired previous frame, run twice: from the detector's labelling of the
   run's first frame and from its swap (the detector can be wrong from the first frame).
   The pass that agrees with the detector in more frames (weighted by the limb's
   scores) is kept, as in step 2. A relabelled stretch longer than ``max_limb_frames``
   stands only when the detector's own labels jump across the body at each of its ends
   inside the track (its swap in, its swap back): where the two limbs overlap in the
   image (legs passing side-on) the pass cannot tell them apart, may carry the wrong
   labelling on, and the detector is trusted instead.

The repair only relabels detected points; it never moves or invents one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poselift.geometry.skeletons import Skeleton, get_skeleton

_ARM = ("elbow", "wrist", "pinky", "index", "thumb", "hand")
_LEG = ("knee", "ankle", "heel", "foot", "toe")


@dataclass
class RepairReport:
    """What :func:`repair_left_right` changed, per frame (``T``,) bool arrays."""

    body: np.ndarray
    limbs: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def frames_changed(self) -> int:
        changed = self.body.copy()
        for m in self.limbs.values():
            changed |= m
        return int(changed.sum())


def _pairs(skel: Skeleton, words: tuple[str, ...], proximal: str | None) -> list[tuple[int, int]]:
    out = []
    for lj, rj in zip(skel.joints_left, skel.joints_right):
        name = skel.joint_names[lj].replace("left_", "")
        tokens = set(name.split("_"))
        # "foot_index" is a foot point, not a finger: the leg words decide first.
        limb = _LEG if tokens & set(_LEG) else _ARM
        if (limb is words and tokens & set(words)) or (proximal is not None and name == proximal):
            out.append((lj, rj))
    return out


def _swap(x: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    y = x.copy()
    for lj, rj in pairs:
        y[..., [lj, rj], :] = x[..., [rj, lj], :]
    return y


def _size(kp: np.ndarray) -> float:
    """Median per-frame RMS spread of the joints about their mean, pixels."""
    c = kp - np.nanmean(kp, axis=-2, keepdims=True)
    s = np.sqrt(np.nanmean((c ** 2).sum(-1), axis=-1))
    s = s[np.isfinite(s)]
    return float(np.median(s)) if len(s) else 1.0


def _pair_cost(a: np.ndarray, b: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[float, float]:
    """Median distance of the paired joints of ``a`` to ``b`` as labelled and with the pairs
    swapped (the median, so one joint's detector glitch does not decide)."""
    idx = np.array([j for p in pairs for j in p])
    sw = np.array([j for lj, rj in pairs for j in (rj, lj)])
    keep = np.linalg.norm(a[idx] - b[idx], axis=-1)
    swap = np.linalg.norm(a[sw] - b[idx], axis=-1)
    ok = np.isfinite(keep) & np.isfinite(swap)
    if not ok.any():
        return 0.0, 0.0
    return _median(keep[ok]), _median(swap[ok])


def _median(x: np.ndarray) -> float:
    """``np.median`` of a short 1-D array, without its general machinery (called per frame)."""
    x = np.sort(x)
    n = len(x)
    return float(x[n // 2]) if n % 2 else float(0.5 * (x[n // 2 - 1] + x[n // 2]))


def _reference(kp: np.ndarray, start: int, i: int) -> np.ndarray:
    """Where the joints just were: the per-joint median of the (repaired) last three frames."""
    if i - start <= 1:
        return kp[i - 1]
    w = kp[max(start, i - 3):i]
    if np.isfinite(w).all():
        # np.nanmedian's general path costs ~20x this, once per frame and limb.
        return np.sort(w, axis=0)[1] if len(w) == 3 else 0.5 * (w[0] + w[1])
    with np.errstate(all="ignore"):
        return np.nanmedian(w, axis=0)


def _flip_needed(keep: float, swap: float, size: float, ratio: float, min_gain: float) -> bool:
    return swap < ratio * keep and (keep - swap) > min_gain * size


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _differs(k: np.ndarray, orig: np.ndarray) -> np.ndarray:
    """Frames whose labels differ from the detector's, ``(T,)`` bool."""
    return ~np.isclose(np.nan_to_num(k, nan=-1e9), np.nan_to_num(orig, nan=-1e9)).all(axis=(1, 2))


def _detector_jumps(orig: np.ndarray, i: int, pair_sets: tuple[list[tuple[int, int]], ...], size: float,
                    ratio: float, min_gain: float) -> bool:
    """The detector's own labels of frame ``i`` are swapped against its last frames."""
    ref = _reference(orig, 0, i)
    return any(_flip_needed(*_pair_cost(orig[i], ref, pairs), size, ratio, min_gain) for pairs in pair_sets)


def _continuity_pass(kp: np.ndarray, sc: np.ndarray, pair_sets: tuple[list[tuple[int, int]], ...], size: float,
                     ratio: float, min_gain: float, start_swapped: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One continuity pass over one run (frames ``kp[0..]``): each frame takes the first of
    ``pair_sets`` whose swap brings it much closer to the (repaired) last frames. Later
    frames are compared with the repaired ones, so every decision is relative to one
    labelling for the whole run: the detector's of the first frame, or its swap."""
    k, c = kp.copy(), sc.copy()
    if start_swapped:
        k[0] = _swap(k[0][None], pair_sets[0])[0]
        c[0] = _swap(c[0][None, :, None], pair_sets[0])[0, :, 0]
    for i in range(1, len(k)):
        ref = _reference(k, 0, i)
        for pairs in pair_sets:
            keep, swap = _pair_cost(k[i], ref, pairs)
            if not _flip_needed(keep, swap, size, ratio, min_gain):
                continue
            k[i] = _swap(k[i][None], pairs)[0]
            c[i] = _swap(c[i][None, :, None], pairs)[0, :, 0]
            break
    return k, c


def repair_left_right(keypoints: np.ndarray, scores: np.ndarray, valid: np.ndarray, layout: str | Skeleton, *,
                      ratio: float = 0.5, min_gain: float = 0.1,
                      max_limb_frames: int = 12, limb_majority: bool = True) -> tuple[np.ndarray, np.ndarray, RepairReport]:
    """Undo a detector's left/right label flips in one person's 2D track (see module doc).

    Args:
        keypoints: ``(T, J, 2)`` pixels in ``layout`` (NaN where missing).
        scores: ``(T, J)`` confidences.
        valid: ``(T,)`` bool, frames where the person was detected.
        layout: keypoint layout (its ``joints_left``/``joints_right`` define the pairs).
        ratio, min_gain: a swap is taken when it brings the paired joints closer than
            ``ratio`` x their kept distance to the previous frame, saving more than
            ``min_gain`` x the person's 2D size per joint.
        max_limb_frames: a limb relabelling longer than this needs the detector's own
            jump at both ends (see module doc).
        limb_majority: run the limb pass from both labellings of the first frame and keep
            the one closer to the detector (False: from the detector's first frame only).
    Returns:
        Repaired ``keypoints`` and ``scores`` (new arrays) and a :class:`RepairReport`.
    """
    skel = get_skeleton(layout) if isinstance(layout, str) else layout
    kp = np.array(keypoints, dtype=np.float64, copy=True)
    sc = np.array(scores, dtype=np.float64, copy=True)
    t = len(kp)
    body_pairs = list(zip(skel.joints_left, skel.joints_right))
    report = RepairReport(body=np.zeros(t, bool))
    if not body_pairs or t < 2:
        return kp.astype(np.float32), sc.astype(np.float32), report
    limbs = {}
    for side_name, words, prox in (("arm", _ARM, "shoulder"), ("leg", _LEG, "hip")):
        distal = _pairs(skel, words, None)
        if distal:
            limbs[side_name] = (distal, _pairs(skel, words, prox))
            report.limbs[side_name] = np.zeros(t, bool)
    paired = np.array([j for p in body_pairs for j in p])
    for s, e in _runs(np.asarray(valid, bool)):
        size = _size(kp[s:e])
        # 1. Whole-body continuity.
        detected = kp[s:e].copy()
        kp[s:e], sc[s:e] = _continuity_pass(detected, sc[s:e], (body_pairs,), size, ratio, min_gain)
        flipped = _differs(kp[s:e], detected)
        # 2. Majority: keep the labelling the detector used most (score-weighted).
        w = np.nan_to_num(sc[s:e][:, paired]).mean(axis=1) + 1e-6
        if (w * flipped).sum() > (w * ~flipped).sum():
            kp[s:e] = _swap(kp[s:e], body_pairs)
            sc[s:e] = _swap(sc[s:e][..., None], body_pairs)[..., 0]
            flipped = ~flipped
        report.body[s:e] = flipped
        # 3. Limb swaps, per limb: continuity from both labellings of the run's first
        # frame, keeping the one that agrees with the detector in most frames.
        for name, (distal, with_prox) in limbs.items():
            orig, osc = kp[s:e].copy(), sc[s:e].copy()
            w = np.nan_to_num(osc[:, [j for p in distal for j in p]]).mean(axis=1) + 1e-6
            best = None
            for start_swapped in ((False, True) if limb_majority else (False,)):
                k, c = _continuity_pass(orig, osc, (distal, with_prox), size, ratio, min_gain, start_swapped)
                differs = _differs(k, orig)
                agree = float((w * ~differs).sum())
                if best is None or agree > best[0]:
                    best = (agree, k, c, differs)
            _, k, c, differs = best
            # A long run that differs from the detector stands only where the detector's
            # own labels jump across the body at each of its ends inside the track; else
            # it is the continuity pass that lost the limbs (fast legs passing each other,
            # a limb out of sight) and the detector is trusted.
            for a, b in _runs(differs):
                if b - a > max_limb_frames and not all(
                        _detector_jumps(orig, i, (distal, with_prox), size, ratio, min_gain)
                        for i in (a, b) if 0 < i < len(orig)):
                    k[a:b] = orig[a:b]
                    c[a:b] = osc[a:b]
                    differs[a:b] = False
            kp[s:e], sc[s:e] = k, c
            report.limbs[name][s:e] = differs
    return kp.astype(np.float32), sc.astype(np.float32), report
