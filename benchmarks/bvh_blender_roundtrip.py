"""BVH round trip through Blender's own importer, on whole videos.

For each video: ``poselift infer --export bvh --bvh-no-smooth`` (the world frame is
implied), then ``poselift infer --keypoints`` on that npz with the default smoothing;
each BVH is imported by Blender (``bpy``, settings of docs/blender.md, through
tests/tools/blender_bvh_positions.py) and every joint of every valid frame is compared
with the npz's ``poses_world``. Prints mean / max (cm) and the share of joint-frames
over 1 cm.

    python benchmarks/bvh_blender_roundtrip.py [VIDEO ...] [--bpy-python PATH]

``--bpy-python`` (default: $POSELIFT_BPY_PYTHON) is a Python 3.11 with ``pip install bpy``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, shared_video  # noqa: E402

from poselift.cli.main import main as cli  # noqa: E402
from poselift.geometry.skeletons import H36M17  # noqa: E402

DUMP = REPO / "tests" / "tools" / "blender_bvh_positions.py"
DEFAULT = ["taiji_seed.mp4", "single_football_juggling_sam2.mp4"]


def blender_positions(bpy_python: str, bvh: Path) -> np.ndarray:
    """(T, 17, 3) joint heads in Blender's world (metres, Z up)."""
    out = bvh.with_suffix(".blender.npz")
    subprocess.run([bpy_python, str(DUMP), str(bvh), str(out)], check=True, capture_output=True)
    with np.load(out) as z:
        names = [str(n) for n in z["names"]]
        return z["positions"][:, [names.index(n) for n in H36M17.joint_names]]


def compare(bpy_python: str, folder: Path, stem: str) -> str:
    with np.load(folder / f"{stem}.npz") as z:
        w, v = z["poses_world"][0].astype(np.float64), z["valid"][0]
    got = blender_positions(bpy_python, folder / f"{stem}.bvh")
    ref = np.stack([w[..., 0], -w[..., 2], w[..., 1]], -1)  # world -> Blender after Forward -Z, Up Y
    e = np.linalg.norm(got - ref, axis=-1)[v] * 100
    return f"mean {e.mean():.4f} cm  max {e.max():.4f} cm  over 1 cm {100 * (e > 1).mean():.2f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--bpy-python", default=os.environ.get("POSELIFT_BPY_PYTHON"))
    args = ap.parse_args()
    if not args.bpy_python:
        raise SystemExit("needs --bpy-python or POSELIFT_BPY_PYTHON (a Python 3.11 with bpy installed)")
    videos = [Path(v) for v in args.videos] or [shared_video(n) for n in DEFAULT]
    for video in videos:
        with tempfile.TemporaryDirectory() as tmp:
            raw, smooth = Path(tmp) / "raw", Path(tmp) / "smooth"
            common = ["--no-render", "--no-progress", "--export", "bvh"]
            if cli(["infer", str(video), "-o", str(raw), *common, "--bvh-no-smooth"]) != 0:
                print(f"{video}: infer failed", file=sys.stderr)
                continue
            cli(["infer", "--keypoints", str(raw / f"{video.stem}.npz"), "-o", str(smooth), *common])
            print(f"{video.name}  --bvh-no-smooth: {compare(args.bpy_python, raw, video.stem)}")
            print(f"{video.name}  smoothed:        {compare(args.bpy_python, smooth, video.stem)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
