"""User-facing errors: the CLI prints them as one line on stderr, without a traceback."""

from __future__ import annotations

from pathlib import Path


class PoseliftError(Exception):
    """An error caused by the user's input or environment, reported as one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(message)

    def __str__(self) -> str:
        msg = super().__str__()
        return f"{self.path}: {msg}" if self.path else msg


class InputError(PoseliftError):
    """A file that cannot be read or holds the wrong content."""


class UnsafeFileError(InputError):
    """A file whose pickled content would import or call something not allowed."""
