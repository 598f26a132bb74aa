"""Shared test helpers: where the shared data lives, and skipping when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    env = os.environ.get("POSELIFT_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture
def shared() -> Path:
    d = shared_dir()
    if not d.is_dir():
        pytest.skip(f"shared data folder {d} is absent (set POSELIFT_SHARED or put shared/ beside the checkout)")
    return d


def shared_video(name: str) -> Path:
    """``shared/videos/<name>``, or skip the test with the reason when it is absent."""
    p = shared_dir() / "videos" / name
    if not p.is_file():
        pytest.skip(f"shared test video {p} is absent (set POSELIFT_SHARED or put shared/ beside the checkout)")
    return p


@pytest.fixture(scope="module")
def taiji() -> Path:
    """The tai chi seed video (``taiji_seed.mp4``, 448x336, 15 fps)."""
    return shared_video("taiji_seed.mp4")


# ------------------------------------------------------------------ Blender (bpy) importer
BLENDER_DUMP = REPO / "tests" / "tools" / "blender_bvh_positions.py"


def _bpy_python_candidates() -> list[tuple[str, str]]:
    """(python, where it came from): the POSELIFT_BPY_PYTHON override, the side venv that
    .ci/run creates, then this interpreter (bpy needs Python 3.11 and is never a
    dependency of poselift itself)."""
    import sys

    out = []
    env = os.environ.get("POSELIFT_BPY_PYTHON")
    if env:
        out.append((env, "POSELIFT_BPY_PYTHON"))
    side = REPO / ".venv-bpy" / "bin" / "python"
    if side.exists():
        out.append((str(side), ".venv-bpy (made by .ci/run)"))
    out.append((sys.executable, "the test interpreter"))
    return out


@pytest.fixture(scope="session")
def bpy_python() -> str:
    """A Python executable that can ``import bpy`` (Blender as a module), or skip."""
    import subprocess

    tried = []
    for exe, origin in _bpy_python_candidates():
        try:
            r = subprocess.run([exe, "-c", "import bpy"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            tried.append(f"{exe} ({origin}): {exc}")
            continue
        if r.returncode == 0:
            return exe
        tried.append(f"{exe} ({origin}): cannot import bpy")
    pytest.skip("no Python with Blender's bpy module (pip install bpy into a Python 3.11 side venv and set "
                "POSELIFT_BPY_PYTHON, as .ci/run does); tried " + "; ".join(tried))


@pytest.fixture(scope="session")
def blender_import(bpy_python):
    """``f(bvh_path) -> (names, positions (T, B, 3) metres, Blender world, Z up; fps)``:
    the file imported by Blender's own BVH importer with the settings of docs/blender.md."""
    import subprocess

    import numpy as np

    def run(bvh: Path) -> tuple[list[str], "np.ndarray", float]:
        out = Path(bvh).with_suffix(".blender.npz")
        r = subprocess.run([bpy_python, str(BLENDER_DUMP), str(bvh), str(out)], capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"Blender import of {bvh} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        with np.load(out) as z:
            return [str(n) for n in z["names"]], z["positions"], float(z["fps"])

    return run
