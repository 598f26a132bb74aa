"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("POSELIFT_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def shared_video(name: str) -> Path:
    p = shared_dir() / "videos" / name
    if not p.is_file():
        raise SystemExit(f"benchmark needs {p} (set POSELIFT_SHARED to the shared data folder)")
    return p
