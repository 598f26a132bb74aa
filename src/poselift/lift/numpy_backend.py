"""The temporal lifting networks in NumPy, for inference without torch.

:class:`NumpyTemporalModel` computes exactly what :class:`poselift.lift.model.TemporalModel`
(dilated, causal, dense) and :class:`~poselift.lift.model.TemporalModelOptimized1f`
(strided) compute in eval mode, from the same VideoPose3D-layout state dict (NumPy
arrays, e.g. ``safetensors.numpy.load_file``). Dropout is the identity at inference
and every batch norm follows a bias-free convolution, so each BN is folded into the
convolution before it once, at load (``W' = W * s``, ``b' = beta - mean * s`` with
``s = gamma / sqrt(var + eps)``); a block is then two matrix products and a ReLU.

Activations are kept time-major, ``(N, T, C)``: a temporal convolution with ``k`` taps
at dilation ``d`` is the sum of ``k`` matrix products of time-shifted views of the
input with ``(C_in, C_out)`` matrices, each one BLAS call without copying the input.
Weights are folded in float64 and stored as float32, as torch computes.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from poselift.lift.config import ModelConfig

# torch.nn.BatchNorm1d's default epsilon (VideoPose3D never changes it).
BN_EPS = 1e-5


def _fold(w: np.ndarray, state: Mapping[str, np.ndarray], bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Conv weight ``(C_out, C_in, k)`` + batch norm ``bn`` -> taps ``(k, C_in, C_out)`` and bias ``(C_out,)``."""
    gamma = np.asarray(state[f"{bn}.weight"], np.float64)
    beta = np.asarray(state[f"{bn}.bias"], np.float64)
    mean = np.asarray(state[f"{bn}.running_mean"], np.float64)
    var = np.asarray(state[f"{bn}.running_var"], np.float64)
    s = gamma / np.sqrt(var + BN_EPS)
    taps = np.asarray(w, np.float64) * s[:, None, None]
    return (np.ascontiguousarray(taps.transpose(2, 1, 0), dtype=np.float32),
            (beta - mean * s).astype(np.float32))


