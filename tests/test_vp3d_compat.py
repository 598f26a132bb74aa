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
