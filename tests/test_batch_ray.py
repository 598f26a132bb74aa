"""``poselift infer FOLDER --ray``: a real local Ray started by the command, one bad file among videos."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'poselift[ray]')")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.shared
@pytest.mark.slow
def test_ray_batch_with_a_bad_file(shared, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("taiji_seed.mp4", "walk_bluescreen_seed.mp4"):
        src = shared / "videos" / name
        if not src.is_file():
            pytest.skip(f"{src} is absent")
        (videos / name).symlink_to(src)
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))  # a header, then noise
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "infer", str(videos), "--ray", "--workers", "2",
                        "--no-render", "--end", "4", "-o", str(out)],
                       capture_output=True, text=True, env=_env(), timeout=900)
    took = time.monotonic() - t0
    print(f"ray batch of 3 videos took {took:.1f} s")
    assert r.returncode == 1, r.stderr  # one input failed
    err = r.stderr
    assert "2/3 ok" in err, err
    failed = [ln for ln in err.splitlines() if ln.startswith("failed")]
    assert len(failed) == 1 and "broken.mp4" in failed[0] and "cannot decode video" in failed[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["taiji_seed.npz", "walk_bluescreen_seed.npz"], \
        "one npz per good video, nothing for the bad one, no temp file left"
    # --end 4 reached the tasks: taiji_seed's first frame is at 2.67 s (15 fps), the walk's at 0 (30 fps).
    for name, fps, frames in (("taiji_seed", 15.0, 20), ("walk_bluescreen_seed", 30.0, 120)):
        with np.load(out / f"{name}.npz") as z:
            assert z["poses_3d"].shape[2:] == (17, 3)
            assert abs(z["poses_3d"].shape[1] - frames) <= 2, z["poses_3d"].shape
            assert z["valid"].mean() > 0.8 and float(z["fps"]) == pytest.approx(fps, rel=0.01)


def test_ray_address_parsing_keeps_inputs_apart():
    from poselift.batch_ray import is_ray_address

    assert all(is_ray_address(a) for a in ("local", "auto", "ray://head:10001", "10.0.0.5:6379"))
    assert not any(is_ray_address(a) for a in ("videos/", "clip.mp4", "/data/videos"))
