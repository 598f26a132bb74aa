"""Peak memory of `poselift infer --no-render` on a long 720p video.

Builds a video of --minutes minutes (default 10) by looping a shared 1280x720 clip
(cached in the temp folder), runs `poselift infer --no-render` on it in a child
process and prints the child's peak resident memory (target < 2 GiB).

    python benchmarks/infer_memory.py [--minutes 10] [--model default]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_video  # noqa: E402


def make_long_video(src: Path, minutes: float, out: Path) -> Path:
    from poselift.io.video import VideoWriter, probe, read_frames

    if out.is_file():
        return out
    info = probe(src)
    frames = [f.image for f in read_frames(src)]  # one short clip in memory, looped
    n = int(minutes * 60 * info.fps)
    with VideoWriter(out, info.fps) as w:
        for i in range(n):
            # Ping-pong looping avoids a jump cut that would look like a new person.
            k = i % (2 * len(frames) - 2)
            w.write(frames[k if k < len(frames) else 2 * len(frames) - 2 - k])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    src = shared_video("single_football_juggling_sam2.mp4")
    long = make_long_video(src, args.minutes, Path(tempfile.gettempdir()) / f"poselift-long-{args.minutes:g}min.mp4")
    out = Path(tempfile.mkdtemp(prefix="poselift-mem-"))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "infer", str(long), "-o", str(out),
                        "--no-render", "--no-progress", "--model", args.model], capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "")
    print(f"video: {long.name} ({args.minutes:g} min 720p), exit {r.returncode}, wall {wall:.0f} s")
    print(f"peak RSS of infer --no-render: {peak_kib / 1024:.0f} MiB (target < 2048 MiB)")


if __name__ == "__main__":
    main()
