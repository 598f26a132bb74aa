"""Model files: VideoPose3D checkpoints, poselift's safetensors format, and the registry.

poselift format
    One ``<name>.safetensors`` holding the network's state dict; its header metadata
    key ``"poselift"`` holds a JSON object (the model card) with at least
    ``architecture`` (:class:`~poselift.lift.model.ModelConfig` as a dict), ``kind``
    (``"pose"`` or ``"trajectory"``), ``input_layout``, ``output_layout``, ``fps`` (frame
    rate the model was trained at), ``input_normalization``, ``licence``, ``training``
    and ``metrics``. The same JSON is written beside it as ``<name>.json`` for humans
    and tools; the header copy wins when both exist. Nothing in either is executed.

VideoPose3D format
    A ``torch.save`` dict with ``model_pos`` (and optionally ``model_traj``, ``epoch``,
    ``lr``, ``optimizer``, ``random_state``...), in the zip serialization or the legacy
    (pre-PyTorch-1.6) one the published checkpoints use. It is read by a restricted
    unpickler (:func:`load_torch_checkpoint`): tensors, containers, numbers, NumPy arrays
    and run.py's pickled ``RandomState`` (as inert data) are admitted, any other pickled
    global makes the file be refused before anything runs.

Registry
    Models shipped inside the package live in ``poselift/lift/weights``;
    :func:`load_model` takes a registry name or a path.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING, Union

import numpy as np
from safetensors import SafetensorError

from poselift.errors import InputError, PoseliftError, UnsafeFileError
from poselift.fsutil import publish
from poselift.geometry.skeletons import get_skeleton
from poselift.lift.config import ModelConfig, dense_readings, infer_config
from poselift.lift.numpy_backend import NumpyTemporalModel

if TYPE_CHECKING:  # torch is optional: only training and VideoPose3D .bin files need it
    import torch

    from poselift.lift.model import TemporalModel

WEIGHTS_DIR = Path(__file__).with_name("weights")
METADATA_KEY = "poselift"
BACKENDS = ("numpy", "torch")
# A network of either backend; both are called as ``(N, T, J, F) -> (N, T', J', 3)``.
Network = Union["TemporalModel", NumpyTemporalModel]
TORCH_HINT = 'needs torch, which is not installed (pip install "poselift[train]")'


def require_torch(what: str):
    """Import torch, or raise a one-line :class:`PoseliftError` saying ``what`` needs it."""
    try:
        import torch
    except ImportError:
        raise PoseliftError(f"{what} {TORCH_HINT}") from None
    return torch


def resolve_backend(backend: str | None = None) -> str:
    """``"numpy"`` or ``"torch"``: the one asked for, else ``$POSELIFT_BACKEND``, else NumPy.

    NumPy is the default because it is as fast as torch for these networks on a CPU
    (see ``benchmarks/lift_backends.py``) and needs no extra package; the torch backend
    serves training and checks.
    """
    b = backend or os.environ.get("POSELIFT_BACKEND") or "numpy"
    if b not in BACKENDS:
        raise PoseliftError(f"unknown lifting backend {b!r}; choose numpy or torch")
    return b


@dataclass
class LiftModel:
    """A ready-to-run pose model, optionally with its trajectory model.

    Attributes:
        model_pos: network predicting root-relative joints: a
            :class:`~poselift.lift.numpy_backend.NumpyTemporalModel` (the default) or a
            torch :class:`~poselift.lift.model.TemporalModel` in eval mode.
        model_traj: network predicting the root position in camera space, or None.
        meta: the model card (for VideoPose3D files: what could be inferred).
        input_layout: keypoint layout the network expects (``h36m17``, ``coco17``).
        output_layout: layout of the predicted joints.
        fps: frame rate the model was trained at; inputs are resampled to it.
        causal: whether the model sees only past frames.
        input_normalization: ``"screen"`` (VideoPose3D: ``x / w * 2 - [1, h / w]``) or
            ``"focal"`` (pixels centred on the principal point and divided by the focal
            length, for models trained to be lens-independent) or ``"focal_scaled"``
            (those rays seen by a virtual camera looking at the person and divided by
            the person's 2D size; see :func:`poselift.lift.inference.scaled_rays`).
    """

    model_pos: Network
    meta: dict[str, Any]
    model_traj: Network | None = None
    input_layout: str = "h36m17"
    output_layout: str = "h36m17"
    fps: float = 50.0
    causal: bool = False
    input_normalization: str = "screen"
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def receptive_field(self) -> int:
        return self.model_pos.receptive_field()


# --------------------------------------------------------------------------- VideoPose3D files
@dataclass
class PickledRandomState:
    """Inert stand-in for a ``numpy.random.RandomState`` found in a checkpoint.

    run.py saves its batch generator's RandomState (``random_state``,
    ``random_state_semi``). The pickle's constructor is never called; ``state`` is what
    the pickle would have passed to ``__setstate__`` (old NumPy: the ``get_state()``
    tuple; new NumPy: the state dict) and ``args`` the constructor's arguments (for new
    NumPy ``("MT19937", PickledBitGenerator)``).
    """

    args: tuple = ()
    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _PickledBitGeneratorCtor:
    """Stand-in for ``numpy.random._pickle.__bit_generator_ctor``: never calls NumPy."""

    def __repr__(self) -> str:
        return "PickledBitGeneratorCtor"


def _inert_randomstate(*args: Any) -> PickledRandomState:
    return PickledRandomState(args=tuple(args))


def _latin1_encode(obj: Any, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles (torch.save's default) store bytes as _codecs.encode(str, "latin1").
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode used for something other than bytes")
    return obj.encode("latin1")


def _np_global(module: str, name: str) -> Any:
    if module.startswith("numpy._core") and not hasattr(np, "_core"):
        module = module.replace("numpy._core", "numpy.core")
    elif module.startswith("numpy.core") and hasattr(np, "_core"):
        module = module.replace("numpy.core", "numpy._core")
    obj: Any = __import__(module, fromlist=[name])
    return getattr(obj, name)


#: Every global a VideoPose3D checkpoint may name, mapped to what it becomes. Anything
#: else (os.system, builtins.eval, arbitrary classes...) makes the file be refused.
_CHECKPOINT_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): lambda: __import__("collections").OrderedDict,
    # torch is imported only when a checkpoint is read (it is an optional extra).
    ("torch._utils", "_rebuild_tensor"): lambda: __import__("torch._utils", fromlist=["x"])._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): lambda: __import__("torch._utils", fromlist=["x"])._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): lambda: __import__("torch._utils", fromlist=["x"])._rebuild_parameter,
    ("torch", "Size"): lambda: __import__("torch").Size,
    ("_codecs", "encode"): lambda: _latin1_encode,
    ("numpy.core.multiarray", "_reconstruct"): lambda: _np_global("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _np_global("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): lambda: _np_global("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): lambda: _np_global("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    # RandomState, pickled by old NumPy (2018-2019 checkpoints) and by NumPy >= 1.17.
    ("numpy.random", "__RandomState_ctor"): lambda: _inert_randomstate,
    ("numpy.random.mtrand", "__RandomState_ctor"): lambda: _inert_randomstate,
    ("numpy.random._pickle", "__randomstate_ctor"): lambda: _inert_randomstate,
    ("numpy.random._pickle", "__bit_generator_ctor"): lambda: _PickledBitGeneratorCtor,
    # Newer NumPy names the bit generator by its class: kept as a name, never instantiated.
    **{(f"numpy.random._{mod}", cls): (lambda cls=cls: f"numpy.random.{cls}")
       for mod, cls in (("mt19937", "MT19937"), ("pcg64", "PCG64"), ("pcg64", "PCG64DXSM"),
                        ("philox", "Philox"), ("sfc64", "SFC64"))},
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list; the message is ``module.name``."""


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :data:`_CHECKPOINT_GLOBALS`.

    A refused global raises before it is imported, so a hostile pickle stops at its
    first reference to anything else and nothing it names is ever called.
    """

    def find_class(self, module: str, name: str) -> Any:
        make = _CHECKPOINT_GLOBALS.get((module, name))
        if make is None and module == "numpy.dtypes" and name.endswith("DType") and name.isidentifier():
            make = lambda: _np_global("numpy.dtypes", name)  # noqa: E731  plain dtype classes
        if make is None:
            raise _RefusedGlobal(f"{module}.{name}")
        try:
            return make()
        except (ImportError, AttributeError):
            raise _RefusedGlobal(f"{module}.{name}") from None


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# torch.load(pickle_module=...) uses .Unpickler for the main pickle and .load for the
# legacy format's header pickles, so every pickle in either serialization goes through
# the restricted find_class.
_restricted_pickle_module = type(sys)("poselift_restricted_pickle")
_restricted_pickle_module.Unpickler = _RestrictedUnpickler  # type: ignore[attr-defined]
_restricted_pickle_module.load = _restricted_load  # type: ignore[attr-defined]
_restricted_pickle_module.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]


def load_torch_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a ``torch.save`` file (zip or legacy pre-1.6 serialization) safely.

    Only tensors and storages, plain containers, numbers, strings, NumPy arrays and
    dtypes are rebuilt; a pickled ``numpy.random.RandomState`` (old and new NumPy
    pickling) becomes an inert :class:`PickledRandomState`. Any other global makes the
    whole file be refused before anything in it runs.

    Raises:
        UnsafeFileError: the pickle references something else (named in the message).
        InputError: unreadable file.
    """
    from poselift.fsutil import check_input

    p = check_input(path, what="checkpoint")
    try:
        import torch
    except ImportError:
        raise InputError(f"loading a VideoPose3D checkpoint {TORCH_HINT}", p) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about weights_only=False; our unpickler is stricter
            ckpt = torch.load(str(p), map_location="cpu", pickle_module=_restricted_pickle_module,
                              weights_only=False)
    except _RefusedGlobal as exc:
        raise UnsafeFileError(f"refusing to load: the checkpoint's pickle references {exc}, which is "
                              "not a tensor, number, container, array or RandomState", p) from None
    except pickle.UnpicklingError as exc:
        raise InputError(f"not a readable PyTorch checkpoint ({str(exc).splitlines()[0] if str(exc) else 'bad pickle'})",
                         p) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError, KeyError, TypeError,
            IndexError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"not a readable PyTorch checkpoint ({type(exc).__name__}: {msg})", p) from None
    if not isinstance(ckpt, dict):
        raise InputError("checkpoint is not a dict of state dicts", p)
    return ckpt


