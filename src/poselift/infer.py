"""``poselift infer``: one video in, 3D skeletons out (npz, optional json/csv/npy, rendering).

Stages per video, data flowing one way: decode (``io.video``) -> 2D detection
(``detect``) or a precomputed keypoint file (``io``) -> person selection and gap filling
(``detect.tracking``) -> lifting (``lift.pipeline``) -> export and rendering.
Every output is written to a temp file and renamed, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from poselift.errors import InputError, PoseliftError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".gif", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


@dataclass
class InferOptions:
    """Options of one ``infer`` run (mirrors the command-line flags)."""

    outdir: Path | None = None
    model: str = "default"
    input_layout: str | None = None
    causal: bool = False
    tta: bool = True
    fixed_bones: bool = True
    lr_repair: bool = True     # undo the detector's left/right label flips (detect.lr_repair)
    trajectory: bool = True
    world: bool = False
    detector: str = "blazepose"
    detector_model: str = "full"
    keypoints: Path | None = None
    person: str = "consistent"
    multi_person: bool = False
    max_people: int | None = 4
    score_threshold: float = 0.3
    max_gap: float = 0.5
    start: float | None = None
    end: float | None = None
    fps: float | None = None
    focal_length: float | None = None
    fov: float | None = None
    exports: tuple[str, ...] = ()
    bvh_smooth: bool = True
    viz_export: Path | None = None
    render: bool = True
    render_format: str = "mp4"
    viz_size: int = 720
    viz_azimuth: float = 30.0
    viz_elevation: float = 15.0
    viz_camera_view: bool = False
    viz_framing: str = "auto"
    viz_downsample: int = 1
    viz_skip: int = 0
    viz_limit: int = -1
    viz_bitrate: int = 3000
    progress: bool = True


@dataclass
class VideoResult:
    """What happened to one input."""

    path: Path
    ok: bool
    message: str = ""
    outputs: list[Path] = field(default_factory=list)
    frames: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def expand_inputs(items: list[str]) -> list[Path]:
    """Files as given; folders contribute their video files (sorted, not recursive)."""
    out: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS))
        else:
            out.append(p)
    return out


def _check_writable(folder: Path) -> None:
    # The folder itself is created only when the outputs move in (poselift.staging),
    # so a failed run leaves no empty folder; its nearest existing parent must be writable.
    from poselift.staging import existing_ancestor

    home = existing_ancestor(folder)
    if not home.is_dir():
        raise PoseliftError("cannot create output folder (a file is in the way)", folder)
    probe = home / f".poselift-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PoseliftError(f"output folder is not writable ({exc.strerror or exc})", folder) from None


def resolve_focal(opts: InferOptions, width: int, height: int) -> float:
    """Focal length in pixels (see :func:`poselift.geometry.intrinsics.resolve_intrinsics`)."""
    from poselift.geometry.intrinsics import resolve_intrinsics

    return resolve_intrinsics(width, height, opts.focal_length, opts.fov).focal_px


def detect_video(path: Path, opts: InferOptions, bar: Callable[..., Any] | None = None):
    """Decode and run the 2D detector. Returns ``(people_per_frame, timestamps, info)``."""
    from poselift.detect.base import get_detector
    from poselift.io.video import probe, read_frames

    info = probe(path)
    os.environ.setdefault("GLOG_minloglevel", "2")
    people, times = [], []
    total = None
    if info.frame_count:
        span = (opts.end if opts.end is not None else info.duration) - (opts.start or 0.0)
        total = int(max(span, 0) * (min(opts.fps, info.fps) if opts.fps else info.fps)) or None
    from tqdm import tqdm

    # MediaPipe's graph threads open the TFLite models asynchronously and log from there
    # (INFO: Created TensorFlow Lite XNNPACK delegate...) at any moment until the graph
    # is closed, so native stderr stays quiet for the detector's whole life. The bar
    # (on Python's stderr, kept) shows before the models load: a run says at once it started.
    with _quiet_native_stderr(), tqdm(total=total, unit="frame", desc=f"detect {path.name}",
                                      disable=not opts.progress, leave=False) as bar:
        blazepose = opts.detector in ("blazepose", "mediapipe")
        if opts.multi_person and blazepose:
            # MediaPipe's graph follows one person; BlazePose's two models, run per person,
            # find everyone. Room for two extra crops so a transient false person
            # never crowds out a real one before the tracker drops it.
            cap = opts.max_people + 2 if opts.max_people else None
            detector = get_detector("blazepose-multi", model=opts.detector_model, max_people=cap)
        elif blazepose:
            detector = get_detector(opts.detector, model=opts.detector_model)
        else:
            detector = get_detector(opts.detector)
        with detector:
            for fr in read_frames(path, opts.start, opts.end, opts.fps):
                people.append(detector.detect(fr.image, fr.time))
                times.append(fr.time)
                bar.update(1)
    return people, np.asarray(times, dtype=np.float64), info


def _tracks_from_keypoint_file(path: Path, opts: InferOptions, video_info: Any | None, model_fps: float):
    """A precomputed keypoint file -> ``(people_per_frame, timestamps, layout, (w, h), fps)``
    or a ready :class:`~poselift.lift.pipeline.Tracks2D` for VideoPose3D npz files.

    The frame rate comes from the file, else from the video; when neither knows it,
    the sequence is taken to be at the model's rate and is not resampled (as
    VideoPose3D does with custom datasets), so ``fps`` is None then.
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
    return seq.people_per_frame(), times, seq.layout, size, fps


