"""Atomic file output: write to a temp file in the target folder, then rename."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from poselift.errors import PoseliftError


def atomic_write(path: str | Path, writer: Callable[[Path], None], suffix: str = "") -> Path:
    """Call ``writer(tmp_path)`` then move the temp file onto ``path``.

    The temp file sits beside ``path`` (same file system, so the rename is atomic) and
    is removed on any failure, so an interrupted or failed write leaves no partial file.
    ``suffix`` is appended to the temp name for writers that insist on an extension.
    OS errors become a one-line :class:`PoseliftError` naming ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        writer(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PoseliftError(f"cannot write output ({exc.strerror or exc})", path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def publish(tmp: str | Path, path: str | Path) -> None:
    """Rename a finished temp file onto ``path`` with ordinary permissions.

    ``tempfile.mkstemp`` creates files readable by their owner only; outputs users share
    should get the permissions any new file would get under the current umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