def _unreadable_checkpoint(p: Path, exc: Exception) -> str:
    """Why torch could not scan ``p``, in words true for the file at hand."""
    import zipfile

    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b""
    if not zipfile.is_zipfile(p) and head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        # torch.save before torch 1.6 (or with _use_new_zipfile_serialization=False)
        # writes bare pickles, which torch's safe scanner cannot read.
        return ("a legacy-serialization PyTorch checkpoint (bare pickle, written by torch < 1.6 or "
                "_use_new_zipfile_serialization=False); this format cannot be loaded safely yet")
    if not head:
        return "checkpoint file is empty"
    return f"not a readable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"


def _guess_vp3d_layout(path: Path) -> str | None:
    # The published checkpoints' names (pretrained_h36m_detectron_coco.bin,
    # pretrained_h36m_cpn.bin): only a tie-breaker, never stronger than the 2D input.
    name = path.name.lower()
    if "coco" in name or "detectron" in name:
        return "coco17"
    if "cpn" in name:
        return "h36m17"
    return None


#: 2D layouts a VideoPose3D model may take, by joint count.
_VP3D_INPUT_LAYOUTS = {17: ("h36m17", "coco17"), 15: ("humaneva15",)}


def notice(message: str) -> None:
    """One warning line on stderr (the CLI's style), e.g. for an ambiguous checkpoint."""
    print(f"poselift: warning: {message}", file=sys.stderr)


