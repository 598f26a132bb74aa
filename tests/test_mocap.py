"""Common mocap layer: joint maps, units/axes, resampling, cache, collections, CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.geometry.skeletons import H36M17, bone_lengths
from poselift.io import mocap
from poselift.io.mocap import (SKELETON_MAPS, MocapClip, SkeletonMap, detect_skeleton_map, load_mocap_collection,
                               load_mocap_file, register_skeleton_map, resample)

SHARED = Path(os.environ.get("POSELIFT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
DATA = SHARED / "data"

# A minimal skeleton with the joint names of a custom map (below); Y up, centimetres,
# standing still for 3 frames at 25 fps.
_J = [("Hips", None, (0, 100, 0)), ("LeftUpLeg", "Hips", (10, 0, 0)), ("LeftLeg", "LeftUpLeg", (0, -45, 0)),
      ("LeftFoot", "LeftLeg", (0, -45, 0)), ("RightUpLeg", "Hips", (-10, 0, 0)),
      ("RightLeg", "RightUpLeg", (0, -45, 0)), ("RightFoot", "RightLeg", (0, -45, 0)),
      ("Neck", "Hips", (0, 50, 0)), ("Head", "Neck", (0, 10, 0)), ("LeftArm", "Neck", (15, 0, 0)),
      ("LeftForeArm", "LeftArm", (28, 0, 0)), ("LeftHand", "LeftForeArm", (25, 0, 0)),
      ("RightArm", "Neck", (-15, 0, 0)), ("RightForeArm", "RightArm", (-28, 0, 0)),
      ("RightHand", "RightForeArm", (-25, 0, 0))]

CUSTOM_MAP = {
    "name": "test-studio", "unit_scale": 0.01, "up_axis": "y", "licence": "test",
    "joints": {
        "pelvis": {"Hips": 1.0}, "right_hip": {"RightUpLeg": 1.0}, "right_knee": {"RightLeg": 1.0},
        "right_ankle": {"RightFoot": 1.0}, "left_hip": {"LeftUpLeg": 1.0}, "left_knee": {"LeftLeg": 1.0},
        "left_ankle": {"LeftFoot": 1.0}, "spine": {"Hips": 0.5, "Neck": 0.5}, "thorax": {"Neck": 1.0},
        "neck_nose": {"Neck": -0.8, "Head": 1.8}, "head": {"Neck": -2.5, "Head": 3.5},
        "left_shoulder": {"LeftArm": 1.0}, "left_elbow": {"LeftForeArm": 1.0}, "left_wrist": {"LeftHand": 1.0},
        "right_shoulder": {"RightArm": 1.0}, "right_elbow": {"RightForeArm": 1.0},
        "right_wrist": {"RightHand": 1.0},
    },
}


def _custom_bvh() -> str:
    lines = ["HIERARCHY"]
    children = {n: [c for c, p, _ in _J if p == n] for n, _, _ in _J}
    off = {n: o for n, _, o in _J}

    def emit(name: str, depth: int) -> None:
        ind = "  " * depth
        lines.append(f"{ind}{'ROOT' if depth == 0 else 'JOINT'} {name}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET {' '.join(map(str, off[name]))}")
        lines.append(f"{ind}  CHANNELS {6 if depth == 0 else 3} "
                     + ("Xposition Yposition Zposition " if depth == 0 else "") + "Zrotation Xrotation Yrotation")
        for c in children[name]:
            emit(c, depth + 1)
        if not children[name]:
            lines.append(f"{ind}  End Site\n{ind}  {{\n{ind}    OFFSET 0 5 0\n{ind}  }}")
        lines.append(f"{ind}}}")

    emit("Hips", 0)
    nch = 6 + 3 * (len(_J) - 1)
    frame = " ".join(["0", "100", "0"] + ["0"] * (nch - 3))
    lines += ["MOTION", "Frames: 3", "Frame Time: 0.04", frame, frame, frame]
    return "\n".join(lines) + "\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("POSELIFT_CACHE", str(d))
    return d


@pytest.fixture
def custom_map():
    m = register_skeleton_map(CUSTOM_MAP)
    yield m
    SKELETON_MAPS.pop(m.name, None)


def test_custom_map_units_axes_and_resampling(tmp_path, cache, custom_map):
    f = tmp_path / "studio" / "stand.bvh"
    f.parent.mkdir()
    f.write_text(_custom_bvh())
    (clip,) = load_mocap_file(f, fps=50)
    assert isinstance(clip, MocapClip) and clip.skeleton == "test-studio" and clip.licence == "test"
    # 3 frames at 25 fps span 0.08 s -> 5 frames at 50 fps.
    assert clip.positions.shape == (5, 17, 3) and clip.positions.dtype == np.float32 and clip.fps == 50
    p = clip.positions[0]
    np.testing.assert_allclose(p[H36M17.index("pelvis")], [0, 0, 1.0], atol=1e-6)  # cm -> m, Y up -> Z up
    np.testing.assert_allclose(p[H36M17.index("left_ankle")], [0.1, 0, 0.1], atol=1e-6)
    np.testing.assert_allclose(p[H36M17.index("head")], [0, 0, 1.0 + 0.5 + 0.35], atol=1e-6)
    # Left joints stay on +x: Y-up -> Z-up is a rotation, not a mirror.
    assert p[H36M17.index("left_wrist"), 0] > 0 > p[H36M17.index("right_wrist"), 0]


def test_map_validation_and_detection(custom_map):
    bad = dict(CUSTOM_MAP, name="bad", joints=dict(CUSTOM_MAP["joints"], pelvis={"Hips": 0.5}))
    with pytest.raises(ValueError, match="sum to 1"):
        register_skeleton_map(bad)
    assert detect_skeleton_map([n for n, _, _ in _J]).name == "test-studio"
    with pytest.raises(InputError, match="unknown BVH skeleton"):
        detect_skeleton_map(["Hips", "Foo"])
    names = {"joint_Root", "Hips", "Spine", "Chest", "Neck", "Head"} | {
        f"{p}_{s}" for p in ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes")
        for s in "LR"}
    assert detect_skeleton_map(names).name == "bandai-namco"


def test_map_from_json_file(tmp_path):
    import json

    f = tmp_path / "map.json"
    f.write_text(json.dumps(dict(CUSTOM_MAP, name="json-studio")))
    try:
        assert isinstance(register_skeleton_map(f), SkeletonMap)
        assert "json-studio" in SKELETON_MAPS
    finally:
        SKELETON_MAPS.pop("json-studio", None)


def test_resample_linear():
    x = np.arange(4, dtype=np.float64)[:, None]  # 0,1,2,3 at 30 fps = 0.1 s
    y = resample(x, 30, 60)
    np.testing.assert_allclose(y[:, 0], np.arange(7) / 2)
    assert resample(x, 30, 30) is x


def test_cache_hit_and_invalidation(tmp_path, cache, custom_map):
    f = tmp_path / "a.bvh"
    f.write_text(_custom_bvh())
    a = load_mocap_file(f)
    assert len(list(cache.glob("*.npz"))) == 1
    b = load_mocap_file(f)
    np.testing.assert_array_equal(a[0].positions, b[0].positions)
    assert b[0].name == a[0].name
    f.write_text(_custom_bvh().replace("Frame Time: 0.04", "Frame Time: 0.02"))
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    c = load_mocap_file(f)
    assert c[0].num_frames != a[0].num_frames and len(list(cache.glob("*.npz"))) == 2


def test_data_3d_npz_and_collection_errors(tmp_path, cache):
    from poselift.io.safe_npz import save_npz

    root = tmp_path / "data"
    root.mkdir()
    pos = {"S1": {"Walk": np.zeros((10, 32, 3), np.float32)}, "S2": {"Sit": np.ones((4, 17, 3), np.float32)}}
    save_npz(root / "data_3d_toy.npz", positions_3d=pos)
    (root / "broken.bvh").write_text("HIERARCHY\nROOT x\n{")
    errors: list[InputError] = []
    clips = load_mocap_collection(root, fps=50, errors=errors)
    assert sorted(c.name for c in clips) == ["toy/S1/Walk", "toy/S2/Sit"]
    assert all(c.positions.shape[1:] == (17, 3) for c in clips)
    assert len(errors) == 1 and "broken.bvh" in str(errors[0])
    assert load_mocap_collection(root, datasets=["nothing"]) == []
    with pytest.raises(InputError):
        load_mocap_collection(root)


def test_cli_import(tmp_path, cache, capsys):
    from poselift.cli.main import main
    from poselift.io.safe_npz import load_npz, save_npz

    src = tmp_path / "src"
    src.mkdir()
    save_npz(src / "data_3d_toy.npz", positions_3d={"S1": {"Walk": np.zeros((10, 17, 3), np.float32)}})
    (src / "bad.bvh").write_text("not a bvh")
    out = tmp_path / "out.npz"
    rc = main(["data", "import", str(src), "-o", str(out), "--fps", "25", "-q"])
    assert rc == 1  # one file skipped
    err = capsys.readouterr().err
    assert "bad.bvh" in err and "Traceback" not in err
    d = load_npz(out)
    assert d["positions_3d"]["S1"]["Walk"].shape == (5, 17, 3)
    assert d["metadata"]["fps"] == 25 and d["metadata"]["layout"] == "h36m17"
    assert main(["data", "import", str(tmp_path / "missing"), "-o", str(out)]) == 1


# ------------------------------------------------------------------ real shared data

_H36M = np.array([0.133, 0.443, 0.454, 0.133, 0.443, 0.454, 0.233, 0.257, 0.121, 0.115,
                  0.151, 0.279, 0.252, 0.151, 0.279, 0.252])  # exp-map skeleton, bone order of H36M17


@pytest.mark.shared
@pytest.mark.parametrize("dataset", ["h36m-expmap", "bandai-namco", "cmu-daz", "cmu-dance"])
def test_real_files_are_human_sized(dataset, cache):
    folder = DATA / ("h36m-expmap/S1" if dataset == "h36m-expmap" else f"bvh/{dataset}")
    files = sorted(folder.glob("*.gz"))[:40:10]
    if not files:
        pytest.skip(f"shared {dataset} data not found under {DATA} (set POSELIFT_SHARED)")
    clips = load_mocap_collection(files, fps=50, cache=False)
    assert len(clips) == len(files)
    for c in clips:
        assert c.positions.ndim == 3 and c.positions.shape[1:] == (17, 3) and c.fps == 50
        assert np.isfinite(c.positions).all()
        L = bone_lengths(c.positions).mean(0)
        # Every bone within a factor 1.6 of Human3.6M's; legs 0.6-1.1 m.
        assert np.all(L > _H36M / 1.6) and np.all(L < _H36M * 1.6), (c.name, L.round(3))
        assert 0.6 < L[1] + L[2] < 1.1
        # Upright, Z up: head above pelvis above ankles most of the time.
        z = c.positions[..., 2]
        assert np.mean(z[:, 10] > z[:, 0]) > 0.8 and np.mean(z[:, 0] > z[:, 3]) > 0.8
        assert -0.2 < np.median(z.min(1)) < 0.3  # floor near z = 0
        assert c.licence
