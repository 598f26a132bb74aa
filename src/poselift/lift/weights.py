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
    ``lr``, ``optimizer``, ``random_state``...). It is read with
    ``torch.load(weights_only=True)``; NumPy arrays in ``random_state`` are admitted, any
    other pickled global makes the file be refused.

Registry
    Models shipped inside the package live in ``poselift/lift/weights``;
    :func:`load_model` takes a registry name or a path.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING, Union

import numpy as np
from safetensors import SafetensorError

from poselift.errors import InputError, PoseliftError, UnsafeFileError
from poselift.fsutil import publish
from poselift.lift.config import ModelConfig, infer_config
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
_NUMPY_GLOBALS = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
}


def _resolve_numpy_global(qualname: str) -> Any:
    module, _, name = qualname.rpartition(".")
    if module.startswith("numpy._core") and not hasattr(np, "_core"):
        module = module.replace("numpy._core", "numpy.core")
    obj: Any = __import__(module, fromlist=[name])
    return getattr(obj, name)


def _allowed_global(qualname: str) -> bool:
    return qualname in _NUMPY_GLOBALS or (qualname.startswith("numpy.dtypes.") and qualname.endswith("DType"))


def load_torch_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` a legacy ``.bin``/``.pt``, admitting NumPy arrays only.

    Raises:
        UnsafeFileError: the pickle references something besides tensors, numbers,
            containers and NumPy arrays.
        InputError: unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("checkpoint not found", p)
    try:
        import torch
    except ImportError:
        raise InputError(f"loading a VideoPose3D checkpoint {TORCH_HINT}", p) from None
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(p))
    except Exception as exc:  # torch raises several types for non-checkpoints
        raise InputError(f"not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})", p) from None
    refused = [g for g in unsafe if not _allowed_global(g)]
    if refused:
        raise UnsafeFileError("refusing to load: the checkpoint's pickle references "
                              f"{', '.join(sorted(refused))}, which is not a tensor, number or array", p)
    try:
        allowed = [_resolve_numpy_global(g) for g in unsafe]
        # dtype objects are rebuilt through their concrete classes, which the scan above
        # does not list; they are plain descriptors.
        allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
        with torch.serialization.safe_globals(allowed):
            ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeFileError(f"refusing to load: {str(exc).splitlines()[0]}", p) from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as exc:
        raise InputError(f"not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})", p) from None
    if not isinstance(ckpt, dict):
        raise InputError("checkpoint is not a dict of state dicts", p)
    return ckpt


def _guess_vp3d_layout(path: Path) -> str | None:
    name = path.name.lower()
    if "coco" in name or "detectron" in name:
        return "coco17"
    if "cpn" in name or "h36m" in name or "gt" in name:
        return "h36m17"
    return None


def load_videopose3d(path: str | Path, causal: bool = False, input_layout: str | None = None,
                     dense: bool | None = None, fps: float = 50.0, backend: str | None = None) -> LiftModel:
    """Load an original VideoPose3D checkpoint (``model_pos`` and optional ``model_traj``).

    Args:
        causal: the checkpoint was trained with ``--causal`` (not visible in weights).
        input_layout: 2D layout the model expects; guessed from the file name
            (``*coco*``/``*detectron*`` -> ``coco17``, ``*cpn*`` -> ``h36m17``) when None, else
            by joint count.
        fps: frame rate of the training data (Human3.6M: 50).
        backend: network backend (see :func:`resolve_backend`); reading the file needs
            torch either way.
    """
    p = Path(path)
    backend = resolve_backend(backend)
    ckpt = load_torch_checkpoint(p)
    if "model_pos" not in ckpt:
        raise InputError("checkpoint has no 'model_pos' entry (not a VideoPose3D checkpoint)", p)
    model_pos = _model_from_state(ckpt["model_pos"], causal, dense, p, "model_pos", backend)
    model_traj = None
    if ckpt.get("model_traj") is not None:
        model_traj = _model_from_state(ckpt["model_traj"], causal, dense, p, "model_traj", backend)
    cfg = _config_of(model_pos)
    layout = input_layout or _guess_vp3d_layout(p) or ("h36m17" if cfg.num_joints_in == 17 else None)
    if layout is None:
        raise InputError(f"cannot tell the input layout of a {cfg.num_joints_in}-joint model; "
                         "pass --input-layout", p)
    meta = {"name": p.stem, "kind": "pose", "format": "videopose3d", "architecture": cfg.to_dict(),
            "input_layout": layout, "output_layout": "h36m17" if cfg.num_joints_out == 17 else f"j{cfg.num_joints_out}",
            "fps": fps, "input_normalization": "screen", "epoch": ckpt.get("epoch")}
    return LiftModel(model_pos=model_pos, model_traj=model_traj, meta=meta, input_layout=layout,
                     output_layout=meta["output_layout"], fps=fps, causal=causal,
                     input_normalization="screen", source=str(p))


def _config_of(model: Network) -> ModelConfig:
    return model._poselift_config  # type: ignore[union-attr]


def _model_from_state(state: dict[str, "torch.Tensor"], causal: bool, dense: bool | None, path: Path,
                      what: str, backend: str = "torch") -> Network:
    if not isinstance(state, dict):
        raise InputError(f"'{what}' is not a state dict", path)
    # Checkpoints saved from DataParallel prefix every key with "module.".
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    from poselift.lift.model import build_model

    try:
        cfg = infer_config(state, causal=causal, dense=dense)
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
    return card


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
               backend: str | None = None) -> LiftModel:
    """Load a lifting model by registry name or path.

    ``.bin``/``.pt``/``.pth`` files are VideoPose3D checkpoints (``causal`` and
    ``input_layout`` describe them); ``.safetensors`` files are poselift models. For a
    poselift pose model, ``trajectory="auto"`` attaches the model named in its card's
    ``trajectory_model`` (if shipped); pass a name/path to choose, or None for none.
    ``backend``: ``"numpy"`` (default, no torch needed) or ``"torch"``, see
    :func:`resolve_backend`.
    """
    p = resolve_model_path(name_or_path)
    if p.suffix in (".bin", ".pt", ".pth", ".ckpt"):
        return load_videopose3d(p, causal=causal, input_layout=input_layout, dense=dense, backend=backend)
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
