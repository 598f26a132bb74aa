"""Options of the inference pipeline: one frozen dataclass per stage, defaults here only.

Data flows one way through the stages, and each has its options object::

    decode (DecodeOptions) -> detect (DetectOptions) -> track (TrackOptions)
      -> lift (LiftOptions) -> place (PlaceOptions) -> export (ExportOptions) / render (RenderOptions)

:class:`PipelineOptions` bundles one of each. :class:`poselift.Pipeline` is built from
them, and ``poselift infer`` builds the very same objects from its flags (see
:func:`poselift.cli.infer_cmd.pipeline_options`), so a default lives in exactly one place:
the field default below. Every object validates itself when constructed and raises
:class:`OptionError` (a ``ValueError`` and a :class:`~poselift.errors.PoseliftError`) naming
the field, so a bad value is refused before any work starts.

This module imports nothing heavy: ``import poselift`` and ``poselift --help`` stay fast.

Example::

    from poselift.options import DecodeOptions, LiftOptions
    pipe = poselift.Pipeline(decode=DecodeOptions(start=2.0, end=8.0), lift=LiftOptions(fov=70))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from poselift.errors import PoseliftError

__all__ = ["DecodeOptions", "DetectOptions", "TrackOptions", "LiftOptions", "PlaceOptions", "ExportOptions",
           "RenderOptions", "PipelineOptions", "OptionError", "EXPORT_FORMATS", "PERSON_STRATEGIES"]

#: Formats :meth:`poselift.Result.export` writes (``npz`` is :meth:`~poselift.Result.save`).
EXPORT_FORMATS = ("json", "csv", "html", "bvh", "npz")
#: ``TrackOptions.person`` choices (see :func:`poselift.detect.tracking.select_person`).
PERSON_STRATEGIES = ("consistent", "most-complete", "largest", "highest-score")
#: ``DetectOptions.model`` choices; ``"auto"`` is :attr:`DetectOptions.landmark_model`'s pick.
DETECTOR_MODELS = ("auto", "lite", "full", "heavy")
RENDER_FORMATS = ("mp4", "gif")
FRAMINGS = ("auto", "fixed", "follow")
# Mirrors poselift.geometry.intrinsics.FOV_RANGE_DEG (not imported: that module loads NumPy).
_FOV_RANGE = (1.0, 170.0)


class OptionError(PoseliftError, ValueError):
    """An option value that cannot work, e.g. ``TrackOptions(max_gap=-1)``."""


def _check(ok: bool, cls: str, name: str, why: str, value: Any) -> None:
    if not ok:
        raise OptionError(f"{cls}.{name} {why}, got {value!r}")


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _seconds(cls: str, name: str, v: Any) -> float | None:
    """Seconds as a float; also ``"mm:ss"``/``"hh:mm:ss.ms"`` strings, as the CLI accepts."""
    if v is None:
        return None
    if isinstance(v, str):
        from poselift.io.video import parse_time

        try:
            v = parse_time(v)
        except ValueError as exc:
            raise OptionError(f"{cls}.{name}: {exc}") from None
    _check(_real(v) and v >= 0, cls, name, "must be a time in seconds >= 0 (or 'mm:ss')", v)
    return float(v)


@dataclass(frozen=True)
class DecodeOptions:
    """Which frames of a video are decoded and analysed.

    Attributes:
        start: first time analysed, seconds on the video's own clock (or ``"mm:ss"``);
            None: the beginning. Times in every output stay on this clock (``--start``).
        end: time where analysis stops (exclusive), same forms; None: the end (``--end``).
        fps: analyse at most this many frames per second, dropping frames of faster
            videos (never inventing any); None: every frame (``--fps``).
    """

    start: float | None = None
    end: float | None = None
    fps: float | None = None

    def __post_init__(self) -> None:
        c = "DecodeOptions"
        object.__setattr__(self, "start", _seconds(c, "start", self.start))
        object.__setattr__(self, "end", _seconds(c, "end", self.end))
        if self.start is not None and self.end is not None:
            _check(self.end > self.start, c, "end", f"must be after start ({self.start:g} s)", self.end)
        if self.fps is not None:
            _check(_real(self.fps) and 0 < self.fps <= 10000, c, "fps", "must be in (0, 10000] frames/s", self.fps)

    @property
    def selects(self) -> bool:
        """True when some frames of the video are left out."""
        return self.start is not None or self.end is not None or bool(self.fps)


@dataclass(frozen=True)
class DetectOptions:
    """The 2D keypoint detector.

    Attributes:
        detector: ``"blazepose"`` (the shipped BlazePose models on the TFLite runtime) or
            ``"mediapipe"`` (MediaPipe's own graph, the optional ``mediapipe`` extra)
            (``--detector``). With ``TrackOptions.multi_person`` BlazePose's models run
            per person.
        model: BlazePose landmark model ``"lite"``, ``"full"`` or ``"heavy"``, or
            ``"auto"``: ``"heavy"``, except ``"full"`` for ``detector="mediapipe"`` (its
            wheel ships only that one) (``--detector-model``). The model used is
            :attr:`landmark_model`.
    """

    detector: str = "blazepose"
    model: str = "auto"

    @property
    def landmark_model(self) -> str:
        """The landmark model that runs: ``model``, with ``"auto"`` resolved.

        Heavy is the default because it gets left and right right more often: on the
        shared four-view recording it labels the man seen from behind correctly where
        full swaps his sides for 34 of 100 frames, and ``infer``'s 3D is steadier with it
        on the shared clips. ``infer`` takes about 1.75x as long with it (24.2 s against
        13.8 s for 338 frames on 2 cores).
        """
        if self.model != "auto":
            return self.model
        return "full" if self.detector == "mediapipe" else "heavy"

    def __post_init__(self) -> None:
        _check(self.model in DETECTOR_MODELS, "DetectOptions", "model", f"must be one of {DETECTOR_MODELS}",
               self.model)
        _check(isinstance(self.detector, str) and bool(self.detector), "DetectOptions", "detector",
               "must be a detector name", self.detector)


@dataclass(frozen=True)
class TrackOptions:
    """Who is followed over time, and how gaps are filled.

    Attributes:
        multi_person: follow every person (tracks ``P`` > 1) instead of one (``--multi-person``).
        person: which single person to follow (``--person``), one of
            :data:`PERSON_STRATEGIES`; ``"consistent"`` starts with the most complete large
            person and stays with them.
        max_people: with ``multi_person``, keep the tracks seen in most frames, at most
            this many; None keeps all (``--max-people``, where 0 means all).
        score_threshold: joints below this confidence (0..1) are interpolated
            (``--score-threshold``).
        max_gap: longest gap filled by interpolation, seconds; longer gaps are invalid
            frames (``--max-gap``).
    """

    multi_person: bool = False
    person: str = "consistent"
    max_people: int | None = 4
    score_threshold: float = 0.3
    max_gap: float = 0.5

    def __post_init__(self) -> None:
        c = "TrackOptions"
        _check(self.person in PERSON_STRATEGIES, c, "person", f"must be one of {PERSON_STRATEGIES}", self.person)
        if self.max_people is not None:
            _check(isinstance(self.max_people, int) and self.max_people >= 0, c, "max_people",
                   "must be a whole number >= 1 (None or 0: all)", self.max_people)
            if self.max_people == 0:
                object.__setattr__(self, "max_people", None)
        _check(_real(self.score_threshold) and 0 <= self.score_threshold <= 1, c, "score_threshold",
               "must be in [0, 1]", self.score_threshold)
        _check(_real(self.max_gap) and self.max_gap >= 0, c, "max_gap", "must be seconds >= 0", self.max_gap)


@dataclass(frozen=True)
class LiftOptions:
    """The lifting network, its post-processing and the camera it assumes.

    Attributes:
        model: shipped model name, a poselift ``.safetensors`` or a VideoPose3D ``.bin``
            (``--model``).
        input_layout: 2D layout a VideoPose3D checkpoint expects (``"coco17"``,
            ``"h36m17"``); None: the model's own (``--input-layout``).
        causal: the VideoPose3D checkpoint is causal (``--causal``).
        dense: the VideoPose3D checkpoint was trained with ``--dense``; None: read from
            the weights (``lift --dense/--no-dense``).
        backend: ``"numpy"`` (the default: no torch needed) or ``"torch"``; None: NumPy
            unless ``$POSELIFT_BACKEND`` says otherwise.
        tta: average with the mirrored sequence (``--tta/--no-tta``).
        lr_repair: undo the detector's left/right label flips first (``--no-lr-repair``).
        fixed_bones: constant bone lengths and a rigid pelvis and thorax per person
            (``--free-bones`` turns it off).
        bone_proportions: with ``fixed_bones`` each bone gets its median over the clip;
            ``"auto"`` also lengthens a forearm that is short for its upper arm against
            the skeleton the model was trained on, when its card names one (``--retarget
            h36m``: the networks shorten hands they are unsure of); ``"median"`` does not
            (``--bone-proportions``).
        keypoint_definition: where the 2D keypoints sit on the body, for models with a
            keypoint-definition input (others ignore it): ``"detector"`` (BlazePose or
            another detector trained on annotated images; what ``infer`` detects) or
            ``"joint-centres"`` (projected mocap joint centres, e.g. Human3.6M's
            ground-truth 2D) (``--keypoint-definition``).
        trajectory: solve each root's camera-frame position (the trajectory network,
            else the position that makes the pose project onto the 2D); False leaves
            ``trajectory`` at zero (``--no-trajectory``).
        trajectory_model: the trajectory network: ``"auto"`` the one the pose model's
            card names (none for the shipped ``default``: on real footage with infer's
            2D the geometric solve places the root better), a shipped name
            (``"trajectory"``) or a ``.safetensors`` path; None or ``"none"``: the
            geometric solve (``--trajectory-model``).
        root_relative: subtract the root joint so it sits at the origin (``infer``
            always; ``lift --root-relative``).
        focal_length: camera focal length in pixels (``--focal-length``); with ``fov``
            None too, a 26 mm-equivalent lens for the image size.
        fov: field of view along the long image side, degrees, instead of
            ``focal_length`` (``--fov``).
    """

    model: str = "default"
    input_layout: str | None = None
    causal: bool = False
    dense: bool | None = None
    backend: str | None = None
    tta: bool = True
    lr_repair: bool = True
    fixed_bones: bool = True
    bone_proportions: str = "auto"
    keypoint_definition: str = "detector"
    trajectory: bool = True
    trajectory_model: str | None = "auto"
    root_relative: bool = True
    focal_length: float | None = None
    fov: float | None = None

    def __post_init__(self) -> None:
        c = "LiftOptions"
        if isinstance(self.model, Path):
            object.__setattr__(self, "model", str(self.model))
        _check(isinstance(self.model, str) and bool(self.model), c, "model", "must be a model name or path",
               self.model)
        _check(self.bone_proportions in ("auto", "median"), c, "bone_proportions", "must be 'auto' or 'median'",
               self.bone_proportions)
        _check(self.keypoint_definition in ("detector", "joint-centres"), c, "keypoint_definition",
               "must be 'detector' or 'joint-centres'", self.keypoint_definition)
        if self.focal_length is not None and self.fov is not None:
            raise OptionError("give --focal-length or --fov, not both")
        if self.focal_length is not None:
            _check(_real(self.focal_length) and self.focal_length > 0, c, "focal_length", "must be pixels > 0",
                   self.focal_length)
        if self.fov is not None:
            _check(_real(self.fov) and _FOV_RANGE[0] <= self.fov <= _FOV_RANGE[1], c, "fov",
                   f"must be between {_FOV_RANGE[0]:g} and {_FOV_RANGE[1]:g} degrees", self.fov)
        if self.backend is not None:
            _check(self.backend in ("numpy", "torch"), c, "backend", "must be 'numpy' or 'torch'", self.backend)
        if isinstance(self.trajectory_model, Path):
            object.__setattr__(self, "trajectory_model", str(self.trajectory_model))
        if self.trajectory_model == "none":
            object.__setattr__(self, "trajectory_model", None)
        _check(self.trajectory_model is None or (isinstance(self.trajectory_model, str) and bool(self.trajectory_model)),
               c, "trajectory_model", "must be 'auto', a model name or path, or None", self.trajectory_model)


@dataclass(frozen=True)
class PlaceOptions:
    """Placing the people in a world frame (:mod:`poselift.geometry.world`).

    Attributes:
        world: add ``poses_world`` (metres, Y up, one floor at Y = 0) and
            ``camera_to_world`` (``--world``; needs ``LiftOptions.trajectory``).
        ground: refine each root along its camera ray so standing feet meet the floor.
    """

    world: bool = False
    ground: bool = True


@dataclass(frozen=True)
class ExportOptions:
    """Files ``poselift infer`` writes beside the npz (the API writes them with
    :meth:`poselift.Result.export`).

    Attributes:
        formats: extra formats, any of ``json``, ``csv``, ``html``, ``bvh``; a
            comma-separated string is accepted too (``--export``). ``bvh`` and ``html``
            imply ``PlaceOptions.world`` (when there is a trajectory).
        bvh_smooth: zero-phase smoothing (sigma 1 frame) of the BVH positions
            (``--bvh-no-smooth`` turns it off).
        viz_export: also save VideoPose3D's camera-space ``(T, 17, 3)`` ``.npy`` here
            (``--viz-export``).
    """

    formats: tuple[str, ...] = ()
    bvh_smooth: bool = True
    viz_export: Path | None = None

    def __post_init__(self) -> None:
        f = self.formats
        if isinstance(f, str):
            f = [e for e in f.split(",")]
        f = tuple(str(e).strip().lower() for e in f if str(e).strip())
        bad = [e for e in f if e not in EXPORT_FORMATS]
        if bad:
            raise OptionError(f"unknown export format(s): {', '.join(bad)} (known: json, csv, html, bvh)")
        object.__setattr__(self, "formats", f)
        if self.viz_export is not None:
            object.__setattr__(self, "viz_export", Path(self.viz_export))


@dataclass(frozen=True)
class RenderOptions:
    """The rendered video: the input with 2D skeletons beside a 3D view
    (:func:`poselift.render.render_video`; ``--viz-*`` flags).

    Attributes:
        enabled: ``poselift infer`` renders (``--no-render`` turns it off); the API
            renders only when :meth:`poselift.Result.render` is called.
        format: ``"mp4"`` or ``"gif"`` (``--render-format``).
        size: output height in pixels (``--viz-size``).
        azimuth: 3D view angle around the vertical, degrees; 0 looks from the video's
            camera (``--viz-azimuth``).
        elevation: 3D viewpoint height above the horizon, degrees (``--viz-elevation``).
        camera_view: look from the video's camera (``--viz-camera-view``).
        framing: ``"auto"``, ``"fixed"`` or ``"follow"`` (``--viz-framing``).
        downsample: render every n-th frame (``--viz-downsample``).
        skip: skip the first n frames (``--viz-skip``).
        limit: render at most n frames, -1 all (``--viz-limit``).
        bitrate: mp4 bitrate, kbit/s (``--viz-bitrate``).
    """

    enabled: bool = True
    format: str = "mp4"
    size: int = 720
    azimuth: float = 30.0
    elevation: float = 15.0
    camera_view: bool = False
    framing: str = "auto"
    downsample: int = 1
    skip: int = 0
    limit: int = -1
    bitrate: int = 3000

    def __post_init__(self) -> None:
        c = "RenderOptions"
        _check(self.format in RENDER_FORMATS, c, "format", f"must be one of {RENDER_FORMATS}", self.format)
        _check(self.framing in FRAMINGS, c, "framing", f"must be one of {FRAMINGS}", self.framing)
        _check(isinstance(self.size, int) and 16 <= self.size <= 8192, c, "size", "must be 16..8192 pixels",
               self.size)
        _check(_real(self.azimuth) and -360 <= self.azimuth <= 360, c, "azimuth", "must be in [-360, 360]",
               self.azimuth)
        _check(_real(self.elevation) and -90 <= self.elevation <= 90, c, "elevation", "must be in [-90, 90]",
               self.elevation)
        _check(isinstance(self.downsample, int) and self.downsample >= 1, c, "downsample", "must be >= 1",
               self.downsample)
        _check(isinstance(self.skip, int) and self.skip >= 0, c, "skip", "must be >= 0", self.skip)
        _check(isinstance(self.limit, int) and (self.limit >= 1 or self.limit == -1), c, "limit",
               "must be >= 1 or -1 (all)", self.limit)
        _check(isinstance(self.bitrate, int) and 1 <= self.bitrate <= 1_000_000, c, "bitrate",
               "must be 1..1000000 kbit/s", self.bitrate)


@dataclass(frozen=True)
class PipelineOptions:
    """One options object per stage; ``PipelineOptions()`` is every default."""

    decode: DecodeOptions = field(default_factory=DecodeOptions)
    detect: DetectOptions = field(default_factory=DetectOptions)
    track: TrackOptions = field(default_factory=TrackOptions)
    lift: LiftOptions = field(default_factory=LiftOptions)
    place: PlaceOptions = field(default_factory=PlaceOptions)
    export: ExportOptions = field(default_factory=ExportOptions)
    render: RenderOptions = field(default_factory=RenderOptions)

    def __post_init__(self) -> None:
        for f in fields(self):
            got = getattr(self, f.name)
            want = f.default_factory  # type: ignore[misc]
            if not isinstance(got, want):
                raise OptionError(f"PipelineOptions.{f.name} must be a {want.__name__}, got {type(got).__name__}")

    def updated(self, **stages: Any) -> "PipelineOptions":
        """A copy with some stages replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in stages.items() if v is not None})
