"""Rendered frames/s of :func:`poselift.render.render_video` at 720p input.

Input frames are decoded once from ``single_football_juggling_sam2.mp4`` (1280x720) in
the shared videos folder when present, else synthesised, and held in memory so that
the timing covers rendering only (drawing + encoding), not decoding. A synthetic
walking skeleton provides the 2D/3D poses, placed in the world frame as ``infer`` does
(trajectories, floor, labels, legend); ``--framing follow`` redraws the grid every frame.

    PYTHONPATH=src python benchmarks/render_speed.py [--frames 120] [--runs 3] [--viz-size 480 720]

Prints, per output size, the median over runs of: total render fps, drawing-only
fps, encode-only fps (colour conversion + H.264 + muxing), and the wall-clock fps.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np

from poselift.geometry.world import place_in_world
from poselift.render import render_video
from poselift.render._demo import demo_frames, demo_sequence

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "videos" / "single_football_juggling_sam2.mp4"


def load_frames(n: int) -> tuple[list[np.ndarray], str]:
    """``n`` RGB 1280x720 frames: the shared clip (looped if short) or synthetic ones."""
    if VIDEO.exists():
        import av

        frames: list[np.ndarray] = []
        with av.open(str(VIDEO)) as c:
            for f in c.decode(video=0):
                frames.append(f.to_ndarray(format="rgb24"))
                if len(frames) == n:
                    break
        if frames and frames[0].shape[:2] == (720, 1280):
            while len(frames) < n:
                frames.append(frames[len(frames) % max(1, len(frames))])
            return frames, VIDEO.name
    return list(demo_frames(n, 1280, 720)), "synthetic"


def _decode(path: Path, n: int):
    import av

    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        for i, f in enumerate(c.decode(video=0)):
            if i == n:
                return
            yield f.to_ndarray(format="rgb24")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--people", type=int, default=2)
    ap.add_argument("--viz-size", type=int, nargs="+", default=[480, 720])
    ap.add_argument("--framing", choices=["auto", "fixed", "follow"], default="auto")
    args = ap.parse_args()

    frames, source = load_frames(args.frames)
    kp, poses, valid, roots = demo_sequence(args.frames, 1280, 720, args.people)
    placed = place_in_world(poses, roots, valid, 30.0)
    world = dict(trajectories=placed.trajectory, camera_to_world=placed.frame.matrix, framing=args.framing)
    print(f"input: {source}, {len(frames)} frames 1280x720, {args.people} people, "
          f"median of {args.runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.viz_size:
            rows = []
            for _ in range(args.runs):
                st = render_video(iter(frames), Path(tmp) / "bench.mp4", kp, poses, valid, 30.0,
                                  viz_size=size, progress=False, **world)
                rows.append((st.render_fps, st.frames / st.draw_seconds, st.frames / st.encode_seconds,
                             st.frames / st.total_seconds))
            med = [statistics.median(r[i] for r in rows) for i in range(4)]
            print(f"viz_size={size} -> {st.width}x{st.height} {st.codec}: "
                  f"render {med[0]:.1f} fps (draw {med[1]:.1f} fps = {1000 / med[1]:.1f} ms/frame, "
                  f"encode {med[2]:.1f} fps = {1000 / med[2]:.1f} ms/frame), wall {med[3]:.1f} fps")
            if source != "synthetic":
                # End to end: the clip is decoded while rendering, as the CLI would do.
                walls = []
                for _ in range(args.runs):
                    st = render_video(_decode(VIDEO, args.frames), Path(tmp) / "bench.mp4", kp, poses,
                                      valid, 30.0, viz_size=size, progress=False, **world)
                    walls.append((st.frames / st.total_seconds, st.read_seconds / st.frames * 1000))
                print(f"    with streaming decode: wall {statistics.median(w[0] for w in walls):.1f} fps "
                      f"(decode {statistics.median(w[1] for w in walls):.1f} ms/frame)")


if __name__ == "__main__":
    main()