def single_track(people: list, times: np.ndarray, opts: InferOptions, size: tuple[int, int], fps: float | None,
                 layout: str | None = None, source: Path | None = None):
    """Per-frame detections -> one person's gap-filled :class:`~poselift.lift.pipeline.Tracks2D`
    (and the :class:`~poselift.detect.tracking.TrackResult` it came from)."""
    from poselift.detect.tracking import track_single_person
    from poselift.lift.pipeline import Tracks2D

    if not any(people):
        raise InputError("no person detected in any frame", source)
    tr = track_single_person(people, times, strategy=opts.person, score_threshold=opts.score_threshold,
                             max_gap_s=opts.max_gap, layout=layout)
    if not tr.valid.any():
        raise InputError("no person tracked long enough to lift", source)
    tracks = Tracks2D(tr.keypoints[None], tr.scores[None], tr.valid[None], tr.layout, size[0], size[1],
                      fps, times - times[0])
    return tracks, tr


def multi_tracks(people: list, times: np.ndarray, opts: InferOptions, size: tuple[int, int], fps: float | None,
                 layout: str | None = None, source: Path | None = None):
    """Per-frame detections -> every person's gap-filled track, ``P`` = number of tracks,
    the track with the most frames first (see :func:`poselift.detect.multitrack.track_people`).
    Returns the :class:`~poselift.lift.pipeline.Tracks2D` and the list of
    :class:`~poselift.detect.tracking.TrackResult`."""
    from poselift.detect.multitrack import track_people
    from poselift.lift.pipeline import Tracks2D

    if not any(people):
        raise InputError("no person detected in any frame", source)
    trs = [tr for tr in track_people(people, times, max_people=opts.max_people,
                                     score_threshold=opts.score_threshold, max_gap_s=opts.max_gap, layout=layout)
           if tr.valid.any()]
    if not trs:
        raise InputError("no person tracked long enough to lift", source)
    tracks = Tracks2D(np.stack([tr.keypoints for tr in trs]), np.stack([tr.scores for tr in trs]),
                      np.stack([tr.valid for tr in trs]), trs[0].layout, size[0], size[1], fps, times - times[0])
    return tracks, trs


