"""``poselift infer``: one video in, 3D skeletons out (npz, optional json/csv/npy, rendering).

Each input is one job (:class:`InferOptions`: output folder, keypoint file, and the stage
options of :mod:`poselift.options`). :func:`process_video` runs it through
:class:`poselift.Pipeline` -- decode (``io.video``) -> 2D detection (``detect``) or a
precomputed keypoint file (``io``) -> person selection and gap filling
(``detect.tracking``) -> lifting (``lift.pipeline``) -> world placement -- and writes the
:class:`poselift.Result` (npz, exports, rendering). Batches run jobs in turn, in worker
processes or on Ray. Every output is written to a temp file and renamed, so a failure
leaves nothing half-written.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

# Names older callers import from here; the pipeline itself lives in poselift.api.
from poselift.api import (  # noqa: F401
    Pipeline,
    _effective_fps,
    _is_fd2,
    _quiet_native_stderr,
    _tracks_from_keypoint_file,
    detect_frames,
    multi_tracks,
    single_track,
)
from poselift.errors import PoseliftError
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
from poselift.result import write_bvh_people as _write_bvh_people  # noqa: F401

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".gif", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


#: ``InferOptions`` field -> (stage, field) of :class:`~poselift.options.PipelineOptions`.
FLAT_FIELDS: dict[str, tuple[str, str]] = {
    "model": ("lift", "model"), "input_layout": ("lift", "input_layout"), "causal": ("lift", "causal"),
    "tta": ("lift", "tta"), "fixed_bones": ("lift", "fixed_bones"),
    "bone_proportions": ("lift", "bone_proportions"), "lr_repair": ("lift", "lr_repair"),
    "keypoint_definition": ("lift", "keypoint_definition"),
    "trajectory": ("lift", "trajectory"), "trajectory_model": ("lift", "trajectory_model"),
    "world": ("place", "world"),
    "detector": ("detect", "detector"), "detector_model": ("detect", "model"),
    "person": ("track", "person"), "multi_person": ("track", "multi_person"),
    "max_people": ("track", "max_people"), "score_threshold": ("track", "score_threshold"),
    "max_gap": ("track", "max_gap"),
    "start": ("decode", "start"), "end": ("decode", "end"), "fps": ("decode", "fps"),
    "focal_length": ("lift", "focal_length"), "fov": ("lift", "fov"),
    "exports": ("export", "formats"), "bvh_smooth": ("export", "bvh_smooth"), "viz_export": ("export", "viz_export"),
    "render": ("render", "enabled"), "render_format": ("render", "format"), "viz_size": ("render", "size"),
    "viz_azimuth": ("render", "azimuth"), "viz_elevation": ("render", "elevation"),
    "viz_camera_view": ("render", "camera_view"), "viz_framing": ("render", "framing"),
    "viz_downsample": ("render", "downsample"), "viz_skip": ("render", "skip"), "viz_limit": ("render", "limit"),
    "viz_bitrate": ("render", "bitrate"),
    "dense": ("lift", "dense"), "backend": ("lift", "backend"), "root_relative": ("lift", "root_relative"),
    "ground": ("place", "ground"),
}


@dataclass
class InferOptions:
    """One ``infer`` job: the output folder, an optional keypoint file, progress bars, and
    the pipeline's options flattened under their command-line names.

    A thin adapter kept for code written against it: the options themselves, and their
    defaults, are the stage objects of :mod:`poselift.options` (each default below *is*
    that stage's field default, see :data:`FLAT_FIELDS`); :meth:`options` returns them and
    :meth:`from_options` builds a job from them, which is what ``poselift infer`` does.
    """

    outdir: Path | None = None
    model: str = LiftOptions.model
    input_layout: str | None = LiftOptions.input_layout
    causal: bool = LiftOptions.causal
    tta: bool = LiftOptions.tta
    fixed_bones: bool = LiftOptions.fixed_bones
    bone_proportions: str = LiftOptions.bone_proportions
    keypoint_definition: str = LiftOptions.keypoint_definition
    lr_repair: bool = LiftOptions.lr_repair
    trajectory: bool = LiftOptions.trajectory
    trajectory_model: str | None = LiftOptions.trajectory_model
    world: bool = PlaceOptions.world
    detector: str = DetectOptions.detector
    detector_model: str = DetectOptions.model
    keypoints: Path | None = None
    person: str = TrackOptions.person
    multi_person: bool = TrackOptions.multi_person
    max_people: int | None = TrackOptions.max_people
    score_threshold: float = TrackOptions.score_threshold
    max_gap: float = TrackOptions.max_gap
    start: float | None = DecodeOptions.start
    end: float | None = DecodeOptions.end
    fps: float | None = DecodeOptions.fps
    focal_length: float | None = LiftOptions.focal_length
    fov: float | None = LiftOptions.fov
    exports: tuple[str, ...] = ExportOptions.formats
    bvh_smooth: bool = ExportOptions.bvh_smooth
    viz_export: Path | None = ExportOptions.viz_export
    render: bool = RenderOptions.enabled
    render_format: str = RenderOptions.format
    viz_size: int = RenderOptions.size
    viz_azimuth: float = RenderOptions.azimuth
    viz_elevation: float = RenderOptions.elevation
    viz_camera_view: bool = RenderOptions.camera_view
    viz_framing: str = RenderOptions.framing
    viz_downsample: int = RenderOptions.downsample
    viz_skip: int = RenderOptions.skip
    viz_limit: int = RenderOptions.limit
    viz_bitrate: int = RenderOptions.bitrate
    progress: bool = True
    dense: bool | None = LiftOptions.dense
    backend: str | None = LiftOptions.backend
    root_relative: bool = LiftOptions.root_relative
    ground: bool = PlaceOptions.ground

    def options(self) -> PipelineOptions:
        """The stage options this job runs with (validated; raises :class:`~poselift.options.OptionError`)."""
        per_stage: dict[str, dict[str, Any]] = {}
        for flat, (stage, name) in FLAT_FIELDS.items():
            per_stage.setdefault(stage, {})[name] = getattr(self, flat)
        kinds = {f.name: f.default_factory for f in fields(PipelineOptions)}  # type: ignore[misc]
        return PipelineOptions(**{stage: kinds[stage](**kw) for stage, kw in per_stage.items()})

    @classmethod
    def from_options(cls, options: PipelineOptions, *, outdir: Path | None = None, keypoints: Path | None = None,
                     progress: bool = True) -> "InferOptions":
        """A job running ``options`` (every field of every stage is kept)."""
        flat = {f: getattr(getattr(options, stage), name) for f, (stage, name) in FLAT_FIELDS.items()}
        return cls(outdir=outdir, keypoints=keypoints, progress=progress, **flat)


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
    """Decode and run the 2D detector. Returns ``(people_per_frame, timestamps, info)``
    (see :func:`poselift.api.detect_frames`, which also gives the frame indices)."""
    from poselift.io.video import probe, read_frames

    info = probe(path)
    o = opts.options()
    frames = read_frames(path, o.decode.start, o.decode.end, o.decode.fps)
    people, times, _, _ = detect_frames(frames, o.detect, o.track, progress=opts.progress,
                                        desc=f"detect {path.name}", source=path)
    return people, times, info


def process_video(video: Path | None, opts: InferOptions) -> VideoResult:
    """Run the whole pipeline on one input (:meth:`poselift.Pipeline._run`, the code the
    API runs) and write its outputs; raises :class:`PoseliftError` on bad input."""
    src = video if video is not None else opts.keypoints
    assert src is not None
    outdir = opts.outdir or src.parent
    _check_writable(outdir)
    stem = src.stem
    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    pipe = Pipeline(options=opts.options(), progress=opts.progress)
    result = pipe._run(video, opts.keypoints, secs)
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


def write_outputs(result: Any, outdir: Path, stem: str, opts: InferOptions | ExportOptions) -> list[Path]:
    """The npz (always), then the export formats and ``viz_export``; all atomic. The
    result is written as it is (``infer`` placed it in the world already when BVH or
    HTML asked for it)."""
    from poselift.io.safe_npz import save_npz

    exp = opts if isinstance(opts, ExportOptions) else opts.options().export
    written = []
    npz = outdir / f"{stem}.npz"
    save_npz(npz, **result.arrays())
    written.append(npz)
    for fmt in exp.formats:
        if fmt == "npz":
            continue
        written += result._write(fmt, outdir / f"{stem}.{fmt}", title=stem, bvh_smooth=exp.bvh_smooth)
    if exp.viz_export is not None:
        from poselift.export.formats import write_npy
        written.append(write_npy(exp.viz_export, result.poses_3d[0].astype(np.float32)))
    return written


def render_result(video: Path, result: Any, out: Path, opts: InferOptions) -> Path:
    """Second decoding pass drawing the 2D overlay and the 3D view (:meth:`poselift.Result.render`).
    With a trajectory the 3D view shows people where they are, on the floor of the world
    frame (fitted here when ``--world`` did not already)."""
    result.render(out, video=video, options=opts.options().render, progress=opts.progress)
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