def decide_vp3d_layout(path: Path, num_joints_in: int, input_layout: str | None = None,
                       data_layout: str | None = None) -> tuple[str, str | None]:
    """The 2D layout a VideoPose3D checkpoint expects: ``(layout, warning or None)``.

    The weights give the joint count. When that admits several layouts (17 joints: H3.6M
    or COCO order), the 2D input decides if it is in one of them natively
    (``data_layout``: a VideoPose3D data_2d/custom/Detectron file, which run.py feeds to
    the model as it is). Otherwise it is ambiguous: the published file names break the
    tie, else ``h36m17``, and the warning names ``--input-layout``.
    """
    candidates = _VP3D_INPUT_LAYOUTS.get(num_joints_in, ())
    if input_layout:
        try:
            n = get_skeleton(input_layout).num_joints
        except KeyError:
            raise InputError(f"unknown input layout {input_layout!r}", path) from None
        if n != num_joints_in:
            raise InputError(f"--input-layout {input_layout} has {n} joints but the model takes {num_joints_in}",
                             path)
        return input_layout, None
    if not candidates:
        raise InputError(f"cannot tell the input layout of a {num_joints_in}-joint model; pass --input-layout",
                         path)
    if len(candidates) == 1:
        return candidates[0], None
    hint = _guess_vp3d_layout(path)
    if data_layout in candidates:
        if hint and hint != data_layout:
            return data_layout, (f"{path.name}: its name suggests {hint} input but the 2D is {data_layout}; "
                                 f"using {data_layout} as run.py would; pass --input-layout to choose")
        return data_layout, None
    chosen = hint or "h36m17"
    why = "its file name" if hint else "the default"
    return chosen, (f"{path.name}: its weights fit both {' and '.join(candidates)} 2D input and the input "
                    f"does not tell; using {chosen} ({why}); pass --input-layout to choose")


