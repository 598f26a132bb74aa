"""VideoPose3D data files: round trips, files written the way VideoPose3D writes them,
and malformed or hostile files (library and command line)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift.errors import InputError, UnsafeFileError
from poselift.io.safe_npz import load_npz
from poselift.io.vp3d import (CustomVideo, detect_npz_kind, load_custom_dataset, load_data_2d, load_data_3d,
                              load_detectron_video, save_custom_dataset, save_data_2d, save_data_3d,
                              save_detectron_video, suggest_metadata)
from poselift.lift.model import TemporalModel

H36M_SYM = [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]
COCO_SYM = [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _seq(t, j=17, c=2, seed=0, scale=1.0):
    return (_rng(seed).uniform(0, 1, size=(t, j, c)) * scale).astype(np.float32)


# --------------------------------------------------------------------------- data_3d
def test_data_3d_round_trip(tmp_path):
    pos = {"S1": {"Walking 1": _seq(20, 32, 3, 1), "Eating": _seq(5, 32, 3, 2)}, "S9": {"Sitting": _seq(3, 32, 3, 3)}}
    path = tmp_path / "data_3d_h36m.npz"
    save_data_3d(path, pos)
    back = load_data_3d(path)
    assert set(back) == {"S1", "S9"} and set(back["S1"]) == {"Walking 1", "Eating"}
    for s in pos:
        for a in pos[s]:
            assert back[s][a].dtype == np.float32
            np.testing.assert_array_equal(back[s][a], pos[s][a])
    # VideoPose3D reads it with np.load(allow_pickle=True).
    raw = np.load(path, allow_pickle=True)["positions_3d"].item()
    np.testing.assert_array_equal(raw["S9"]["Sitting"], pos["S9"]["Sitting"])
    assert detect_npz_kind(path) == "data_3d"


def test_data_3d_written_like_videopose3d(tmp_path):
    # prepare_data_h36m.py: np.savez_compressed(out, positions_3d=output), output a dict.
    output = {"S1": {"Directions 1": _seq(8, 32, 3, 4).astype("float32")}}
    path = tmp_path / "data_3d_h36m.npz"
    np.savez_compressed(path, positions_3d=output)
    back = load_data_3d(path)
    np.testing.assert_array_equal(back["S1"]["Directions 1"], output["S1"]["Directions 1"])


# --------------------------------------------------------------------------- data_2d
def test_data_2d_round_trip(tmp_path):
    cams = [_seq(12, seed=i, scale=1000) for i in range(4)]
    pos = {"S1": {"Walking 1": cams, "Eating": cams[:2]}, "S11": {"Greeting": [_seq(3, seed=9)]}}
    meta = suggest_metadata("h36m")
    assert meta == {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": H36M_SYM}
    path = tmp_path / "data_2d_h36m_gt.npz"
    save_data_2d(path, pos, meta)
    back, meta_back = load_data_2d(path)
    assert meta_back == meta
    assert isinstance(back["S1"]["Walking 1"], list) and len(back["S1"]["Walking 1"]) == 4
    for i in range(4):
        np.testing.assert_array_equal(back["S1"]["Walking 1"][i], cams[i])
    assert len(back["S1"]["Eating"]) == 2
    raw = np.load(path, allow_pickle=True)
    assert raw["metadata"].item()["num_joints"] == 17
    np.testing.assert_array_equal(raw["positions_2d"].item()["S11"]["Greeting"][0], pos["S11"]["Greeting"][0])
    assert detect_npz_kind(path) == "data_2d"


def test_data_2d_written_like_videopose3d(tmp_path):
    # prepare_data_h36m.py's ground-truth 2D file: metadata without layout_name, lists of cameras.
    output = {"S1": {"Walking 1": [_seq(10, seed=i, scale=1000) for i in range(4)]}}
    metadata = {"num_joints": 17, "keypoints_symmetry": H36M_SYM}
    path = tmp_path / "data_2d_h36m_gt.npz"
    np.savez_compressed(path, positions_2d=output, metadata=metadata)
    back, meta = load_data_2d(path)
    assert meta == metadata
    np.testing.assert_array_equal(back["S1"]["Walking 1"][3], output["S1"]["Walking 1"][3])
    # With confidences (C = 3) and as a single array instead of a list.
    output = {"S1": {"Walking 1": _seq(10, c=3, seed=5)}}
    np.savez_compressed(path, positions_2d=output, metadata=metadata)
    back, _ = load_data_2d(path)
    assert len(back["S1"]["Walking 1"]) == 1 and back["S1"]["Walking 1"][0].shape == (10, 17, 3)


# --------------------------------------------------------------------------- custom dataset
def test_custom_dataset_round_trip(tmp_path):
    videos = {"a.mp4": CustomVideo("a.mp4", _seq(30, seed=1, scale=500), 1280, 720, "coco17"),
              "b.mp4": CustomVideo("b.mp4", _seq(7, seed=2, scale=500), 640, 480, "coco17")}
    path = tmp_path / "data_2d_custom_x.npz"
    save_custom_dataset(path, videos)
    back = load_custom_dataset(path)
    assert set(back) == {"a.mp4", "b.mp4"}
    assert (back["a.mp4"].width, back["a.mp4"].height, back["a.mp4"].layout) == (1280, 720, "coco17")
    np.testing.assert_array_equal(back["b.mp4"].keypoints, videos["b.mp4"].keypoints)
    # What VideoPose3D's run.py reads.
    meta = np.load(path, allow_pickle=True)["metadata"].item()
    assert meta["layout_name"] == "coco" and meta["keypoints_symmetry"] == COCO_SYM
    assert meta["video_metadata"]["b.mp4"] == {"w": 640, "h": 480}
    assert detect_npz_kind(path) == "custom"
    with pytest.raises(ValueError):
        save_custom_dataset(tmp_path / "mixed.npz", {**videos, "c": CustomVideo("c", _seq(3), 1, 1, "h36m17")})


def test_custom_dataset_written_like_videopose3d(tmp_path):
    # prepare_data_2d_custom.py.
    kps = _seq(25, seed=3, scale=700)
    metadata = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": COCO_SYM,
                "video_metadata": {"clip.mp4": {"w": np.int64(1920), "h": 1080}}}
    path = tmp_path / "data_2d_custom_myvideos.npz"
    np.savez_compressed(path, positions_2d={"clip.mp4": {"custom": [kps]}}, metadata=metadata)
    v = load_custom_dataset(path)["clip.mp4"]
    assert (v.width, v.height, v.layout) == (1920, 1080, "coco17")
    np.testing.assert_array_equal(v.keypoints, kps)


# --------------------------------------------------------------------------- Detectron per-video
def _frame(boxes_scores, seed):
    """Boxes (N, 5) with the given scores and keypoints (N, 4, 17) as Detectron writes them."""
    n = len(boxes_scores)
    rng = _rng(seed)
    b = np.concatenate([rng.uniform(0, 500, (n, 4)), np.asarray(boxes_scores, float)[:, None]], 1)
    k = rng.uniform(0, 500, (n, 4, 17))
    k[:, 3] = rng.uniform(0, 1, (n, 17))
    return b.astype(np.float32), k.astype(np.float32)


def _detectron_frames():
    # frame 0: nothing; 1: two people, the second scores higher; 2: nothing; 3: one; 4: nothing.
    f1, f3 = _frame([0.6, 0.95], 1), _frame([0.8], 3)
    boxes = [[], f1[0], [], f3[0], []]
    kps = [[], f1[1], [], f3[1], []]
    return boxes, kps, f1, f3


def _check_detectron(d, f1, f3):
    best1_kp, best3_kp = f1[1][1].T, f3[1][0].T  # (17, 4)
    assert d.keypoints.shape == (5, 17, 2) and d.scores.shape == (5, 17) and d.boxes.shape == (5, 4)
    np.testing.assert_array_equal(d.detected, [False, True, False, True, False])
    np.testing.assert_allclose(d.keypoints[1], best1_kp[:, :2])
    np.testing.assert_allclose(d.scores[1], best1_kp[:, 3])
    np.testing.assert_allclose(d.boxes[1], f1[0][1, :4])
    np.testing.assert_allclose(d.keypoints[3], best3_kp[:, :2])
    # Start and end take the nearest detection, the gap is interpolated linearly.
    np.testing.assert_allclose(d.keypoints[0], d.keypoints[1])
    np.testing.assert_allclose(d.keypoints[4], d.keypoints[3])
    np.testing.assert_allclose(d.keypoints[2], (best1_kp[:, :2] + best3_kp[:, :2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(d.boxes[2], (f1[0][1, :4] + f3[0][0, :4]) / 2, rtol=1e-6)
    np.testing.assert_allclose(d.scores[2], (best1_kp[:, 3] + best3_kp[:, 3]) / 2, rtol=1e-6)


def test_detectron_round_trip(tmp_path):
    boxes, kps, f1, f3 = _detectron_frames()
    path = tmp_path / "clip.mp4.npz"
    save_detectron_video(path, boxes, kps, 1280, 720)
    d = load_detectron_video(path)
    assert (d.width, d.height) == (1280, 720)
    _check_detectron(d, f1, f3)
    assert detect_npz_kind(path) == "detectron"


def test_detectron_written_like_videopose3d(tmp_path):
    # infer_video_d2.py: lists of [[], boxes] / [[], keypoints] per frame, None segments,
    # metadata dict, all through np.savez_compressed (ragged lists become object arrays).
    boxes, kps, f1, f3 = _detectron_frames()
    cls_boxes = np.array([[[], b] for b in boxes], dtype=object)
    cls_kps = np.array([[[], k] for k in kps], dtype=object)
    path = tmp_path / "clip.mp4.npz"
    np.savez_compressed(path, boxes=cls_boxes, segments=[None] * 5, keypoints=cls_kps,
                        metadata={"w": 1920, "h": 1080})
    d = load_detectron_video(path)
    assert (d.width, d.height) == (1920, 1080)
    _check_detectron(d, f1, f3)


def test_detectron_without_any_detection(tmp_path):
    path = tmp_path / "empty.npz"
    save_detectron_video(path, [[], []], [[], []], 10, 10)
    with pytest.raises(InputError, match="no person detected"):
        load_detectron_video(path)


def test_detect_kind_poselift_and_unknown(tmp_path):
    p = tmp_path / "r.npz"
    np.savez(p, poses_3d=np.zeros((1, 2, 17, 3)))
    assert detect_npz_kind(p) == "poselift"
    q = tmp_path / "other.npz"
    np.savez(q, something=np.zeros(3))
    with pytest.raises(InputError, match="unrecognised") as ei:
        detect_npz_kind(q)
    assert "other.npz" in str(ei.value)


# --------------------------------------------------------------------------- malformed / hostile
class _Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _object_npy(payload: bytes) -> bytes:
    """An .npy member whose header says 0-d object array and whose body is ``payload``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
    return buf.getvalue() + payload


