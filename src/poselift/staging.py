"""All-or-nothing outputs for one video, and signals turned into clean interruptions.

:class:`Stage` collects every output of one unit of work (the npz, exports, the
rendering) in a hidden temporary folder on the same file system as its destination, and
moves them into place only when all of them were written. If anything fails, or
SIGINT/SIGTERM arrives, the temporary folder is removed and nothing of that unit remains:
no output and no temp file. The output folder itself is created only at the move, so a
failed run does not leave an empty folder behind.

:func:`install_signal_handlers` makes SIGTERM raise :class:`Interrupted` (a
``KeyboardInterrupt``) like SIGINT does, so ``finally`` blocks and context managers run
on both; the command then exits with ``128 + signal number`` (130, 143).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path
from types import FrameType, TracebackType

from poselift.errors import PoseliftError

STAGE_PREFIX = ".poselift-stage-"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM received; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    def __reduce__(self):  # crosses process-pool boundaries intact
        return (Interrupted, (self.signum,))


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (no-op elsewhere).
    Returns the previous handlers, for :func:`restore_signal_handlers`."""
    old: dict[int, object] = {}
    try:
        for s in (signal.SIGINT, signal.SIGTERM):
            old[s] = signal.signal(s, _raise_interrupted)
    except ValueError:  # not the main thread
        pass
    return old


def restore_signal_handlers(old: dict[int, object]) -> None:
    for s, h in old.items():
        signal.signal(s, h)  # type: ignore[arg-type]


def exit_code(exc: BaseException) -> int:
    """Shell convention for a process ended by a signal: 128 + its number."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT))


def existing_ancestor(folder: Path) -> Path:
    """``folder`` or its nearest parent that exists (where a stage can live before
    ``folder`` itself is created)."""
    p = Path(os.path.abspath(folder))
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


class Stage:
    """Staged outputs of one unit of work; use as a context manager.

    ``stage.folder(outdir)`` is a hidden folder to write files that belong in
    ``outdir`` (same names); ``stage.path(dest)`` is where to write one file that becomes
    ``dest``. :meth:`commit` moves every staged file onto its destination
    (``os.replace``, atomic per file, with SIGINT/SIGTERM held back while it runs).
    Leaving the ``with`` block without committing, by an exception or a signal, deletes
    everything staged.
    """

    def __init__(self) -> None:
        self._dirs: list[Path] = []
        self._folders: dict[Path, Path] = {}  # destination folder -> staging folder
        self._files: list[tuple[Path, Path]] = []  # (staged file, destination)
        self.committed = False

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(ev, PoseliftError) and ev.path:
            ev.path = str(self.final(ev.path))  # name the output the user asked for, not the temp file
        self.discard()

    def _mkdir(self, dest_dir: Path) -> Path:
        home = existing_ancestor(dest_dir)
        try:
            d = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=home))
        except OSError as exc:
            raise PoseliftError(f"cannot write output ({exc.strerror or exc})", dest_dir) from None
        self._dirs.append(d)
        return d

    def folder(self, dest_dir: str | Path) -> Path:
        """A staging folder whose files, on commit, move into ``dest_dir`` under the same names."""
        dest_dir = Path(os.path.abspath(dest_dir))
        if dest_dir not in self._folders:
            self._folders[dest_dir] = self._mkdir(dest_dir)
        return self._folders[dest_dir]

    def path(self, dest: str | Path) -> Path:
        """Where to write the single file that becomes ``dest`` on commit."""
        dest = Path(os.path.abspath(dest))
        staged = self._mkdir(dest.parent) / dest.name
        self._files.append((staged, dest))
        return staged

    def final(self, staged: str | Path) -> Path:
        """The destination a staged path will be moved to."""
        staged = Path(staged)
        for s, dest in self._files:
            if s == staged or staged.parent == s.parent:
                return dest
        for dest_dir, d in self._folders.items():
            if staged.parent == d:
                return dest_dir / staged.name
        return staged

    def _moves(self) -> list[tuple[Path, Path]]:
        moves = []
        for dest_dir, d in self._folders.items():
            # The npz first, as the summary lists it; writers' own hidden temp files stay behind.
            files = sorted(d.iterdir(), key=lambda f: (f.suffix != ".npz", f.name))
            moves += [(f, dest_dir / f.name) for f in files if not f.name.startswith(".")]
        return moves + [(s, d) for s, d in self._files if s.exists()]

    def commit(self) -> list[Path]:
        """Move every staged file into place; returns the destinations."""
        done: list[Path] = []
        blocked = _block_signals()
        try:
            for staged, dest in self._moves():
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staged, dest)
                except OSError as exc:
                    for d in done:  # all or nothing: take back what was already moved
                        d.unlink(missing_ok=True)
                    raise PoseliftError(f"cannot write output ({exc.strerror or exc})", dest) from None
                done.append(dest)
            self.committed = True
        finally:
            _unblock_signals(blocked)
            self.discard()
        return done

    def discard(self) -> None:
        """Delete the staging folders and anything in them (a second signal waits)."""
        if not self._dirs:
            return
        blocked = _block_signals()
        try:
            for d in self._dirs:
                shutil.rmtree(d, ignore_errors=True)
            self._dirs.clear()
            self._folders.clear()
        finally:
            _unblock_signals(blocked)


def _block_signals() -> set[int] | None:
    try:
        return set(signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}))
    except (AttributeError, OSError, ValueError):
        return None


def _unblock_signals(previous: set[int] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# ----------------------------------------------------------------------------- process pools
# In a pool worker (see :func:`init_worker`): the first signal interrupts the running job
# (or ends an idle worker quietly); later ones are ignored so the clean-up of staged
# files finishes, and a worker once interrupted starts no further job.
_worker = {"is_worker": False, "busy": False, "signal": 0}


def _worker_signal(signum: int, frame: FrameType | None) -> None:
    if _worker["signal"]:
        return
    _worker["signal"] = signum
    if _worker["busy"]:
        raise Interrupted(signum)
    os._exit(128 + signum)


def init_worker() -> None:
    """Initializer of pool worker processes."""
    _worker["is_worker"] = True
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, _worker_signal)
    # tqdm would make a process-shared lock (a named semaphore) on its first bar; an idle
    # worker ended by a signal (os._exit) never releases it, and the resource tracker then
    # prints a "leaked semaphore" warning after the parent's last line. Workers draw no
    # bars (progress is off in a pool), so a thread lock serves.
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


class job:
    """``with job():`` around one unit of work in a process that may be a pool worker."""

    def __enter__(self) -> "job":
        if _worker["is_worker"]:
            if _worker["signal"]:
                raise Interrupted(_worker["signal"])
            _worker["busy"] = True
        return self

    def __exit__(self, *exc: object) -> None:
        _worker["busy"] = False


def stop_pool(ex: "concurrent.futures.ProcessPoolExecutor", exc: BaseException,  # noqa: F821
              timeout: float = 30.0) -> None:
    """Shut a pool down after ``exc`` interrupted its caller: cancel queued jobs, pass the
    signal on to the workers (a signal sent to the parent alone would let them finish),
    give them ``timeout`` seconds to clean up their staged outputs, then kill them."""
    import time

    procs = list((getattr(ex, "_processes", None) or {}).values())
    signum = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
    ex.shutdown(wait=False, cancel_futures=True)
    if isinstance(exc, KeyboardInterrupt):
        for p in procs:
            try:
                os.kill(p.pid, signum)
            except (OSError, TypeError):
                pass
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(5)
