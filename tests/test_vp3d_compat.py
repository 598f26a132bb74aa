"""VideoPose3D interoperability: `data import --joints 32`, `export vp3d`, screen normalisation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift.cli.main import main
from poselift.geometry.cameras import normalize_screen_coordinates

SHARED = Path(os.environ.get("POSELIFT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
EXPMAP = SHARED / "data" / "h36m-expmap"
KEPT = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]


# --------------------------------------------------------------------------- screen normalisation
def test_screen_normalisation_rounds_like_videopose3d():
    rng = np.random.default_rng(0)
    w, h = 1080, 1920  # portrait: h / w = 1.777... is not a float32
    kps = rng.uniform(0, [w, h], size=(500, 17, 2)).astype(np.float32)
    ref = kps.copy()
    ref[..., :2] = kps[..., :2] / w * 2 - [1, h / w]  # VideoPose3D: list offset, float32 destination
    ours = normalize_screen_coordinates(kps, w, h)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)
    # The float32 offset this replaces really is a rounding step off somewhere.
    f32 = kps / w * 2 - np.array([1, h / w], np.float32)
    assert (f32 != ref).any()
    t = normalize_screen_coordinates(torch.from_numpy(kps), w, h)
    assert t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), ref)


# --------------------------------------------------------------------------- data import --joints 32
def test_import_joints_32_from_data_3d(tmp_path, monkeypatch, capsys):
    from poselift.io.safe_npz import save_npz

    monkeypatch.setenv("POSELIFT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    a32 = np.random.default_rng(1).normal(size=(20, 32, 3)).astype(np.float32)
    save_npz(src / "data_3d_full.npz", positions_3d={"S9": {"Walking 1": a32}})
    save_npz(src / "data_3d_small.npz", positions_3d={"S9": {"Eating": a32[:, KEPT]}})
    out = tmp_path / "data_3d_h36m.npz"
    rc = main(["data", "import", str(src), "-o", str(out), "--fps", "0", "--joints", "32", "-q"])
    assert rc == 1  # the 17-joint source cannot give 32 joints: reported, others kept
    err = capsys.readouterr().err
    assert "data_3d_small.npz" in err and "32" in err and "Traceback" not in err
    # What VideoPose3D's Human36mDataset does with the file.
    pos = np.load(out, allow_pickle=True)["positions_3d"].item()
    assert list(pos) == ["S9"] and pos["S9"]["Walking 1"].shape == (20, 32, 3)
    np.testing.assert_array_equal(pos["S9"]["Walking 1"], a32)
    meta = np.load(out, allow_pickle=True)["metadata"].item()
    assert meta["num_joints"] == 32 and meta["layout"] == "h36m32"


@pytest.mark.shared
def test_import_joints_32_from_expmap(tmp_path, monkeypatch, capsys):
    files = sorted((EXPMAP / "S8").glob("walking_*.txt.gz"))[:1] + sorted((EXPMAP / "S1").glob("eating_*.txt.gz"))[:1]
    if len(files) < 2:
        pytest.skip(f"shared Human3.6M exp-map data not found under {EXPMAP} (set POSELIFT_SHARED)")
    monkeypatch.setenv("POSELIFT_CACHE", str(tmp_path / "cache"))
    bvh = tmp_path / "x.bvh"
    bvh.write_text("HIERARCHY\n")
    o32, o17 = tmp_path / "d32.npz", tmp_path / "d17.npz"
    assert main(["data", "import", *map(str, files), str(bvh), "-o", str(o32), "--joints", "32", "-q"]) == 1
    assert "x.bvh" in capsys.readouterr().err
    assert main(["data", "import", *map(str, files), "-o", str(o17), "-q"]) == 0
    p32 = np.load(o32, allow_pickle=True)["positions_3d"].item()
    p17 = np.load(o17, allow_pickle=True)["positions_3d"].item()
    assert set(p32) == {"S1", "S8"}
    for s in p32:
        for a, arr in p32[s].items():
            assert arr.dtype == np.float32 and arr.shape[1:] == (32, 3)
            # VideoPose3D's remove_static_joints of the 32 gives exactly the 17-joint import.
            np.testing.assert_allclose(arr[:, KEPT], p17[s][a], atol=1e-6)
            assert 1.0 < np.ptp(arr[..., 2]) < 2.2  # a person-sized skeleton, metres, Z up


# --------------------------------------------------------------------------- export vp3d
def _screen_model(path: Path, causal: bool = False) -> Path:
    from poselift.lift.model import ModelConfig, build_model
    from poselift.lift.weights import save_model

    cfg = ModelConfig(filter_widths=[3, 3, 3], channels=32, causal=causal)
    torch.manual_seed(4)
    model = build_model(cfg)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if "running_var" in name:
                t.uniform_(0.5, 1.5)
            elif t.is_floating_point():
                t.normal_(0, 0.1)
    return save_model(path, model.eval(), cfg, {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17",
                                                "fps": 50.0, "input_normalization": "screen", "licence": "test"})


@pytest.mark.parametrize("legacy", [False, True])
def test_export_vp3d_round_trip(tmp_path, capsys, legacy):
    src = _screen_model(tmp_path / "mine.safetensors")
    out = tmp_path / "epoch_0.bin"
    assert main(["export", "vp3d", str(src), "-o", str(out)] + (["--legacy-serialization"] if legacy else [])) == 0
    msg = capsys.readouterr().out
    assert "-arc 3,3,3 -ch 32" in msg and "--evaluate epoch_0.bin" in msg
    assert (out.read_bytes()[:2] == b"PK") != legacy
    # What run.py does with it: torch.load (weights_only, the modern default) and a strict load_state_dict.
    ck = torch.load(out, map_location="cpu", weights_only=True)
    assert set(ck) == {"epoch", "lr", "random_state", "optimizer", "model_pos", "model_traj", "random_state_semi"}
    assert ck["model_traj"] is None and ck["optimizer"] is None
    from poselift.lift.model import TemporalModel
    TemporalModel(17, 2, 17, [3, 3, 3], channels=32).load_state_dict(ck["model_pos"], strict=True)
    # Lifting with the export gives what lifting with the original gives.
    rng = np.random.default_rng(2)
    kps = (rng.uniform(200, 500, (1, 17, 2)) + rng.normal(0, 5, (60, 17, 2))).astype(np.float32)
    data = tmp_path / "data_2d_custom_c.npz"
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
            "video_metadata": {"c.mp4": {"w": 720, "h": 1280}}}
    np.savez_compressed(data, positions_2d={"c.mp4": {"custom": [kps]}}, metadata=meta)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["lift", str(data), "--model", str(src), "-o", str(a)]) == 0
    assert main(["lift", str(data), "--model", str(out), "-o", str(b)]) == 0
    pa, pb = np.load(a)["poses_3d"], np.load(b)["poses_3d"]
    assert np.abs(pa).max() > 0.01
    np.testing.assert_allclose(pa, pb, atol=1e-6)


def test_export_refuses_focal_scaled_in_one_line(tmp_path):
    out = tmp_path / "x.bin"
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "export", "vp3d", "h36m", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "focal_scaled" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
