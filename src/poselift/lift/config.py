"""Architecture of the temporal lifting networks, without torch.

:class:`ModelConfig` describes a network (enough to rebuild it from its weights) and
:func:`infer_config` recovers it from a VideoPose3D-layout state dict of torch tensors
or NumPy arrays (only shapes are read). Both torch (:mod:`poselift.lift.model`) and
NumPy (:mod:`poselift.lift.numpy_backend`) networks are built from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping


@dataclass
class ModelConfig:
    """Architecture of a temporal model; enough to rebuild it from weights."""

    num_joints_in: int = 17
    in_features: int = 2
    num_joints_out: int = 17
    filter_widths: list[int] = field(default_factory=lambda: [3, 3, 3])
    causal: bool = False
    dropout: float = 0.25
    channels: int = 1024
    dense: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        cfg = cls(**known)
        cfg.filter_widths = [int(w) for w in cfg.filter_widths]
        return cfg

    @property
    def receptive_field(self) -> int:
        r = 1
        for w in self.filter_widths:
            r *= w
        return r


def infer_config(state_dict: Mapping[str, Any], causal: bool = False,
                 dense: bool | None = None) -> ModelConfig:
    """Recover the architecture from a VideoPose3D-layout state dict.

    Channels, joint counts and filter widths follow from the weight shapes. Causality
    is not visible in weights (pass ``causal``). Dense models are recognised by their
    kernel sizes (``(w - 1) * dilation + 1`` rather than ``w``) unless ``dense`` is given.
    """
    try:
        expand = state_dict["expand_conv.weight"]
        shrink = state_dict["shrink.weight"]
    except KeyError as exc:
        raise ValueError(f"not a VideoPose3D temporal model state dict (missing {exc.args[0]})") from None
    channels, in_total, w0 = expand.shape
    out_total = shrink.shape[0]
    if out_total % 3:
        raise ValueError(f"shrink layer has {out_total} outputs, not a multiple of 3")
    kernels = _temporal_kernels(state_dict)
    if dense is None:
        # Dense kernels span a whole dilated filter, (w - 1) * d + 1; a plain kernel is w.
        # The dense reading is taken when it is possible at all (see dense_readings).
        dense = dense_readings(state_dict)[1]
    elif not dense_readings(state_dict)[1 if dense else 0]:
        raise ValueError(f"temporal kernels {kernels} do not fit a {'dense' if dense else 'non-dense'} model")
    widths = [int(w0)]
    d = int(w0)
    for k in kernels:
        w = (k - 1) // d + 1 if dense else k
        widths.append(int(w))
        d *= w
    # Input features: joints_in * features = in_total; VideoPose3D models take (x, y).
    in_features = 2 if in_total % 2 == 0 else 1
    return ModelConfig(num_joints_in=in_total // in_features, in_features=in_features,
                       num_joints_out=out_total // 3, filter_widths=widths, causal=causal,
                       channels=int(channels), dense=bool(dense))


def _temporal_kernels(state_dict: Mapping[str, Any]) -> list[int]:
    n_layers = len([k for k in state_dict if k.startswith("layers_conv.") and k.endswith(".weight")])
    return [int(state_dict[f"layers_conv.{2 * i}.weight"].shape[2]) for i in range(n_layers // 2)]


def dense_readings(state_dict: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether the weight shapes fit a plain and a dense (``--dense``) model: ``(plain, dense)``.

    A plain model's temporal kernels are its odd filter widths ``w``; a dense model's
    span a whole dilated filter, ``(w - 1) * d + 1`` with ``d`` the product of the earlier
    widths. Some stacks fit both (plain ``3,7`` and dense ``3,3`` both have kernels
    ``3, 7``); then only the training flags can tell.
    """
    w0 = int(state_dict["expand_conv.weight"].shape[2])
    kernels = _temporal_kernels(state_dict)
    plain = all(k % 2 == 1 for k in kernels)
    dense = bool(kernels)
    d = w0
    for k in kernels:
        w, rem = divmod(k - 1, d)
        if rem or w < 2 or (w + 1) % 2 == 0:
            dense = False
            break
        d *= w + 1
    return plain, dense
