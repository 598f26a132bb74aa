"""poselift: lift 2D keypoint sequences from any video to smooth 3D skeletons.

The Python API (see the README's "Python API")::

    import poselift
    pipe = poselift.Pipeline(model="default", multi_person=False)
    result = pipe("clip.mp4")                 # or an iterator of RGB frames, or 2D keypoints
    result.poses_3d                           # (P, T, 17, 3) metres, camera frame
    result.save("out/clip.npz")               # the npz `poselift infer` writes
    result.export("bvh", "out/clip.bvh")
    result.render("out/clip.mp4")

:class:`Pipeline` (:mod:`poselift.api`), :class:`Result` (:mod:`poselift.result`) and the
per-stage options (:mod:`poselift.options`) are loaded on first use, so ``import poselift``
(and ``poselift --help``) stays fast.

Stages (data flows one way): ``io`` -> ``detect`` -> ``lift`` -> ``export``/``render``;
``data``, ``train`` and ``evaluate`` sit beside them and ``cli`` on top. Geometry
(skeletons, cameras, metrics) lives in :mod:`poselift.geometry`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module defining it (imported lazily, PEP 562).
_LAZY = {
    "Pipeline": "poselift.api",
    "Result": "poselift.result",
    "PipelineOptions": "poselift.options",
    "DecodeOptions": "poselift.options",
    "DetectOptions": "poselift.options",
    "TrackOptions": "poselift.options",
    "LiftOptions": "poselift.options",
    "PlaceOptions": "poselift.options",
    "ExportOptions": "poselift.options",
    "RenderOptions": "poselift.options",
    "OptionError": "poselift.options",
    "PoseliftError": "poselift.errors",
    "InputError": "poselift.errors",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from poselift.api import Pipeline
    from poselift.errors import InputError, PoseliftError
    from poselift.options import (DecodeOptions, DetectOptions, ExportOptions, LiftOptions, OptionError,
                                  PipelineOptions, PlaceOptions, RenderOptions, TrackOptions)
    from poselift.result import Result


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'poselift' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
