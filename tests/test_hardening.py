"""Issue 13's failure kinds, one test each where the corpus (test_bad_corpus.py), the fuzz
suite (test_fuzz.py) and the signal tests (test_interrupts.py) do not already name them;
plus issue 11's validated camera model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from poselift.cli.main import main
from poselift.errors import InputError, PoseliftError, escape_text


def _cli(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "poselift.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, **kw)


# ----------------------------------------------------------------------------- camera model
def test_intrinsics_resolution_and_validation():
    from poselift.geometry.intrinsics import Intrinsics, pixels_to_rays, resolve_intrinsics

    d = resolve_intrinsics(1920, 1080)
    assert d.focal_px == pytest.approx(26.0 / 43.27 * np.hypot(1920, 1080))
    assert d.center_px == (960.0, 540.0)
    assert resolve_intrinsics(1000, 600, fov=90.0).focal_px == pytest.approx(500.0)
    assert resolve_intrinsics(1000, 600, focal_px=800.0).focal_px == 800.0
    for bad in ({"fov": 200.0}, {"fov": 0.0}, {"fov": -30.0}, {"fov": 180.0}, {"focal_px": 0.0},
                {"focal_px": -5.0}, {"focal_px": -500.0}, {"focal_px": float("nan")}, {"focal_px": 1e12}):
        with pytest.raises(PoseliftError) as info:
            resolve_intrinsics(1920, 1080, **bad)
        assert "\n" not in str(info.value)
    with pytest.raises(PoseliftError, match="not both"):
        resolve_intrinsics(100, 100, focal_px=100.0, fov=60.0)
    for w, h in ((0, 240), (320, -1), (10**6, 10)):
        with pytest.raises(PoseliftError, match="image size"):
            Intrinsics(500.0, (0.0, 0.0), w, h)
    intr = resolve_intrinsics(640, 480, focal_px=500.0)
    rays = pixels_to_rays(np.array([[320.0, 240.0], [820.0, 240.0], [np.nan, 0.0]]), intr)
    np.testing.assert_allclose(rays[:2], [[0, 0], [1, 0]])
    assert np.isnan(rays[2, 0])


def test_one_place_resolves_focal_and_rays():
    """No module divides pixels by a focal length or picks a default lens on its own."""
    import re

    src = REPO / "src" / "poselift"
    own = {src / "geometry" / "intrinsics.py"}
    offenders = []
    for f in src.rglob("*.py"):
        if f in own:
            continue
        # Code lines only: help texts and docstrings may show the formula.
        text = "\n".join(ln for ln in f.read_text().splitlines() if '"' not in ln and "``" not in ln)
        if re.search(r"\(\s*\w+\s*-\s*[\w.]*c\w*\s*\)\s*/\s*(float\()?[\w.]*f", text):
            offenders.append(f"{f.name}: (kp - c) / f")
        if re.search(r"focal_length\s+or\s+default_focal_length|focal_px\s+or\s+\(focal_from_fov", text):
            offenders.append(f"{f.name}: own focal resolution")
    assert not offenders, offenders


@pytest.mark.parametrize("args", [["--fov", "200"], ["--fov", "0"], ["--fov", "-30"], ["--fov", "180"],
                                  ["--focal-length", "0"], ["--focal-length", "-5"], ["--focal-length", "-500"],
                                  ["--max-gap", "-1"], ["--score-threshold", "5"], ["--viz-size", "0"],
                                  ["--viz-downsample", "0"], ["--viz-bitrate", "-1"], ["--fps", "nan"],
                                  ["--max-people", "-1"], ["--workers", "0"]])
def test_infer_option_ranges_are_one_line_errors(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["infer", "clip.mp4", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count("\n") == 1 and args[0] in err and err.endswith("(see poselift infer --help)\n"), err


@pytest.mark.parametrize("cmd", [["lift", "x.npz", "-o", "y.npz", "--focal-length", "-5"],
                                 ["lift", "x.npz", "-o", "y.npz", "--fov", "200"],
                                 ["train", "-o", "m.safetensors", "-e", "-1"],
                                 ["train", "-o", "m.safetensors", "-ch", "0"],
                                 ["train", "-o", "m.safetensors", "-b", "0"],
                                 ["evaluate", "--focal-length", "0"],
                                 ["data", "import", "a.bvh", "-o", "x.npz", "--fps", "-1"]])
def test_other_commands_option_ranges(cmd, capsys):
    with pytest.raises(SystemExit) as info:
        main(cmd)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "--help" in err, err


def test_argparse_error_has_no_usage_block(tmp_path):
    r = _cli("infer", "x.mp4", "--max-people", "-1", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == ("poselift infer: error: argument --max-people: must be 0 (all) or more, got -1 "
                        "(see poselift infer --help)\n")


# ----------------------------------------------------------------------------- NaN and lifting
@pytest.fixture(scope="module")
def lifter(tmp_path_factory):
    from poselift.lift.model import ModelConfig, TemporalModel
    from poselift.lift.weights import load_model, save_model

    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3, 3], channels=16)
    torch.manual_seed(0)
    model = TemporalModel(17, 2, 17, [3, 3, 3], dropout=0.0, channels=16)
    meta = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 25.0,
            "input_normalization": "focal", "licence": "test"}
    return load_model(save_model(tmp_path_factory.mktemp("m") / "t", model.eval(), cfg, meta))


def test_nan_frames_stay_gaps_and_never_spread(lifter):
    """3 NaN frames in 60: exactly those 3 are invalid, every other pose is finite and
    identical to lifting the two clean runs separately (no NaN leaks through the
    receptive field of 27 frames)."""
    from poselift.lift.pipeline import Tracks2D, lift_tracks

    rng = np.random.default_rng(1)
    kp = (np.array([160.0, 120.0]) + rng.normal(0, 20, (1, 60, 17, 2))).astype(np.float32)
    kp[0, [20, 21, 40], 5] = np.nan
    tr = Tracks2D(kp, np.ones((1, 60, 17), np.float32), np.ones((1, 60), bool), "h36m17", 320, 240, 25.0)
    res = lift_tracks(lifter, tr, tta=False, geometric_trajectory=True)
    bad = np.zeros(60, bool)
    bad[[20, 21, 40]] = True
    np.testing.assert_array_equal(res.valid[0], ~bad)
    assert np.isfinite(res.poses_3d[0, ~bad]).all() and np.isfinite(res.trajectory[0, ~bad]).all()
    assert np.isnan(res.poses_3d[0, bad]).all()


def test_lift_cli_refuses_nan_inf_and_empty(tmp_path):
    from poselift.io.safe_npz import save_npz

    def write(name, **over):
        t = over.pop("t", 30)
        d = {"poses_3d": np.zeros((1, t, 17, 3), np.float32), "trajectory": np.zeros((1, t, 3), np.float32),
             "keypoints_2d": np.full((1, t, 17, 2), 100.0, np.float32), "scores_2d": np.ones((1, t, 17), np.float32),
             "valid": np.ones((1, t), bool), "fps": np.float64(25), "image_size": np.array([320, 240])}
        d.update(over)
        save_npz(tmp_path / name, **d)
        return tmp_path / name

    cases = {"nan.npz": ({"keypoints_2d": np.full((1, 30, 17, 2), np.nan, np.float32)}, "no frame has all"),
             "inf.npz": ({"keypoints_2d": np.full((1, 30, 17, 2), np.inf, np.float32)}, "infinite"),
             "size0.npz": ({"image_size": np.array([0, 0])}, "image_size"),
             "empty.npz": ({"t": 0}, "no frames"),
             "far.npz": ({"keypoints_2d": np.full((1, 30, 17, 2), 1e32, np.float32)}, "far outside"),
             "fpsinf.npz": ({"fps": np.float64(np.inf)}, "fps")}
    for name, (over, expect) in cases.items():
        p = write(name, **over)
        out = tmp_path / f"out_{name}"
        rc = main(["lift", str(p), "-o", str(out)])
        assert rc == 1 and not out.exists(), name


# ----------------------------------------------------------------------------- resource bombs
def test_npz_declaring_gigabytes_is_refused_before_allocating(tmp_path):
    import resource
    import zipfile

    header = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (400_000_000,)})  # 1.5 GiB
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("keypoints_2d.npy", header.getvalue() + b"\0" * 100)
    from poselift.io.safe_npz import load_npz

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match="refusing to load"):
        load_npz(p)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing big was made


def test_bvh_frame_time_that_asks_for_huge_resampling(tmp_path):
    from poselift.io.bvh import parse_bvh
    from poselift.io.mocap import MAX_RESAMPLED_FRAMES

    head = open(REPO / "tests" / "data" / "bad" / "unknown_skeleton.bvh").read().split("MOTION")[0]
    for ft, expect in (("1e-9", "Frame Time"), ("1e6", "Frame Time"), ("-1", "Frame Time")):
        with pytest.raises(InputError, match=expect):
            parse_bvh(head + f"MOTION\nFrames: 1\nFrame Time: {ft}\n" + "0 " * 9 + "\n", "x.bvh")
    assert MAX_RESAMPLED_FRAMES * 17 * 3 * 4 < 2**30  # the resampling bound keeps an import under 1 GiB


# ----------------------------------------------------------------------------- messages
def test_control_characters_in_names_are_escaped(tmp_path):
    assert escape_text("a\nb\x1b[31m\r") == "a\\nb\\x1b[31m\\r"
    name = tmp_path / "evil\nname\x1b[2J.json"
    name.write_text("[")
    r = _cli("infer", "--keypoints", str(name), "-o", str(tmp_path / "o"), cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "evil\\nname\\x1b[2J.json" in r.stderr and "\x1b" not in r.stderr, r.stderr


def test_symlink_loop_and_fifo_are_named(tmp_path):
    loop = tmp_path / "loop.mp4"
    os.symlink(loop, loop)
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    r = _cli("infer", str(loop), str(fifo), "-o", str(tmp_path / "o"), "--no-render", cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "loop.mp4: symbolic link loop" in r.stderr and "pipe.mp4: is a FIFO" in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()  # a failed run creates no output folder


def test_missing_viz_export_folder_refused_before_work(tmp_path, capsys):
    rc = main(["infer", "--keypoints", str(tmp_path / "k.json"), "-o", str(tmp_path / "o"),
               "--viz-export", str(tmp_path / "nope" / "x.npy")])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--viz-export" in err and "nope" in err
    assert not (tmp_path / "o").exists()


def test_progress_only_on_a_terminal(tmp_path):
    from poselift.cli.infer_cmd import add_parser  # noqa: F401  (the flag exists)
    import argparse

    from poselift.cli.main import build_parser

    args = build_parser().parse_args(["infer", "x.mp4"])
    assert args.progress is None  # auto: decided by sys.stderr.isatty() in run()
    assert build_parser().parse_args(["infer", "x.mp4", "--progress"]).progress is True
    assert build_parser().parse_args(["infer", "x.mp4", "--no-progress"]).progress is False
    assert isinstance(args, argparse.Namespace)


def test_truncated_video_is_warned_about_in_one_line(tmp_path, capfd):
    from poselift.errors import _warned
    from poselift.io.video import read_frames
    from poselift.render._encode import AtomicVideoWriter

    full = tmp_path / "full.mp4"
    with AtomicVideoWriter(full, 64, 48, 25) as w:  # +faststart: the header is at the front
        for i in range(100):
            w.write(np.full((48, 64, 3), i * 2, np.uint8))
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.9)])
    _warned.clear()
    n = sum(1 for _ in read_frames(cut))
    err = capfd.readouterr().err
    assert n < 100
    assert err == f"poselift: warning: {cut}: video is truncated: decoded {n} of the 100 frames its header declares\n"
    assert sum(1 for _ in read_frames(full)) == 100 and capfd.readouterr().err == ""


def test_save_npz_on_a_full_disk_is_one_error_without_zipfile_noise(tmp_path):
    """Real ENOSPC from a 64 KiB tmpfs (root only); NumPy's own writer printed
    'Exception ignored in ZipFile.__del__' with a traceback here."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        code = ("import numpy as np, gc\n"
                "from poselift.io.safe_npz import save_npz\n"
                "from poselift.errors import PoseliftError\n"
                "try:\n"
                f"    save_npz({str(disk / 'x.npz')!r}, a=np.random.rand(200000))\n"
                "except PoseliftError as e:\n"
                "    print(e)\n"
                "gc.collect()\n")
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert "No space left on device" in r.stdout and r.stderr == "", r.stderr
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_sigterm_exit_code_mapping():
    from poselift.staging import Interrupted, exit_code

    assert exit_code(KeyboardInterrupt()) == 130
    assert exit_code(Interrupted(signal.SIGTERM)) == 143
