"""The ``poselift`` command. Each subcommand lives in its own module under
:mod:`poselift.cli` exposing ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from poselift import __version__
from poselift.cli.options import OneLineParser
from poselift.errors import PoseliftError, escape_text

# Modules are imported lazily by name so `poselift --help` stays fast and a command's
# heavy dependencies (torch, mediapipe) load only when that command runs.
SUBCOMMANDS: dict[str, str] = {
    "infer": "poselift.cli.infer_cmd",
    "live": "poselift.cli.live_cmd",
    "lift": "poselift.cli.lift_cmd",
    "models": "poselift.cli.models_cmd",
    "data": "poselift.cli.data_cmd",
    "train": "poselift.cli.train_cmd",
    "evaluate": "poselift.cli.evaluate_cmd",
    "export": "poselift.cli.export_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="poselift",
        description="Turn videos or 2D keypoint sequences of people into 3D skeletons; "
                    "train and evaluate the temporal lifting networks behind it.")
    parser.add_argument("--version", action="version", version=f"poselift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from poselift.staging import exit_code, install_signal_handlers, restore_signal_handlers

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    old = install_signal_handlers()  # SIGTERM, like Ctrl-C, unwinds and removes staged outputs
    try:
        return int(args.func(args) or 0)
    except PoseliftError as exc:
        print(f"poselift {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"poselift {args.command}: interrupted", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:  # a bug, not bad input: one line unless debugging
        if os.environ.get("POSELIFT_DEBUG"):
            raise
        print(f"poselift {args.command}: internal error: {type(exc).__name__}: {escape_text(exc)} "
              "(set POSELIFT_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
    finally:
        restore_signal_handlers(old)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
