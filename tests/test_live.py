"""``poselift live``: JSON lines contract, causal equivalence with ``infer``, dropping, Ctrl-C.

The equivalence is defined in :mod:`poselift.live`: live output for frame k is what
``infer --model causal`` computes for frame k when the video ends at frame k. Checked
at the library level (the functions ``infer`` runs, on the real detector's output of a
real clip, with misses added to exercise gap filling and restarts) and end to end (the
two commands on the same clip).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_dir

from poselift.live import FrameSource, LiveLifter, LiveOptions, SourceFrame

REPO = Path(__file__).resolve().parents[1]
CLIP = "videos/taiji_seed.mp4"  # 15 fps: the model runs at 50, so the resampling path is exercised
KEYS = ("frame", "time_s", "valid", "joints_cam", "root_cam", "joints_world", "latency_ms")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _poselift(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "poselift.cli.main", *args], capture_output=True, text=True,
                          env=_env(), timeout=600, **kw)


def _is_points(v, n: int) -> bool:
    return (isinstance(v, list) and len(v) == n and
            all(isinstance(p, list) and len(p) == 3 and all(isinstance(c, float) and math.isfinite(c) for c in p)
                for p in v))


def validate_lines(text: str) -> list[dict]:
    """Every line one JSON object obeying the contract; returns the records."""
    recs = []
    for i, line in enumerate(text.splitlines()):
        rec = json.loads(line)
        assert isinstance(rec, dict), f"line {i} is not an object"
        missing = [k for k in KEYS if k not in rec]
        assert not missing, f"line {i} lacks {missing}"
        assert isinstance(rec["frame"], int) and rec["frame"] >= 0
        assert isinstance(rec["time_s"], float) and math.isfinite(rec["time_s"])
        assert isinstance(rec["valid"], bool)
        assert isinstance(rec["latency_ms"], float) and rec["latency_ms"] >= 0
        if rec["valid"]:
            assert _is_points(rec["joints_cam"], 17), f"line {i}: joints_cam"
            assert rec["joints_cam"][0] == [0.0, 0.0, 0.0], "root-relative: the pelvis is the origin"
            assert rec["root_cam"] is None or (_is_points([rec["root_cam"]], 1) and rec["root_cam"][2] > 0)
            assert rec["joints_world"] is None or _is_points(rec["joints_world"], 17)
        else:
            assert rec["joints_cam"] is None and rec["root_cam"] is None and rec["joints_world"] is None
        recs.append(rec)
    frames = [r["frame"] for r in recs]
    times = [r["time_s"] for r in recs]
    assert frames == sorted(set(frames)) and times == sorted(times), "frames and times increase"
    return recs


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Lifting many short prefixes: with two intra-op threads on a busy machine, OpenMP
    # barriers cost ten times the work (the live command runs on one thread too).
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def detections(request):
    """The real detector on the first 130 frames (8.7 s) of the clip: (people, times, info)."""
    path = shared_dir() / CLIP
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared data)")
    from poselift.detect.base import get_detector
    from poselift.infer import _quiet_native_stderr
    from poselift.io.video import probe, read_frames

    people, times = [], []
    with _quiet_native_stderr(), get_detector("blazepose", model="full") as det:
        for fr in read_frames(path):
            if len(people) == 130:
                break
            people.append(det.detect(fr.image, fr.time))
            times.append(fr.time)
    return people, np.asarray(times), probe(path)


def _prefix_infer(lm, people, times, info, fps, k):
    """What ``infer --model causal --free-bones`` computes for the last frame of frames 0..k."""
    from poselift.infer import InferOptions, _effective_fps, single_track
    from poselift.lift.pipeline import lift_tracks

    opts = InferOptions(model="causal", fixed_bones=False)
    tr, _ = single_track(people[:k + 1], times[:k + 1], opts, (info.width, info.height),
                         _effective_fps(times[:k + 1], fps))
    r = lift_tracks(lm, tr, tta=True, root_relative=True, focal_px=_focal(info), fixed_bones=False,
                    geometric_trajectory=True)
    return bool(r.valid[0, -1]), r.poses_3d[0, -1], r.trajectory[0, -1]


def _focal(info) -> float:
    from poselift.geometry.cameras import default_focal_length
    return default_focal_length(info.width, info.height)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("fps", [None, 50.0], ids=["resampled-15fps", "model-rate-50fps"])
def test_live_equals_infer_on_every_prefix(detections, fps):
    """Frame by frame, live == infer on the video cut at that frame (free bones: the
    network's poses and the solved root), across a filled gap, a long gap that ends the
    run (invalid frames, then edge padding again) and runs longer than the model window."""
    from poselift.lift.weights import load_model

    people, times, info = detections
    people = list(people)
    if fps is not None:  # the same detections on a 50 fps clock: no resampling
        times = times[0] + np.arange(len(times)) / fps
    fps = fps or info.fps
    rel = times - times[0]
    short = (rel >= 0.6) & (rel < 0.8)   # the detector misses 0.2 s: filled
    long = (rel >= 1.5) & (rel < 2.3)    # then 0.8 s: the run ends
    for i in np.flatnonzero(short | long):
        people[i] = []
    lm = load_model("causal")
    live = LiveLifter(lm, info.width, info.height, fps, _focal(info), LiveOptions(fixed_bones=False))
    outs = [live.step(t, p) for t, p in zip(times, people)]
    valid = np.array([o.valid for o in outs])
    # A miss can be bridged (the last pose held) only while it is shorter than --max-gap
    # (and only if every joint had a good value then); past that the frames are invalid
    # and the next detection starts a new run.
    assert valid[short].all() and not valid[long & (rel >= 1.5 + 0.5)].any() and valid.sum() > 80
    checked = 0
    # The 15 fps run after the long gap (6.3 s) is longer than the lifter's window (3.4 s).
    for k in range(len(times)):
        ok, pose, root = _prefix_infer(lm, people, times, info, fps, k)
        assert ok == outs[k].valid, f"frame {k}"
        if ok:
            np.testing.assert_allclose(outs[k].joints_cam, pose, atol=1e-4, err_msg=f"frame {k}")
            np.testing.assert_allclose(outs[k].root_cam, root, atol=1e-4, err_msg=f"frame {k}")
            checked += 1
    assert checked == valid.sum()


@pytest.mark.shared
@pytest.mark.slow
def test_constant_bones_are_running_medians_and_world_starts_after_floor(detections):
    from poselift.geometry.skeletons import H36M17, lengthen_short_forearms
    from poselift.lift.pipeline import model_bone_prior
    from poselift.lift.weights import load_model

    people, times, info = detections
    lm = load_model("causal")
    assert model_bone_prior(lm) is not None
    make = lambda fixed: LiveLifter(lm, info.width, info.height, info.fps, _focal(info),  # noqa: E731
                                    LiveOptions(fixed_bones=fixed, floor_after=2.0))
    free, fixed = make(False), make(True)
    parents = np.maximum(np.asarray(H36M17.parents), 0)
    raw_lengths = []
    n_world = 0
    for t, p in zip(times, people):
        a, b = free.step(t, p), fixed.step(t, p)
        assert a.valid == b.valid
        if not a.valid:
            continue
        np.testing.assert_allclose(b.raw_joints_cam, a.joints_cam, atol=1e-6)
        raw_lengths.append(np.linalg.norm(a.joints_cam - a.joints_cam[parents], axis=-1))
        got = np.linalg.norm(b.joints_cam - b.joints_cam[parents], axis=-1)
        # The running medians, short forearms lengthened to the training skeleton's proportion
        # (as infer's constant bones: the shipped models are trained on Human3.6M's skeleton).
        want = lengthen_short_forearms(np.median(raw_lengths, axis=0), model_bone_prior(lm))
        np.testing.assert_allclose(got[1:], want[1:], atol=1e-5)
        np.testing.assert_allclose(b.root_cam, a.root_cam, atol=1e-6)  # the root comes from the network's pose
        if len(raw_lengths) < 30:  # 2 s at 15 fps
            assert b.joints_world is None
        else:
            assert b.joints_world is not None
            n_world += 1
            # World = rigid transform of the camera-frame skeleton; the person stands on the floor.
            w = b.joints_world
            np.testing.assert_allclose(np.linalg.norm(w[1:] - w[parents[1:]], axis=-1), got[1:], atol=1e-4)
            assert -0.15 < w[[3, 6], 1].min() < 0.35 and w[10, 1] > 1.0
    assert n_world > 60


@pytest.mark.shared
@pytest.mark.slow
def test_cli_live_matches_cli_infer_and_lines_follow_the_contract(shared, tmp_path):
    clip = shared / CLIP
    n = 45
    live = _poselift("live", str(clip), "--free-bones", "--max-frames", str(n), "-o", str(tmp_path / "a.jsonl"))
    assert live.returncode == 0, live.stderr
    recs = validate_lines((tmp_path / "a.jsonl").read_text())
    assert len(recs) == n and [r["frame"] for r in recs] == list(range(n))
    summary = live.stderr.strip().splitlines()[-1]
    assert f"out {n}, dropped 0" in summary and "latency median" in summary and "p95" in summary
    assert all(r["valid"] for r in recs[5:])
    world = [r["joints_world"] is not None for r in recs]
    assert not any(world[:29]) and all(world[30:]), "joints_world null until 2 s of valid frames"
    # infer on the same clip cut after frame n-1, with live's landmark model (full; infer's
    # default is heavy): its last frame is live's last line.
    end = recs[-1]["time_s"] + 0.5 / 15
    inf = _poselift("infer", str(clip), "--model", "causal", "--free-bones", "--no-render", "--end", f"{end:.6f}",
                    "--detector-model", "full", "-o", str(tmp_path))
    assert inf.returncode == 0, inf.stderr
    with np.load(tmp_path / "taiji_seed.npz") as z:
        assert z["poses_3d"].shape[1] == n
        np.testing.assert_allclose(np.asarray(recs[-1]["joints_cam"]), z["poses_3d"][0, -1], atol=2e-4)
        np.testing.assert_allclose(np.asarray(recs[-1]["root_cam"]), z["trajectory"][0, -1], atol=2e-4)


@pytest.mark.shared
@pytest.mark.slow
def test_realtime_ctrl_c_stops_cleanly_with_summary(shared, tmp_path):
    out = tmp_path / "rt.jsonl"
    cmd = [sys.executable, "-m", "poselift.cli.main", "live", str(shared / CLIP), "--realtime", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 20):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    recs = validate_lines(out.read_text())
    line = err.strip().splitlines()[-1]
    nums = dict(zip(("in", "out", "dropped"), (int(line.split(f"{w} ")[1].split(",")[0])
                                                for w in ("frames in", "out", "dropped"))))
    assert nums["out"] == len(recs) >= 20
    # Every frame read was written or dropped, but for the one being processed when the
    # signal came and the one waiting in hand-over; written frame numbers skip the dropped.
    assert 0 <= nums["in"] - nums["out"] - nums["dropped"] <= 2
    skipped = sum(b["frame"] - a["frame"] - 1 for a, b in zip(recs, recs[1:]))
    assert skipped <= nums["dropped"]


def test_frame_source_drops_frames_when_the_consumer_is_slower():
    """A 100 fps source paced in real time, a consumer needing 40 ms a frame: the newest
    frame always wins, every frame is either delivered or counted as dropped."""
    def gen():
        for i in range(60):
            yield SourceFrame(np.zeros((2, 2, 3), np.uint8), i / 100.0, i, 0.0)

    src = FrameSource(gen(), drop=True, realtime=True)
    got = []
    while (fr := src.get()) is not None:
        assert fr.index == src.newest_at_get, "the consumer always gets the newest frame read"
        got.append(fr.index)
        time.sleep(0.04)
    src.close()
    assert src.frames_in == 60
    assert len(got) + src.dropped == 60
    assert src.dropped > 20 and got == sorted(got) and got[-1] == 59


def test_frame_source_without_dropping_delivers_every_frame():
    def gen():
        for i in range(30):
            yield SourceFrame(np.zeros((2, 2, 3), np.uint8), i / 1000.0, i, 0.0)

    src = FrameSource(gen(), drop=False)
    got = []
    while (fr := src.get()) is not None:
        got.append(fr.index)
        time.sleep(0.005)
    src.close()
    assert got == list(range(30)) and src.dropped == 0


def test_live_refuses_a_non_causal_model_and_a_missing_source(tmp_path):
    r = _poselift("live", str(tmp_path / "nope.mp4"))
    assert r.returncode == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = _poselift("live", str(tmp_path / "nope.mp4"), "--model", "default")
    assert r.returncode == 1 and "causal" in r.stderr and "Traceback" not in r.stderr