def process_video(video: Path | None, opts: InferOptions) -> VideoResult:
    """Run the whole pipeline on one input; raises :class:`PoseliftError` on bad input."""
    from poselift.lift.pipeline import Tracks2D, lift_tracks
    from poselift.lift.weights import load_model

    src = video if video is not None else opts.keypoints
    assert src is not None
    outdir = opts.outdir or src.parent
    _check_writable(outdir)
    stem = src.stem
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    if opts.world and not opts.trajectory:
        raise InputError("--world needs root trajectories; drop --no-trajectory", src)
    if video is not None:  # before loading anything: a typo answers at once
        from poselift.fsutil import check_input
        check_input(video, what="video")
    lm = load_model(opts.model, causal=opts.causal, input_layout=opts.input_layout)
    info = None
    if video is not None:
        from poselift.io.video import probe
        info = probe(video)
    if opts.keypoints is not None:
        if opts.start is not None or opts.end is not None or opts.fps:
            raise InputError("--start/--end/--fps select video frames to detect on; with --keypoints, "
                             "trim the keypoint file instead", opts.keypoints)
        got = _tracks_from_keypoint_file(opts.keypoints, opts, info, lm.fps)
        if isinstance(got, Tracks2D):
            tracks = got
        else:
            people, times, layout, size, fps = got
            track = multi_tracks if opts.multi_person else single_track
            tracks, _ = track(people, times, opts, size, fps, layout, opts.keypoints)
    else:
        assert video is not None
        people, times, info = detect_video(video, opts)
        secs["detect"] = time.perf_counter() - t0
        track = multi_tracks if opts.multi_person else single_track
        tracks, _ = track(people, times, opts, (info.width, info.height), _effective_fps(times, info.fps),
                          source=video)
    focal = resolve_focal(opts, tracks.width, tracks.height)
    t1 = time.perf_counter()
    result = lift_tracks(lm, tracks, tta=opts.tta, root_relative=True, focal_px=focal,
                         fixed_bones=opts.fixed_bones, geometric_trajectory=opts.trajectory,
                         repair_flips=opts.lr_repair, source=src)
    secs["lift"] = time.perf_counter() - t1
    # BVH and the viewer are for people who expect a Y-up scene on a floor: they imply --world
    # (without a trajectory there is no scene to place, and they stay in the camera frame).
    if opts.world or (opts.trajectory and any(f in ("bvh", "html") for f in opts.exports)):
        try:
            result.add_world()
        except ValueError as exc:
            raise InputError(str(exc), src) from None
    from dataclasses import replace

    from poselift.staging import Stage

    with Stage() as stage:  # every output of this video, or none of them
        staged = stage.folder(outdir)
        viz = stage.path(opts.viz_export) if opts.viz_export is not None else None
        write_outputs(result, staged, stem, replace(opts, viz_export=viz))
        if opts.render and video is not None:
            t2 = time.perf_counter()
            render_result(video, result, staged / f"{stem}.{opts.render_format}", opts)
            secs["render"] = time.perf_counter() - t2
        outputs = stage.commit()
    secs["total"] = time.perf_counter() - t0
    return VideoResult(src, True, "ok", outputs, int(result.valid.shape[1]), secs)


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
def _quiet_native_stderr():
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


def write_outputs(result: Any, outdir: Path, stem: str, opts: InferOptions) -> list[Path]:
    """The npz (always), then ``--export`` formats and ``--viz-export``; all atomic."""
    from poselift.export.formats import write_csv, write_json
    from poselift.io.safe_npz import save_npz

    arrays = result.arrays()
    written = []
    npz = outdir / f"{stem}.npz"
    save_npz(npz, **arrays)
    written.append(npz)
    for fmt in opts.exports:
        if fmt == "json":
            written.append(write_json(outdir / f"{stem}.json", arrays))
        elif fmt == "csv":
            written.append(write_csv(outdir / f"{stem}.csv", arrays))
        elif fmt == "html":
            from poselift.export.html import write_html
            written.append(write_html(outdir / f"{stem}.html", arrays, title=stem))
        elif fmt == "bvh":
            written += _write_bvh_people(arrays, outdir, stem, opts.bvh_smooth)
        elif fmt == "npz":
            continue
        else:
            raise PoseliftError(f"unknown export format {fmt!r} (known: json, csv, html, bvh)")
    if opts.viz_export is not None:
        from poselift.export.formats import write_npy
        poses = arrays["poses_3d"][0]
        written.append(write_npy(opts.viz_export, poses))
    return written


