"""The public pipeline: a video, frames or 2D keypoints in, a :class:`~poselift.Result` out.

>>> import poselift
>>> pipe = poselift.Pipeline()                        # the shipped "default" model, one person
>>> result = pipe("clip.mp4")                         # doctest: +SKIP
>>> result.poses_3d.shape                             # (P, T, 17, 3) metres, camera frame
>>> result.save("out/clip.npz")                       # the npz `poselift infer` writes

Stages, each configured by one options object of :mod:`poselift.options`::

    decode -> detect -> track -> lift -> place       (export and render: on the Result)

``poselift infer`` runs the same code: :func:`poselift.infer.process_video` builds a
:class:`Pipeline` from the options its flags give and writes what it returns.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from poselift.errors import InputError
from poselift.options import (
    DecodeOptions,
    DetectOptions,
    ExportOptions,
    LiftOptions,
    PipelineOptions,
    PlaceOptions,
    RenderOptions,
    TrackOptions,
)
from poselift.result import Result

__all__ = ["Pipeline", "detect_frames", "single_track", "multi_tracks"]

PathLike = str | os.PathLike


class Pipeline:
    """Video (or frames, or 2D keypoints) -> 3D skeletons, reusable across inputs.

    Args:
        model: shipped model name or a path (``.safetensors``, VideoPose3D ``.bin``);
            None: ``LiftOptions.model`` (``"default"``, the shipped model).
        multi_person: follow everyone (one track per person) instead of one person;
            None: ``TrackOptions.multi_person`` (False).
        world: also place everyone in a Y-up world frame (:attr:`Result.world`); None:
            ``PlaceOptions.world`` (False).
        decode, detect, track, lift, place, export, render: options per stage
            (:mod:`poselift.options`); None keeps that stage's defaults. ``model``,
            ``multi_person`` and ``world``, when given, override the same field there.
        options: all stages at once, as a :class:`~poselift.options.PipelineOptions`
            (the stage arguments then replace single stages of it).
        progress: progress bars on stderr.

    The lifting model is loaded at the first call and reused; the 2D detector is made
    afresh for every input (it tracks within one video). Nothing is downloaded: the
    detector and the models ship inside the package, and no torch is needed (the
    networks run on NumPy).

    Raises (on call): :class:`~poselift.errors.InputError` (a
    :class:`~poselift.errors.PoseliftError`) for input that cannot be used, with a
    one-line message naming the file.

    Example::

        pipe = poselift.Pipeline(lift=poselift.LiftOptions(fov=70), world=True)
        r = pipe("clip.mp4")
        r.export("bvh", "out/clip.bvh")
        r.render("out/clip.mp4", size=480)
    """

    def __init__(self, model: PathLike | None = None, multi_person: bool | None = None, *,
                 world: bool | None = None, decode: DecodeOptions | None = None,
                 detect: DetectOptions | None = None, track: TrackOptions | None = None,
                 lift: LiftOptions | None = None, place: PlaceOptions | None = None,
                 export: ExportOptions | None = None, render: RenderOptions | None = None,
                 options: PipelineOptions | None = None, progress: bool = False) -> None:
        from dataclasses import replace

        opts = (options or PipelineOptions()).updated(decode=decode, detect=detect, track=track, lift=lift,
                                                      place=place, export=export, render=render)
        if model is not None:
            opts = replace(opts, lift=replace(opts.lift, model=str(model)))
        if multi_person is not None:
            opts = replace(opts, track=replace(opts.track, multi_person=bool(multi_person)))
        if world is not None:
            opts = replace(opts, place=replace(opts.place, world=bool(world)))
        self.options: PipelineOptions = opts
        self.progress = bool(progress)
        self._lm = None

    def __repr__(self) -> str:
        o = self.options
        return (f"Pipeline(model={o.lift.model!r}, multi_person={o.track.multi_person}, "
                f"world={o.place.world}, detector={o.detect.detector!r})")

    @property
    def lift_model(self):
        """The loaded :class:`~poselift.lift.weights.LiftModel` (loaded on first use)."""
        if self._lm is None:
            from poselift.lift.pipeline import load_lift_model

            self._lm = load_lift_model(self.options.lift)
        return self._lm

    # ------------------------------------------------------------------ entry point
    def __call__(self, source: PathLike | Iterable[Any] | np.ndarray | None = None, *,
                 keypoints: PathLike | np.ndarray | None = None, scores: np.ndarray | None = None,
                 image_size: tuple[int, int] | None = None, fps: float | None = None,
                 layout: str | None = None) -> Result:
        """Lift one input to 3D.

        Args:
            source: one of

                * a video file path: decoded (``DecodeOptions``), 2D detected, tracked,
                  lifted, placed;
                * an iterable of frames: ``(H, W, 3)`` uint8 arrays in **RGB** order (as
                  PyAV, imageio and :func:`poselift.io.video.read_frames` give them;
                  convert OpenCV's BGR with ``frame[..., ::-1]``), all of one size, at
                  ``fps`` frames per second (needed unless the items are
                  :class:`poselift.io.video.Frame` objects, which carry their time and
                  index). Frame ``k`` of the iterable gets ``frame_index`` ``k``;
                * a float array of 2D keypoints, as for ``keypoints`` below.

            keypoints: precomputed 2D instead of detection: a keypoint file (COCO,
                OpenPose folder, AlphaPose JSON, VideoPose3D/Detectron2 npz, a poselift
                npz; ``source`` may then be its video, for the image size, the frame rate
                and :meth:`Result.render`), or an array ``(T, J, 2)`` pixels (``x`` right,
                ``y`` down) of one person per frame, or ``(P, T, J, 2)`` with up to ``P``
                candidates per frame (tracked as detections are); a last axis of 3 carries
                the scores. NaN marks a missing joint.
            scores: ``(T, J)`` or ``(P, T, J)`` confidences in [0, 1] for a keypoint array
                (default: 1 where the joint is finite).
            image_size: ``(width, height)`` pixels of a keypoint array's images (default:
                the video's, when ``source`` is one).
            fps: frames per second of frames or of a keypoint array (default: the video's;
                without any, keypoints are taken to be at the model's rate).
            layout: a keypoint array's layout: ``"coco17"`` (default for 17 joints, the
                COCO order of most 2D detectors), ``"h36m17"``, ``"blazepose33"`` (default
                for 33)...

        Returns:
            :class:`~poselift.Result`: ``P`` people (1 unless ``multi_person``) over the
            ``T`` analysed frames, in the npz contract's units and frames.

        Convention:
            * Images: ``(H, W, 3)`` uint8, channels **R, G, B**, row 0 at the top.
            * Pixels: ``x`` right, ``y`` down, origin at the top-left of the image, in the
              input's own resolution (as the detector and the keypoint importers give them).
            * Out: metres in the camera frame (``x`` right, ``y`` down, ``z`` forward);
              with ``world``, also a Y-up world frame (see :mod:`poselift.result`).
            * Time: ``frame_index``/``time_s`` of each step are the source's own: a video's
              frame numbers and presentation times (``DecodeOptions.start`` does not
              rebase them), a keypoint file's frame numbers (times ``frame_index / fps``),
              the position in a frame iterable or array (times ``k / fps``).
        """
        if source is not None and not isinstance(source, (str, os.PathLike)):
            if isinstance(source, np.ndarray) and source.dtype != np.uint8:
                if keypoints is not None:
                    raise TypeError("give the keypoint array as source or as keypoints=, not both")
                return self._from_array(source, scores, image_size, fps, layout, None)
            if isinstance(source, np.ndarray) and source.ndim == 3:
                raise TypeError("source is one (H, W, 3) frame: pass a list or iterator of frames")
            if keypoints is not None:
                raise TypeError("keypoints= goes with a video path (or alone), not with frames")
            return self._from_frames(source, fps)
        video = Path(source) if source is not None else None
        if keypoints is None:
            if video is None:
                raise TypeError("give a video path, an iterable of frames or keypoints")
            return self._run(video, None)
        if isinstance(keypoints, (str, os.PathLike)):
            return self._run(video, Path(keypoints))
        return self._from_array(np.asarray(keypoints), scores, image_size, fps, layout, video)

    # ------------------------------------------------------------------ the stages
    def _run(self, video: Path | None, keypoints: Path | None, secs: dict[str, float] | None = None) -> Result:
        """A video, a keypoint file, or both (the file's 2D, the video's size and rate):
        the whole pipeline. ``poselift infer`` runs exactly this per input."""
        from poselift.fsutil import check_input

        secs = {} if secs is None else secs
        opts = self.options
        src = video if video is not None else keypoints
        assert src is not None
        self._check_world(src)
        if video is not None:  # before loading anything: a typo answers at once
            check_input(video, what="video")
        lm = self.lift_model
        info = None
        if video is not None:
            from poselift.io.video import probe
            info = probe(video)
        t0 = time.perf_counter()
        if keypoints is not None:
            if opts.decode.selects:
                raise InputError("--start/--end/--fps select video frames to detect on; with --keypoints, "
                                 "trim the keypoint file instead", keypoints)
            tracks = _tracks_from_keypoint_file(keypoints, opts.track, info, lm.fps)
            decode = None
        else:
            assert video is not None and info is not None
            from poselift.io.video import read_frames

            d = opts.decode
            total = None
            if info.frame_count:
                span = (d.end if d.end is not None else info.duration) - (d.start or 0.0)
                total = int(max(span, 0) * (min(d.fps, info.fps) if d.fps else info.fps)) or None
            people, times, index, _ = detect_frames(read_frames(video, d.start, d.end, d.fps), opts.detect,
                                                    opts.track, progress=self.progress, total=total,
                                                    desc=f"detect {video.name}", source=video)
            secs["detect"] = time.perf_counter() - t0
            track = multi_tracks if opts.track.multi_person else single_track
            tracks, _ = track(people, times, opts.track, (info.width, info.height), _effective_fps(times, info.fps),
                              source=video, frame_index=index)
            decode = opts.decode
        result = self._lift_and_place(tracks, src, secs)
        result.video, result.decode = video, decode
        return result

    def _from_frames(self, frames: Iterable[Any], fps: float | None) -> Result:
        opts = self.options
        self._check_world(None)
        if fps is not None and not (np.isfinite(fps) and 0 < fps <= 10000):
            raise InputError(f"fps must be in (0, 10000] frames/s, got {fps!r}")
        self.lift_model  # noqa: B018  (a bad model is refused before any frame is detected)
        people, times, index, size = detect_frames(frames, opts.detect, opts.track, fps=fps,
                                                   progress=self.progress, desc="detect frames")
        if fps:
            rate: float | None = _effective_fps(times, fps)
        elif len(times) > 1:  # Frame objects: their own clock says the rate
            rate = 1.0 / float(np.median(np.diff(times)))
        else:
            rate = None
        track = multi_tracks if opts.track.multi_person else single_track
        tracks, _ = track(people, times, opts.track, size, rate, frame_index=index)
        return self._lift_and_place(tracks, None, {})

    def _from_array(self, kp: np.ndarray, scores: np.ndarray | None, image_size: tuple[int, int] | None,
                    fps: float | None, layout: str | None, video: Path | None) -> Result:
        from poselift.fsutil import check_input
        from poselift.io.keypoints import KeypointSequence

        opts = self.options
        self._check_world(video)
        seq_kp, seq_sc, layout = _keypoint_array(kp, scores, layout)
        info = None
        if video is not None:
            check_input(video, what="video")
            from poselift.io.video import probe
            info = probe(video)
        if image_size is None and info is not None:
            image_size = (info.width, info.height)
        if image_size is None:
            raise InputError("a keypoint array needs image_size=(width, height) (or its video as source)")
        try:
            w, h = (int(v) for v in image_size)
        except (TypeError, ValueError):
            raise InputError(f"image_size must be (width, height), got {image_size!r}") from None
        if fps is None and info is not None:
            fps = info.fps
        if fps is not None and not (np.isfinite(fps) and 0 < fps <= 10000):
            raise InputError(f"fps must be in (0, 10000] frames/s, got {fps!r}")
        lm = self.lift_model
        seq = KeypointSequence(seq_kp, seq_sc, layout, fps=fps, image_size=(w, h))
        times = seq.frame_indices / float(fps or lm.fps)
        track = multi_tracks if opts.track.multi_person else single_track
        tracks, _ = track(seq.people_per_frame(), times, opts.track, (w, h), fps, layout, source=video,
                          frame_index=seq.frame_indices)
        result = self._lift_and_place(tracks, video, {})
        result.video = video
        return result

    def _check_world(self, src: Path | None) -> None:
        if self.options.place.world and not self.options.lift.trajectory:
            raise InputError("--world needs root trajectories; drop --no-trajectory", src)

    def _lift_and_place(self, tracks: Any, src: Path | None, secs: dict[str, float]) -> Result:
        from poselift.lift.pipeline import lift_with_options

        opts = self.options
        t1 = time.perf_counter()
        result = lift_with_options(self.lift_model, tracks, opts.lift, source=src)
        secs["lift"] = time.perf_counter() - t1
        # BVH and the viewer are for people who expect a Y-up scene on a floor: they imply the
        # world (without a trajectory there is no scene to place, and they stay in the camera frame).
        if opts.place.world or (opts.lift.trajectory and any(f in ("bvh", "html") for f in opts.export.formats)):
            try:
                result.add_world(ground=opts.place.ground)
            except ValueError as exc:
                raise InputError(str(exc), src) from None
        return result


# --------------------------------------------------------------------------- detection
def _make_detector(detect: DetectOptions, track: TrackOptions):
    from poselift.detect.base import get_detector

    blazepose = detect.detector in ("blazepose", "mediapipe")
    if track.multi_person and blazepose:
        # MediaPipe's graph follows one person; BlazePose's two models, run per person,
        # find everyone. Room for two extra crops so a transient false person
        # never crowds out a real one before the tracker drops it.
        cap = track.max_people + 2 if track.max_people else None
        return get_detector("blazepose-multi", model=detect.landmark_model, max_people=cap)
    if blazepose:
        return get_detector(detect.detector, model=detect.landmark_model)
    return get_detector(detect.detector)


def _frame_parts(item: Any, k: int, fps: float | None, source: Path | None) -> tuple[np.ndarray, float, int]:
    """``(image, time s, index)`` of the ``k``-th item of a frame iterable."""
    image = getattr(item, "image", item)
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise InputError(f"frame {k}: expected an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}",
                         source)
    t = getattr(item, "time", None)
    index = getattr(item, "index", None)
    if t is None:
        if not fps:
            raise InputError("frames given as bare arrays need fps= (frames per second)", source)
        t = (k if index is None else int(index)) / float(fps)
    return image, float(t), int(k if index is None else index)


def detect_frames(frames: Iterable[Any], detect: DetectOptions, track: TrackOptions, *, fps: float | None = None,
                  progress: bool = False, total: int | None = None, desc: str = "detect",
                  source: Path | None = None) -> tuple[list, np.ndarray, np.ndarray, tuple[int, int]]:
    """Run the 2D detector on every frame.

    Args:
        frames: ``(H, W, 3)`` uint8 RGB arrays, or objects with ``image``, ``time`` and
            ``index`` (:class:`poselift.io.video.Frame`), in order.
        detect, track: options (``track.multi_person`` picks the multi-person detector).
        fps: rate of bare arrays (their time is ``k / fps``).

    Returns:
        ``(people_per_frame, times (T,) s, frame_index (T,) int64, (width, height))``.
    """
    from tqdm import tqdm

    os.environ.setdefault("GLOG_minloglevel", "2")
    people: list = []
    times: list[float] = []
    index: list[int] = []
    size: tuple[int, int] | None = None
    # MediaPipe's graph threads open the TFLite models asynchronously and log from there
    # (INFO: Created TensorFlow Lite XNNPACK delegate...) at any moment until the graph
    # is closed, so native stderr stays quiet for the detector's whole life. The bar
    # (on Python's stderr, kept) shows before the models load: a run says at once it started.
    with _quiet_native_stderr(), tqdm(total=total, unit="frame", desc=desc, disable=not progress,
                                      leave=False) as bar:
        with _make_detector(detect, track) as detector:
            for k, item in enumerate(frames):
                image, t, i = _frame_parts(item, k, fps, source)
                hw = (image.shape[1], image.shape[0])
                if size is None:
                    size = hw
                elif hw != size:
                    raise InputError(f"frame {k} is {hw[0]}x{hw[1]}, the first was {size[0]}x{size[1]}", source)
                if times and t <= times[-1]:
                    raise InputError(f"frame {k}: times must increase ({t:g} s after {times[-1]:g} s)", source)
                people.append(detector.detect(image, t))
                times.append(t)
                index.append(i)
                bar.update(1)
    if size is None:
        raise InputError("no frames", source)
    return people, np.asarray(times, np.float64), np.asarray(index, np.int64), size


def _effective_fps(times: np.ndarray, nominal: float) -> float:
    """Frame rate of the analysed frames: the nominal rate unless frames were dropped."""
    if len(times) > 1:
        dt = np.median(np.diff(times))
        if dt > 0 and abs(1.0 / dt - nominal) > 0.01 * nominal:
            return float(1.0 / dt)
    return float(nominal)


def _is_fd2(stream: Any) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines (TFLite, absl) printed straight to file descriptor 2 by
    MediaPipe; Python errors still propagate and are reported by the caller, and Python's
    own ``sys.stderr`` (the progress bar, warnings) keeps writing to the real stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    py_stderr, own = sys.stderr, None
    try:
        if _is_fd2(py_stderr):
            own = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(py_stderr, "encoding", None),
                            errors="backslashreplace")
            sys.stderr = own
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        if own is not None:
            sys.stderr = py_stderr
            own.close()
        os.dup2(saved, 2)
        os.close(saved)


# --------------------------------------------------------------------------- tracking
def _track_options(opts: Any) -> TrackOptions:
    """``TrackOptions`` from itself or from a :class:`poselift.infer.InferOptions`."""
    if isinstance(opts, TrackOptions):
        return opts
    return opts.options().track


def single_track(people: list, times: np.ndarray, opts: Any, size: tuple[int, int], fps: float | None,
                 layout: str | None = None, source: Path | None = None, frame_index: np.ndarray | None = None):
    """Per-frame detections -> one person's gap-filled :class:`~poselift.lift.pipeline.Tracks2D`
    (and the :class:`~poselift.detect.tracking.TrackResult` it came from).

    ``opts``: :class:`~poselift.options.TrackOptions` (or an ``InferOptions``); ``times``
    ``(T,)`` seconds on the source's clock, ``frame_index`` ``(T,)`` source frame indices
    (default ``0..T-1``), both carried to the result."""
    from poselift.detect.tracking import track_single_person
    from poselift.lift.pipeline import Tracks2D

    o = _track_options(opts)
    if not any(people):
        raise InputError("no person detected in any frame", source)
    tr = track_single_person(people, times, strategy=o.person, score_threshold=o.score_threshold,
                             max_gap_s=o.max_gap, layout=layout)
    if not tr.valid.any():
        raise InputError("no person tracked long enough to lift", source)
    tracks = Tracks2D(tr.keypoints[None], tr.scores[None], tr.valid[None], tr.layout, size[0], size[1],
                      fps, np.asarray(times, np.float64), frame_index)
    return tracks, tr


def multi_tracks(people: list, times: np.ndarray, opts: Any, size: tuple[int, int], fps: float | None,
                 layout: str | None = None, source: Path | None = None, frame_index: np.ndarray | None = None):
    """Per-frame detections -> every person's gap-filled track, ``P`` = number of tracks,
    the track with the most frames first (see :func:`poselift.detect.multitrack.track_people`).
    Returns the :class:`~poselift.lift.pipeline.Tracks2D` and the list of
    :class:`~poselift.detect.tracking.TrackResult`."""
    from poselift.detect.multitrack import track_people
    from poselift.lift.pipeline import Tracks2D

    o = _track_options(opts)
    if not any(people):
        raise InputError("no person detected in any frame", source)
    trs = [tr for tr in track_people(people, times, max_people=o.max_people,
                                     score_threshold=o.score_threshold, max_gap_s=o.max_gap, layout=layout)
           if tr.valid.any()]
    if not trs:
        raise InputError("no person tracked long enough to lift", source)
    tracks = Tracks2D(np.stack([tr.keypoints for tr in trs]), np.stack([tr.scores for tr in trs]),
                      np.stack([tr.valid for tr in trs]), trs[0].layout, size[0], size[1], fps,
                      np.asarray(times, np.float64), frame_index)
    return tracks, trs


# --------------------------------------------------------------------------- precomputed 2D
def _tracks_from_keypoint_file(path: Path, track: TrackOptions, video_info: Any | None, model_fps: float):
    """A precomputed keypoint file -> :class:`~poselift.lift.pipeline.Tracks2D`.

    The frame rate comes from the file, else from the video; when neither knows it,
    the sequence is taken to be at the model's rate and is not resampled (as
    VideoPose3D does with custom datasets), so ``fps`` is None then. The file's frame
    numbers become the result's ``frame_index``.
    """
    from poselift.io.keypoints import load_keypoints
    from poselift.lift.pipeline import read_tracks_file

    fps = video_info.fps if video_info is not None else None
    if path.suffix.lower() == ".npz":
        tracks = read_tracks_file(path)
        if len(tracks) != 1:
            raise InputError(f"keypoint file holds {len(tracks)} videos; pass a single-video file", path)
        tr = next(iter(tracks.values()))
        if tr.fps is None:
            tr.fps = fps
        return tr
    seq = load_keypoints(path, fps=fps)
    size = seq.image_size or ((video_info.width, video_info.height) if video_info is not None else None)
    if size is None:
        raise InputError("keypoint file has no image size; give the video too", path)
    fps = seq.fps or fps
    times = seq.frame_indices / (fps or model_fps)
    make = multi_tracks if track.multi_person else single_track
    tracks, _ = make(seq.people_per_frame(), times, track, size, fps, seq.layout, path,
                     frame_index=seq.frame_indices)
    return tracks


def _keypoint_array(kp: np.ndarray, scores: np.ndarray | None,
                    layout: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """A user's ``(T, J, 2|3)`` or ``(P, T, J, 2|3)`` array -> ``(kp (P,T,J,2), scores (P,T,J), layout)``
    in :class:`~poselift.io.keypoints.KeypointSequence`'s form (missing joints: score 0)."""
    from poselift.geometry.skeletons import get_skeleton, skeleton_for_joint_count

    a = np.asarray(kp, dtype=np.float64)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] not in (2, 3) or 0 in a.shape:
        raise InputError(f"keypoints must be (T, J, 2) or (P, T, J, 2) pixels (a last axis of 3 adds the "
                         f"score), got shape {np.shape(kp)}")
    sc = None
    if a.shape[-1] == 3:
        if scores is not None:
            raise InputError("keypoints carry scores in their last axis and scores= is given too")
        sc = a[..., 2]
        a = a[..., :2]
    elif scores is not None:
        sc = np.asarray(scores, dtype=np.float64)
        if sc.ndim == 2:
            sc = sc[None]
        if sc.shape != a.shape[:3]:
            raise InputError(f"scores have shape {np.shape(scores)}, keypoints {np.shape(kp)}")
    if np.isinf(a).any():
        raise InputError("keypoints hold infinite coordinates (NaN marks a missing joint)")
    j = a.shape[2]
    if layout is None:
        try:
            layout = "coco17" if j == 17 else skeleton_for_joint_count(j).name
        except ValueError as exc:
            raise InputError(f"{exc}; pass layout=") from None
    try:
        skel = get_skeleton(layout)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    if skel.num_joints != j:
        raise InputError(f"layout {layout} has {skel.num_joints} joints, the keypoints {j}")
    present = np.isfinite(a).all(axis=-1)
    sc = np.where(present, 1.0 if sc is None else np.clip(np.nan_to_num(sc, nan=0.0), 0.0, 1.0), 0.0)
    a = np.where(present[..., None], a, 0.0)
    return a.astype(np.float32), sc.astype(np.float32), skel.name