class NumpyTemporalModel:
    """A VideoPose3D temporal network evaluated with NumPy (inference only).

    Args:
        cfg: the architecture (as stored in a poselift model card or inferred from a
            VideoPose3D state dict).
        state: the network's state dict as NumPy arrays (torch parameter names).
        strided: evaluate as the strided single-frame variant (``R`` frames -> 1 frame),
            which gives the same numbers as the dilated one on ``R`` frames.

    Has the attributes and methods inference uses of the torch modules
    (``receptive_field()``, ``total_causal_shift()``, ``num_joints_in``...), and is
    called like them: ``(N, T_in, J_in, F)`` float -> ``(N, T_out, J_out, 3)`` float32
    with ``T_out = T_in - R + 1`` (dilated) or ``(T_in - R) // R + 1`` (strided).
    """

    backend = "numpy"
    training = False

    def __init__(self, cfg: ModelConfig, state: Mapping[str, np.ndarray], strided: bool = False) -> None:
        widths = [int(w) for w in cfg.filter_widths]
        if any(w % 2 == 0 for w in widths):
            raise ValueError(f"filter widths must be odd, got {widths}")
        if strided and cfg.dense:
            raise ValueError("the strided single-frame model has no dense variant")
        self.config = cfg
        self._poselift_config = cfg  # what the torch modules carry once loaded
        self.num_joints_in = cfg.num_joints_in
        self.in_features = cfg.in_features
        self.num_joints_out = cfg.num_joints_out
        self.filter_widths = widths
        self.causal = bool(cfg.causal)
        self.dense = bool(cfg.dense)
        self.strided = bool(strided)
        state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}

        def get(key: str, shape: tuple[int, ...]) -> np.ndarray:
            if key not in state:
                raise ValueError(f"state dict has no {key!r}")
            a = np.asarray(state[key])
            if a.shape != shape:
                raise ValueError(f"{key} has shape {a.shape}, expected {shape}")
            return a

        c, c_in = cfg.channels, cfg.num_joints_in * cfg.in_features
        # Block i's time offsets, as the torch modules compute them (see model._build_blocks).
        self.pad = [widths[0] // 2]
        self.causal_shift = [widths[0] // 2 if self.causal else 0]
        self._expand = _fold(get("expand_conv.weight", (c, c_in, widths[0])), state, "expand_bn")
        self._blocks: list[tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]] = []
        dilation = widths[0]
        for i, w in enumerate(widths[1:]):
            self.pad.append((w - 1) * dilation // 2)
            if self.causal:
                self.causal_shift.append(w // 2 if strided else (w // 2) * dilation)
            else:
                self.causal_shift.append(0)
            k = (w - 1) * dilation + 1 if self.dense else w
            taps, b = _fold(get(f"layers_conv.{2 * i}.weight", (c, c, k)), state, f"layers_bn.{2 * i}")
            taps1, b1 = _fold(get(f"layers_conv.{2 * i + 1}.weight", (c, c, 1)), state, f"layers_bn.{2 * i + 1}")
            # Tap spacing in the input: dilated -> dilation, dense -> 1 (a long kernel), strided -> 1.
            step = 1 if (self.dense or strided) else dilation
            self._blocks.append((taps, b, step, taps1[0], b1))
            dilation *= w
        shrink_w = get("shrink.weight", (cfg.num_joints_out * 3, c, 1))
        self._shrink = (np.ascontiguousarray(np.asarray(shrink_w, np.float32)[:, :, 0].T),
                        np.asarray(get("shrink.bias", (cfg.num_joints_out * 3,)), np.float32))

    # -- the torch modules' interface used by inference
    def receptive_field(self) -> int:
        return 1 + 2 * sum(self.pad)

    def total_causal_shift(self) -> int:
        """Frames the output is shifted right when causal (0 otherwise)."""
        return (self.receptive_field() - 1) // 2 if self.causal else 0

    def eval(self) -> "NumpyTemporalModel":
        return self

    # -- evaluation
    @staticmethod
    def _conv(x: np.ndarray, taps: np.ndarray, bias: np.ndarray, step: int) -> np.ndarray:
        """Valid temporal convolution of ``x (N, T, C_in)`` with ``taps (k, C_in, C_out)`` spaced ``step`` frames."""
        k = taps.shape[0]
        t_out = x.shape[1] - (k - 1) * step
        if t_out <= 0:
            raise ValueError(f"{x.shape[1]} frames are fewer than the layer's span {(k - 1) * step + 1}")
        y = np.matmul(x[:, :t_out], taps[0])
        tmp = np.empty_like(y) if k > 1 else None
        for j in range(1, k):
            np.matmul(x[:, j * step: j * step + t_out], taps[j], out=tmp)
            y += tmp
        y += bias
        return y

    @staticmethod
    def _strided_conv(x: np.ndarray, taps: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Convolution with kernel = stride = ``k``: non-overlapping windows, one matrix product."""
        k, c_in, c_out = taps.shape
        n, t = x.shape[:2]
        t_out = (t - k) // k + 1
        if t_out <= 0:
            raise ValueError(f"{t} frames are fewer than the layer's width {k}")
        xw = np.ascontiguousarray(x[:, : t_out * k]).reshape(n, t_out, k * c_in)
        y = np.matmul(xw, taps.reshape(k * c_in, c_out))
        y += bias
        return y

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, T_in, J_in, F) -> (N, T_out, J_out, 3)`` float32, metres for pose models."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input (N, T, {self.num_joints_in}, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        n, t = x.shape[:2]
        h = np.ascontiguousarray(x.reshape(n, t, -1))
        if self.strided:
            h = self._strided_conv(h, *self._expand)
        else:
            h = self._conv(h, *self._expand, step=1)
        np.maximum(h, 0, out=h)
        for i, (taps, b, step, w1, b1) in enumerate(self._blocks):
            shift = self.causal_shift[i + 1]
            if self.strided:
                w = self.filter_widths[i + 1]
                res = h[:, shift + w // 2:: w]
                y = self._strided_conv(h, taps, b)
                res = res[:, : y.shape[1]]
            else:
                pad = self.pad[i + 1]
                res = h[:, pad + shift: h.shape[1] - pad + shift]
                y = self._conv(h, taps, b, step)
            np.maximum(y, 0, out=y)
            z = np.matmul(y, w1)
            z += b1
            np.maximum(z, 0, out=z)
            z += res
            h = z
        out = np.matmul(h, self._shrink[0])
        out += self._shrink[1]
        return out.reshape(n, out.shape[1], self.num_joints_out, 3)

    forward = __call__


def from_torch(model) -> NumpyTemporalModel:
    """The NumPy twin of a torch :class:`~poselift.lift.model.TemporalModel` (or the strided variant)."""
    from poselift.lift.model import TemporalModelOptimized1f

    cfg = getattr(model, "_poselift_config", None)
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    if cfg is None:
        from poselift.lift.config import infer_config

        cfg = infer_config(state, causal=model.causal, dense=getattr(model, "dense", False))
    return NumpyTemporalModel(cfg, state, strided=isinstance(model, TemporalModelOptimized1f))
