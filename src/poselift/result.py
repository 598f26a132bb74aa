"""The 3D result of one input, in memory: what ``poselift infer`` writes to ``<stem>.npz``.

:class:`Result` is returned by :class:`poselift.Pipeline` (and by
:func:`poselift.lift.pipeline.lift_tracks`); its :meth:`~Result.arrays` are the npz
contract, written by :meth:`~Result.save` exactly as ``infer`` writes it, and read back by
:meth:`~Result.load`.

Convention:
    * People: every array has a leading person axis ``P`` (1 for a single-person run, the
      number of tracks with ``multi_person``, the track seen in most frames first), as
      in the npz. ``valid[p, t]`` says whether person ``p`` exists in step ``t``.
    * Time: axis ``T`` has one step per analysed frame; ``frame_index[t]`` is that frame's
      0-based index in the source video (or keypoint file) and ``time_s[t]`` its time in
      seconds on the source's clock, so a run with ``start`` keeps the video's times.
    * Camera frame: metres, ``x`` right, ``y`` down, ``z`` forward (into the scene), origin
      at the camera centre. Pixels: ``x`` right, ``y`` down, origin at the top-left corner.
    * World frame (:attr:`Result.world`): metres, ``Y`` up, the floor at ``Y = 0``, ``X`` the
      camera's right laid on the floor, ``Z`` toward the camera; ``X_world = R X_cam + t``
      with ``camera_to_world = [[R, t], [0, 1]]``.
    * Joints: Human3.6M-17 (``JOINT_NAMES``; joint 0, the pelvis, is the root).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from poselift.errors import InputError, PoseliftError

if TYPE_CHECKING:
    from poselift.geometry.intrinsics import Intrinsics
    from poselift.options import DecodeOptions, RenderOptions
    from poselift.render.skeleton_video import RenderStats

__all__ = ["Result"]

#: Keys :meth:`Result.arrays` always holds, in this order (the npz contract).
CONTRACT_KEYS = ("poses_3d", "trajectory", "keypoints_2d", "scores_2d", "valid", "fps", "image_size",
                 "joint_names", "parents", "frame_index", "time_s")


@dataclass(eq=False, repr=False)
class Result:
    """3D skeletons of ``P`` people over ``T`` analysed frames (see the module's Convention).

    Attributes:
        poses_3d: float32 ``(P, T, 17, 3)`` metres, camera frame, root joint at the origin
            (unless lifted with ``LiftOptions(root_relative=False)``); NaN where not ``valid``.
        trajectory: float32 ``(P, T, 3)`` metres, camera frame: the root joint's position
            (zeros when lifted with ``LiftOptions(trajectory=False)``); NaN where not valid.
        keypoints_2d: float32 ``(P, T, 17, 2)`` pixels, Human3.6M-17 layout, the 2D that
            was lifted (after gap filling and left/right repair); NaN where not valid.
        scores_2d: float32 ``(P, T, 17)`` confidences in [0, 1].
        valid: bool ``(P, T)``.
        fps: frame rate of the analysed frames, frames/s.
        image_size: ``(width, height)`` pixels.
        extra: further npz arrays: ``focal_length`` (pixels) and ``principal_point``
            ``[2]`` (pixels), the intrinsics used; with the world placement
            ``poses_world (P, T, 17, 3)`` and ``camera_to_world (4, 4)``.
        frame_index: int64 ``(T,)`` index of each step's frame in the source (default
            ``0..T-1``).
        time_s: float64 ``(T,)`` seconds on the source's clock (default ``frame_index / fps``).
        video: the video the frames came from, when there is one (used by :meth:`render`).
        decode: the decode options that selected the analysed frames of ``video`` (None
            when ``video`` was not decoded, e.g. with precomputed keypoints).
        has_trajectory: False when the trajectory was left at zero.
    """

    poses_3d: np.ndarray
    trajectory: np.ndarray
    keypoints_2d: np.ndarray
    scores_2d: np.ndarray
    valid: np.ndarray
    fps: float
    image_size: tuple[int, int]
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    frame_index: np.ndarray | None = None
    time_s: np.ndarray | None = None
    video: Path | None = field(default=None, repr=False, compare=False)
    decode: "DecodeOptions | None" = field(default=None, repr=False, compare=False)
    has_trajectory: bool = field(default=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = int(np.asarray(self.valid).shape[-1])
        if self.frame_index is None:
            self.frame_index = np.arange(t, dtype=np.int64)
        self.frame_index = np.asarray(self.frame_index, dtype=np.int64).reshape(-1)
        if self.time_s is None:
            self.time_s = self.frame_index / float(self.fps) if self.fps else np.full(t, np.nan)
        self.time_s = np.asarray(self.time_s, dtype=np.float64).reshape(-1)
        if self.frame_index.shape != (t,) or self.time_s.shape != (t,):
            raise ValueError(f"frame_index {self.frame_index.shape} and time_s {self.time_s.shape} must be ({t},)")

    def __repr__(self) -> str:
        t = self.time_s
        span = f", {t[0]:.2f}-{t[-1]:.2f} s" if len(t) and np.isfinite(t[[0, -1]]).all() else ""
        return (f"Result(people={self.num_people}, frames={self.num_frames}{span}, fps={self.fps:g}, "
                f"image_size={tuple(int(v) for v in self.image_size)}, world={self.world is not None})")

    # ------------------------------------------------------------------ views
    @property
    def num_people(self) -> int:
        """``P``."""
        return int(self.valid.shape[0])

    @property
    def num_frames(self) -> int:
        """``T``."""
        return int(self.valid.shape[1])

    @property
    def intrinsics(self) -> "Intrinsics":
        """The pinhole camera the lift assumed (focal length and principal point in pixels,
        image size): :class:`poselift.geometry.intrinsics.Intrinsics`."""
        from poselift.geometry.intrinsics import Intrinsics, resolve_intrinsics

        w, h = (int(v) for v in self.image_size)
        if "focal_length" not in self.extra:
            return resolve_intrinsics(w, h)
        cx, cy = (float(v) for v in np.asarray(self.extra.get("principal_point", (w / 2, h / 2))).ravel()[:2])
        return Intrinsics(float(self.extra["focal_length"]), (cx, cy), w, h)

    @property
    def world(self) -> np.ndarray | None:
        """float32 ``(P, T, 17, 3)`` joints in the world frame (metres, Y up, floor at 0),
        present when the pipeline ran with ``PlaceOptions(world=True)`` (or after
        :meth:`add_world`); None otherwise."""
        return self.extra.get("poses_world")

    @property
    def camera_to_world(self) -> np.ndarray | None:
        """float64 ``(4, 4)``, ``X_world = R X_cam + t``; None without the world placement."""
        return self.extra.get("camera_to_world")

    def add_world(self, ground: bool = True) -> None:
        """Add world-frame joints (Y up, one floor at 0 for everyone; see
        :mod:`poselift.geometry.world`): ``poses_world (P, T, 17, 3)`` metres and
        ``camera_to_world (4, 4)``. With ``ground``, ``trajectory`` is refined first: each
        root slides along its camera ray (its 2D position unchanged) so the feet stand on
        the floor, and ``poses_world = camera_to_world @ (poses_3d + trajectory)`` holds
        for the refined trajectory. Only frames whose feet the 2D shows place the floor.

        Raises:
            ValueError: nothing valid to fit a floor to.
        """
        placed = self.place(ground)
        self.trajectory = placed.trajectory
        self.extra["poses_world"] = placed.poses_world
        self.extra["camera_to_world"] = placed.frame.matrix.astype(np.float64)

    def place(self, ground: bool = True) -> Any:
        """This result on the world floor (:func:`poselift.geometry.world.place_in_world`,
        given the 2D so that feet out of the picture or unseen neither set the floor nor
        are pulled onto it); returns its ``WorldPlacement``.

        Raises:
            ValueError: nothing valid to fit a floor to.
        """
        from poselift.geometry.world import place_in_world

        return place_in_world(self.poses_3d, self.trajectory, self.valid, fps=self.fps, ground=ground,
                              keypoints_2d=self.keypoints_2d, scores_2d=self.scores_2d,
                              image_size=self.image_size)

    # ------------------------------------------------------------------ the npz contract
    def arrays(self) -> dict[str, Any]:
        """The npz contract's keys (:data:`CONTRACT_KEYS`), then any extra arrays."""
        return {**self._contract(), **self.extra}

    def _contract(self) -> dict[str, Any]:
        from poselift.geometry.skeletons import H36M17

        return {
            "poses_3d": self.poses_3d.astype(np.float32),
            "trajectory": self.trajectory.astype(np.float32),
            "keypoints_2d": self.keypoints_2d.astype(np.float32),
            "scores_2d": self.scores_2d.astype(np.float32),
            "valid": self.valid.astype(bool),
            "fps": np.float64(self.fps),
            "image_size": np.asarray(self.image_size, dtype=np.int64),
            "joint_names": np.asarray(H36M17.joint_names),
            "parents": np.asarray(H36M17.parents, dtype=np.int64),
            "frame_index": np.asarray(self.frame_index, dtype=np.int64),
            "time_s": np.asarray(self.time_s, dtype=np.float64),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the npz ``poselift infer`` writes (same keys, dtypes and shapes), atomically;
        the parent folder is created if needed. Returns the path."""
        from poselift.io.safe_npz import save_npz

        path = Path(path)
        _make_parent(path)
        save_npz(path, **self.arrays())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Result":
        """Read an npz written by :meth:`save` or ``poselift infer``/``lift`` (files from
        before ``frame_index``/``time_s`` existed get ``0..T-1`` and ``frame_index / fps``)."""
        from poselift.io.safe_npz import load_npz

        path = Path(path)
        d = load_npz(path)
        try:
            size = np.asarray(d["image_size"]).ravel()
            res = cls(np.asarray(d["poses_3d"], np.float32), np.asarray(d["trajectory"], np.float32),
                      np.asarray(d["keypoints_2d"], np.float32), np.asarray(d["scores_2d"], np.float32),
                      np.asarray(d["valid"], bool), float(np.asarray(d["fps"])), (int(size[0]), int(size[1])),
                      {k: np.asarray(d[k]) for k in ("focal_length", "principal_point", "poses_world",
                                                     "camera_to_world") if k in d},
                      frame_index=d.get("frame_index"), time_s=d.get("time_s"))
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise InputError(f"not a poselift result npz ({type(exc).__name__}: {exc})", path) from None
        v = res.valid
        res.has_trajectory = bool(np.any(np.nan_to_num(res.trajectory[v]) != 0)) if v.any() else False
        return res

    # ------------------------------------------------------------------ other formats
    def export(self, format: str, path: str | os.PathLike, *, title: str | None = None,
               bvh_smooth: bool = True) -> list[Path]:
        """Write the result as ``"json"``, ``"csv"``, ``"html"`` (the offline 3D viewer),
        ``"bvh"`` or ``"npz"``, the files ``poselift infer --export`` writes. Returns the
        files written: one, except BVH of several people, ``<stem>_person<k>.bvh`` each.

        BVH and HTML show a Y-up scene on a floor: without :attr:`world` they are written
        from a world-placed copy (as ``--export bvh`` implies ``--world``); this result is
        left unchanged. The parent folder is created if needed.
        """
        fmt = str(format).lower()
        path = Path(path)
        if fmt not in ("json", "csv", "html", "bvh", "npz"):
            raise PoseliftError(f"unknown export format {format!r} (known: json, csv, html, bvh, npz)")
        _make_parent(path)
        if fmt == "npz":
            return [self.save(path)]
        src = self
        if fmt in ("html", "bvh") and self.world is None and self.has_trajectory:
            src = copy.deepcopy(self)
            try:
                src.add_world()
            except ValueError as exc:
                raise InputError(str(exc), self.video) from None
        return src._write(fmt, path, title=title or path.stem, bvh_smooth=bvh_smooth)

    def _write(self, fmt: str, path: Path, *, title: str, bvh_smooth: bool = True) -> list[Path]:
        """One export format of the arrays as they are (no world placement added)."""
        arrays = self.arrays()
        if fmt == "json":
            from poselift.export.formats import write_json
            return [write_json(path, arrays)]
        if fmt == "csv":
            from poselift.export.formats import write_csv
            return [write_csv(path, arrays)]
        if fmt == "html":
            from poselift.export.html import write_html
            return [write_html(path, arrays, title=title)]
        if fmt == "bvh":
            return write_bvh_people(arrays, path.parent, path.stem, bvh_smooth)
        if fmt == "npz":
            from poselift.io.safe_npz import save_npz
            save_npz(path, **arrays)
            return [path]
        raise PoseliftError(f"unknown export format {fmt!r} (known: json, csv, html, bvh)")

    # ------------------------------------------------------------------ rendering
    def render(self, path: str | os.PathLike, video: str | os.PathLike | Iterable[Any] | None = None, *,
               options: "RenderOptions | None" = None, progress: bool = False, **overrides: Any) -> "RenderStats":
        """Render the video with each person's 2D skeleton beside a 3D view (the
        ``<stem>.mp4`` of ``poselift infer``; see :func:`poselift.render.render_video`).

        Frames are matched to steps by their index in the source: step ``t`` is drawn on
        the video frame whose index is ``frame_index[t]``; video frames without a step
        (before a keypoint file starts, say) show the video alone.

        Args:
            path: ``.mp4`` or ``.gif`` output (atomic; the parent folder is created).
            video: the frames to draw on: a video path (default: the video this result
                came from, decoded with the same options), or an iterable of ``(H, W, 3)``
                uint8 **RGB** frames (or :class:`poselift.io.video.Frame` objects), whose
                ``k``-th frame has index ``k`` unless it carries an ``index``.
            options: :class:`~poselift.options.RenderOptions` (default: its defaults);
                ``overrides`` replace single fields, e.g. ``size=480, azimuth=0``.
            progress: a progress bar on stderr.

        Returns:
            :class:`~poselift.render.RenderStats` (frames written, size, timings).
        """
        from dataclasses import replace

        from poselift.options import DecodeOptions, RenderOptions
        from poselift.render import render_video

        opts = replace(options or RenderOptions(), **overrides)
        path = Path(path)
        _make_parent(path)
        traj, c2w = None, None
        if self.camera_to_world is not None:
            traj, c2w = self.trajectory, self.camera_to_world
        elif self.has_trajectory:
            traj = self.trajectory
            try:
                placed = self.place()
                traj, c2w = placed.trajectory, placed.frame.matrix
            except ValueError:  # nothing valid to fit a floor to: camera axes then
                pass
        if video is None:
            video = self.video
        if video is None:
            raise PoseliftError("this result has no video to draw on: pass video= (a path or the frames)")
        fps, source_frames = self.fps, None
        if isinstance(video, (str, os.PathLike)):
            from poselift.io.video import probe, read_frames

            same = self.video is not None and Path(video) == Path(self.video) and self.decode is not None
            decode = self.decode if same else DecodeOptions()
            if not same:
                # The whole video is drawn; steps land on the frames they came from.
                info = probe(video)
                fps, source_frames = info.fps or self.fps, np.arange(info.frame_count)
            frames: Iterable[Any] = read_frames(video, decode.start, decode.end, decode.fps)
        else:
            frames = video
        return render_video(frames, path, self.keypoints_2d, self.poses_3d, self.valid, fps,
                            viz_size=opts.size, viz_downsample=opts.downsample, viz_skip=opts.skip,
                            viz_limit=opts.limit, viz_bitrate=opts.bitrate, azimuth=opts.azimuth,
                            elevation=opts.elevation, camera_view=opts.camera_view, framing=opts.framing,
                            trajectories=traj, camera_to_world=c2w, progress=progress,
                            frame_index=self.frame_index, source_frames=source_frames)


def _make_parent(path: Path) -> None:
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PoseliftError(f"cannot create output folder ({exc.strerror or exc})", path.parent) from None


def write_bvh_people(arrays: dict[str, Any], outdir: Path, stem: str, smooth: bool) -> list[Path]:
    """``<stem>.bvh`` for one person, ``<stem>_person<k>.bvh`` for several (people without a
    single valid frame are left out)."""
    from poselift.export.bvh import write_bvh

    poses, traj, valid = arrays["poses_3d"], arrays["trajectory"], arrays["valid"]
    if "poses_world" in arrays:
        # World axes (X right, Y up, Z toward the camera) are BVH's: hand the exporter the
        # world joints expressed so that its camera->BVH flip lands on them unchanged.
        from poselift.export.bvh import bvh_to_camera

        world = arrays["poses_world"]
        poses, traj = bvh_to_camera(world - world[:, :, :1]), bvh_to_camera(world[:, :, 0])
    n = poses.shape[0]
    out = []
    for k in range(n):
        if not valid[k].any():
            continue
        name = f"{stem}.bvh" if n == 1 else f"{stem}_person{k}.bvh"
        out.append(write_bvh(outdir / name, poses[k], traj[k], float(arrays["fps"]), valid[k], smooth=smooth))
    return out
