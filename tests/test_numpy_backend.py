"""The NumPy lifting backend computes what the torch networks compute (issue 11, item 4).

Every variant (dilated, causal, dense, strided, with non-trivial batch-norm statistics)
is compared with the torch module on the same weights, then the shipped models are
compared end to end through ``lift_sequence`` (flip TTA, trajectory decoding), and a
subprocess with torch made unimportable runs the shipped model and gets a one-line
hint for a VideoPose3D ``.bin`` file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the equivalence tests compare against torch")

from poselift.lift.config import ModelConfig  # noqa: E402
from poselift.lift.inference import lift_sequence  # noqa: E402
from poselift.lift.model import build_model  # noqa: E402
from poselift.lift.numpy_backend import NumpyTemporalModel, from_torch  # noqa: E402
from poselift.lift.weights import list_models, load_model, save_model  # noqa: E402

TOL_M = 1e-5  # metres: the bound for "the same model"


def _random_net(cfg: ModelConfig, strided: bool = False, seed: int = 0):
    """A torch network with random weights and batch norms far from the identity."""
    torch.manual_seed(seed)
    m = build_model(cfg, optimized_1f=strided)
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if "running_var" in name:
                t.copy_(torch.rand(t.shape) + 0.5)
            elif "running_mean" in name:
                t.copy_(torch.randn(t.shape) * 0.2)
            elif "bn" in name and name.endswith("weight"):
                t.copy_(torch.rand(t.shape) * 1.5 + 0.25)
            elif "bn" in name and name.endswith("bias"):
                t.copy_(torch.randn(t.shape) * 0.2)
    m._poselift_config = cfg
    return m.eval()


def _torch_out(m, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return m(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("widths", [[3, 3, 3], [3, 5], [5, 3, 3, 3]])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dense", [False, True])
def test_dilated_dense_causal_match_torch(widths, causal, dense):
    cfg = ModelConfig(filter_widths=widths, causal=causal, dense=dense, channels=48, num_joints_out=17)
    m = _random_net(cfg)
    rf = int(np.prod(widths))
    x = np.random.default_rng(1).normal(0, 0.5, (2, rf + 60, 17, 2)).astype(np.float32)
    ref = _torch_out(m, x)
    got = from_torch(m)(x)
    assert got.shape == ref.shape == (2, 61, 17, 3)
    assert np.abs(ref).max() > 0.1  # the comparison is not between two near-zero outputs
    np.testing.assert_allclose(got, ref, atol=TOL_M, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_strided_variant_matches_torch_and_dilated(causal):
    cfg = ModelConfig(filter_widths=[3, 3, 3], causal=causal, channels=48)
    strided = _random_net(cfg, strided=True)
    x = np.random.default_rng(2).normal(0, 0.5, (5, 27, 17, 2)).astype(np.float32)
    ref = _torch_out(strided, x)
    np_strided = from_torch(strided)
    assert np_strided.strided
    got = np_strided(x)
    assert got.shape == (5, 1, 17, 3)
    np.testing.assert_allclose(got, ref, atol=TOL_M, rtol=0)
    # The same weights as a dilated NumPy network give the same single frame.
    state = {k: v.numpy() for k, v in strided.state_dict().items()}
    np.testing.assert_allclose(NumpyTemporalModel(cfg, state)(x), ref, atol=TOL_M, rtol=0)


def test_trajectory_network_and_safetensors_round_trip(tmp_path):
    """A 1-joint trajectory net saved by torch and read back by NumPy straight from the file."""
    cfg = ModelConfig(filter_widths=[3, 3], num_joints_out=1, channels=32, causal=True)
    m = _random_net(cfg, seed=3)
    meta = {"kind": "trajectory", "input_layout": "h36m17", "output_layout": "root", "fps": 50.0,
            "input_normalization": "screen", "licence": "test"}
    path = save_model(tmp_path / "traj", m, cfg, meta)
    from poselift.lift.weights import load_poselift_network

    net, card = load_poselift_network(path, backend="numpy")
    assert isinstance(net, NumpyTemporalModel) and card["kind"] == "trajectory"
    x = np.random.default_rng(4).normal(0, 0.5, (1, 40, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(net(x), _torch_out(m, x), atol=TOL_M, rtol=0)


def _plausible_keypoints(t: int, seed: int = 0) -> np.ndarray:
    """A moving, roughly human-shaped 2D sequence (pixels, 1280x720)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 60, (17, 2)) + np.array([640, 360])
    wobble = 20 * np.sin(np.linspace(0, 6, t))[:, None, None] + rng.normal(0, 2, (t, 17, 2))
    return (base[None] + wobble).astype(np.float32)


