"""Visualisation video of a reconstruction: input video + 2D skeletons | 3D view.

The output frame is two panels side by side, both ``viz_size`` pixels high:

* left: the input frame scaled to ``viz_size`` high (aspect kept), with each person's
  2D keypoints drawn as a skeleton;
* right: a square ``viz_size x viz_size`` 3D view of all people from a fixed orbit
  camera (``azimuth``, ``elevation``) over a floor grid, scaled once for the whole
  video so the view never jitters.

Unlike VideoPose3D (matplotlib + system ffmpeg) everything is drawn with OpenCV on
NumPy arrays and encoded with PyAV's bundled FFmpeg.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from poselift.errors import PoseliftError
from poselift.geometry.skeletons import H36M17, Skeleton
from poselift.render._draw import (
    Color,
    OrbitView,
    bone_sides,
    camera_to_display,
    draw_background,
    draw_panel_overlay,
    draw_people_3d,
    draw_skeleton_2d,
    fit_view,
    limb_shades,
    person_colors,
    put_label,
    world_to_display,
)

__all__ = ["RenderStats", "display_points", "render_video", "select_frames"]

#: Horizontal spacing (metres) between root-centred people in the 3D view.
PERSON_SPACING = 1.0


@dataclass
class RenderStats:
    """What :func:`render_video` did and where the time went.

    Attributes:
        path: the written file.
        frames: number of frames written.
        width, height: output frame size in pixels.
        fps: output frame rate (input fps / ``viz_downsample``).
        codec: encoder used (``libx264``, ``mpeg4`` or ``gif``).
        read_seconds: time spent waiting for the ``frames`` iterable (e.g. decoding).
        draw_seconds: scaling the frame and drawing both panels.
        encode_seconds: colour conversion, encoding and muxing.
        total_seconds: wall time of the whole call.
    """

    path: Path
    frames: int
    width: int
    height: int
    fps: float
    codec: str
    read_seconds: float
    draw_seconds: float
    encode_seconds: float
    total_seconds: float

    @property
    def render_fps(self) -> float:
        """Frames per second of drawing + encoding (excludes reading the input)."""
        busy = self.draw_seconds + self.encode_seconds
        return self.frames / busy if busy > 0 else float("inf")


def select_frames(num_frames: int, downsample: int = 1, skip: int = 0, limit: int = -1) -> range:
    """Input frame indices that get rendered, VideoPose3D-style.

    The first ``skip`` frames are dropped, then every ``downsample``-th frame is kept
    (starting with frame ``skip``), then at most ``limit`` of those (``limit < 1``: all).
    ``limit`` therefore counts output frames.
    """
    if downsample < 1:
        raise ValueError(f"viz_downsample must be >= 1, got {downsample}")
    if skip < 0:
        raise ValueError(f"viz_skip must be >= 0, got {skip}")
    r = range(skip, max(skip, num_frames), downsample)
    return r if limit < 1 else r[:limit]


def _as_people(x: np.ndarray, ndim: int, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == ndim - 1:  # a single person given without the P axis
        x = x[None]
    if x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}")
    return x


def _layout_offsets(keypoints_2d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Side-by-side X offsets (metres) for root-centred people, ordered like in the image.

    Root-centred poses would all stand on the same spot; spreading them in the order of
    their mean horizontal image position keeps left-to-right order consistent with the
    video panel. ``(P,)``.
    """
    num_people = keypoints_2d.shape[0]
    mean_x = np.empty(num_people)
    for p in range(num_people):
        xs = keypoints_2d[p, valid[p], :, 0]
        xs = xs[np.isfinite(xs)]
        mean_x[p] = xs.mean() if xs.size else p  # never-valid people keep their index order
    rank = np.empty(num_people)
    rank[np.argsort(mean_x, kind="stable")] = np.arange(num_people)
    return (rank - (num_people - 1) / 2) * PERSON_SPACING


