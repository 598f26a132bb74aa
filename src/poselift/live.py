"""``poselift live``: a camera, a stream or a video played in real time -> one JSON line per frame.

Data flow: a reader thread decodes the source (:class:`FrameSource`) and hands frames
over one at a time; the main thread runs the 2D detector and :class:`LiveLifter`
(the shipped ``causal`` model, which sees only the current and past frames) and writes
one JSON object per line (:func:`frame_record`). When the detector and the lifter are
slower than the source, frames that arrive while the previous one is still being
processed replace it in the hand-over slot and are counted as dropped, so the output
never falls further behind than one frame.

Equivalence with ``poselift infer --model causal``
--------------------------------------------------
``infer`` sees the whole video at once; three of its steps look at the future:
gap filling (a low-confidence joint is interpolated between the good samples around
it), the root smoothing (a centred Gaussian of 2 model frames) and the constant bone
lengths (medians over the whole video). Live output for frame ``k`` is therefore
defined as what ``infer`` computes for frame ``k`` when the video *ends at frame k*
(the last frame of ``infer --model causal --end t_k``): gaps are re-filled over the
recent history at every frame, the Gaussian sees the last frame repeated (``infer``'s
own edge handling), the network's receptive field is edge-padded at the start of each
run of valid frames. With ``fixed_bones=False`` (``--free-bones``) ``joints_cam`` and
``root_cam`` equal that prefix result (``tests/test_live.py`` checks it frame by frame
against :func:`poselift.lift.pipeline.lift_tracks`, the code ``infer`` runs). With
constant bones (the default), each bone gets the running median of its length over
the frames output so far, as ``infer`` does over the whole video.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence, TextIO

import numpy as np

from poselift.detect.tracking import PersonSelector
from poselift.errors import InputError, PoseliftError
from poselift.lift.numpy_backend import NumpyTemporalModel

# Frames of history kept for gap filling and the model window (seconds, source clock).
# It must exceed the model window (2 receptive fields at the model's rate, 3.3 s for the
# 81-frame causal model) plus the longest filled gap, so re-filling the history gives
# the same values as re-filling the whole past would.
_MIN_HISTORY_S = 1.0
# Gaussian radius of the geometric root smoothing in lift.inference (sigma 2, truncate 4).
_TRAJ_RADIUS = int(4.0 * 2.0 + 0.5)
# Bone lengths: running median over at most this many past valid frames.
_BONE_HISTORY = 9000


@dataclass
class LiveOptions:
    """Options of one ``live`` run (mirrors the command-line flags)."""

    model: str = "causal"
    tta: bool = True
    fixed_bones: bool = True
    trajectory: bool = True
    person: str = "consistent"
    score_threshold: float = 0.3
    max_gap: float = 0.5
    focal_length: float | None = None
    fov: float | None = None
    floor_after: float = 2.0
    detector_model: str = "full"


@dataclass
class LiveFrame:
    """What :meth:`LiveLifter.step` returns for one frame.

    Attributes:
        valid: the person is tracked in this frame.
        joints_cam: ``(17, 3)`` metres, camera frame (x right, y down, z forward),
            root-relative (pelvis at the origin), Human3.6M-17; None when not valid.
        root_cam: ``(3,)`` metres, camera frame, or None (not valid, or no trajectory).
        joints_world: ``(17, 3)`` metres, world frame (Y up, floor at 0; see
            :mod:`poselift.geometry.world`) once the floor is known, else None.
        keypoints_2d: ``(17, 2)`` pixels, Human3.6M-17, the (gap-filled) 2D used; None
            when not valid.
        raw_joints_cam: ``(17, 3)`` root-relative network pose before the bone-length
            step (equals ``joints_cam`` with ``fixed_bones=False``), or None.
    """

    valid: bool
    joints_cam: np.ndarray | None = None
    root_cam: np.ndarray | None = None
    joints_world: np.ndarray | None = None
    keypoints_2d: np.ndarray | None = None
    raw_joints_cam: np.ndarray | None = None


class LiveLifter:
    """Frame-by-frame 2D detections -> 3D pose, root and world joints with a causal model.

    Args:
        lm: a causal :class:`~poselift.lift.weights.LiftModel` without a trajectory network
            (the root is solved from the pose and the 2D, as ``infer`` does for such models).
        width, height: image size in pixels.
        fps: source frame rate (frames/s) or None when unknown (then estimated from the
            first timestamps); it decides, as in ``infer``, whether the 2D is resampled
            to the model's rate.
        focal_px: focal length in pixels; ``center_px`` the principal point (default centre).
        opts: :class:`LiveOptions` (tta, bones, trajectory, person, gap filling, floor).
    """

    def __init__(self, lm: Any, width: int, height: int, fps: float | None, focal_px: float,
                 opts: LiveOptions | None = None, center_px: tuple[float, float] | None = None) -> None:
        from poselift.geometry.skeletons import get_skeleton
        from poselift.lift.pipeline import model_bone_prior

        if not lm.causal:
            raise InputError("poselift live needs a causal model (it may not look at future frames)", lm.source)
        if lm.model_traj is not None:
            raise InputError("poselift live solves the root from the pose; models with a trajectory "
                             "network are not supported", lm.source)
        self.lm, self.opts = lm, opts or LiveOptions()
        self.width, self.height, self.focal = int(width), int(height), float(focal_px)
        self.center = center_px if center_px is not None else (width / 2, height / 2)
        self.fps = fps if fps and fps > 0 else None
        self.rf = lm.receptive_field
        model = lm.model_pos
        self.left_pad = (self.rf - 1) // 2 + model.total_causal_shift()
        # Model-rate samples needed for the last two outputs: the trailing medians of
        # focal_scaled input (one receptive field) feed the network (another one), whose
        # outputs feed the root's Gaussian (radius _TRAJ_RADIUS) around the last two samples.
        self.n_out = _TRAJ_RADIUS + 2
        self.window = 2 * (self.rf - 1) + self.n_out + 2
        self.history_s = max(_MIN_HISTORY_S, self.window / lm.fps) + self.opts.max_gap + 1.0
        self.perm_in = get_skeleton(lm.input_layout).flip_permutation()
        self.perm_out = get_skeleton(lm.output_layout).flip_permutation()
        self.selector = PersonSelector(self.opts.person, self.opts.score_threshold)
        self._t: deque[float] = deque()
        self._kp: deque[np.ndarray] = deque()
        self._sc: deque[np.ndarray] = deque()
        self._present: deque[bool] = deque()
        self._t_first: float | None = None
        self._seg_t0: float | None = None
        self._layout: str | None = None
        self._bones: deque[np.ndarray] = deque(maxlen=_BONE_HISTORY)
        self._bone_prior = model_bone_prior(lm)   # as infer's constant bones (--bone-proportions auto)
        self._absolute: list[np.ndarray] = []
        self.world = None

    # ------------------------------------------------------------------ per frame
    def step(self, t: float, people: Sequence[Any]) -> LiveFrame:
        """Add one frame (source time ``t`` seconds, the detector's people) and lift it."""
        if self._t_first is None:
            self._t_first = float(t)
        t_rel = float(t) - self._t_first
        if self._t and t_rel <= self._t[-1]:
            t_rel = self._t[-1] + 1e-6  # a repeated timestamp (broken file, restarted clock)
        k = self.selector.step(people, float(t))
        if k >= 0 and self._layout is None:
            self._layout = people[k].layout
        if self._layout is None:
            return LiveFrame(False)
        j = len(self._kp[0]) if self._kp else people[k].num_joints
        self._t.append(t_rel)
        self._kp.append(people[k].keypoints if k >= 0 else np.zeros((j, 2), np.float32))
        self._sc.append(people[k].scores if k >= 0 else np.zeros(j, np.float32))
        self._present.append(k >= 0)
        while self._t[0] < t_rel - self.history_s:
            for d in (self._t, self._kp, self._sc, self._present):
                d.popleft()
        return self._lift_last()

    def _lift_last(self) -> LiveFrame:
        from poselift.detect.tracking import fill_gaps
        from poselift.geometry.skeletons import convert

        times = np.fromiter(self._t, np.float64, len(self._t))
        kp, sc, valid, _ = fill_gaps(np.stack(self._kp), np.stack(self._sc), times, self.opts.score_threshold,
                                     self.opts.max_gap, present=np.fromiter(self._present, bool, len(self._t)))
        if not valid[-1]:
            self._seg_t0 = None
            return LiveFrame(False)
        invalid = np.flatnonzero(~valid)
        start = int(invalid[-1]) + 1 if len(invalid) else 0
        if start > 0 or self._seg_t0 is None:
            self._seg_t0 = float(times[start])
        times, kp = times[start:], kp[start:]
        kp17 = convert(kp, self._layout, "h36m17") if self._layout != "h36m17" else kp
        kp_in = (kp17 if self.lm.input_layout == "h36m17"
                 else convert(kp, self._layout, self.lm.input_layout))
        if self.fps is None and len(times) >= 5:
            self.fps = float(1.0 / np.median(np.diff(times)))
        fps_m = self.lm.fps
        resample = self.fps is not None and abs(self.fps - fps_m) > 0.01 * fps_m
        t_k = float(times[-1])
        if resample:
            from poselift.timeseries import resample_sequence

            # infer's grid for the run: np.arange(t0, t_end + 0.5 / fps_m, 1 / fps_m).
            t0 = self._seg_t0
            step = (t0 + 1.0 / fps_m) - t0  # the increment np.arange uses
            m = int(math.ceil((t_k + 0.5 / fps_m - t0) / (1.0 / fps_m)))
            n0 = max(0, m - self.window)
            t_model = t0 + np.arange(n0, m) * step
            x_kp = resample_sequence(kp_in, times, t_model)
            x_kp17 = x_kp if kp_in is kp17 else resample_sequence(kp17, times, t_model)
        else:
            m = len(times)
            n0 = max(0, m - self.window)
            t_model = times[n0:]
            x_kp, x_kp17 = kp_in[n0:], kp17[n0:]
        raw, root = self._network(x_kp, x_kp17, at_start=n0 == 0, whole=m)
        if resample and len(t_model) >= 2:
            from poselift.timeseries import resample_sequence

            pose = resample_sequence(raw[-2:], t_model[-2:], np.array([t_k]))[0]
            root = None if root is None else resample_sequence(root[-2:], t_model[-2:], np.array([t_k]))[0]
        else:
            pose, root = raw[-1], (None if root is None else root[-1])
        pose = (pose - pose[:1]).astype(np.float32)
        out = pose
        if self.opts.fixed_bones:
            out = self._constant_bones(pose)
        world = None
        if root is not None:
            root = root.astype(np.float32)
            world = self._to_world(out + root)
        return LiveFrame(True, out, root, world, kp17[-1].astype(np.float32), pose)

    def _network(self, x_kp: np.ndarray, x_kp17: np.ndarray, at_start: bool,
                 whole: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The last ``n_out`` model-rate outputs of the window: camera-frame poses
        ``(n, 17, 3)`` and, with a trajectory, geometric roots ``(n, 3)``."""
        from poselift.lift.inference import network_input, normalize_input, scaled_rays, to_camera_frame

        lm = self.lm
        if lm.input_normalization == "focal_scaled":
            si = scaled_rays(normalize_input(x_kp, self.width, self.height, "focal", self.focal, self.center),
                             self.rf, causal=True)
            x, R = si.x, si.R
        else:
            x = normalize_input(x_kp, self.width, self.height, lm.input_normalization, self.focal, self.center)
            R = None
        n = min(self.n_out, len(x))
        if at_start:  # the run starts in the window: edge padding, as infer pads its sequence
            x = np.pad(x, ((self.left_pad, 0), (0, 0), (0, 0)), mode="edge")
        # Live 2D always comes from the detector.
        xs = network_input(lm.model_pos, x[len(x) - (self.rf - 1) - n:], "detector")
        batch = [xs]
        if self.opts.tta:
            f = xs[:, self.perm_in].copy()
            f[..., 0] *= -1
            batch.append(f)
        inp = np.ascontiguousarray(np.stack(batch), dtype=np.float32)
        if isinstance(lm.model_pos, NumpyTemporalModel):
            y = lm.model_pos(inp)
        else:
            import torch

            with torch.no_grad():
                y = lm.model_pos(torch.from_numpy(inp)).numpy()
        if self.opts.tta:
            y[1, ..., 0] *= -1
            y[1] = y[1][:, self.perm_out]
            poses = y.mean(axis=0).astype(np.float32)
        else:
            poses = y[0].astype(np.float32)
        if R is not None:
            poses = to_camera_frame(poses, R[-n:])
        if not self.opts.trajectory:
            return poses, None
        from scipy.ndimage import gaussian_filter1d

        from poselift.geometry.cameras import solve_root_translation

        rays = (np.asarray(x_kp17[-n:], np.float64) - np.asarray(self.center, np.float64)) / self.focal
        root = solve_root_translation(poses - poses[:, :1], rays)
        if whole > 2:  # infer smooths runs longer than two model frames
            root = gaussian_filter1d(root, sigma=2.0, axis=0, mode="nearest")
        return poses, root.astype(np.float32)

    def _constant_bones(self, pose: np.ndarray) -> np.ndarray:
        from poselift.geometry.skeletons import H36M17, enforce_bone_lengths, lengthen_short_forearms

        parents = np.maximum(np.asarray(H36M17.parents), 0)
        self._bones.append(np.linalg.norm(pose - pose[parents], axis=-1))
        lengths = np.median(np.stack(self._bones), axis=0)
        if self._bone_prior is not None:
            lengths = lengthen_short_forearms(lengths, self._bone_prior)
        return enforce_bone_lengths(pose[None], lengths=lengths)[0]

    def _to_world(self, absolute: np.ndarray) -> np.ndarray | None:
        """World joints once enough valid frames have been seen to place the floor (then fixed)."""
        if self.world is None:
            self._absolute.append(absolute)
            need = max(20, int(round(self.opts.floor_after * (self.fps or self.lm.fps))))
            if len(self._absolute) < need:
                return None
            from poselift.geometry.world import estimate_world_frame

            self.world = estimate_world_frame(np.stack(self._absolute))
            self._absolute = []
        return self.world.apply(absolute)


# ---------------------------------------------------------------------- sources
@dataclass
class SourceFrame:
    """One frame from a :class:`FrameSource`: ``image`` (H, W, 3) uint8 RGB, ``time`` seconds
    (source clock), ``index`` (source frame number), ``arrival`` (``time.perf_counter()``
    when it became available)."""

    image: np.ndarray
    time: float
    index: int
    arrival: float


@dataclass
class SourceInfo:
    kind: str  # "file", "camera" or "stream"
    width: int
    height: int
    fps: float | None
    name: str


def open_source(source: str) -> tuple[SourceInfo, Iterator[SourceFrame]]:
    """``0``/``1``... a camera (OpenCV), ``scheme://...`` a stream PyAV opens, else a video file.

    Returns the source's description and an iterator of frames; the iterator yields
    frames as fast as the source delivers them (pacing files is :class:`FrameSource`'s job).
    Raises :class:`InputError` (one line, naming the source) when it cannot be opened.
    """
    if source.isdigit():
        return _open_camera(int(source))
    if "://" in source:
        return _open_stream(source)
    from poselift.io.video import probe, read_frames

    info = probe(source)

    def frames() -> Iterator[SourceFrame]:
        for fr in read_frames(source):
            yield SourceFrame(fr.image, fr.time, fr.index, time.perf_counter())

    return SourceInfo("file", info.width, info.height, info.fps or None, str(source)), frames()


def _open_camera(index: int) -> tuple[SourceInfo, Iterator[SourceFrame]]:
    import cv2

    cap = cv2.VideoCapture(index)
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok or first is None:
        cap.release()
        raise InputError("cannot open camera (no such device, or it is busy)", f"camera {index}")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0) or None
    h, w = first.shape[:2]
    t_start = time.perf_counter()

    def frames() -> Iterator[SourceFrame]:
        img, i = first, 0
        try:
            while img is not None:
                now = time.perf_counter()
                # Cameras have no container clock: the source time is the arrival time.
                yield SourceFrame(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), now - t_start, i, now)
                ok, img = cap.read()
                if not ok:
                    break
                i += 1
        finally:
            cap.release()

    return SourceInfo("camera", w, h, fps, f"camera {index}"), frames()


def _open_stream(url: str) -> tuple[SourceInfo, Iterator[SourceFrame]]:
    import av

    from poselift.io.video import _nominal_fps

    options = {"rtsp_transport": "tcp"} if url.startswith("rtsp") else {}
    try:
        container = av.open(url, mode="r", options=options, timeout=(10.0, 10.0))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"cannot open stream: {getattr(exc, 'strerror', None) or exc}", url) from None
    if not container.streams.video:
        container.close()
        raise InputError("stream has no video", url)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    fps = _nominal_fps(stream) or None
    w, h = stream.codec_context.width, stream.codec_context.height

    def frames() -> Iterator[SourceFrame]:
        t_start, last = time.perf_counter(), None
        try:
            for i, fr in enumerate(container.decode(stream)):
                now = time.perf_counter()
                t = float(fr.time) if fr.time is not None else now - t_start
                if last is not None and t <= last:
                    t = last + 1e-3  # a stream's clock that restarts must still increase
                last = t
                yield SourceFrame(fr.to_ndarray(format="rgb24"), t, i, now)
        except av.FFmpegError as exc:
            raise InputError(f"stream failed: {exc}", url) from None
        finally:
            container.close()

    return SourceInfo("stream", w, h, fps, url), frames()


class FrameSource:
    """A reader thread between a source and the processing loop.

    ``drop=True`` (cameras, streams, ``--realtime`` files): the thread keeps one frame
    in hand-over; a frame arriving while the previous one is still waiting replaces it
    and counts as dropped, so the consumer always gets the newest frame. ``drop=False``
    (files without ``--realtime``): the thread waits for the consumer, nothing is lost.
    ``realtime=True`` paces a file at its own timestamps (wall clock from the first frame).
    """

    _END = object()

    def __init__(self, frames: Iterator[SourceFrame], drop: bool, realtime: bool = False) -> None:
        self.frames, self.drop, self.realtime = frames, drop, realtime
        self.frames_in = 0
        self.dropped = 0
        #: Number (0-based) of the newest frame read when :meth:`get` last returned.
        self.newest_at_get = -1
        self._slot: SourceFrame | None = None
        self._done = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="poselift-live-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wall0 = t0 = None
        try:
            for fr in self.frames:
                if self._stop.is_set():
                    break
                if self.realtime:
                    if wall0 is None:
                        wall0, t0 = time.perf_counter(), fr.time
                    delay = wall0 + (fr.time - t0) - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    fr.arrival = time.perf_counter()
                with self._cond:
                    self.frames_in += 1
                    if self.drop:
                        if self._slot is not None:
                            self.dropped += 1
                        self._slot = fr
                        self._cond.notify()
                    else:
                        while self._slot is not None and not self._stop.is_set():
                            self._cond.wait(0.1)
                        self._slot = fr
                        self._cond.notify()
        except BaseException as exc:  # handed to the consumer, which reports it
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def get(self) -> SourceFrame | None:
        """The next frame, or None at the end of the source. Re-raises the reader's error."""
        with self._cond:
            while self._slot is None and not self._done:
                self._cond.wait(0.1)
            fr, self._slot = self._slot, None
            self.newest_at_get = self.frames_in - 1
            self._cond.notify_all()
        if fr is None and self._error is not None:
            raise self._error
        return fr

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=2.0)


# ---------------------------------------------------------------------- output
def _round(a: np.ndarray | None, nd: int) -> Any:
    return None if a is None else np.round(np.asarray(a, np.float64), nd).tolist()


def frame_record(index: int, time_s: float, res: LiveFrame, latency_ms: float) -> dict[str, Any]:
    """The JSON object of one frame (the contract of ``poselift live``'s lines).

    ``frame`` int source frame index; ``time_s`` source timestamp; ``valid`` bool;
    ``joints_cam`` 17 x [x, y, z] metres, camera frame, root-relative, or null;
    ``root_cam`` [x, y, z] metres or null; ``joints_world`` 17 x 3 metres (Y up, floor
    at 0) or null until the floor is known; ``keypoints_2d`` 17 x [x, y] pixels or null;
    ``latency_ms`` from the frame's arrival to its line being written. Human3.6M-17 order.
    """
    return {"frame": int(index), "time_s": round(float(time_s), 6), "valid": bool(res.valid),
            "joints_cam": _round(res.joints_cam, 5), "root_cam": _round(res.root_cam, 5),
            "joints_world": _round(res.joints_world, 5), "keypoints_2d": _round(res.keypoints_2d, 2),
            "latency_ms": round(float(latency_ms), 2)}


@dataclass
class LiveStats:
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    detect_ms: list[float] = field(default_factory=list)
    lift_ms: list[float] = field(default_factory=list)

    def summary(self) -> str:
        """``frames in N, out N, dropped N, latency median X ms, p95 X ms`` and the median
        time of the two stages per frame."""
        def med(v: list[float], q: float = 50) -> float:
            return float(np.percentile(v, q)) if v else float("nan")

        return (f"frames in {self.frames_in}, out {self.frames_out}, dropped {self.dropped}, "
                f"latency median {med(self.latencies_ms):.1f} ms, p95 {med(self.latencies_ms, 95):.1f} ms "
                f"(per frame: detect {med(self.detect_ms):.1f} ms, lift {med(self.lift_ms):.1f} ms)")


class _Preview:
    """``--viz``: the frame with the 2D skeleton beside a 3D view, in an OpenCV window."""

    def __init__(self, height: int = 480) -> None:
        import cv2

        from poselift.geometry.skeletons import H36M17
        from poselift.render._draw import bone_sides, limb_shades, person_colors

        self.cv2, self.h, self.skel = cv2, height, H36M17
        self.sides = bone_sides(H36M17)
        self.shades = limb_shades(person_colors(1)[0])
        self.window = "poselift live (q to stop)"

    def draw(self, image: np.ndarray, res: LiveFrame) -> np.ndarray:
        """RGB ``(h, w + h, 3)``: the frame scaled to ``h`` rows, then a square 3D panel."""
        from poselift.render._draw import (OrbitView, camera_to_display, draw_people_3d, draw_skeleton_2d)

        cv2 = self.cv2
        s = self.h / image.shape[0]
        frame = cv2.resize(image, (max(1, int(round(image.shape[1] * s))), self.h))
        panel = np.full((self.h, self.h, 3), 250, np.uint8)
        if res.valid and res.keypoints_2d is not None:
            draw_skeleton_2d(frame, res.keypoints_2d * s, self.skel, self.shades, self.sides, 2)
            joints = res.joints_world if res.joints_world is not None else camera_to_display(res.joints_cam)
            if res.joints_world is not None:  # world (X right, Y up, Z back) -> display (X, -Z, Y)
                joints = np.stack([joints[:, 0], -joints[:, 2], joints[:, 1]], axis=-1)
            view = OrbitView(self.h, joints.mean(axis=0), 0.8 * self.h / 2.2, 30.0, 15.0)
            draw_people_3d(panel, view, [(joints, self.shades)], self.skel, self.sides, 3)
        else:
            cv2.putText(panel, "no person", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (120, 120, 120), 2)
        return np.concatenate([frame, panel], axis=1)

    def show(self, image: np.ndarray, res: LiveFrame) -> bool:
        """Show one frame; False when the user pressed q or closed the window."""
        cv2 = self.cv2
        cv2.imshow(self.window, cv2.cvtColor(self.draw(image, res), cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        return key != ord("q")

    def close(self) -> None:
        try:
            self.cv2.destroyWindow(self.window)
        except Exception:  # the window may already be gone
            pass


def display_available() -> bool:
    """Whether a preview window can open (an X/Wayland display on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_live(source: str, opts: LiveOptions, out: TextIO | str | None = None, *, realtime: bool = False,
             viz: bool = False, max_frames: int | None = None, err: TextIO | None = None) -> LiveStats:
    """Run ``poselift live``: read ``source``, write one JSON line per processed frame to ``out``
    (a text stream, a ``.jsonl`` path opened once the source and the model are ready, or
    None for stdout).

    Stops at the end of the source, after ``max_frames`` processed frames, when the preview
    window is closed, or on Ctrl-C (KeyboardInterrupt is caught: the summary is still
    printed). Returns the counts and latencies; the summary line goes to ``err``.
    """
    err = err if err is not None else sys.stderr
    # One output frame is a small forward pass: with several intra-op threads, OpenMP's
    # barriers cost ten times the work itself whenever another process holds a core.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    with _single_threaded_blas():
        return _run_live(source, opts, out, realtime, viz, max_frames, err)


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """OpenBLAS/MKL limited to one thread while live runs (restored afterwards).

    The NumPy lift of one output frame is a few small matrix products. With a BLAS thread
    per core they spin against the detector's interpreter threads: on 2 cores lifting
    took 4x longer and a 30 fps video lost 15 % of its frames.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optimisation only
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _run_live(source: str, opts: LiveOptions, out: TextIO | str | None, realtime: bool, viz: bool,
              max_frames: int | None, err: TextIO) -> LiveStats:
    from poselift.detect.base import get_detector
    from poselift.infer import InferOptions, _quiet_native_stderr, resolve_focal
    from poselift.lift.weights import load_model

    lm = load_model(opts.model)
    if not lm.causal:  # before opening a camera or a stream
        raise InputError("poselift live needs a causal model (it may not look at future frames)", opts.model)
    info, frames = open_source(source)
    focal = resolve_focal(InferOptions(focal_length=opts.focal_length, fov=opts.fov), info.width, info.height)
    lifter = LiveLifter(lm, info.width, info.height, info.fps, focal, opts)
    if not hasattr(out, "write"):
        out = open_output(out)  # only now: a source that cannot be opened leaves no file
        own = out is not sys.stdout
    else:
        own = False
    preview = None
    if viz:
        if display_available():
            preview = _Preview()
        else:
            print("poselift live: no display; --viz ignored", file=err)
    os.environ.setdefault("GLOG_minloglevel", "2")
    stats = LiveStats()
    reader = lift_stage = None
    try:
        with _quiet_native_stderr():
            detector = get_detector("blazepose", model=opts.detector_model)
            reader = FrameSource(frames, drop=realtime or info.kind != "file", realtime=realtime and info.kind == "file")
            # Detection of frame k+1 overlaps lifting and writing of frame k (two cores);
            # the preview window must stay on the main thread, so --viz runs them in turn.
            lift_stage = _LiftStage(lifter, out, stats, threaded=preview is None)
            submitted = 0
            with detector:
                while max_frames is None or submitted < max_frames:
                    fr = reader.get()
                    if fr is None:
                        break
                    t_det = time.perf_counter()
                    people = detector.detect(fr.image, fr.time)
                    stats.detect_ms.append((time.perf_counter() - t_det) * 1000.0)
                    res = lift_stage.submit(fr, people)
                    submitted += 1
                    if preview is not None and res is not None and not preview.show(fr.image, res):
                        break
                lift_stage.finish()
    except KeyboardInterrupt:
        if lift_stage is not None:
            lift_stage.finish()
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): stop as on Ctrl-C.
        _silence_stdout()
    finally:
        if lift_stage is not None:
            lift_stage.close()
        if reader is not None:
            reader.close()
            stats.frames_in, stats.dropped = reader.frames_in, reader.dropped
        if preview is not None:
            preview.close()
        if own:
            out.close()
    print(f"poselift live: {info.name}: {stats.summary()}", file=err)
    return stats


def _silence_stdout() -> None:
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass


class _LiftStage:
    """Lifting and writing, in a thread of its own (``threaded``) or inline.

    The hand-over holds one detected frame: detection runs at most one frame ahead, and
    frames are dropped only at the source (where the newest one wins).
    """

    def __init__(self, lifter: LiveLifter, out: TextIO, stats: LiveStats, threaded: bool) -> None:
        self.lifter, self.out, self.stats = lifter, out, stats
        self.error: BaseException | None = None
        self._q: queue.Queue | None = None
        if threaded:
            self._q = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._run, name="poselift-live-lift", daemon=True)
            self._thread.start()

    def _one(self, fr: SourceFrame, people: Sequence[Any]) -> LiveFrame:
        t0 = time.perf_counter()
        res = self.lifter.step(fr.time, people)
        now = time.perf_counter()
        latency = (now - fr.arrival) * 1000.0
        self.out.write(json.dumps(frame_record(fr.index, fr.time, res, latency)) + "\n")
        self.out.flush()
        self.stats.lift_ms.append((now - t0) * 1000.0)
        self.stats.latencies_ms.append(latency)
        self.stats.frames_out += 1
        return res

    def _run(self) -> None:
        assert self._q is not None
        while True:
            item = self._q.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self._one(*item)
                except BaseException as exc:  # re-raised on the main thread
                    self.error = exc

    def _raise(self) -> None:
        if self.error is not None:
            err, self.error = self.error, None
            raise err

    def submit(self, fr: SourceFrame, people: Sequence[Any]) -> LiveFrame | None:
        """Lift and write one frame (inline: returns its result; threaded: queues it)."""
        if self._q is None:
            return self._one(fr, people)
        self._raise()
        self._q.put((fr, people))
        return None

    def finish(self) -> None:
        """Write every frame handed over so far, then stop the thread."""
        if self._q is not None and self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        self._raise()

    def close(self) -> None:
        if self._q is not None and self._thread.is_alive():
            try:
                self._q.put(None, timeout=5.0)
            except queue.Full:
                return
            self._thread.join(timeout=5.0)


def open_output(path: str | None) -> TextIO:
    """``--output FILE.jsonl`` opened for line-by-line writing (stdout when None)."""
    if path is None:
        return sys.stdout
    p = Path(path)
    if not p.parent.exists():
        raise InputError("output folder does not exist", p.parent)
    try:
        return open(p, "w", buffering=1, encoding="utf-8")
    except OSError as exc:
        raise PoseliftError(f"cannot write output ({exc.strerror or exc})", p) from None
