"""VideoPose3D's temporal lifting networks.

Two modules share one set of weights:

* :class:`TemporalModel` — dilated 1D convolutions over time. Given ``T + R - 1``
  input frames it predicts ``T`` output frames, where ``R`` (the receptive field) is
  the product of the filter widths (``3,3,3`` -> 27, ``3,3,3,3,3`` -> 243). Used for
  inference on whole sequences.
* :class:`TemporalModelOptimized1f` — the same network with strided instead of
  dilated convolutions: it predicts one frame from exactly ``R`` frames and is much
  cheaper for training on random single-frame batches.

Parameter names and shapes match VideoPose3D (``expand_conv``, ``expand_bn``,
``layers_conv.N``, ``layers_bn.N``, ``shrink``), so original checkpoints load as they are.

Shapes: input ``(N, T_in, J_in, F)`` (``F`` = 2 for x, y in normalised screen units),
output ``(N, T_out, J_out, 3)`` in metres, camera frame.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

# The architecture description lives in a torch-free module; re-exported here.
from poselift.lift.config import ModelConfig, dense_readings, infer_config  # noqa: F401


class _TemporalBase(nn.Module):
    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool, dropout: float, channels: int) -> None:
        super().__init__()
        for w in filter_widths:
            if w % 2 == 0:
                raise ValueError(f"filter widths must be odd, got {list(filter_widths)}")
        self.num_joints_in = num_joints_in
        self.in_features = in_features
        self.num_joints_out = num_joints_out
        self.filter_widths = list(filter_widths)
        self.causal = causal
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)
        # pad[i]: frames consumed on each side by block i; their sum is half the receptive field.
        self.pad = [filter_widths[0] // 2]
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)

    def _build_blocks(self, channels: int, temporal_conv, shift_unit) -> None:
        """Create ``layers_conv``/``layers_bn`` and the per-block ``pad``/``causal_shift``.

        ``temporal_conv(w, dilation)`` makes block ``i``'s temporal convolution for filter
        width ``w`` at the dilation the dilated network would use; ``shift_unit(w, dilation)``
        is that block's causal shift in the variant's own time steps.
        """
        widths = self.filter_widths
        convs, bns = [], []
        # A causal model sees only the past: each block's residual is taken `shift` later.
        self.causal_shift = [widths[0] // 2 if self.causal else 0]
        dilation = widths[0]
        for w in widths[1:]:
            self.pad.append((w - 1) * dilation // 2)
            self.causal_shift.append(shift_unit(w, dilation) if self.causal else 0)
            convs += [temporal_conv(w, dilation), nn.Conv1d(channels, channels, 1, bias=False)]
            bns += [nn.BatchNorm1d(channels, momentum=0.1), nn.BatchNorm1d(channels, momentum=0.1)]
            dilation *= w
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)

    def _residual_block(self, i: int, x: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
        """Block ``i``: temporal conv -> BN -> ReLU -> dropout -> 1x1 conv -> BN -> ReLU ->
        dropout, added to ``res`` (the input frames aligned with the block's outputs)."""
        x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
        return res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))

    def set_bn_momentum(self, momentum: float) -> None:
        self.expand_bn.momentum = momentum
        for bn in self.layers_bn:
            bn.momentum = momentum

    def receptive_field(self) -> int:
        return 1 + 2 * sum(self.pad)

    def total_causal_shift(self) -> int:
        """Frames the output is shifted right when causal (0 otherwise).

        Every block of a causal model shifts its window by half its span, so in total
        the output frame is the last of the receptive field.
        """
        return (self.receptive_field() - 1) // 2 if self.causal else 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T_in, J_in, F) -> (N, T_out, J_out, 3)``."""
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != self.in_features:
            raise ValueError(f"expected input (N, T, {self.num_joints_in}, {self.in_features}), "
                             f"got {tuple(x.shape)}")
        n, t = x.shape[:2]
        x = x.reshape(n, t, -1).permute(0, 2, 1)
        x = self._forward_blocks(x)
        return x.permute(0, 2, 1).reshape(n, -1, self.num_joints_out, 3)


class TemporalModel(_TemporalBase):
    """Dilated temporal convolutional network (inference and dense training)."""

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024, dense: bool = False) -> None:
        super().__init__(num_joints_in, in_features, num_joints_out, filter_widths, causal, dropout, channels)
        self.dense = dense
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, filter_widths[0], bias=False)

        def conv(w: int, d: int) -> nn.Conv1d:
            # Dense: one undilated kernel spanning the whole dilated filter.
            if dense:
                return nn.Conv1d(channels, channels, (w - 1) * d + 1, bias=False)
            return nn.Conv1d(channels, channels, w, dilation=d, bias=False)

        self._build_blocks(channels, conv, lambda w, d: (w // 2) * d)

    def _forward_blocks(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i in range(len(self.pad) - 1):
            pad, shift = self.pad[i + 1], self.causal_shift[i + 1]
            x = self._residual_block(i, x, x[:, :, pad + shift: x.shape[2] - pad + shift])
        return self.shrink(x)


class TemporalModelOptimized1f(_TemporalBase):
    """Strided variant: ``R`` input frames -> 1 output frame; same weights as :class:`TemporalModel`."""

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024) -> None:
        super().__init__(num_joints_in, in_features, num_joints_out, filter_widths, causal, dropout, channels)
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, filter_widths[0],
                                     stride=filter_widths[0], bias=False)
        # In strided space one step is one frame of the previous block's output.
        self._build_blocks(channels, lambda w, d: nn.Conv1d(channels, channels, w, stride=w, bias=False),
                           lambda w, d: w // 2)

    def _forward_blocks(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i in range(len(self.pad) - 1):
            w = self.filter_widths[i + 1]
            x = self._residual_block(i, x, x[:, :, self.causal_shift[i + 1] + w // 2:: w])
        return self.shrink(x)


def build_model(cfg: ModelConfig, optimized_1f: bool = False) -> _TemporalBase:
    """Instantiate the network described by ``cfg`` (weights uninitialised)."""
    common = dict(num_joints_in=cfg.num_joints_in, in_features=cfg.in_features,
                  num_joints_out=cfg.num_joints_out, filter_widths=cfg.filter_widths,
                  causal=cfg.causal, dropout=cfg.dropout, channels=cfg.channels)
    if optimized_1f:
        if cfg.dense:
            raise ValueError("the strided single-frame model has no dense variant")
        return TemporalModelOptimized1f(**common)
    return TemporalModel(dense=cfg.dense, **common)
