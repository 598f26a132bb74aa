"""Argument types for the command line: every number is range-checked where it is parsed,
so a bad value is refused as one line naming the option before any work starts.

Each factory returns a callable for ``argparse``'s ``type=``; it raises
``argparse.ArgumentTypeError``, which :class:`OneLineParser` reports as
``poselift CMD: error: argument --x: ... (see poselift CMD --help)``.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, NoReturn

from poselift.errors import escape_text


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line plus a hint to ``--help`` (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {escape_text(message)} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        sys.exit(status)


def number(kind: type = float, *, min: float | None = None, max: float | None = None,
           min_open: bool = False, allow: tuple[float, ...] = ()) -> Callable[[str], float]:
    """A finite ``float`` or ``int`` within ``[min, max]`` (``(min, max]`` with ``min_open``);
    values in ``allow`` (e.g. ``-1`` meaning "all") are always accepted."""

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {escape_text(repr(text))}") from None
        if v in allow:
            return v
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        low = min is not None and (v <= min if min_open else v < min)
        if low or (max is not None and v > max):
            if min is not None and max is not None:
                rng = f"in ({min:g}, {max:g}]" if min_open else f"in [{min:g}, {max:g}]"
            elif min is not None:
                rng = f"> {min:g}" if min_open else f">= {min:g}"
            else:
                rng = f"<= {max:g}"
            extra = "".join(f" or {a:g}" for a in allow)
            raise argparse.ArgumentTypeError(f"must be {rng}{extra}, got {escape_text(text)}")
        return v

    parse.__name__ = "int" if kind is int else "float"  # argparse names the type in its messages
    return parse


positive_float = number(float, min=0, min_open=True)
nonneg_float = number(float, min=0)
fraction = number(float, min=0, max=1)
positive_int = number(int, min=1)
nonneg_int = number(int, min=0)
# Frame rates: 1000 fps cameras exist; beyond 10000 it is a typo.
fps_value = number(float, min=0, min_open=True, max=10000)
focal_px = number(float, min=0, min_open=True, max=1e7)
# The pinhole model ends at 170 degrees (see poselift.geometry.intrinsics.FOV_RANGE_DEG).
fov_degrees = number(float, min=1, max=170)
