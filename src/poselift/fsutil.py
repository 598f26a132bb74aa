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


def check_input(path: str | Path, *, folder_ok: bool = False, what: str = "file") -> Path:
    """Refuse an input path that is not a readable regular file (or folder, if allowed)
    with the true reason: missing, a symlink loop, a FIFO/device/socket, a folder,
    unreadable. Returns the path. Raises :class:`~poselift.errors.InputError`."""
    import errno
    import stat

    from poselift.errors import InputError

    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("symbolic link loop", p) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError("no such file" + (" or folder" if folder_ok else "") + " (not found)", p) from None
        raise InputError(f"cannot read {what} ({exc.strerror or exc})", p) from None
    if stat.S_ISDIR(st.st_mode):
        if folder_ok:
            return p
        raise InputError(f"is a folder, not a {what}", p)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device")
        raise InputError(f"is {kind}, not a regular {what}", p)
    if not os.access(p, os.R_OK):
        raise InputError(f"cannot read {what} (permission denied)", p)
    return p


def read_bounded(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of ``path``, gzip-decompressed when it starts with the gzip magic, refusing
    (before allocating beyond it) more than ``limit`` bytes either way."""
    import gzip
    import zlib

    from poselift.errors import InputError

    p = check_input(path, what=what)
    try:
        size = p.stat().st_size
        if size > limit:
            raise InputError(f"{what} is {size / 2**20:.0f} MiB, more than the {limit / 2**20:.0f} MiB allowed", p)
        with open(p, "rb") as f:
            raw = f.read(limit + 1)
        if raw[:2] != b"\x1f\x8b":
            return raw
        with gzip.GzipFile(fileobj=__import__("io").BytesIO(raw)) as g:
            out = g.read(limit + 1)
    except OSError as exc:
        if isinstance(exc, (gzip.BadGzipFile, EOFError)) or not getattr(exc, "errno", None):
            raise InputError(f"corrupt gzip data ({exc})", p) from None
        raise InputError(f"cannot read {what} ({exc.strerror or exc})", p) from None
    except (EOFError, zlib.error) as exc:
        raise InputError(f"corrupt gzip data ({exc})", p) from None
    if len(out) > limit:
        raise InputError(f"{what} decompresses to more than the {limit / 2**20:.0f} MiB allowed", p)
    return out
