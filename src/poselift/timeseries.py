"""Time-series helpers shared by every stage (resampling between frame-rate grids)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def resample_sequence(x: np.ndarray, t_src: Sequence[float] | np.ndarray,
                      t_dst: Sequence[float] | np.ndarray) -> np.ndarray:
    """Resample ``x (T_src, ...)`` from times ``t_src`` to ``t_dst``, linearly in time.

    Times outside ``[t_src[0], t_src[-1]]`` take the nearest end value (no
    extrapolation). Boolean arrays (validity masks) are resampled conservatively: a
    destination sample is True only if every source sample it interpolates from is True.

    Args:
        x: ``(T_src, ...)`` array, e.g. keypoints ``(T, J, 2)`` or a mask ``(T,)``.
        t_src: ``(T_src,)`` seconds, strictly increasing.
        t_dst: ``(T_dst,)`` seconds.

    Returns:
        ``(T_dst, ...)`` array, float (same float dtype as ``x``, float32 for ints) or bool.
    """
    x = np.asarray(x)
    ts = np.asarray(t_src, dtype=np.float64)
    td = np.asarray(t_dst, dtype=np.float64)
    if ts.ndim != 1 or len(ts) != len(x):
        raise ValueError(f"t_src must be ({len(x)},), got {ts.shape}")
    if len(ts) == 0:
        raise ValueError("cannot resample an empty sequence")
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        raise ValueError("t_src must be strictly increasing")
    if len(ts) == 1:
        return np.repeat(x, len(td), axis=0)
    i0 = np.clip(np.searchsorted(ts, td, side="right") - 1, 0, len(ts) - 2)
    w = np.clip((td - ts[i0]) / (ts[i0 + 1] - ts[i0]), 0.0, 1.0)
    if x.dtype == bool:
        a, b = x[i0], x[i0 + 1]
        wb = w.reshape((-1,) + (1,) * (x.ndim - 1))
        return np.where(wb <= 0, a, np.where(wb >= 1, b, a & b))
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    wb = w.reshape((-1,) + (1,) * (x.ndim - 1)).astype(dtype)
    return (x[i0].astype(dtype) * (1 - wb) + x[i0 + 1].astype(dtype) * wb).astype(dtype)
