"""Temporal stability of the 3D from `poselift infer`, next to MediaPipe's own 3D.

For every shared video (or the ones given), on the same frames (those where poselift's
track is valid and MediaPipe returned world landmarks for the tracked person):
  * bone CV: coefficient of variation (std / mean) of each bone's length over time,
    averaged over the 16 bones of the Human3.6M-17 skeleton (lower = steadier bones);
  * mean joint acceleration, m/s^2, of root-relative joints (lower = smoother).
MediaPipe's 33 world landmarks are mapped to the same 17 joints with poselift's
BlazePose -> H36M-17 conversion, so both are measured on one skeleton.

Then, feet against the floor of the world frame (``infer --world``; with
``--multi-person`` every tracked person, on one shared floor), per person:
  * stand/upr: standing frames / upright frames (spine within 35 degrees of vertical).
    Standing = upright, both ankles in view in the 2D (scored >= 0.5, inside the image by
    5 % of the person's height), the lower ankle within 5 cm of its lowest over +-0.4 s
    and moving vertically under 1 m/s (:func:`poselift.geometry.world.standing_frames`):
    the flights of a jump and feet out of the picture are not standing;
  * ankle: median height of the lower ankle on standing frames, metres; an ankle joint
    sits about 0.08 m above the sole ("-" when the person never stands in view);
  * upr: the same median over all upright frames, flights included (the figure this
    benchmark printed as "ankle" before standing frames were told apart);
  * skate: median horizontal speed of that foot between consecutive standing frames,
    m/s (a planted foot should not move);
  * pen: share of valid frames with the feet in view whose lower ankle is more than 3 cm
    below ankle height (the sole under the floor), and the mean depth below it, metres;
each for the rigid placement of the lifted trajectory ("rigid") and for the grounded
one that ``--world`` writes ("grounded": roots moved along their camera rays so the feet
stand on the floor, depth smoothed).

    python benchmarks/infer_quality.py [VIDEO ...] [--model default] [--multi-person] [--feet-only]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir  # noqa: E402

from poselift.errors import PoseliftError  # noqa: E402
from poselift.geometry.skeletons import H36M17, bone_lengths, convert  # noqa: E402
from poselift.geometry.world import feet_in_view, foot_contact_metrics  # noqa: E402
from poselift.infer import (InferOptions, _effective_fps, detect_video, multi_tracks, resolve_focal,  # noqa: E402
                            single_track)
from poselift.lift.pipeline import lift_with_options  # noqa: E402
from poselift.lift.weights import load_model  # noqa: E402
from poselift.options import DETECTOR_MODELS  # noqa: E402


def bone_cv(poses: np.ndarray) -> float:
    """Mean over bones of std/mean of the bone's length; poses (T, 17, 3)."""
    b = bone_lengths(poses, H36M17)
    return float(np.mean(b.std(axis=0) / b.mean(axis=0)))


def mean_acceleration(poses: np.ndarray, fps: float) -> float:
    """Mean norm of the second difference of root-relative joints, m/s^2."""
    rel = poses - poses[:, :1]
    acc = rel[2:] - 2 * rel[1:-1] + rel[:-2]
    return float(np.linalg.norm(acc, axis=-1).mean() * fps ** 2)


def longest_run(mask: np.ndarray) -> slice:
    best, start, cur = (0, 0), None, 0
    for i, m in enumerate(np.append(mask, False)):
        if m and start is None:
            start = i
        if not m and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return slice(*best)


def feet(res, fps: float) -> dict[str, list[dict[str, float]]]:
    """Foot contact metrics of every person, rigid and grounded placement."""
    out = {}
    seen = feet_in_view(res.keypoints_2d, res.scores_2d, res.image_size)
    for name, ground in (("rigid", False), ("grounded", True)):
        placed = res.place(ground)  # what infer --world does (the 2D tells which feet are in view)
        out[name] = foot_contact_metrics(placed.poses_world, res.valid, fps, seen)
    return out


