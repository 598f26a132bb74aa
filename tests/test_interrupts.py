"""All-or-nothing outputs under signals and a full disk, in real ``poselift infer`` processes
(issue 13): SIGINT and SIGTERM during detection and during rendering, a ``--workers 2``
batch interrupted by Ctrl-C, and a disk that fills up while the video is rendered. In
each case nothing of the interrupted or failed video remains (no npz, no mp4, no
hidden temp file, no output folder that was not there before), the exit code is
130/143/1, and stderr ends with one line.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from poselift.lift.model import ModelConfig, TemporalModel
from poselift.lift.weights import save_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3], channels=16)
    torch.manual_seed(0)
    model = TemporalModel(17, 2, 17, [3, 3], dropout=0.0, channels=16)
    meta = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test"}
    return save_model(tmp_path_factory.mktemp("model") / "tiny", model.eval(), cfg, meta)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("POSELIFT_DEBUG", None)
    return env


class Run:
    """A ``poselift`` process whose stderr is collected as it comes (progress bars included)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "poselift.cli.main", *args], cwd=cwd, env=_env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.err = b""
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        while True:
            chunk = self.proc.stderr.read1(4096)
            if not chunk:
                return
            self.err += chunk

    def wait_for(self, text: str, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.err:
            if self.proc.poll() is not None:
                self._t.join(5)
                pytest.fail(f"process ended (rc {self.proc.returncode}) before {text!r}: {self.err.decode()[-800:]}")
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"no {text!r} on stderr within {timeout} s: {self.err.decode()[-800:]}")
            time.sleep(0.05)

    def finish(self, timeout: float = 300.0) -> tuple[int, str]:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        self._t.join(10)
        return rc, self.err.decode(errors="replace")


def _last_line(err: str) -> str:
    # Progress bars redraw with carriage returns; the message is the last real line.
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip() and "frame/s" not in ln
             and "it/s" not in ln and "s/frame" not in ln and "?frame" not in ln]
    return lines[-1] if lines else ""


def _leftovers(*folders: Path) -> list[Path]:
    """Everything in the folders, hidden temp files and staging folders included."""
    out = []
    for f in folders:
        if f.exists():
            out += sorted(f.rglob("*"))
    return out


@pytest.mark.shared
@pytest.mark.parametrize("sig, stage", [(signal.SIGINT, "detect"), (signal.SIGTERM, "detect"),
                                        (signal.SIGINT, "render"), (signal.SIGTERM, "render")])
def test_signal_leaves_nothing(tmp_path, taiji, tiny_model, sig, stage):
    out = tmp_path / "out"  # does not exist yet: an interrupted run must not create it
    # taiji_seed's first frame is at 2.67 s: 10 frames to detect, then a long rendering.
    run = Run(["infer", str(taiji), "-o", str(out), "--model", str(tiny_model), "--end", "3.3", "--progress",
               "--export", "json,csv,bvh", "--viz-size", "2000"], tmp_path)
    run.wait_for("detect taiji" if stage == "detect" else "render:")
    time.sleep(0.3)  # well inside the stage
    os.killpg(run.proc.pid, sig)  # like Ctrl-C in a terminal: the whole process group
    rc, err = run.finish()
    assert rc == 128 + sig, err[-600:]
    assert _last_line(err) == "poselift infer: interrupted", err[-600:]
    assert "Traceback" not in err
    assert not out.exists(), _leftovers(out)
    assert _leftovers(tmp_path) == [], _leftovers(tmp_path)


