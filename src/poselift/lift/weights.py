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
import math
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from poselift.errors import InputError, PoseliftError, UnsafeFileError
from poselift.fsutil import publish
from poselift.lift.model import ModelConfig, TemporalModel, build_model, infer_config

WEIGHTS_DIR = Path(__file__).with_name("weights")
METADATA_KEY = "poselift"


@dataclass
class LiftModel:
    """A ready-to-run pose model, optionally with its trajectory model.

    Attributes:
        model_pos: network predicting root-relative joints, eval mode.
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

    model_pos: TemporalModel
    meta: dict[str, Any]
    model_traj: TemporalModel | None = None
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
    from poselift.fsutil import check_input

    p = check_input(path, what="checkpoint")
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(p))
    except Exception as exc:  # torch raises several types for non-checkpoints
        raise InputError(_unreadable_checkpoint(p, exc), p) from None
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
    name = path.name.lower()
    if "coco" in name or "detectron" in name:
        return "coco17"
    if "cpn" in name or "h36m" in name or "gt" in name:
        return "h36m17"
    return None


def load_videopose3d(path: str | Path, causal: bool = False, input_layout: str | None = None,
                     dense: bool | None = None, fps: float = 50.0) -> LiftModel:
    """Load an original VideoPose3D checkpoint (``model_pos`` and optional ``model_traj``).

    Args:
        causal: the checkpoint was trained with ``--causal`` (not visible in weights).
        input_layout: 2D layout the model expects; guessed from the file name
            (``*coco*``/``*detectron*`` -> ``coco17``, ``*cpn*`` -> ``h36m17``) when None, else
            by joint count.
        fps: frame rate of the training data (Human3.6M: 50).
    """
    p = Path(path)
    ckpt = load_torch_checkpoint(p)
    if "model_pos" not in ckpt:
        raise InputError("checkpoint has no 'model_pos' entry (not a VideoPose3D checkpoint)", p)
    model_pos = _model_from_state(ckpt["model_pos"], causal, dense, p, "model_pos")
    model_traj = None
    if ckpt.get("model_traj") is not None:
        model_traj = _model_from_state(ckpt["model_traj"], causal, dense, p, "model_traj")
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


def _config_of(model: TemporalModel) -> ModelConfig:
    return model._poselift_config  # type: ignore[attr-defined]


def _model_from_state(state: dict[str, torch.Tensor], causal: bool, dense: bool | None, path: Path,
                      what: str) -> TemporalModel:
    if not isinstance(state, dict):
        raise InputError(f"'{what}' is not a state dict", path)
    # Checkpoints saved from DataParallel prefix every key with "module.".
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    try:
        cfg = infer_config(state, causal=causal, dense=dense)
        model = build_model(cfg)
        model.load_state_dict(state, strict=True)
    except (ValueError, RuntimeError, KeyError) as exc:
        msg = str(exc).splitlines()[0]
        raise InputError(f"'{what}' does not fit a VideoPose3D temporal model: {msg}", path) from None
    model._poselift_config = cfg  # type: ignore[attr-defined]
    return model.eval()


# --------------------------------------------------------------------------- poselift format
def save_model(path: str | Path, model: torch.nn.Module, cfg: ModelConfig, meta: dict[str, Any],
               write_card: bool = True) -> Path:
    """Write ``model`` as ``<path>.safetensors`` with ``meta`` (+ architecture) in its header.

    Written to a temp file then renamed, so an interrupted save leaves the old file intact.
    Returns the ``.safetensors`` path.
    """
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
        with safe_open(str(p), framework="pt") as f:
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


def load_poselift_network(path: str | Path) -> tuple[TemporalModel, dict[str, Any]]:
    """Load one poselift network and its card."""
    p = Path(path)
    card = read_model_card(p)
    try:
        cfg = ModelConfig.from_dict(card["architecture"])
        state = load_file(str(p))
        model = build_model(cfg)
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        raise InputError(f"model file does not match its metadata: {str(exc).splitlines()[0]}", p) from None
    model._poselift_config = cfg  # type: ignore[attr-defined]
    return model.eval(), card


def _lift_model_from_card(model: TemporalModel, card: dict[str, Any], source: str,
                          traj: TemporalModel | None = None) -> LiftModel:
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
               dense: bool | None = None, trajectory: str | Path | None = "auto") -> LiftModel:
    """Load a lifting model by registry name or path.

    ``.bin``/``.pt``/``.pth`` files are VideoPose3D checkpoints (``causal`` and
    ``input_layout`` describe them); ``.safetensors`` files are poselift models. For a
    poselift pose model, ``trajectory="auto"`` attaches the model named in its card's
    ``trajectory_model`` (if shipped); pass a name/path to choose, or None for none.
    """
    p = resolve_model_path(name_or_path)
    if p.suffix in (".bin", ".pt", ".pth", ".ckpt"):
        return load_videopose3d(p, causal=causal, input_layout=input_layout, dense=dense)
    model, card = load_poselift_network(p)
    if card.get("kind", "pose") != "pose":
        raise InputError(f"model is a {card.get('kind')} model, not a pose model", p)
    traj = None
    traj_card: dict[str, Any] = {}
    traj_ref = card.get("trajectory_model") if trajectory == "auto" else trajectory
    if traj_ref:
        try:
            traj, traj_card = load_poselift_network(resolve_model_path(traj_ref))
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
    model, card = load_poselift_network(src)
    card = {**card, **(card_updates or {}), "name": name}
    cfg = ModelConfig.from_dict(card.pop("architecture"))
    return save_model(weights_dir / f"{name}.safetensors", model, cfg, card)