def load_videopose3d(path: str | Path, causal: bool = False, input_layout: str | None = None,
                     dense: bool | None = None, fps: float = 50.0, data_layout: str | None = None,
                     quiet: bool = False, backend: str | None = None) -> LiftModel:
    """Load an original VideoPose3D checkpoint (``model_pos`` and optional ``model_traj``).

    Args:
        causal: the checkpoint was trained with ``--causal`` (not visible in weights).
        input_layout: 2D layout the model expects; None decides it with
            :func:`decide_vp3d_layout` from the weights and ``data_layout``.
        dense: the checkpoint was trained with ``--dense`` (True) or not (False); None
            reads it from the weight shapes and warns when they fit both.
        fps: frame rate of the training data (Human3.6M: 50).
        data_layout: native layout of the 2D input about to be lifted, if known.
        quiet: do not print warnings (they are kept in ``meta["warnings"]``).
        backend: network backend (see :func:`resolve_backend`); reading the file needs
            torch either way.
    """
    p = Path(path)
    backend = resolve_backend(backend)
    ckpt = load_torch_checkpoint(p)
    if "model_pos" not in ckpt:
        raise InputError("checkpoint has no 'model_pos' entry (not a VideoPose3D checkpoint)", p)
    warns: list[str] = []
    model_pos = _model_from_state(ckpt["model_pos"], causal, dense, p, "model_pos", warns, backend)
    model_traj = None
    if ckpt.get("model_traj") is not None:
        model_traj = _model_from_state(ckpt["model_traj"], causal, dense, p, "model_traj", [], backend)
    cfg = _config_of(model_pos)
    layout, warn = decide_vp3d_layout(p, cfg.num_joints_in, input_layout, data_layout)
    if warn:
        warns.append(warn)
    if not quiet:
        for w in warns:
            notice(w)
    out_layout = {17: "h36m17", 15: "humaneva15"}.get(cfg.num_joints_out, f"j{cfg.num_joints_out}")
    meta = {"name": p.stem, "kind": "pose", "format": "videopose3d", "architecture": cfg.to_dict(),
            "input_layout": layout, "output_layout": out_layout,
            "fps": fps, "input_normalization": "screen", "epoch": ckpt.get("epoch"), "warnings": warns}
    return LiftModel(model_pos=model_pos, model_traj=model_traj, meta=meta, input_layout=layout,
                     output_layout=out_layout, fps=fps, causal=causal,
                     input_normalization="screen", source=str(p))


def _config_of(model: Network) -> ModelConfig:
    return model._poselift_config  # type: ignore[union-attr]


