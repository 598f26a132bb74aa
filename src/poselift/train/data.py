"""Choosing training and validation motion from mocap collections."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from poselift.errors import InputError
from poselift.train.trainer import Clip

#: Dataset names accepted by ``--dataset`` and the folders under a data dir they read.
DATASETS: dict[str, tuple[str, ...] | None] = {
    "h36m": ("h36m-expmap",),
    "bvh": ("bandai-namco", "cmu-daz", "cmu-dance"),
    "bandai-namco": ("bandai-namco",),
    "cmu": ("cmu-daz", "cmu-dance"),
    "all": None,  # every supported file found, data_3d_*.npz included
}


def default_data_dir() -> Path:
    """``$POSELIFT_DATA``, else ``../shared/data`` beside the current directory's checkout."""
    env = os.environ.get("POSELIFT_DATA")
    if env:
        return Path(env)
    for base in (Path.cwd(), *Path.cwd().parents):
        cand = base.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return Path.cwd().parent / "shared" / "data"


def _cache_key(data: Sequence[str | Path], dataset: str, fps: float) -> str | None:
    """A key naming the mocap files under ``data`` with their sizes and times (None when
    there are too many to list cheaply)."""
    import hashlib

    h = hashlib.sha256(f"v1|{dataset}|{fps!r}".encode())
    count = 0
    for d in sorted(str(x) for x in data):
        p = Path(d)
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                st = f.stat()
                h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
                count += 1
                if count > 200_000:
                    return None
    return h.hexdigest()[:24]


def _cache_dir() -> Path:
    return Path(os.environ.get("POSELIFT_CACHE", Path.home() / ".cache" / "poselift"))


def load_clips(data: Sequence[str | Path], dataset: str, fps: float, subjects: Sequence[str] | None = None,
               downsample: int = 1, progress: bool = True, cache: bool = True) -> list[Clip]:
    """Mocap clips as training :class:`Clip` s.

    Args:
        data: data folders (laid out like ``shared/data``) and/or files (``.bvh``,
            exp-map ``.txt[.gz]``, VideoPose3D ``data_3d_*.npz``).
        dataset: a key of :data:`DATASETS` (filters folders by dataset).
        fps: frame rate to resample to.
        subjects: keep only these subjects (e.g. ``S1,S5``); None keeps all.
        downsample: keep every n-th frame after resampling (VideoPose3D's ``--downsample``).
    """
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    raw = _load_raw_cached(data, dataset, fps, progress) if cache else _load_raw(data, dataset, fps, progress)
    clips = []
    for c in raw:
        if subjects and c.subject not in subjects:
            continue
        pos = c.positions[::downsample] if downsample > 1 else c.positions
        if len(pos) < 2 or not np.isfinite(pos).all():
            continue
        clips.append(Clip(name=c.name, positions=pos.astype(np.float32), subject=c.subject, dataset=c.dataset))
    if not clips:
        raise InputError(f"no {dataset} motion found (subjects: {', '.join(subjects) if subjects else 'all'})",
                         ", ".join(str(d) for d in data))
    return clips


def _load_raw(data: Sequence[str | Path], dataset: str, fps: float, progress: bool) -> list[Clip]:
    from poselift.io.mocap import load_mocap_collection

    errors: list[InputError] = []
    wanted = DATASETS[dataset]
    raw = load_mocap_collection([Path(d) for d in data], fps=fps, datasets=list(wanted) if wanted else None,
                                errors=errors, progress=progress)
    for e in errors:
        print(f"warning: skipped {e}")
    return [Clip(name=c.name, positions=np.asarray(c.positions, np.float32), subject=c.subject, dataset=c.dataset)
            for c in raw]


def _load_raw_cached(data: Sequence[str | Path], dataset: str, fps: float, progress: bool) -> list[Clip]:
    """:func:`_load_raw` through a cache of plain arrays (``$POSELIFT_CACHE`` or
    ``~/.cache/poselift``): decoding and resampling all shared mocap takes about a
    minute, reading the cache well under a second. The key covers every file's path,
    size and modification time, so changed data is decoded again."""
    key = _cache_key(data, dataset, fps)
    path = _cache_dir() / f"clips-{key}.npz" if key else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                n = int(z["count"])
                return [Clip(name=str(z["names"][i]), positions=z[f"p{i}"], subject=str(z["subjects"][i]),
                             dataset=str(z["datasets"][i])) for i in range(n)]
        except (OSError, KeyError, ValueError):
            pass                                   # a broken cache is rebuilt
    clips = _load_raw(data, dataset, fps, progress)
    if path is not None and clips:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
            np.savez(tmp, count=len(clips), names=np.array([c.name for c in clips]),
                     subjects=np.array([c.subject for c in clips]), datasets=np.array([c.dataset for c in clips]),
                     **{f"p{i}": c.positions for i, c in enumerate(clips)})
            tmp.replace(path)
        except OSError:
            pass                                   # no cache on a read-only home: just slower
    return clips


def take_subset(clips: list[Clip], fraction: float, seed: int = 0) -> list[Clip]:
    """Keep a contiguous ``fraction`` of every clip (VideoPose3D's ``--subset``): a prefix
    window at a random offset, so the kept frames are consecutive real motion."""
    if fraction >= 1.0:
        return clips
    rng = np.random.default_rng(seed)
    out = []
    for c in clips:
        n = max(int(round(len(c.positions) * fraction)), 2)
        s = int(rng.integers(0, len(c.positions) - n + 1))
        out.append(Clip(c.name, c.positions[s: s + n], c.subject, c.dataset))
    return out


def split_validation(clips: list[Clip], fraction: float = 0.1, seed: int = 0) -> tuple[list[Clip], list[Clip]]:
    """Hold out whole clips (about ``fraction`` of frames) for validation."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(clips))
    total = sum(len(c.positions) for c in clips)
    val, n = [], 0
    for i in order:
        if n >= fraction * total:
            break
        val.append(i)
        n += len(clips[i].positions)
    vs = set(val)
    return [c for i, c in enumerate(clips) if i not in vs], [clips[i] for i in sorted(vs)]
