"""``--export html``: the self-contained viewer page (issue 5, item 5).

Without a browser: the page references nothing external, embeds every frame (invalid ones
as null) and stays small; ``poselift infer --export html`` writes ``<stem>.html``. With
Debian's ``chromium`` (skipped when absent): the script runs without errors, playback
advances under headless virtual time and the screenshot is not blank.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from poselift.cli.main import main
from poselift.export.html import write_html
from poselift.geometry.skeletons import H36M17

REST = np.array([[0, 0, 0], [-.13, 0, 0], [-.13, .45, 0], [-.13, .88, 0], [.13, 0, 0], [.13, .45, 0],
                 [.13, .88, 0], [0, -.23, 0], [0, -.48, 0], [0, -.58, 0], [0, -.68, 0], [.17, -.45, 0],
                 [.3, -.2, 0], [.33, .05, 0], [-.17, -.45, 0], [-.3, -.2, 0], [-.33, .05, 0]])


def synthetic(people: int = 2, frames: int = 400, fps: float = 50.0) -> dict:
    """Standing skeletons waving a wrist, side by side 4-5 m in front of the camera."""
    t = np.arange(frames) / fps
    poses = np.repeat(REST[None, None], people, 0).repeat(frames, 1).copy()
    traj = np.zeros((people, frames, 3))
    for p in range(people):
        poses[p, :, 13, 1] -= 0.3 * np.sin(2 * np.pi * t)
        traj[p, :, 0] = -0.6 + 1.2 * p + 0.2 * np.sin(t)
        traj[p, :, 1] = 0.1
        traj[p, :, 2] = 4 + p
    valid = np.ones((people, frames), bool)
    if people > 1:
        valid[1, 10:20] = False
        poses[1, 10:20] = np.nan
        traj[1, 10:20] = np.nan
    kp = (poses[..., :2] + traj[:, :, None, :2]) / traj[:, :, None, 2:3] * 500 + [320, 240]
    return dict(poses_3d=poses.astype(np.float32), trajectory=traj.astype(np.float32),
                keypoints_2d=kp.astype(np.float32), scores_2d=np.ones((people, frames, 17), np.float32),
                valid=valid, fps=np.float64(fps), image_size=np.array([640, 480]),
                joint_names=np.asarray(H36M17.joint_names), parents=np.asarray(H36M17.parents))


def embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="poselift-data">(.*?)</script>', page, re.S)
    assert m, "no embedded data block"
    return json.loads(m.group(1))


def test_page_is_self_contained_and_embeds_every_frame(tmp_path):
    arrays = synthetic(people=2, frames=400)
    out = write_html(tmp_path / "clip.html", arrays, title="clip </script> & co")
    page = out.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page, re.I)
    assert "<canvas" in page and "window.poseliftViewer" in page
    d = embedded(page)
    assert d["numFrames"] == 400 and d["numPeople"] == 2 and d["fps"] == 50.0
    assert d["imageSize"] == [640, 480] and d["parents"] == list(H36M17.parents)
    for person in d["people"]:
        assert len(person["p3"]) == 400 and len(person["p2"]) == 400
    p3 = d["people"][1]["p3"]
    assert all(p3[t] is None for t in range(10, 20)) and p3[9] is not None
    # millimetres, pose + trajectory, camera frame
    expect = np.round((arrays["poses_3d"][0, 5] + arrays["trajectory"][0, 5]) * 1000).ravel()
    assert np.allclose(d["people"][0]["p3"][5], expect, atol=1)
    assert out.stat().st_size < 400_000  # two people, 400 frames
    assert not list(tmp_path.glob(".*tmp*"))


def test_infer_cli_writes_html(shared, tmp_path):
    video = shared / "videos" / "taiji_seed.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is absent")
    rc = main(["infer", str(video), "-o", str(tmp_path), "--export", "html", "--no-render", "--end", "3",
               "--no-progress"])
    assert rc == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taiji_seed.html", "taiji_seed.npz"]
    d = embedded((tmp_path / "taiji_seed.html").read_text(encoding="utf-8"))
    with np.load(tmp_path / "taiji_seed.npz") as z:
        assert d["numFrames"] == z["poses_3d"].shape[1]
        assert d["numPeople"] == z["poses_3d"].shape[0]


def test_unknown_export_still_rejected(tmp_path, capsys):
    video = tmp_path / "x.mp4"
    video.write_bytes(b"")
    assert main(["infer", str(video), "--export", "html,xyz", "--no-render", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "xyz" in err and "html" in err


CHROMIUM = shutil.which("chromium")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian package 'chromium' is not installed "
                                            "(apt-get install chromium); the in-browser viewer check needs it")
def test_viewer_plays_in_headless_chromium(tmp_path):
    page = write_html(tmp_path / "v.html", synthetic(people=2, frames=400), title="browser test")
    url = page.as_uri()
    dom = _chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", url)
    m = re.search(r'<pre id="status" hidden="">([^<]*)</pre>', dom.stdout)
    assert m, f"no status element in the dumped DOM (stderr: {dom.stderr[-500:]})"
    status = m.group(1)
    fields = dict(kv.split("=", 1) for kv in status.split("\n")[0].split())
    assert fields["errors"] == "0", status
    assert fields["numFrames"] == "400" and fields["playing"] == "true", status
    assert int(fields["frame"]) > 0, status  # playback advanced

    png = tmp_path / "shot.png"
    _chromium(tmp_path, "--virtual-time-budget=1000", "--window-size=1000,700", f"--screenshot={png}", url)
    assert png.is_file(), "chromium wrote no screenshot"
    from PIL import Image
    img = np.asarray(Image.open(png).convert("RGB"))
    view = img[60:, :]  # below the control bar
    background = np.array([0xf4, 0xf4, 0xf4])
    differs = np.abs(view.astype(int) - background).sum(axis=2) > 30
    assert differs.mean() > 0.01, "the 3D view looks blank"
    assert len(np.unique(view.reshape(-1, 3), axis=0)) > 20
    # the mp4's person colours: red-orange P0 and blue P1
    r, g, b = view[..., 0].astype(int), view[..., 1].astype(int), view[..., 2].astype(int)
    assert ((r - b) > 80).sum() > 50, "no person-0 (red) skeleton pixels"
    assert ((b - r) > 80).sum() > 50, "no person-1 (blue) skeleton pixels"


def test_world_frame_page_legend_labels_and_controls(tmp_path):
    """With poses_world the page draws the world (floor at 0), labels people in the mp4's
    colours, lists its controls, and keeps the status out of sight."""
    from poselift.geometry.world import place_in_world
    from poselift.render._draw import person_colors

    arrays = synthetic(people=2, frames=100)
    placed = place_in_world(arrays["poses_3d"], arrays["trajectory"], arrays["valid"], 50.0)
    arrays.update(trajectory=placed.trajectory, poses_world=placed.poses_world,
                  camera_to_world=placed.frame.matrix, focal_length=np.float64(500.0))
    page = write_html(tmp_path / "w.html", arrays).read_text(encoding="utf-8")
    d = embedded(page)
    assert d["world"] is True and d["floorY"] == 0.0 and d["labels"] == ["P0", "P1"]
    w = placed.poses_world[0, 5] * np.array([1, -1, -1])
    assert np.allclose(d["people"][0]["p3"][5], np.round(w * 1000).ravel(), atol=1)
    # the lowest joints stand near the floor (ankles ~8 cm up, y down in the page frame)
    ankles = np.array(d["people"][0]["p3"][5]).reshape(17, 3)[[3, 6], 1] / 1000
    assert -0.2 < ankles.max() < 0.0
    c = person_colors(2)[0]
    assert d["colors"][0][0] == f"rgb({c[0]},{c[1]},{c[2]})"
    # the camera sits at its height above the floor, looking slightly down or level
    assert abs(d["camera"]["eye"][1] - placed.frame.t[1]) < 1e-3
    for text in ("drag to orbit", "wheel to zoom", "Space", "camera view", "previous / next frame"):
        assert text in page, text
    assert '<pre id="status" hidden>' in page
    if CHROMIUM is None:
        pytest.skip("Debian package 'chromium' is not installed; the rendered legend check needs it")
    dom = _chromium(tmp_path, "--virtual-time-budget=1500", "--dump-dom", (tmp_path / "w.html").as_uri()).stdout
    legend = re.search(r'<div id="legend" class="box">(.*?)</div></div>', dom, re.S)
    assert legend and "P0" in legend.group(1) and "P1" in legend.group(1) and "left" in legend.group(1)
    assert "world frame" in legend.group(1)
    status = re.search(r'<pre id="status" hidden="">([^<]*)</pre>', dom).group(1)
    assert "errors=0" in status, status