def _model_from_state(state: dict[str, "torch.Tensor"], causal: bool, dense: bool | None, path: Path,
                      what: str, warns: list[str], backend: str = "torch") -> Network:
    if not isinstance(state, dict):
        raise InputError(f"'{what}' is not a state dict", path)
    # Checkpoints saved from DataParallel prefix every key with "module.".
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    from poselift.lift.model import build_model

    try:
        cfg = infer_config(state, causal=causal, dense=dense)
        if dense is None and all(dense_readings(state)):
            plain = infer_config(state, causal=causal, dense=False).filter_widths
            warns.append(f"{path.name}: its weights fit both a dense -arc {','.join(map(str, cfg.filter_widths))} "
                         f"and a non-dense -arc {','.join(map(str, plain))} model; reading it as dense "
                         "(pass --no-dense for the other)")
        # The torch module's strict loading is the check that every tensor fits.
        model = build_model(cfg)
        model.load_state_dict(state, strict=True)
    except (ValueError, RuntimeError, KeyError) as exc:
        msg = str(exc).splitlines()[0]
        raise InputError(f"'{what}' does not fit a VideoPose3D temporal model: {msg}", path) from None
    if backend == "numpy":
        return NumpyTemporalModel(cfg, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    model._poselift_config = cfg  # type: ignore[attr-defined]
    return model.eval()


# --------------------------------------------------------------------------- poselift format
def save_model(path: str | Path, model: "torch.nn.Module", cfg: ModelConfig, meta: dict[str, Any],
               write_card: bool = True) -> Path:
    """Write ``model`` as ``<path>.safetensors`` with ``meta`` (+ architecture) in its header.

    Written to a temp file then renamed, so an interrupted save leaves the old file intact.
    Returns the ``.safetensors`` path.
    """
    from safetensors.torch import save_file

    p = Path(path)
    if p.suffix != ".safetensors":
        p = p.with_suffix(".safetensors")
    card = dict(meta)
    card["architecture"] = cfg.to_dict()
    card.setdefault("format", "poselift-1")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = p.with_name(f".{p.name}.tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(tmp), metadata={METADATA_KEY: json.dumps(card, sort_keys=True)})
        publish(tmp, p)
        if write_card:
            card_tmp = p.with_name(f".{p.stem}.json.tmp")
            card_tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
            os.replace(card_tmp, p.with_suffix(".json"))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PoseliftError(f"cannot write model ({exc.strerror or exc})", p) from None
    return p


def read_model_card(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a poselift ``.safetensors`` model (header first, then sidecar)."""
    p = Path(path)
    try:
        from safetensors import safe_open
        with safe_open(str(p), framework="numpy") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise InputError(f"not a readable safetensors file ({exc})", p) from None
    if METADATA_KEY in header:
        text, where = header[METADATA_KEY], "header metadata"
    elif p.with_suffix(".json").is_file():
        side = p.with_suffix(".json")
        try:
            text, where = side.read_text(), side.name
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the model card {side.name} ({exc})", p) from None
    else:
        raise InputError("safetensors file has no poselift metadata and no .json beside it", p)
    try:
        card = json.loads(text)
    except ValueError as exc:
        raise InputError(f"model card in {where} is not valid JSON ({exc})", p) from None
    if not isinstance(card, dict):
        raise InputError(f"model card in {where} is not a JSON object", p)
    validate_card(card, p)
    return card


_NORMALIZATIONS = ("screen", "focal", "focal_scaled")
_TRAJ_PARAMS = ("direct", "ray_logdepth", "ray_logsize")


def validate_card(card: dict[str, Any], path: str | Path | None = None) -> None:
    """Refuse a model card whose fields would make the model misbehave, as one line naming
    the field: ``kind``, ``input_layout``/``output_layout``, ``fps`` (a number in
    (0, 10000]), ``input_normalization``, ``trajectory_parameterization`` and the
    ``architecture`` (sizes bounded so that a lying card cannot allocate gigabytes)."""
    from poselift.geometry.skeletons import get_skeleton

    def bad(field: str, why: str) -> InputError:
        return InputError(f"model card: {field} {why}", path)

    kind = card.get("kind", "pose")
    if kind not in ("pose", "trajectory"):
        raise bad("kind", f"must be 'pose' or 'trajectory', got {kind!r:.60}")
    for key in ("input_layout", "output_layout"):
        if key not in card:
            continue
        v = card[key]
        if key == "output_layout" and kind == "trajectory" and v == "root":
            continue
        try:
            if not isinstance(v, str):
                raise KeyError(v)
            get_skeleton(v)
        except KeyError:
            raise bad(key, f"is not a known layout: {v!r:.60}") from None
    if "fps" in card:
        v = card["fps"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0 < v <= 10000):
            raise bad("fps", f"must be a frame rate in (0, 10000], got {v!r:.60}")
    if card.get("input_normalization", "screen") not in _NORMALIZATIONS:
        raise bad("input_normalization", f"must be one of {', '.join(_NORMALIZATIONS)}, "
                                         f"got {card['input_normalization']!r:.60}")
    if card.get("trajectory_parameterization", "direct") not in _TRAJ_PARAMS:
        raise bad("trajectory_parameterization", f"must be one of {', '.join(_TRAJ_PARAMS)}, "
                                                 f"got {card['trajectory_parameterization']!r:.60}")
    arch = card.get("architecture")
    if arch is None:
        return
    if not isinstance(arch, dict):
        raise bad("architecture", "must be a JSON object")
    limits = {"num_joints_in": (1, 1000), "in_features": (1, 16), "num_joints_out": (1, 1000),
              "channels": (1, 8192)}
    for key, (lo, hi) in limits.items():
        if key in arch:
            v = arch[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise bad(f"architecture.{key}", f"must be a whole number in [{lo}, {hi}], got {v!r:.60}")
    if "filter_widths" in arch:
        fw = arch["filter_widths"]
        if (not isinstance(fw, list) or not 1 <= len(fw) <= 12
                or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 15 and w % 2 for w in fw)):
            raise bad("architecture.filter_widths", f"must be 1 to 12 odd whole numbers up to 15, got {fw!r:.60}")
    if "dropout" in arch:
        v = arch["dropout"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise bad("architecture.dropout", f"must be in [0, 1), got {v!r:.60}")
    for key in ("causal", "dense"):
        if key in arch and not isinstance(arch[key], bool):
            raise bad(f"architecture.{key}", f"must be true or false, got {arch[key]!r:.60}")


def load_poselift_network(path: str | Path, backend: str | None = None) -> tuple[Network, dict[str, Any]]:
    """Load one poselift network and its card.

    ``backend`` (see :func:`resolve_backend`): ``"numpy"`` gives a
    :class:`~poselift.lift.numpy_backend.NumpyTemporalModel` read straight from the
    safetensors file; ``"torch"`` a torch module in eval mode (needs torch).
    """
    p = Path(path)
    backend = resolve_backend(backend)
    card = read_model_card(p)
    try:
        cfg = ModelConfig.from_dict(card["architecture"])
        if backend == "numpy":
            from safetensors.numpy import load_file

            state = load_file(str(p))
            extra = set(state) - _expected_keys(cfg)
            if extra:
                raise ValueError(f"unexpected tensors {sorted(extra)[:3]}")
            model: Network = NumpyTemporalModel(cfg, state)
        else:
            require_torch("the torch backend")
            from safetensors.torch import load_file

            from poselift.lift.model import build_model

            state = load_file(str(p))
            model = build_model(cfg)
            model.load_state_dict(state, strict=True)
            model.eval()
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        raise InputError(f"model file does not match its metadata: {str(exc).splitlines()[0]}", p) from None
    model._poselift_config = cfg  # type: ignore[union-attr]
    return model, card


def _expected_keys(cfg: ModelConfig) -> set[str]:
    """State-dict names of a network of ``cfg`` (what torch's strict loading accepts)."""
    keys = {"expand_conv.weight", "shrink.weight", "shrink.bias"}
    bn = ["expand_bn"] + [f"layers_bn.{i}" for i in range(2 * (len(cfg.filter_widths) - 1))]
    for b in bn:
        keys |= {f"{b}.{n}" for n in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    keys |= {f"layers_conv.{i}.weight" for i in range(2 * (len(cfg.filter_widths) - 1))}
    return keys


def _lift_model_from_card(model: Network, card: dict[str, Any], source: str,
                          traj: Network | None = None) -> LiftModel:
    return LiftModel(model_pos=model, model_traj=traj, meta=card,
                     input_layout=card.get("input_layout", "h36m17"),
                     output_layout=card.get("output_layout", "h36m17"),
                     fps=float(card.get("fps", 50.0)), causal=bool(card["architecture"].get("causal", False)),
                     input_normalization=card.get("input_normalization", "screen"), source=source)


# --------------------------------------------------------------------------- registry
def list_models() -> dict[str, dict[str, Any]]:
    """Shipped models: name -> model card."""
    out = {}
    for f in sorted(WEIGHTS_DIR.glob("*.safetensors")):
        try:
            out[f.stem] = read_model_card(f)
        except InputError:
            continue
    return out


def resolve_model_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.is_file():
        return p
    cand = WEIGHTS_DIR / f"{name_or_path}.safetensors"
    if cand.is_file():
        return cand
    known = ", ".join(sorted(list_models())) or "none shipped"
    raise InputError(f"no model file or shipped model of this name (shipped: {known})", name_or_path)


def load_model(name_or_path: str | Path, *, causal: bool = False, input_layout: str | None = None,
               dense: bool | None = None, trajectory: str | Path | None = "auto",
               data_layout: str | None = None, backend: str | None = None) -> LiftModel:
    """Load a lifting model by registry name or path.

    ``.bin``/``.pt``/``.pth`` files are VideoPose3D checkpoints (``causal`` and
    ``input_layout``, ``dense`` describe them, ``data_layout`` is the native layout of the
    2D about to be lifted, see :func:`load_videopose3d`); ``.safetensors`` files are poselift models. For a
    poselift pose model, ``trajectory="auto"`` attaches the model named in its card's
    ``trajectory_model`` (if shipped); pass a name/path to choose, or None for none.
    ``backend``: ``"numpy"`` (default, no torch needed) or ``"torch"``, see
    :func:`resolve_backend`.
    """
    p = resolve_model_path(name_or_path)
    if p.suffix in (".bin", ".pt", ".pth", ".ckpt"):
        return load_videopose3d(p, causal=causal, input_layout=input_layout, dense=dense, data_layout=data_layout,
                                backend=backend)
    model, card = load_poselift_network(p, backend)
    if card.get("kind", "pose") != "pose":
        raise InputError(f"model is a {card.get('kind')} model, not a pose model", p)
    traj = None
    traj_card: dict[str, Any] = {}
    traj_ref = card.get("trajectory_model") if trajectory == "auto" else trajectory
    if traj_ref:
        try:
            traj, traj_card = load_poselift_network(resolve_model_path(traj_ref), backend)
        except InputError:
            if trajectory != "auto":
                raise
            traj = None
    lm = _lift_model_from_card(model, card, str(p), traj)
    if traj is not None:
        lm.extra["trajectory_parameterization"] = traj_card.get("trajectory_parameterization", "direct")
        lm.extra["trajectory_card"] = traj_card
    if input_layout and input_layout != lm.input_layout:
        raise InputError(f"model expects {lm.input_layout} input, not {input_layout}", p)
    return lm


def ship_model(src: str | Path, name: str, card_updates: dict[str, Any] | None = None,
               weights_dir: Path = WEIGHTS_DIR) -> Path:
    """Copy a trained poselift model into the registry as ``name`` with an updated card.

    Used by maintainers to publish a model: the weights are re-saved unchanged, the card
    gets ``name`` and ``card_updates`` (e.g. measured metrics, ``trajectory_model``).
    """
    model, card = load_poselift_network(src, backend="torch")
    card = {**card, **(card_updates or {}), "name": name}
    cfg = ModelConfig.from_dict(card.pop("architecture"))
    return save_model(weights_dir / f"{name}.safetensors", model, cfg, card)