def display_points(poses_3d: np.ndarray, trajectories: np.ndarray | None, camera_to_world: np.ndarray | None,
                   keypoints_2d: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Where the 3D panel draws every joint: display coordinates (X right, Y forward,
    Z up; metres), ``(P, T, J, 3)``.

    With ``camera_to_world`` up is the world's up and the floor is ``Z = 0``; with
    ``trajectories`` people stand where they were; without them root-centred people
    stand side by side in their image order (:data:`PERSON_SPACING` apart).
    """
    absolute = poses_3d if trajectories is None else poses_3d + trajectories[:, :, None, :]
    if camera_to_world is not None:
        return world_to_display(absolute @ camera_to_world[:3, :3].T + camera_to_world[:3, 3])
    world = camera_to_display(absolute)
    if trajectories is None:
        world = world.copy()
        world[..., 0] += _layout_offsets(keypoints_2d, valid)[:, None, None]
    return world


def _follow_centres(world: np.ndarray, shown: np.ndarray, ground: float, fps: float) -> tuple[np.ndarray, float]:
    """View centres that follow the people: per frame the middle of everyone's joints
    (display coordinates), gaps interpolated, smoothed over about half a second so the
    view glides; and one radius (metres) that keeps every frame's people in view.
    Returns ``centres (T, 3)`` and the radius."""
    from scipy.ndimage import gaussian_filter1d

    num_t = world.shape[1]
    centres = np.full((num_t, 3), np.nan)
    radii = []
    for t in range(num_t):
        pts = world[shown[:, t], t].reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(-1)]
        if len(pts):
            lo, hi = pts.min(0), pts.max(0)
            lo[2] = min(lo[2], ground)
            centres[t] = (lo + hi) / 2
            radii.append(float(np.linalg.norm(hi - lo)) / 2)
    ok = np.isfinite(centres).all(-1)
    if not ok.any():
        return centres, 1.0
    idx = np.arange(num_t)
    for k in range(3):
        centres[:, k] = np.interp(idx, idx[ok], centres[ok, k])
    centres = gaussian_filter1d(centres, sigma=max(1.0, 0.5 * fps), axis=0, mode="nearest")
    # The smoothed centre lags the people; leave room for that lag.
    lag = 0.0
    for t in np.flatnonzero(ok):
        pts = world[shown[:, t], t].reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(-1)]
        if len(pts):
            lag = max(lag, float(np.linalg.norm(pts - centres[t], axis=-1).max()))
    radius = max(1.0, float(np.percentile(radii, 95)) if radii else 1.0, min(lag, 3.0 * max(radii + [1.0])))
    return centres, radius


def render_video(
    frames: Iterable[np.ndarray],
    out_path: str | Path,
    keypoints_2d: np.ndarray,
    poses_3d: np.ndarray,
    valid: np.ndarray,
    fps: float,
    skeleton: Skeleton = H36M17,
    *,
    viz_size: int = 720,
    viz_downsample: int = 1,
    viz_skip: int = 0,
    viz_limit: int = -1,
    viz_bitrate: int = 3000,
    azimuth: float = 30.0,
    elevation: float = 15.0,
    colors: Sequence[Color] | None = None,
    trajectories: np.ndarray | None = None,
    camera_to_world: np.ndarray | None = None,
    camera_view: bool = False,
    framing: str = "auto",
    labels: Sequence[str] | None = None,
    progress: bool = True,
    frame_index: Sequence[int] | np.ndarray | None = None,
    source_frames: Sequence[int] | np.ndarray | None = None,
) -> RenderStats:
    """Render the input video with 2D skeletons next to a 3D view of the reconstruction.

    Args:
        frames: iterable of RGB ``(H, W, 3) uint8`` frames (or objects with such an
            ``image`` attribute, like :class:`poselift.io.video.Frame`), consumed lazily
            (only one frame is held at a time). Without ``frame_index``, frame ``t`` of the
            iterable is time step ``t`` of the arrays below and extra frames beyond ``T``
            are ignored; with it, see there.
        out_path: ``.mp4`` (H.264 yuv420p, MPEG-4 if no H.264 encoder) or ``.gif``.
        keypoints_2d: ``(P, T, J, 2)`` float pixel coordinates in the input frames (x
            right, y down); ``(T, J, 2)`` means one person. Non-finite joints are skipped.
        poses_3d: ``(P, T, J, 3)`` float metres in the camera frame (x right, y down,
            z forward), root-centred; ``(T, J, 3)`` means one person.
        valid: ``(P, T)`` bool; a person is drawn in neither panel where it is False.
        fps: frame rate of the input video.
        skeleton: joint layout of both arrays (bones, left/right joints).
        viz_size: output height in pixels (rounded down to even, minimum 64). This is
            a pixel height, not VideoPose3D's figure size in inches: VideoPose3D's
            default of 5 at 100 dpi corresponds to ``viz_size=500``. Output width is
            the scaled video width (rounded to even) plus ``viz_size``.
        viz_downsample: keep every n-th frame; the output fps is ``fps / n``.
        viz_skip: skip the first N input frames.
        viz_limit: write at most N output frames (counted after downsampling); ``-1``
            for all.
        viz_bitrate: target video bitrate in kbit/s (mp4 only).
        azimuth: 3D view angle around the vertical axis in degrees; 0 looks from the
            recording camera, positive turns the viewpoint counter-clockwise seen from
            above.
        elevation: 3D viewpoint height above the horizon in degrees.
        colors: base RGB colour per person (cycled); default: a built-in palette. Left
            limbs are drawn in a light tint and right limbs in a dark shade of it.
        trajectories: optional ``(P, T, 3)`` camera-frame root positions in metres. With
            them people stand where they were in the scene; without, root-centred
            people are placed side by side, 1 m apart, in their image left-to-right order.
        camera_to_world: optional ``(4, 4)`` camera-to-world matrix of the floor
            (:mod:`poselift.geometry.world`; Y up, floor at Y = 0). With it "up" in the 3D
            panel is the world's up and the grid lies on the floor; without it up is the
            camera's -y and the grid sits under the lowest joints.
        camera_view: look from the video's camera (azimuth 0, elevation = the camera's
            downward pitch when the floor is known) instead of ``azimuth``/``elevation``.
        framing: ``"fixed"``: one view fitted to the whole video (movement across the
            floor is seen as such); ``"follow"``: the view centre follows the people
            (smoothed), the scale stays fixed; ``"auto"`` (default): fixed unless the
            people cover more than 6 m, then follow.
        labels: text drawn above each person in both panels and in the legend
            (default ``P0``, ``P1``... = the person's index in the npz).
        progress: show a progress bar on stderr.
        frame_index: ``(T,)`` source frame index of each time step (a result's
            ``frame_index``). Then frames are matched by index, not position: every frame
            of the iterable is rendered (subject to ``viz_skip``/``viz_downsample``/
            ``viz_limit``, counted in frames of the iterable), step ``t`` drawn on the
            frame whose index (its ``index`` attribute, else its position in the
            iterable) is ``frame_index[t]``, and frames without a step show the video
            alone. So 2D from a keypoint file starting at frame 10 lands on frame 10.
        source_frames: with ``frame_index``, the indices the iterable is expected to
            yield (default: ``frame_index`` itself); only the 3D view's fit and the
            progress bar use it.

    Returns:
        :class:`RenderStats` with frame count, size and timings.

    Raises:
        ValueError: inconsistent array shapes or option values.
        PoseliftError: bad output extension, missing or unwritable output folder, or an
            encoding failure. The output file is written to a temporary name in the same
            folder and renamed at the end, so a failed or interrupted render never
            leaves a partial file at ``out_path``.
    """
    # Imported here so that drawing-only users need not import PyAV.
    from poselift.render._encode import AtomicVideoWriter

    t_start = time.perf_counter()
    kp = _as_people(keypoints_2d, 4, "keypoints_2d").astype(np.float64, copy=False)
    p3 = _as_people(poses_3d, 4, "poses_3d").astype(np.float64, copy=False)
    vd = np.asarray(valid, dtype=bool)
    if vd.ndim == 1:
        vd = vd[None]
    num_people, num_t, num_j = kp.shape[:3]
    if kp.shape[-1] != 2 or p3.shape[-1] != 3:
        raise ValueError(f"expected (P,T,J,2) and (P,T,J,3), got {kp.shape} and {p3.shape}")
    if p3.shape[:3] != (num_people, num_t, num_j) or vd.shape != (num_people, num_t):
        raise ValueError(f"shape mismatch: keypoints_2d {kp.shape}, poses_3d {p3.shape}, valid {vd.shape}")
    if num_j != skeleton.num_joints:
        raise ValueError(f"skeleton {skeleton.name} has {skeleton.num_joints} joints, arrays have {num_j}")
    if trajectories is not None:
        tr = _as_people(trajectories, 3, "trajectories").astype(np.float64, copy=False)
        if tr.shape != (num_people, num_t, 3):
            raise ValueError(f"trajectories must be {(num_people, num_t, 3)}, got {tr.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")

    if frame_index is None:
        indices = select_frames(num_t, viz_downsample, viz_skip, viz_limit)
        shown_steps = list(indices)
        step_of = None
        expected = len(indices)
    else:
        fi = np.asarray(frame_index, dtype=np.int64).reshape(-1)
        if fi.shape != (num_t,):
            raise ValueError(f"frame_index must be ({num_t},), got {fi.shape}")
        step_of = {}
        for t_step, f in enumerate(fi.tolist()):
            step_of.setdefault(f, t_step)
        src = fi if source_frames is None else np.asarray(source_frames, dtype=np.int64).reshape(-1)
        sel = select_frames(len(src), viz_downsample, viz_skip, viz_limit)
        picked = set(src[list(sel)].tolist())
        shown_steps = [t_step for t_step, f in enumerate(fi.tolist()) if f in picked]
        expected = len(sel)
    out_fps = fps / viz_downsample
    out_h = max(64, int(viz_size) // 2 * 2)

    # World positions for the whole video, computed once: the view is fitted to all of
    # them, which is what keeps the 3D panel from rescaling frame to frame.
    if framing not in ("auto", "fixed", "follow"):
        raise ValueError(f"framing must be auto, fixed or follow, got {framing!r}")
    c2w = None if camera_to_world is None else np.asarray(camera_to_world, dtype=np.float64)
    if c2w is not None and c2w.shape != (4, 4):
        raise ValueError(f"camera_to_world must be (4, 4), got {c2w.shape}")
    world = display_points(p3, tr if trajectories is not None else None, c2w, kp, vd)
    if camera_view:
        azimuth = 0.0
        elevation = 0.0
        if c2w is not None:
            forward = c2w[:3, 2]                       # the camera's z axis in world coordinates
            elevation = float(np.degrees(np.arcsin(np.clip(-forward[1], -1.0, 1.0))))
    shown = np.zeros_like(vd)
    shown[:, shown_steps] = vd[:, shown_steps]
    pts = world[shown].reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(-1)]
    if c2w is not None:
        ground = 0.0
    elif len(pts):
        with warnings.catch_warnings():
            # Frames where a person is absent are all-NaN by contract; they are masked next.
            warnings.simplefilter("ignore", RuntimeWarning)
            per_frame_low = np.nanmin(world[..., 2], axis=-1)[shown]
        # Lowest joint per frame is usually a foot on the floor; a low percentile rather
        # than the minimum keeps one bad frame from sinking the floor.
        ground = float(np.percentile(per_frame_low[np.isfinite(per_frame_low)], 10))
    else:
        ground = -1.0
    view = fit_view(pts, out_h, azimuth, elevation, ground)
    centres = None
    if framing != "fixed" and len(pts):
        centres, radius = _follow_centres(world, shown, ground, fps)
        fixed_radius = 0.92 * out_h / 2 / view.scale
        if framing == "follow" or (fixed_radius > 3.0 and radius < 0.8 * fixed_radius):
            view = OrbitView(size=out_h, center=view.center, scale=0.92 * out_h / 2 / radius,
                             azimuth=azimuth, elevation=elevation)
        else:
            centres = None
    extent = out_h / 2 / view.scale
    if c2w is not None:
        axis_names, depth_sign = ("x", "z", "y up"), -1.0
    else:
        axis_names, depth_sign = ("x", "depth", "up"), 1.0
    background = draw_background(view, ground, extent, axis_names=axis_names, depth_sign=depth_sign)
    names = list(labels) if labels is not None else [f"P{p}" for p in range(num_people)]
    if len(names) < num_people:
        names += [f"P{p}" for p in range(len(names), num_people)]
    info = ("camera view" if camera_view else f"az {azimuth:g} el {elevation:.0f}") + \
        (", follow" if centres is not None else "") + ("" if c2w is not None else ", floor unknown")

    base_colors = person_colors(num_people, colors)
    shades = [limb_shades(c) for c in base_colors]
    sides = bone_sides(skeleton)
    thick_2d = max(2, round(out_h / 200))
    thick_3d = max(2, round(out_h / 160))
    label_2d = max(0.4, out_h / 1200)
    label_3d = max(0.45, out_h / 1100)
    head = skeleton.joint_names.index("head") if "head" in skeleton.joint_names else num_j - 1
    gif_colors = [c for s in shades for c in s]

    writer = None
    canvas = None
    video_w = 0
    read_s = draw_s = enc_s = 0.0
    written = 0
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=expected, unit="frame", desc="render", file=sys.stderr, leave=False)
        except ImportError:  # pragma: no cover - tqdm is a dependency, but stay usable
            bar = None
    if step_of is None:
        wanted: Iterable[int] = iter(indices)
    else:  # every frame of the iterable, counted by position
        wanted = iter(select_frames(1 << 62, viz_downsample, viz_skip, viz_limit))
    next_t = next(wanted, None)
    try:
        it = iter(frames)
        pos = 0
        while next_t is not None:
            t0 = time.perf_counter()
            frame = next(it, None)
            read_s += time.perf_counter() - t0
            if frame is None:
                break
            if pos != next_t:
                pos += 1
                continue
            # The time step drawn on this frame: its position, or the step of its index.
            t = pos if step_of is None else step_of.get(int(getattr(frame, "index", pos)))
            t0 = time.perf_counter()
            # poselift.io.video yields Frame objects; accept them as well as bare arrays.
            frame = np.asarray(getattr(frame, "image", frame))
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
            in_h, in_w = frame.shape[:2]
            if canvas is None:
                video_w = max(2, int(round(in_w * out_h / in_h / 2)) * 2)
                canvas = np.empty((out_h, video_w + out_h, 3), dtype=np.uint8)
                t_open = time.perf_counter()
                writer = AtomicVideoWriter(out_path, video_w + out_h, out_h, out_fps,
                                           bitrate_kbps=viz_bitrate, gif_colors=gif_colors)
                # Opening the encoder (and building the GIF palette) counts as encoding.
                t_open = time.perf_counter() - t_open
                enc_s += t_open
                t0 += t_open
            left = canvas[:, :video_w]
            right = canvas[:, video_w:]
            if (in_h, in_w) == (out_h, video_w):
                left[:] = frame
            else:
                cv2.resize(frame, (video_w, out_h), dst=left, interpolation=cv2.INTER_LINEAR)
            sx, sy = video_w / in_w, out_h / in_h
            if centres is not None and t is not None and np.isfinite(centres[t]).all():
                view.center = centres[t]
                right[:] = draw_background(view, ground, extent, axis_names=axis_names, depth_sign=depth_sign)
            else:
                right[:] = background
            people3d = []
            tags = []
            for p in range(num_people if t is not None else 0):
                if not vd[p, t]:
                    continue
                # +0.5/-0.5: pixel centres move when scaling a pixel grid.
                j2 = (kp[p, t] + 0.5) * (sx, sy) - 0.5
                draw_skeleton_2d(left, j2, skeleton, shades[p], sides, thick_2d)
                top = np.nanmin(j2[:, 1]) if np.isfinite(j2[:, 1]).any() else np.nan
                put_label(left, names[p], (float(j2[head, 0]), float(top) - 6), base_colors[p], label_2d)
                people3d.append((world[p, t], shades[p]))
                tags.append((p, world[p, t]))
            draw_people_3d(right, view, people3d, skeleton, sides, thick_3d)
            for p, joints in tags:
                uv, _ = view.project(joints)
                top = np.nanmin(uv[:, 1]) if np.isfinite(uv[:, 1]).any() else np.nan
                put_label(right, names[p], (float(uv[head, 0]), float(top) - 8), base_colors[p], label_3d)
            draw_panel_overlay(right, view, names, shades, info)
            t1 = time.perf_counter()
            draw_s += t1 - t0
            writer.write(canvas)
            enc_s += time.perf_counter() - t1
            written += 1
            if bar is not None:
                bar.update(1)
            next_t = next(wanted, None)
            pos += 1
        if writer is None:
            raise PoseliftError(f"no frames to render: the input has none left after skipping {viz_skip}",
                                out_path)
        t0 = time.perf_counter()
        writer.close()
        enc_s += time.perf_counter() - t0
    except BaseException:
        if writer is not None:
            writer._discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    return RenderStats(path=Path(out_path), frames=written, width=video_w + out_h, height=out_h,
                       fps=out_fps, codec=writer.codec_name, read_seconds=read_s, draw_seconds=draw_s,
                       encode_seconds=enc_s, total_seconds=time.perf_counter() - t_start)
