"""MediaPipe's pose graph against poselift's own BlazePose pipeline (ai-edge-litert).

Both detectors see the same decoded frames, one after the other, so decoding is shared
and not timed. Per video and detector it prints:

* ``det%``: frames with a person;
* ``jitter``: mean frame-to-frame acceleration ``|p[t+1] - 2 p[t] + p[t-1]|`` of the
  17 COCO joints visible (> 0.5) in three consecutive frames, in per cent of the
  person's size (box diagonal): lower is smoother (includes real motion, identical
  for both);
* ``ms/frame``: detector time per frame (median over the video);
* ``agree``: median distance between the two detectors' visible joints, % of size.

    python benchmarks/detector_compare.py [VIDEO ...] [--model full] [--max-frames 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_dir  # noqa: E402

from poselift.detect.base import get_detector  # noqa: E402
from poselift.geometry.skeletons import BLAZEPOSE33, COCO17  # noqa: E402
from poselift.io.video import read_frames  # noqa: E402

COCO = np.array([BLAZEPOSE33.index(n) for n in COCO17.joint_names])


def jitter(kp: np.ndarray, vis: np.ndarray) -> float:
    """Mean acceleration of visible joints, % of the person's box diagonal. ``kp (T, J, 2)``."""
    ok = vis[:-2] & vis[1:-1] & vis[2:]
    acc = np.linalg.norm(kp[2:] - 2 * kp[1:-1] + kp[:-2], axis=-1)
    span = np.nanmax(kp, axis=1) - np.nanmin(kp, axis=1)
    size = np.linalg.norm(span, axis=-1)[1:-1, None]
    rel = acc / np.maximum(size, 1.0) * 100
    return float(rel[ok].mean()) if ok.any() else float("nan")


def run(video: Path, names: list[str], model: str, max_frames: int) -> dict:
    dets = {n: get_detector(n, model=model) for n in names}
    out = {n: {"kp": [], "vis": [], "ms": []} for n in names}
    frames = 0
    for fr in read_frames(video):
        if frames >= max_frames:
            break
        frames += 1
        for n, d in dets.items():
            t = time.perf_counter()
            people = d.detect(fr.image, fr.time)
            out[n]["ms"].append((time.perf_counter() - t) * 1000)
            if people:
                out[n]["kp"].append(people[0].keypoints[COCO])
                out[n]["vis"].append(people[0].scores[COCO] > 0.5)
            else:
                out[n]["kp"].append(np.full((17, 2), np.nan, np.float32))
                out[n]["vis"].append(np.zeros(17, bool))
    for d in dets.values():
        d.close()
    res = {}
    for n in names:
        kp, vis = np.array(out[n]["kp"]), np.array(out[n]["vis"])
        res[n] = {"det": float(np.isfinite(kp[:, 0, 0]).mean() * 100), "jitter": jitter(kp, vis),
                  "ms": statistics.median(out[n]["ms"]), "kp": kp, "vis": vis}
    a, b = res[names[0]], res[names[1]]
    both = a["vis"] & b["vis"]
    span = np.nanmax(a["kp"], axis=1) - np.nanmin(a["kp"], axis=1)
    size = np.linalg.norm(span, axis=-1)[:, None]
    dist = np.linalg.norm(a["kp"] - b["kp"], axis=-1) / np.maximum(size, 1.0) * 100
    agree = float(np.median(dist[both])) if both.any() else float("nan")
    return {"frames": frames, "res": res, "agree": agree}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--model", default="full")
    ap.add_argument("--max-frames", type=int, default=300)
    ap.add_argument("--detectors", default="mediapipe,blazepose")
    args = ap.parse_args()
    videos = [Path(v) for v in args.videos] or sorted((shared_dir() / "videos").glob("*.mp4"))
    names = args.detectors.split(",")
    print(f"landmark model {args.model}; first {args.max_frames} frames per video")
    print(f"{'video':42s} {'frames':>6s} | " + " | ".join(f"{n:>10s} det% jitter ms/frame" for n in names)
          + " | agree")
    totals = {n: [] for n in names}
    for v in videos:
        r = run(v, names, args.model, args.max_frames)
        cells = []
        for n in names:
            x = r["res"][n]
            totals[n].append((r["frames"], x["det"], x["jitter"], x["ms"]))
            cells.append(f"{'':>10s} {x['det']:4.0f} {x['jitter']:6.2f} {x['ms']:8.1f}")
        print(f"{v.name:42s} {r['frames']:6d} | " + " | ".join(cells) + f" | {r['agree']:5.2f}", flush=True)
    cells = []
    for n in names:
        t = np.array(totals[n])
        w = t[:, 0] / t[:, 0].sum()
        cells.append(f"{'':>10s} {(t[:, 1] * w).sum():4.0f} {np.nanmean(t[:, 2]):6.2f} {np.median(t[:, 3]):8.1f}")
    print(f"{'all (frame-weighted det%, mean jitter, median ms)':42s} {'':6s} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
