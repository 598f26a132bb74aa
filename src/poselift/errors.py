"""User-facing errors: the CLI prints them as one line on stderr, without a traceback."""

from __future__ import annotations

import re
from pathlib import Path

# C0/C1 control characters (newline, carriage return, escape, DEL...): in a file name they
# would split a one-line message or drive the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_text(text: object) -> str:
    """``str(text)`` with control characters written as ``\\n``, ``\\x1b``...; one line, always."""
    s = str(text)
    if not _CONTROL.search(s):
        return s
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)


class PoseliftError(Exception):
    """An error caused by the user's input or environment, reported as one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(message)

    def __str__(self) -> str:
        msg = escape_text(super().__str__())
        return f"{escape_text(self.path)}: {msg}" if self.path else msg


class InputError(PoseliftError):
    """A file that cannot be read or holds the wrong content."""


class UnsafeFileError(InputError):
    """A file whose pickled content would import or call something not allowed."""


_warned: set[str] = set()


def warn_once(message: str, path: str | Path | None = None) -> None:
    """One line ``poselift: warning: PATH: message`` on stderr, once per process and text."""
    import sys

    line = str(PoseliftError(message, path))
    if line in _warned:
        return
    _warned.add(line)
    print(f"poselift: warning: {line}", file=sys.stderr, flush=True)