def _write_bvh_people(arrays: dict[str, Any], outdir: Path, stem: str, smooth: bool) -> list[Path]:
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


def render_result(video: Path, result: Any, out: Path, opts: InferOptions) -> Path:
    """Second decoding pass drawing the 2D overlay and the 3D view. With a trajectory the
    3D view shows people where they are, on the floor of the world frame (fitted here
    when ``--world`` did not already)."""
    from poselift.io.video import read_frames
    from poselift.render import render_video

    traj, c2w = None, None
    if "camera_to_world" in result.extra:
        traj, c2w = result.trajectory, result.extra["camera_to_world"]
    elif opts.trajectory:
        traj = result.trajectory
        try:
            placed = result.place()
            traj, c2w = placed.trajectory, placed.frame.matrix
        except ValueError:  # nothing valid to fit a floor to: camera axes then
            pass
    frames = read_frames(video, opts.start, opts.end, opts.fps)
    render_video(frames, out, result.keypoints_2d, result.poses_3d, result.valid, result.fps,
                 viz_size=opts.viz_size, viz_downsample=opts.viz_downsample, viz_skip=opts.viz_skip,
                 viz_limit=opts.viz_limit, viz_bitrate=opts.viz_bitrate, azimuth=opts.viz_azimuth,
                 elevation=opts.viz_elevation, camera_view=opts.viz_camera_view, framing=opts.viz_framing,
                 trajectories=traj, camera_to_world=c2w, progress=opts.progress)
    return out


def _run_one(args: tuple[Path | None, InferOptions]) -> VideoResult:
    from poselift.staging import job

    video, opts = args
    try:
        with job():  # an interrupted pool worker starts no further video
            return process_video(video, opts)
    except PoseliftError as exc:
        return VideoResult(video or opts.keypoints or Path("?"), False, str(exc))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one broken file must not stop a batch
        return VideoResult(video or Path("?"), False, f"{video}: unexpected error: {type(exc).__name__}: {exc}")


def run_batch(videos: list[Path], opts: InferOptions, workers: int = 1) -> list[VideoResult]:
    """Process every video; failures are reported, never raised."""
    jobs = [(v, opts) for v in videos] if videos else [(None, opts)]
    if workers <= 1 or len(jobs) == 1:
        return [_run_one(j) for j in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # Spawned workers: MediaPipe and torch do not survive fork reliably.
    from poselift.staging import init_worker, stop_pool

    ctx = mp.get_context("spawn")
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker)
    try:
        results = list(ex.map(_run_one, [(v, _quiet(opts)) for v, opts in jobs]))
    except BaseException as exc:
        stop_pool(ex, exc)  # Ctrl-C/SIGTERM: no queued video starts, running ones clean up
        raise
    ex.shutdown()
    return results


def _quiet(opts: InferOptions) -> InferOptions:
    from dataclasses import replace
    return replace(opts, progress=False)


def print_summary(results: list[VideoResult], stream=None) -> None:
    stream = stream if stream is not None else sys.stderr  # the current stderr, not the one at import
    ok = sum(r.ok for r in results)
    if len(results) > 1:
        print(f"\n{ok}/{len(results)} ok", file=stream)
    from poselift.errors import escape_text  # a newline in a file name must not split a line

    for r in results:
        if r.ok:
            where = ", ".join(escape_text(p) for p in r.outputs)
            print(f"ok      {escape_text(r.path)}  ({r.frames} frames, {r.seconds.get('total', 0):.1f} s) -> {where}",
                  file=stream)
        else:
            print(f"failed  {escape_text(r.message)}", file=stream)