@pytest.mark.shared
@pytest.mark.parametrize("to_group", [True, False], ids=["ctrl-c", "parent-only"])
def test_interrupted_batch_starts_no_queued_video(tmp_path, taiji, tiny_model, to_group):
    src = tmp_path / "in"
    src.mkdir()
    names = ["a.mp4", "b.mp4", "c.mp4"]
    for n in names:
        os.symlink(taiji, src / n)
    out = tmp_path / "out"
    run = Run(["infer", str(src), "-o", str(out), "--model", str(tiny_model), "--end", "12", "--workers", "2",
               "--no-render"], tmp_path)
    # Both workers are detecting once their processes run MediaPipe; give them time to start.
    deadline = time.monotonic() + 120
    while len(_children(run.proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(4.0)
    workers = _children(run.proc.pid)
    t_sig = time.monotonic()
    if to_group:
        os.killpg(run.proc.pid, signal.SIGINT)
    else:
        os.kill(run.proc.pid, signal.SIGINT)
    rc, err = run.finish()
    waited = time.monotonic() - t_sig
    assert rc == 130, err[-600:]
    assert _last_line(err) == "poselift infer: interrupted", err[-600:]
    assert "Traceback" not in err, err[-2000:]
    # No queued video started, none of the running ones left anything, and no temp files.
    assert not (out / "c.npz").exists()
    assert _leftovers(out) == [] or all(p.suffix == ".npz" and p.stem in ("a", "b") for p in _leftovers(out))
    assert not [p for p in _leftovers(tmp_path) if p.name.startswith(".")]
    assert waited < 60, f"interrupt took {waited:.0f} s"
    time.sleep(3)  # nothing appears later either (a worker that went on would write now)
    assert not (out / "c.npz").exists()
    assert workers and not [w for w in workers if _alive(w)], "a worker outlived the batch"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True)
    return r.returncode == 0


@pytest.mark.shared
def test_disk_full_during_rendering_tmpfs(tmp_path, taiji, tiny_model):
    """A real full disk: a 200 KiB tmpfs holds the npz and exports but not the rendering."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "200k"):
        pytest.skip("cannot mount a tmpfs here (needs root); test_disk_full_during_rendering_injected covers it")
    try:
        out = disk / "out"
        run = Run(["infer", str(taiji), "-o", str(out), "--model", str(tiny_model), "--end", "3.3",
                   "--viz-size", "1080", "--viz-bitrate", "50000", "--export", "json,csv"], tmp_path)
        rc, err = run.finish(timeout=900)
        assert rc == 1, err[-600:]
        last = _last_line(err)
        assert "No space left on device" in last and "taiji_seed" in last, err[-600:]
        assert "Traceback" not in err and "Exception ignored" not in err, err[-2000:]
        assert "frame/s" not in err and "\r" not in err, err[-600:]  # stderr is a pipe: no progress bars
        assert _leftovers(disk) == [], _leftovers(disk)
        assert shutil.disk_usage(disk).used < 64 * 1024
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.shared
def test_disk_full_during_rendering_injected(tmp_path, taiji, tiny_model, monkeypatch, capsys):
    """ENOSPC from the encoder's muxer after the npz and exports were written."""
    from poselift.cli.main import main
    from poselift.render import _encode

    real_write = _encode.AtomicVideoWriter.write
    calls = {"n": 0}

    def full_disk(self, rgb):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, rgb)

    monkeypatch.setattr(_encode.AtomicVideoWriter, "write", full_disk)
    out = tmp_path / "out"
    rc = main(["infer", str(taiji), "-o", str(out), "--model", str(tiny_model), "--end", "3.3", "--no-progress",
               "--export", "json,csv,html,bvh"])
    err = capsys.readouterr().err
    assert rc == 1
    assert calls["n"] > 5
    assert "No space left on device" in err and "taiji_seed" in err, err
    assert _leftovers(tmp_path) == [], _leftovers(tmp_path)


@pytest.mark.shared
def test_failed_render_leaves_no_npz(tmp_path, taiji, tiny_model, monkeypatch, capsys):
    """A run failing after the npz was written (here: the encoder refuses) keeps nothing."""
    from poselift.cli.main import main
    from poselift.errors import PoseliftError
    from poselift.render import _encode

    def broken(self, rgb):
        raise PoseliftError("video encoding failed: injected", self.path)

    monkeypatch.setattr(_encode.AtomicVideoWriter, "write", broken)
    viz = tmp_path / "viz.npy"
    rc = main(["infer", str(taiji), "-o", str(tmp_path / "out"), "--model", str(tiny_model), "--end", "3.3",
               "--no-progress", "--viz-export", str(viz)])
    assert rc == 1
    assert "injected" in capsys.readouterr().err
    assert _leftovers(tmp_path) == [], _leftovers(tmp_path)