SHIPPED = sorted(n for n, c in list_models().items() if c.get("kind", "pose") == "pose")
#: Pose models with every shipped trajectory network attached too (``default`` names none).
WITH_TRAJECTORY = [("default", n) for n, c in sorted(list_models().items()) if c.get("kind") == "trajectory"]


@pytest.mark.parametrize("name,traj", [(n, "auto") for n in SHIPPED] + WITH_TRAJECTORY)
def test_shipped_models_numpy_equals_torch(name, traj):
    kp = _plausible_keypoints(300)
    a = load_model(name, backend="numpy", trajectory=traj)
    b = load_model(name, backend="torch", trajectory=traj)
    assert (a.model_traj is None) == (traj == "auto" and not list_models()[name].get("trajectory_model"))
    assert isinstance(a.model_pos, NumpyTemporalModel) and not isinstance(b.model_pos, NumpyTemporalModel)
    ra = lift_sequence(a, kp, 1280, 720, focal_px=1000.0, geometric_trajectory=True)
    rb = lift_sequence(b, kp, 1280, 720, focal_px=1000.0, geometric_trajectory=True)
    assert ra.keys() == rb.keys()
    for k in ra:
        assert np.isfinite(ra[k]).all()
        # A trajectory network predicts depth through a log size, so float32 rounding in it
        # is relative: 1e-5 of the depth (36 um at 3.6 m) on top of the absolute bound.
        rtol = 1e-5 if k == "trajectory" and a.model_traj is not None else 0
        np.testing.assert_allclose(ra[k], rb[k], atol=TOL_M, rtol=rtol, err_msg=f"{name}: {k}")


def test_default_backend_is_numpy(monkeypatch):
    monkeypatch.delenv("POSELIFT_BACKEND", raising=False)
    assert isinstance(load_model("default").model_pos, NumpyTemporalModel)
    monkeypatch.setenv("POSELIFT_BACKEND", "torch")
    assert isinstance(load_model("default").model_pos, torch.nn.Module)


def test_videopose3d_checkpoint_on_numpy(tmp_path):
    cfg = ModelConfig(filter_widths=[3, 3], channels=32)
    m = _random_net(cfg, seed=5)
    path = tmp_path / "pretrained_h36m_cpn.bin"
    torch.save({"epoch": 1, "model_pos": m.state_dict()}, path)
    lm = load_model(path, backend="numpy")
    assert isinstance(lm.model_pos, NumpyTemporalModel)
    x = np.random.default_rng(6).normal(0, 0.5, (1, 30, 17, 2)).astype(np.float32)
    np.testing.assert_allclose(lm.model_pos(x), _torch_out(m, x), atol=TOL_M, rtol=0)


_NO_TORCH = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
from poselift.lift.inference import lift_sequence
from poselift.lift.weights import load_model
lm = load_model("default")
kp = (np.array([640, 360]) + np.random.default_rng(0).normal(0, 60, (120, 17, 2))).astype(np.float32)
out = lift_sequence(lm, kp, 1280, 720, focal_px=1000.0)
assert out["poses_3d"].shape == (120, 17, 3) and np.isfinite(out["poses_3d"]).all()
assert "torch" not in sys.modules or sys.modules["torch"] is None
print("ok")
"""


def test_inference_without_torch_and_bin_hint(tmp_path):
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", _NO_TORCH], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    # A VideoPose3D checkpoint needs torch: one line naming the file and the fix.
    ckpt = tmp_path / "pretrained_h36m_cpn.bin"
    ckpt.write_bytes(b"not used")
    code = ("import sys; sys.modules['torch'] = None\n"
            "from poselift.errors import PoseliftError\n"
            "from poselift.lift.weights import load_model\n"
            f"try:\n    load_model({str(ckpt)!r})\nexcept PoseliftError as exc:\n    print(exc)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and len(lines) == 1, (r.stdout, r.stderr)
    assert lines[0].startswith(str(ckpt)) and 'pip install "poselift[train]"' in lines[0]


def test_train_without_torch_is_one_line():
    src = str(Path(__file__).resolve().parents[1] / "src")
    code = ("import sys; sys.modules['torch'] = None\n"
            "from poselift.cli.main import main\n"
            "sys.exit(main(['train', '-o', 'never_written']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert lines[0].startswith("poselift train: error:") and 'pip install "poselift[train]"' in lines[0]