def measure(video: Path, model: str, multi: bool = False, feet_only: bool = False,
            detector_model: str = "auto") -> dict:
    opts = InferOptions(model=model, render=False, progress=False, multi_person=multi,
                        detector_model=detector_model)
    people, times, info = detect_video(video, opts)
    fps = _effective_fps(times, info.fps)
    lm = load_model(model)
    focal = resolve_focal(opts, info.width, info.height)
    # infer's own lifting options (left/right repair, bone proportions, keypoint
    # definition...), so the figures are those of what infer writes.
    lift_opts = replace(opts.options().lift, root_relative=True, trajectory=True)
    if multi:
        tracks, _ = multi_tracks(people, times, opts, (info.width, info.height), fps, source=video)
        res = lift_with_options(lm, tracks, lift_opts, focal_px=focal, source=video)
        return {"fps": fps, "feet": feet(res, fps)}
    tracks, tr = single_track(people, times, opts, (info.width, info.height), fps, source=video)
    res = lift_with_options(lm, tracks, lift_opts, focal_px=focal, source=video)
    out = {"fps": fps, "feet": feet(res, fps)}
    if feet_only:
        return out
    raw = lift_with_options(lm, tracks, replace(lift_opts, fixed_bones=False), focal_px=focal, source=video)
    mp = np.full((len(times), 17, 3), np.nan)
    for t, (ps, k) in enumerate(zip(people, tr.chosen)):
        if k >= 0 and ps[k].world_landmarks is not None:
            mp[t] = convert(ps[k].world_landmarks, "blazepose33", "h36m17")
    ok = res.valid[0] & np.isfinite(mp).all(axis=(1, 2))
    run = longest_run(ok)  # acceleration needs consecutive frames
    ours, free, theirs = res.poses_3d[0][run], raw.poses_3d[0][run], mp[run]
    out.update({"frames": int(ok.sum()), "run": run.stop - run.start,
                "cv_poselift": bone_cv(ours), "cv_free": bone_cv(free), "cv_mediapipe": bone_cv(theirs),
                "acc_poselift": mean_acceleration(ours, fps), "acc_free": mean_acceleration(free, fps),
                "acc_mediapipe": mean_acceleration(theirs, fps)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--model", default="default")
    ap.add_argument("--multi-person", action="store_true", help="every person (feet table only)")
    ap.add_argument("--feet-only", action="store_true", help="only the feet table")
    ap.add_argument("--detector-model", default="auto", choices=DETECTOR_MODELS,
                    help="BlazePose landmark model (as infer --detector-model; default %(default)s: heavy)")
    args = ap.parse_args()
    videos = [Path(v) for v in args.videos] or sorted((shared_dir() / "videos").glob("*.mp4"))
    results = {}
    for v in videos:
        try:
            results[v] = measure(v, args.model, args.multi_person, args.feet_only, args.detector_model)
        except PoseliftError as exc:
            print(f"{v.name:<40} skipped: {exc}")
    if not (args.multi_person or args.feet_only):
        print(f"{'video':<40} {'frames':>6} {'boneCV infer':>12} {'free bones':>10} {'MediaPipe':>10} "
              f"{'acc infer':>9} {'free':>7} {'MP':>7}")
        for v, r in results.items():
            print(f"{v.name:<40} {r['run']:>6} {r['cv_poselift']:>12.4f} {r['cv_free']:>10.4f} "
                  f"{r['cv_mediapipe']:>10.4f} {r['acc_poselift']:>9.2f} {r['acc_free']:>7.2f} "
                  f"{r['acc_mediapipe']:>7.2f}")
        print("boneCV: mean over bones of std/mean of bone length; acc: mean joint acceleration (m/s^2), "
              "root-relative, over the longest run of frames valid for both. 'infer' = poselift infer's "
              "default output (constant bone lengths); 'free' = the network's raw bones (--free-bones); "
              "MP = MediaPipe's own 3D world landmarks on the same frames\n")
    def cols(m: dict[str, float]) -> str:
        ankle = f"{m['ankle_height_m']:7.3f}" if np.isfinite(m["ankle_height_m"]) else f"{'-':>7}"
        skate = f"{m['skate_m_s']:9.2f}" if np.isfinite(m["skate_m_s"]) else f"{'-':>9}"
        return (f"{ankle} {m['ankle_height_upright_m']:6.3f} {skate} "
                f"{m['penetration_frac']:>4.2f}/{m['penetration_m']:.3f}")

    print(f"{'video':<40} {'person':>6} {'stand/upr':>9} | {'ankle m':>7} {'upr':>6} {'skate m/s':>9} {'pen':>10} "
          f"(rigid) | {'ankle m':>7} {'upr':>6} {'skate m/s':>9} {'pen':>10} (grounded)")
    for v, r in results.items():
        for p, (a, b) in enumerate(zip(r["feet"]["rigid"], r["feet"]["grounded"])):
            print(f"{v.name:<40} {p:>6} {b['standing']:>4}/{b['upright']:<4} | {cols(a)} | {cols(b)}")
    print("stand/upr: standing / upright frames (grounded); ankle: median lower-ankle height on standing frames "
          "(target 0.08 +- 0.03; '-': never standing with the feet in view); upr: the same over all upright "
          "frames (flights included); skate: median horizontal speed of that foot on consecutive standing frames; "
          "pen: share of frames / mean depth (m) of the lower ankle below ankle height, feet in view. rigid = the "
          "lifted trajectory placed on the fitted floor; grounded = what --world writes")


if __name__ == "__main__":
    main()
