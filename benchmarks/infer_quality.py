"""Temporal stability of the 3D from `poselift infer`, next to MediaPipe's own 3D.

For every shared video (or the ones given), on the same frames (those where poselift's
track is valid and MediaPipe returned world landmarks for the tracked person):
  * bone CV: coefficient of variation (std / mean) of each bone's length over time,
    averaged over the 16 bones of the Human3.6M-17 skeleton (lower = steadier bones);
  * mean joint acceleration, m/s^2, of root-relative joints (lower = smoother).
MediaPipe's 33 world landmarks are mapped to the same 17 joints with poselift's
BlazePose -> H36M-17 conversion, so both are measured on one skeleton.

    python benchmarks/infer_quality.py [VIDEO ...] [--model default]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir  # noqa: E402

from poselift.errors import PoseliftError  # noqa: E402
from poselift.geometry.skeletons import H36M17, bone_lengths, convert  # noqa: E402
from poselift.infer import InferOptions, _effective_fps, detect_video, resolve_focal, single_track  # noqa: E402
from poselift.lift.pipeline import lift_tracks  # noqa: E402
from poselift.lift.weights import load_model  # noqa: E402


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


def measure(video: Path, model: str) -> dict[str, float]:
    opts = InferOptions(model=model, render=False, progress=False)
    people, times, info = detect_video(video, opts)
    fps = _effective_fps(times, info.fps)
    tracks, tr = single_track(people, times, opts, (info.width, info.height), fps, source=video)
    lm = load_model(model)
    focal = resolve_focal(opts, info.width, info.height)
    raw = lift_tracks(lm, tracks, root_relative=True, focal_px=focal)
    res = lift_tracks(lm, tracks, root_relative=True, focal_px=focal, fixed_bones=True)
    mp = np.full((len(times), 17, 3), np.nan)
    for t, (ps, k) in enumerate(zip(people, tr.chosen)):
        if k >= 0 and ps[k].world_landmarks is not None:
            mp[t] = convert(ps[k].world_landmarks, "blazepose33", "h36m17")
    ok = res.valid[0] & np.isfinite(mp).all(axis=(1, 2))
    run = longest_run(ok)  # acceleration needs consecutive frames
    ours, free, theirs = res.poses_3d[0][run], raw.poses_3d[0][run], mp[run]
    return {"frames": int(ok.sum()), "run": run.stop - run.start, "fps": fps,
            "cv_poselift": bone_cv(ours), "cv_free": bone_cv(free), "cv_mediapipe": bone_cv(theirs),
            "acc_poselift": mean_acceleration(ours, fps), "acc_free": mean_acceleration(free, fps),
            "acc_mediapipe": mean_acceleration(theirs, fps)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    videos = [Path(v) for v in args.videos] or sorted((shared_dir() / "videos").glob("*.mp4"))
    print(f"{'video':<40} {'frames':>6} {'boneCV infer':>12} {'free bones':>10} {'MediaPipe':>10} "
          f"{'acc infer':>9} {'free':>7} {'MP':>7}")
    for v in videos:
        try:
            r = measure(v, args.model)
        except PoseliftError as exc:
            print(f"{v.name:<40} skipped: {exc}")
            continue
        print(f"{v.name:<40} {r['run']:>6} {r['cv_poselift']:>12.4f} {r['cv_free']:>10.4f} "
              f"{r['cv_mediapipe']:>10.4f} {r['acc_poselift']:>9.2f} {r['acc_free']:>7.2f} "
              f"{r['acc_mediapipe']:>7.2f}")
    print("boneCV: mean over bones of std/mean of bone length; acc: mean joint acceleration (m/s^2), "
          "root-relative, over the longest run of frames valid for both. 'infer' = poselift infer's "
          "default output (constant bone lengths); 'free' = the network's raw bones (--free-bones); "
          "MP = MediaPipe's own 3D world landmarks on the same frames")


if __name__ == "__main__":
    main()