def _write_hostile(path: Path, marker: Path, how: str) -> None:
    cmd = f"touch {marker}"
    obj = {"os.system": _Evil(os.system, (cmd,)),
           "subprocess": _Evil(subprocess.call, (["touch", str(marker)],)),
           "eval": _Evil(eval, (f"open({str(marker)!r}, 'w')",)),
           # Hidden inside an otherwise legitimate VideoPose3D structure.
           "nested": {"S1": {"Walking": [np.zeros((2, 17, 2), np.float32), _Evil(os.system, (cmd,))]}}}[how]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("positions_2d.npy", _object_npy(pickle.dumps(obj, protocol=4)))
        zf.writestr("metadata.npy", _object_npy(pickle.dumps({"num_joints": 17}, protocol=4)))


def _bad_files(tmp_path: Path, marker: Path) -> dict[str, tuple[Path, type]]:
    """name -> (file, expected error class). Every one of them is refused by ``poselift lift``."""
    out: dict[str, tuple[Path, type]] = {}
    p = tmp_path / "not_a_zip.npz"
    p.write_text("hello, this is not a zip file\n")
    out["non_zip"] = (p, InputError)
    good = tmp_path / "good.npz"
    np.savez_compressed(good, positions_2d={"v": {"custom": [_seq(400, seed=7, scale=900)]}},
                        metadata={"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": COCO_SYM,
                                  "video_metadata": {"v": {"w": 1000, "h": 1000}}})
    data = good.read_bytes()
    p = tmp_path / "truncated.npz"
    p.write_bytes(data[: len(data) // 2])
    out["truncated"] = (p, InputError)
    p = tmp_path / "corrupt_deflate.npz"
    b = bytearray(data)
    for i in range(200, min(len(b) - 400, 1200)):
        b[i] ^= 0x5A
    p.write_bytes(bytes(b))
    out["corrupt_deflate"] = (p, InputError)
    for how in ("os.system", "subprocess", "eval", "nested"):
        p = tmp_path / f"hostile_{how.replace('.', '_')}.npz"
        _write_hostile(p, marker, how)
        out[f"hostile_{how}"] = (p, UnsafeFileError)
    p = tmp_path / "no_metadata.npz"
    np.savez_compressed(p, positions_2d={"v": {"custom": [_seq(5)]}})
    out["missing_metadata"] = (p, InputError)
    p = tmp_path / "wrong_joints.npz"
    np.savez_compressed(p, positions_2d={"v": {"custom": [_seq(5, j=16)]}},
                        metadata={"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": COCO_SYM,
                                  "video_metadata": {"v": {"w": 100, "h": 100}}})
    out["wrong_joints"] = (p, InputError)
    p = tmp_path / "wrong_layout_joints.npz"
    np.savez_compressed(p, positions_2d={"v": {"custom": [_seq(5, j=33)]}},
                        metadata={"layout_name": "coco", "video_metadata": {"v": {"w": 100, "h": 100}}})
    out["layout_joint_mismatch"] = (p, InputError)
    p = tmp_path / "no_video_meta.npz"
    np.savez_compressed(p, positions_2d={"v": {"custom": [_seq(5)]}},
                        metadata={"layout_name": "coco", "num_joints": 17})
    out["missing_video_metadata"] = (p, InputError)
    p = tmp_path / "bad_detectron.npz"
    np.savez_compressed(p, boxes=np.array([[[], np.zeros((1, 5))]], dtype=object),
                        keypoints=np.array([[[], np.zeros((1, 3, 17))]], dtype=object),
                        segments=[None], metadata={"w": 10, "h": 10})
    out["detectron_bad_shape"] = (p, InputError)
    p = tmp_path / "flat_detectron.npz"
    np.savez_compressed(p, boxes=np.zeros(4), keypoints=np.zeros(4), metadata={"w": 10, "h": 10})
    out["detectron_numeric_arrays"] = (p, InputError)
    p = tmp_path / "data3d_not_dict.npz"
    np.savez_compressed(p, positions_3d=np.zeros((3, 17, 3)))
    out["data_3d_not_dict"] = (p, InputError)
    return out


_LOADERS = {"data_3d": load_data_3d, "data_2d": load_data_2d, "custom": load_custom_dataset,
            "detectron": load_detectron_video}
_HOSTILE_GLOBAL = {"hostile_os.system": "system", "hostile_subprocess": "subprocess.call",
                   "hostile_eval": "builtins.eval", "hostile_nested": "system"}


def _load_as(name: str, path: Path):
    if name == "missing_video_metadata":
        return load_custom_dataset(path)
    return _LOADERS[detect_npz_kind(path)](path)


def test_bad_files_raise_one_line_errors(tmp_path):
    marker = tmp_path / "pwned"
    cases = _bad_files(tmp_path, marker)
    for name, (path, err) in cases.items():
        caught = None
        try:
            _load_as(name, path)
        except err as exc:
            caught = exc
        assert caught is not None, f"{name}: no {err.__name__} raised"
        msg = str(caught)
        assert "\n" not in msg, (name, msg)
        assert path.name in msg and caught.path == str(path), (name, msg)
        if name in _HOSTILE_GLOBAL:
            assert _HOSTILE_GLOBAL[name] in msg, (name, msg)
    assert not marker.exists()


def test_hostile_pickle_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    _write_hostile(path, marker, "os.system")
    with pytest.raises(UnsafeFileError, match="refusing to load.*system"):
        load_npz(path)
    assert not marker.exists()
    # The crafted file really is hostile: NumPy's own unpickler would run it.
    np.load(path, allow_pickle=True)["positions_2d"]
    assert marker.exists()


def test_missing_keys_are_named(tmp_path):
    p = tmp_path / "d.npz"
    np.savez_compressed(p, positions_2d={"S1": {"a": [_seq(3)]}})
    with pytest.raises(InputError, match="missing 'metadata'"):
        load_data_2d(p)
    with pytest.raises(InputError, match="missing 'positions_3d'"):
        load_data_3d(p)
    with pytest.raises(InputError, match="missing 'boxes'"):
        load_detectron_video(p)
    with pytest.raises(InputError, match="not found"):
        load_npz(tmp_path / "absent.npz")
    with pytest.raises(InputError, match="17"):
        np.savez_compressed(p, positions_2d={"S1": {"a": [_seq(3, j=15)]}}, metadata={"num_joints": 17})
        load_data_2d(p)


# --------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def vp3d_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny_coco.bin"
    torch.manual_seed(0)
    torch.save({"model_pos": TemporalModel(17, 2, 17, [3, 3], channels=16).state_dict()}, path)
    return path


def test_cli_bad_inputs_in_process(tmp_path, vp3d_model, capsys):
    """Every bad file: exit code 1, one stderr line naming the file, no output."""
    from poselift.cli.main import main

    marker = tmp_path / "pwned"
    for name, (path, _) in _bad_files(tmp_path, marker).items():
        out = tmp_path / f"out_{name}.npz"
        code = main(["lift", str(path), "--model", str(vp3d_model), "-o", str(out)])
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert code == 1, (name, err)
        assert len(lines) == 1 and lines[0].startswith("poselift lift: error: "), (name, err)
        assert path.name in lines[0], (name, err)
        assert not out.exists(), name
    good = tmp_path / "good.npz"
    assert main(["lift", str(good), "--model", str(vp3d_model), "-o", str(tmp_path / "ok.npz")]) == 0
    assert np.load(tmp_path / "ok.npz")["poses_3d"].shape == (1, 400, 17, 3)
    assert not marker.exists()


# A representative subset through a real process (each start costs ~2 s of imports).
SUBPROCESS_CASES = ["non_zip", "corrupt_deflate", "hostile_subprocess", "detectron_numeric_arrays"]


def test_cli_bad_inputs_subprocess(tmp_path, vp3d_model):
    marker = tmp_path / "pwned"
    cases = _bad_files(tmp_path, marker)
    procs = {}
    for name in SUBPROCESS_CASES:
        path = cases[name][0]
        out = tmp_path / f"out_{name}.npz"
        procs[name] = (subprocess.Popen(
            [sys.executable, "-m", "poselift.cli.main", "lift", str(path), "--model", str(vp3d_model),
             "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), path, out)
        if len(procs) % 2 == 0:  # two at a time on a shared machine
            for p, _, _ in procs.values():
                p.wait()
    for name, (proc, path, out) in procs.items():
        _, err = proc.communicate(timeout=120)
        lines = err.strip().splitlines()
        assert proc.returncode == 1, (name, err)
        assert len(lines) == 1, (name, err)
        assert "Traceback" not in err and path.name in lines[0], (name, err)
        assert not out.exists(), name
    assert not marker.exists()
