"""``poselift infer ... --ray [ADDRESS]``: one Ray task per video, on this machine or a cluster.

Without an address a private Ray instance starts on this machine (``ray.init()``) and
stops at the end; with one (``auto``, ``ray://host:port``, ``host:port``) the driver
joins that cluster. Every video is one task declaring what it needs (``num_cpus``,
``memory``), so Ray's scheduler never puts more videos on a node than it has cores and
memory for. Each task runs the same :func:`poselift.infer.process_video` as a local
run: outputs are written to a temp file beside the target and renamed, so a task that
fails or is killed leaves nothing half-written. On a cluster the input videos and the
output folder must be at the same path on every node (a shared file system), and
every node needs poselift installed in the Python environment its Ray workers use.

A bad video (or a task that dies) becomes a failed :class:`~poselift.infer.VideoResult`
in the summary; it never stops the other tasks.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from poselift.errors import PoseliftError
from poselift.infer import InferOptions, VideoResult

#: Default resources of one task: MediaPipe and torch at one thread use about 1 GiB.
TASK_CPUS = 1.0
TASK_MEMORY_GB = 2.0
_LOCAL = "local"
_LOCAL_START_ATTEMPTS = 3
_ADDRESS_RE = re.compile(r"^(auto|[A-Za-z][\w+.-]*://\S+|[\w.-]+:\d+)$")


def is_ray_address(text: str) -> bool:
    """``auto``, ``ray://host:port``, ``host:port`` or ``local``: what ``--ray`` accepts."""
    return text == _LOCAL or bool(_ADDRESS_RE.match(text))


def _task(video: str, opts: InferOptions, cpus: float) -> VideoResult:
    """Body of one Ray task (runs in a Ray worker process)."""
    from poselift.infer import _run_one

    # One worker per declared CPU: torch's default (all cores of the node) would make
    # every task on a node fight for the same cores. (Inference needs no torch; when it
    # is installed and loaded, pin it.)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(1, int(cpus)))
    return _run_one((Path(video), opts))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".strip()


def run_batch_ray(videos: list[Path], opts: InferOptions, address: str | None = None, workers: int | None = None,
                  task_cpus: float = TASK_CPUS, task_memory_gb: float = TASK_MEMORY_GB,
                  progress: bool = True) -> list[VideoResult]:
    """Process ``videos`` as Ray tasks; returns one result per video, in input order.

    Args:
        videos: input video files.
        opts: the ``infer`` options every task uses (``outdir`` is made absolute here,
            as workers do not share the driver's working directory).
        address: None or ``"local"`` to start Ray on this machine, else a cluster address.
        workers: with a local Ray, its number of CPUs (default: all cores); on a cluster,
            the most tasks in flight at once (default: no limit, Ray schedules by resources).
        task_cpus, task_memory_gb: resources each task declares.
        progress: a progress bar over videos on stderr.
    Raises:
        PoseliftError: Ray is not installed, or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise PoseliftError("--ray needs Ray, an optional extra: pip install 'poselift[ray]'") from None
    from tqdm import tqdm

    if opts.outdir is not None:
        opts = replace(opts, outdir=Path(opts.outdir).resolve())
        from poselift.infer import _check_writable

        _check_writable(opts.outdir)
    opts = replace(opts, progress=False)  # a bar per worker would interleave; one bar over videos here
    local = address in (None, _LOCAL)
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        # Ray gives a starting node 30 s to register (a fixed limit); on a busy machine a
        # second try, with the binaries and libraries now in the page cache, usually makes it.
        attempts = _LOCAL_START_ATTEMPTS if local else 1
        for attempt in range(1, attempts + 1):
            try:
                if local:
                    # Tasks return small results: a small object store, no dashboard, and the
                    # workers' native log lines (MediaPipe, TFLite) stay in Ray's log files.
                    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                             object_store_memory=256 * 1024 ** 2, configure_logging=False)
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
                break
            except Exception as exc:  # ConnectionError, RuntimeError, ValueError: all mean "cannot start/join"
                ray.shutdown()
                if attempt < attempts and "timed out during startup" in str(exc):
                    continue
                where = "start a local Ray" if local else f"join the Ray cluster at {address}"
                raise PoseliftError(f"cannot {where}: {_describe(exc)}") from None
        started = True
    try:
        remote = ray.remote(num_cpus=task_cpus, memory=int(task_memory_gb * 1024 ** 3), max_retries=0)(_task)
        paths = [Path(v).resolve() for v in videos]
        limit = len(paths) if (local or not workers) else max(1, workers)
        results: dict[int, VideoResult] = {}
        pending: dict[Any, int] = {}
        queue = list(range(len(paths)))
        with tqdm(total=len(paths), unit="video", desc="videos", disable=not progress) as bar:
            while queue or pending:
                while queue and len(pending) < limit:
                    i = queue.pop(0)
                    pending[remote.remote(str(paths[i]), opts, task_cpus)] = i
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i = pending.pop(ref)
                    try:
                        results[i] = ray.get(ref)
                    except Exception as exc:  # the task or its worker died (crash, out of memory)
                        results[i] = VideoResult(videos[i], False, f"{videos[i]}: task failed: {_describe(exc)}")
                    bar.update(1)
        return [results[i] for i in range(len(paths))]
    finally:
        if started:
            ray.shutdown()

