"""End-to-end training (loss must fall, resume, semi-supervised) and evaluate's JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift.cli.main import main
from poselift.geometry.cameras import h36m_cameras
from poselift.io.vp3d import save_data_2d, save_data_3d, suggest_metadata
from poselift.lift.weights import load_model, read_model_card
from poselift.train.trainer import Clip, TrainConfig, train

BASE = np.array([[0, 0, 0.95], [-0.12, 0, 0.95], [-0.12, 0, 0.5], [-0.12, 0, 0.08], [0.12, 0, 0.95],
                 [0.12, 0, 0.5], [0.12, 0, 0.08], [0, 0, 1.2], [0, 0, 1.45], [0, 0.05, 1.55], [0, 0, 1.7],
                 [0.18, 0, 1.45], [0.2, 0, 1.15], [0.22, 0, 0.9], [-0.18, 0, 1.45], [-0.2, 0, 1.15],
                 [-0.22, 0, 0.9]])


def _motion(t: int, seed: int) -> np.ndarray:
    """A person swinging arms and legs with a random rhythm, turning slowly (Z up, metres)."""
    rng = np.random.default_rng(seed)
    ph = np.linspace(0, rng.uniform(4, 12), t)
    pos = np.repeat(BASE[None], t, axis=0).copy()
    for j, amp in ((13, 0.35), (16, -0.35), (12, 0.15), (15, -0.15), (3, 0.25), (6, -0.25), (2, 0.1), (5, -0.1)):
        pos[:, j, 1] += amp * np.sin(ph)
    yaw = np.linspace(0, rng.uniform(-1.5, 1.5), t)
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x, y = pos[..., 0].copy(), pos[..., 1].copy()
    pos[..., 0], pos[..., 1] = c * x - s * y, s * x + c * y
    return pos.astype(np.float32)


def _clips(n: int, seed: int = 0, subject: str = "S1") -> list[Clip]:
    return [Clip(f"c{i}", _motion(300, seed + i), subject) for i in range(n)]


TINY = dict(architecture="3,3", channels=32, dropout=0.0, batch_size=16, chunk=8, epoch_size=320,
            val_chunks=32, threads=1, lr=3e-3)


def test_tiny_training_reduces_loss(tmp_path):
    cfg = TrainConfig(epochs=4, **TINY)
    res = train(cfg, _clips(6), _clips(2, 100), tmp_path / "m.safetensors", progress=False, log=lambda s: None,
                card={"licence": "test"})
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.7 * losses[0], losses
    assert res.history[-1]["val_mm"] < res.history[0]["val_mm"]
    card = read_model_card(res.model_path)
    assert card["kind"] == "pose" and card["fps"] == 50.0 and card["training"]["epochs_done"] == 4
    lm = load_model(res.model_path)
    assert lm.receptive_field == 9 and lm.input_normalization == "focal_scaled"


def test_resume_continues_and_checkpoint_is_weights_only(tmp_path):
    ck = tmp_path / "ck"
    first = train(TrainConfig(epochs=2, **TINY), _clips(3), _clips(1, 50), tmp_path / "a.safetensors",
                  checkpoint_dir=ck, progress=False, log=lambda s: None)
    state = torch.load(ck / "last.pt", weights_only=True)  # must not need the full unpickler
    assert state["epoch"] == 2
    logs: list[str] = []
    second = train(TrainConfig(epochs=3, **TINY), _clips(3), _clips(1, 50), tmp_path / "a.safetensors",
                   checkpoint_dir=ck, resume=True, progress=False, log=logs.append)
    assert any("resumed" in s for s in logs)
    assert [h["epoch"] for h in second.history] == [1, 2, 3]
    assert second.history[:2] == first.history


def test_semi_supervised_and_trajectory_models(tmp_path):
    cfg = TrainConfig(epochs=2, semi_supervised=True, warmup=1, semi_2d="normalized", **TINY)
    res = train(cfg, _clips(2), _clips(1, 9), tmp_path / "semi.safetensors", unlabeled=_clips(3, 20, "S5"),
                progress=False, log=lambda s: None)
    traj_path = tmp_path / "semi_traj.safetensors"
    assert res.model_path.is_file() and traj_path.is_file()
    assert read_model_card(traj_path)["kind"] == "trajectory"
    tcfg = TrainConfig(epochs=2, kind="trajectory", **TINY)
    t = train(tcfg, _clips(3), _clips(1, 9), tmp_path / "traj.safetensors", progress=False, log=lambda s: None)
    assert t.history[-1]["val_mm"] < t.history[0]["val_mm"] * 1.5


@pytest.mark.parametrize("norm", ["focal", "focal_scaled"])
def test_chunks_back_project_exactly(norm):
    """What the back-projection loss relies on: the 3D target placed at the true root
    projects onto the chunk's 2D rays (clean input), in either input frame; the
    normalised 2D shape ignores where and how large the projection is."""
    from poselift.train.trainer import ChunkSampler, _shape_2d

    cfg = TrainConfig(noise="clean", input_norm=norm, **TINY)
    b = ChunkSampler(_clips(3), cfg, 9, 0).sample(8)
    x3 = b["target"] + b["root"][:, :, None]
    proj = x3[..., :2] / x3[..., 2:]
    assert torch.allclose(proj, b["rays"], atol=1e-5)
    shifted = 1.7 * proj + torch.tensor([0.3, -0.2])
    assert torch.allclose(_shape_2d(shifted), _shape_2d(proj), atol=1e-5)
    assert not torch.allclose(_shape_2d(proj.flip(-2)), _shape_2d(proj), atol=1e-3)


def test_train_command_on_data_3d_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    save_data_3d(data / "data_3d_toy.npz", {"S1": {f"a{i}": _motion(200, i) for i in range(4)},
                                           "S8": {"walk": _motion(200, 77)}})
    out = tmp_path / "toy.safetensors"
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "train", "--data", str(data),
                        "--subjects-val", "S8", "-arc", "3,3", "-ch", "16", "-e", "1", "--epoch-size", "64",
                        "-b", "16", "--chunk", "8", "--no-progress", "-o", str(out)],
                       capture_output=True, text=True, env={**__import__("os").environ, "POSELIFT_CACHE": str(tmp_path / "c")})
    assert r.returncode == 0, r.stderr
    card = read_model_card(out)
    assert "train" in card["training"]["command"] and card["training"]["subjects_val"] == ["S8"]
    assert card["training"]["train_clips"] == 4


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("model")
    res = train(TrainConfig(epochs=1, **TINY), _clips(2), _clips(1, 3), d / "toy.safetensors", progress=False,
                log=lambda s: None)
    return res.model_path


CONTRACT = {"mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm", "per_action"}


def test_evaluate_json_contract_h36m_expmap(tmp_path, toy_model, capsys):
    subj = tmp_path / "expmap" / "S8"
    subj.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for action in ("walking_1", "eating_2"):
        rows = np.zeros((120, 99))
        rows[:, 6:] = rng.normal(0, 0.05, (120, 93)).cumsum(0) * 0.05
        np.savetxt(subj / f"{action}.txt", rows, delimiter=",", fmt="%.6f")
    for kind in ("gt", "noisy"):
        assert main(["evaluate", "--dataset", "h36m-expmap", "--data-dir", str(tmp_path / "expmap"),
                     "--subjects", "S8", "--model", str(toy_model), "--input", kind, "--json"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert CONTRACT <= set(res)
        assert set(res["per_action"]) == {"walking", "eating"}
        for k in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm"):
            assert isinstance(res[k], float) and np.isfinite(res[k]) and res[k] > 0
        assert res["p_mpjpe_mm"] <= res["mpjpe_mm"] and res["frames"] == 2 * 4 * 120
        assert res["sequences"] == 8  # 2 actions x 4 cameras
        # What infer outputs (constant bones): its own object, same metrics, different numbers.
        pp = res["postprocessed"]
        assert set(pp) == {"mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm"}
        assert all(np.isfinite(v) and v > 0 for v in pp.values())
        assert pp["mpjpe_mm"] != res["mpjpe_mm"]


def test_evaluate_npz_pair_and_humaneva(tmp_path, toy_model, capsys):
    cams = h36m_cameras("S1")
    world = {"walk 1": _motion(100, 1).astype(np.float64) + [0, 0, 0], "sit": _motion(80, 2).astype(np.float64)}
    cam3d = {a: [c.world_to_camera(w) for c in cams[:2]] for a, w in world.items()}
    kp2d = {a: [c.project(x).astype(np.float32) for c, x in zip(cams[:2], v)] for a, v in cam3d.items()}
    save_data_3d(tmp_path / "data_3d_x.npz", {"S1": {a: v for a, v in world.items()}})
    # Camera-frame 3D as a per-camera list enables every metric.
    from poselift.io.vp3d import _obj
    np.savez(tmp_path / "data_3d_cam.npz", positions_3d=_obj({"S1": cam3d}))
    save_data_2d(tmp_path / "data_2d_x.npz", {"S1": kp2d}, suggest_metadata("h36m"))
    assert main(["evaluate", "--dataset", "npz", "--data-3d", str(tmp_path / "data_3d_cam.npz"),
                 "--data-2d", str(tmp_path / "data_2d_x.npz"), "--image-size", "1000x1000",
                 "--focal-length", "1146", "--model", str(toy_model), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert CONTRACT <= set(res) and res["mpjpe_mm"] is not None and set(res["per_action"]) == {"walk", "sit"}
    # World-frame 3D only: P2 is still defined, the camera-dependent metrics are null.
    assert main(["evaluate", "--dataset", "npz", "--data-3d", str(tmp_path / "data_3d_x.npz"),
                 "--data-2d", str(tmp_path / "data_2d_x.npz"), "--model", str(toy_model), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["mpjpe_mm"] is None and res["p_mpjpe_mm"] > 0
    # HumanEva-15 files: 15 joints in, P2 on the 15 shared joints.
    from poselift.geometry.skeletons import h36m17_to_humaneva15
    he3d = {"Validate/S1": {"Walking 1 chunk0": h36m17_to_humaneva15(world["walk 1"])}}
    he2d = {"Validate/S1": {"Walking 1 chunk0": [h36m17_to_humaneva15(k) for k in kp2d["walk 1"]]}}
    save_data_3d(tmp_path / "data_3d_he.npz", he3d)
    save_data_2d(tmp_path / "data_2d_he.npz", he2d, suggest_metadata("humaneva15"))
    assert main(["evaluate", "--dataset", "humaneva15", "--data-3d", str(tmp_path / "data_3d_he.npz"),
                 "--data-2d", str(tmp_path / "data_2d_he.npz"), "--subjects", "Validate/S1",
                 "--model", str(toy_model), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["p_mpjpe_mm"] > 0 and set(res["per_action"]) == {"Walking"}


def test_evaluate_errors_are_one_line(tmp_path, toy_model):
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "evaluate", "--dataset", "h36m-expmap",
                        "--data-dir", str(tmp_path / "nope"), "--model", str(toy_model)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
