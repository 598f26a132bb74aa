"""Original VideoPose3D checkpoints load and `poselift lift` reproduces their arithmetic.

The reference below is written independently of poselift's model code: plain NumPy
loops over dilated 1D convolutions, batch-norm in eval mode, residuals, edge padding
and screen normalisation, driven directly by the state dict.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift.cli.main import main
from poselift.lift.model import TemporalModel, TemporalModelOptimized1f

BN_EPS = 1e-5


# --------------------------------------------------------------------------- reference
def _conv1d(x: np.ndarray, w: np.ndarray, dilation: int, bias: np.ndarray | None = None) -> np.ndarray:
    """x (C_in, T), w (C_out, C_in, K) -> (C_out, T - (K-1)*dilation)."""
    k = w.shape[2]
    t_out = x.shape[1] - (k - 1) * dilation
    out = np.zeros((w.shape[0], t_out))
    for i in range(k):
        out += w[:, :, i] @ x[:, i * dilation: i * dilation + t_out]
    if bias is not None:
        out += bias[:, None]
    return out


def _bn(x: np.ndarray, sd: dict, name: str) -> np.ndarray:
    g, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
    m, v = sd[f"{name}.running_mean"], sd[f"{name}.running_var"]
    return (x - m[:, None]) / np.sqrt(v[:, None] + BN_EPS) * g[:, None] + b[:, None]


def reference_predict(sd_t: dict, kps_px: np.ndarray, w: int, h: int, widths: list[int],
                      causal: bool, dense: bool) -> np.ndarray:
    """(T, J, 2) pixels -> (T, J_out, 3) following VideoPose3D's arithmetic step by step."""
    sd = {k: v.double().numpy() for k, v in sd_t.items() if v.dtype.is_floating_point}
    x = kps_px / w * 2 - np.array([1, h / w])
    rf = int(np.prod(widths))
    pad = (rf - 1) // 2
    shift = pad if causal else 0
    x = np.concatenate([np.repeat(x[:1], pad + shift, 0), x, np.repeat(x[-1:], pad - shift, 0)])
    t_in = x.shape[0]
    x = x.reshape(t_in, -1).T  # (J*2, T)
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    y = relu(_bn(_conv1d(x, sd["expand_conv.weight"], 1), sd, "expand_bn"))
    d = widths[0]
    for i, fw in enumerate(widths[1:]):
        p = (fw - 1) * d // 2
        s = (fw // 2) * d if causal else 0
        res = y[:, p + s: y.shape[1] - p + s]
        y = relu(_bn(_conv1d(y, sd[f"layers_conv.{2 * i}.weight"], 1 if dense else d), sd, f"layers_bn.{2 * i}"))
        y = res + relu(_bn(_conv1d(y, sd[f"layers_conv.{2 * i + 1}.weight"], 1), sd, f"layers_bn.{2 * i + 1}"))
        d *= fw
    out = _conv1d(y, sd["shrink.weight"], 1, sd["shrink.bias"])  # (J_out*3, T)
    return out.T.reshape(out.shape[1], -1, 3)


# --------------------------------------------------------------------------- fixtures
def _randomise(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if "num_batches" in name:
                continue
            if "running_var" in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif "bn" in name and name.endswith("weight"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.ndim == 3:
                # Fan-in scaling keeps activations at the magnitude of a trained network.
                fan_in = t.shape[1] * t.shape[2]
                t.copy_(torch.randn(t.shape, generator=g) / fan_in ** 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)


class _OldNumpyRandomState:
    """Pickles like a RandomState did under 2018-2019 NumPy: ``numpy.random.__RandomState_ctor``."""

    def __init__(self, seed: int) -> None:
        self.state = np.random.RandomState(seed).get_state()

    def __reduce__(self):
        return (getattr(np.random, "__RandomState_ctor"), (), self.state)


def _write_vp3d_checkpoint(path: Path, widths: list[int], channels: int, causal: bool, dense: bool,
                           joints_in: int = 17, with_traj: bool = False, seed: int = 0,
                           zip_format: bool = True, old_numpy: bool = False) -> dict:
    """Exactly the dict run.py saves (RandomState objects, amsgrad Adam state, model_traj
    None after supervised training), in the zip or the legacy (pre-1.6) serialization."""
    pos = TemporalModel(joints_in, 2, 17, widths, causal=causal, channels=channels, dense=dense)
    _randomise(pos, seed)
    rs = (lambda s: _OldNumpyRandomState(s)) if old_numpy else np.random.RandomState
    params = list(pos.parameters())
    ckpt = {"epoch": 80, "lr": 0.0009, "random_state": rs(seed), "model_pos": pos.state_dict(),
            "model_traj": None, "random_state_semi": None}
    if with_traj:
        traj = TemporalModel(joints_in, 2, 1, widths, causal=causal, channels=channels, dense=dense)
        _randomise(traj, seed + 1)
        params += list(traj.parameters())
        ckpt["model_traj"] = traj.state_dict()
        ckpt["random_state_semi"] = rs(seed + 2)
    ckpt["optimizer"] = torch.optim.Adam(params, lr=1e-3, amsgrad=True).state_dict()
    torch.save(ckpt, path, _use_new_zipfile_serialization=zip_format)
    return ckpt


def _write_custom_dataset(path: Path, kps: np.ndarray, w: int, h: int, layout: str = "coco",
                          name: str = "clip.mp4") -> None:
    """Exactly what VideoPose3D's prepare_data_2d_custom.py writes."""
    sym = {"coco": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
           "h36m": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}[layout]
    metadata = {"layout_name": layout, "num_joints": 17, "keypoints_symmetry": sym,
                "video_metadata": {name: {"w": w, "h": h}}}
    output = {name: {"custom": [kps.astype("float32")]}}
    np.savez_compressed(path, positions_2d=output, metadata=metadata)


def _walk(t: int, w: int, h: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.uniform([0.3 * w, 0.2 * h], [0.7 * w, 0.8 * h], size=(17, 2))
    phase = np.linspace(0, 4 * np.pi, t)[:, None, None]
    return (base[None] + 20 * np.sin(phase + rng.uniform(0, 6, (1, 17, 1)))).astype(np.float32)


ARCHS = [
    # widths, channels, causal, dense, with_traj, filename, 2D layout, zip serialization, old NumPy
    ([3, 3, 3], 64, False, False, False, "pretrained_h36m_cpn.bin", "h36m", False, True),
    ([3, 3, 3], 48, True, False, True, "causal_h36m.bin", "h36m", True, False),
    ([3, 3, 3, 3, 3], 32, False, False, True, "arc243_h36m.bin", "h36m", False, False),
    ([3, 3, 3], 40, False, True, False, "dense_h36m.bin", "h36m", True, True),
    ([5, 3], 24, True, False, False, "arc53_h36m.bin", "h36m", False, True),
    ([3, 3, 3, 3], 1024, False, False, False, "pretrained_h36m_detectron_coco.bin", "coco", False, True),
    # run.py's own file name: the layout comes from the custom dataset's metadata.
    ([3, 3, 3], 64, False, False, False, "epoch_80.bin", "coco", True, False),
    ([3, 3, 3], 64, False, False, False, "epoch_60.bin", "coco", False, True),
]


@pytest.mark.parametrize("widths,channels,causal,dense,with_traj,fname,layout,zip_format,old_numpy", ARCHS)
def test_lift_matches_reference(tmp_path, capsys, widths, channels, causal, dense, with_traj, fname, layout,
                                zip_format, old_numpy):
    w, h, t = 1280, 720, 150
    kps = _walk(t, w, h, seed=len(widths) + channels)
    ckpt_path = tmp_path / fname
    ckpt = _write_vp3d_checkpoint(ckpt_path, widths, channels, causal, dense, with_traj=with_traj,
                                  zip_format=zip_format, old_numpy=old_numpy)
    data = tmp_path / "data_2d_custom_test.npz"
    _write_custom_dataset(data, kps, w, h, layout=layout)
    out = tmp_path / "out.npz"
    args = ["lift", str(data), "--model", str(ckpt_path), "-o", str(out), "--no-tta"]
    if causal:
        args.append("--causal")
    assert main(args) == 0
    res = np.load(out)
    assert res["poses_3d"].shape == (1, t, 17, 3)
    assert res["poses_3d"].dtype == np.float32
    ref = reference_predict(ckpt["model_pos"], kps.astype(np.float64), w, h, widths, causal, dense)
    err = np.abs(res["poses_3d"][0] - ref).max()
    assert 0.05 < np.abs(ref).max() < 50, "reference outputs should be of pose magnitude"
    assert err < 1e-5, f"max deviation {err} m"
    if with_traj:
        ref_t = reference_predict(ckpt["model_traj"], kps.astype(np.float64), w, h, widths, causal, dense)
        assert np.abs(res["trajectory"][0] - ref_t[:, 0]).max() < 1e-5
    else:
        assert np.all(res["trajectory"] == 0)
    # The reference itself must be sensitive: a non-causal reading of a causal model differs.
    if causal:
        wrong = reference_predict(ckpt["model_pos"], kps.astype(np.float64), w, h, widths, False, dense)
        assert np.abs(wrong - ref).max() > 1e-3


def test_tta_is_mirror_consistent(tmp_path):
    """With TTA the prediction of a mirrored clip is the mirror of the prediction."""
    w, h, t = 640, 480, 60
    kps = _walk(t, w, h, seed=3)
    ckpt = tmp_path / "m_h36m.bin"
    _write_vp3d_checkpoint(ckpt, [3, 3], 32, False, False)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    _write_custom_dataset(a, kps, w, h, layout="h36m")
    from poselift.geometry.skeletons import H36M17
    mir = kps.copy()
    mir[..., 0] = w - mir[..., 0]
    mir = mir[:, H36M17.flip_permutation()]
    _write_custom_dataset(b, mir, w, h, layout="h36m")
    assert main(["lift", str(a), "--model", str(ckpt), "-o", str(tmp_path / "pa.npz")]) == 0
    assert main(["lift", str(b), "--model", str(ckpt), "-o", str(tmp_path / "pb.npz")]) == 0
    pa = np.load(tmp_path / "pa.npz")["poses_3d"][0]
    pb = np.load(tmp_path / "pb.npz")["poses_3d"][0]
    pb_m = pb[:, H36M17.flip_permutation()].copy()
    pb_m[..., 0] *= -1
    # Exact mirror up to the 1-pixel offset of the mirror axis (x -> w - x vs -x').
    assert np.abs(pa - pb_m).max() < 0.05
    no_tta = tmp_path / "pn.npz"
    assert main(["lift", str(a), "--model", str(ckpt), "-o", str(no_tta), "--no-tta"]) == 0
    assert np.abs(np.load(no_tta)["poses_3d"][0] - pa).max() > 1e-4


@pytest.mark.parametrize("widths,causal", [([3, 3, 3], False), ([3, 3, 3], True), ([3, 5, 3], False)])
def test_strided_and_dilated_agree(widths, causal):
    torch.manual_seed(0)
    dil = TemporalModel(17, 2, 17, widths, causal=causal, channels=32).eval()
    _randomise(dil, 5)
    strided = TemporalModelOptimized1f(17, 2, 17, widths, causal=causal, channels=32).eval()
    strided.load_state_dict(dil.state_dict())
    rf = dil.receptive_field()
    x = torch.randn(4, rf + 9, 17, 2)
    with torch.no_grad():
        full = dil(x)  # (4, 10, 17, 3)
        windows = torch.stack([strided(x[:, i: i + rf])[:, 0] for i in range(10)], dim=1)
    assert full.shape == (4, 10, 17, 3)
    assert torch.allclose(full, windows, atol=1e-5)


def test_hostile_checkpoint_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (subprocess.call, (["touch", str(tmp_path / "pwned")],))

    bad = tmp_path / "evil.bin"
    with bad.open("wb") as f:
        pickle.dump({"model_pos": Evil()}, f)
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(bad), "--model", str(bad),
                        "-o", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert r.returncode != 0
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "x.npz").exists()


def test_hostile_model_file_one_line_error(tmp_path):
    class Evil:
        def __reduce__(self):
            return (subprocess.call, (["touch", str(tmp_path / "pwned")],))

    bad = tmp_path / "evil.bin"
    torch.save({"model_pos": {}, "x": Evil()}, bad)
    data = tmp_path / "d.npz"
    _write_custom_dataset(data, _walk(30, 100, 100), 100, 100, layout="h36m")
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(data), "--model", str(bad),
                        "-o", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to load" in lines[0] and "evil.bin" in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "x.npz").exists()


def test_console_script_version():
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("poselift ")


# --------------------------------------------------------------------------- safe loading
@pytest.mark.parametrize("zip_format", [True, False])
@pytest.mark.parametrize("old_numpy", [True, False])
def test_random_state_loads_as_inert_data(tmp_path, zip_format, old_numpy):
    from poselift.lift.weights import PickledRandomState, load_torch_checkpoint

    path = tmp_path / "epoch_10.bin"
    ckpt = _write_vp3d_checkpoint(path, [3, 3], 16, False, False, with_traj=True, zip_format=zip_format,
                                  old_numpy=old_numpy)
    raw = path.read_bytes()
    assert (raw[:2] == b"PK") == zip_format  # the legacy format is a bare pickle stream
    ctor = b"__RandomState_ctor" if old_numpy else b"__randomstate_ctor"
    if not zip_format:
        assert ctor in raw
    back = load_torch_checkpoint(path)
    assert back["epoch"] == 80 and back["model_traj"] is not None
    for key in ("random_state", "random_state_semi"):
        rs = back[key]
        assert isinstance(rs, PickledRandomState)
        state = rs.state
        key_arr = state[1] if old_numpy else state["state"]["key"]
        seed = 0 if key == "random_state" else 2
        np.testing.assert_array_equal(key_arr, np.random.RandomState(seed).get_state()[1])
    for k, v in ckpt["model_pos"].items():
        assert torch.equal(back["model_pos"][k], v)
    assert back["optimizer"]["param_groups"][0]["amsgrad"] is True


class _Numpy2RandomState:
    """Pickles like newer NumPy: the bit generator named by its class."""

    def __reduce__(self):
        from numpy.random import _pickle
        return (getattr(_pickle, "__randomstate_ctor"), (np.random.MT19937, getattr(_pickle, "__bit_generator_ctor")),
                np.random.RandomState(5).get_state(legacy=False))


@pytest.mark.parametrize("zip_format", [True, False])
def test_random_state_pickled_by_class_is_inert(tmp_path, zip_format):
    from poselift.lift.weights import PickledRandomState, load_torch_checkpoint

    path = tmp_path / "epoch_5.bin"
    torch.save({"epoch": 5, "random_state": _Numpy2RandomState(), "model_pos": {}}, path,
               _use_new_zipfile_serialization=zip_format)
    rs = load_torch_checkpoint(path)["random_state"]
    assert isinstance(rs, PickledRandomState) and rs.args[0] == "numpy.random.MT19937"
    np.testing.assert_array_equal(rs.state["state"]["key"], np.random.RandomState(5).get_state()[1])


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


class _HostileRandomState:
    """A RandomState-shaped pickle whose state smuggles a call."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (getattr(np.random, "__RandomState_ctor"), (), _Hostile(self.marker))


@pytest.mark.parametrize("zip_format", [True, False])
@pytest.mark.parametrize("where", ["top", "random_state"])
def test_hostile_checkpoint_refused_before_anything_runs(tmp_path, zip_format, where):
    marker = tmp_path / "pwned"
    pos = TemporalModel(17, 2, 17, [3, 3], channels=16)
    ckpt = {"epoch": 1, "lr": 0.001, "model_pos": pos.state_dict(), "model_traj": None}
    ckpt["random_state"] = _HostileRandomState(marker) if where == "random_state" else np.random.RandomState(0)
    if where == "top":
        ckpt["x"] = _Hostile(marker)
    bad = tmp_path / "epoch_1.bin"
    torch.save(ckpt, bad, _use_new_zipfile_serialization=zip_format)
    data = tmp_path / "d.npz"
    _write_custom_dataset(data, _walk(30, 100, 100), 100, 100, layout="h36m")
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(data), "--model", str(bad),
                        "-o", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to load" in lines[0] and "system" in lines[0], r.stderr
    assert not marker.exists(), "the hostile pickle ran"
    assert not (tmp_path / "x.npz").exists()


# --------------------------------------------------------------------------- ambiguity
def _poselift_npz(path: Path, kps: np.ndarray, w: int, h: int) -> None:
    t = len(kps)
    np.savez(path, keypoints_2d=kps[None].astype(np.float32), scores_2d=np.ones((1, t, 17), np.float32),
             valid=np.ones((1, t), bool), image_size=np.array([w, h]), fps=np.float64(50.0),
             poses_3d=np.zeros((1, t, 17, 3), np.float32))


def test_layout_ambiguity_is_one_line_naming_input_layout(tmp_path):
    w, h, t = 640, 480, 60
    kps = _walk(t, w, h, seed=5)
    ckpt = tmp_path / "epoch_80.bin"
    c = _write_vp3d_checkpoint(ckpt, [3, 3], 32, False, False, zip_format=False)
    src = tmp_path / "clip.npz"
    _poselift_npz(src, kps, w, h)  # converted BlazePose keypoints: says nothing about the checkpoint
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(src), "--model", str(ckpt),
                        "-o", str(tmp_path / "o.npz"), "--no-tta"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warn) == 1 and "--input-layout" in warn[0] and "epoch_80.bin" in warn[0], r.stderr
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(src), "--model", str(ckpt),
                        "-o", str(tmp_path / "o2.npz"), "--no-tta", "--input-layout", "h36m17"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    ref = reference_predict(c["model_pos"], kps.astype(np.float64), w, h, [3, 3], False, False)
    assert np.abs(np.load(tmp_path / "o2.npz")["poses_3d"][0] - ref).max() < 1e-5


def test_dense_ambiguity_warns_and_no_dense_reads_plain(tmp_path):
    w, h, t = 640, 480, 80
    kps = _walk(t, w, h, seed=6)
    ckpt = tmp_path / "arc37_h36m.bin"
    c = _write_vp3d_checkpoint(ckpt, [3, 7], 32, False, False)  # same shapes as a dense 3,3
    data = tmp_path / "data_2d_custom_x.npz"
    _write_custom_dataset(data, kps, w, h, layout="h36m")
    base = [sys.executable, "-m", "poselift.cli.main", "lift", str(data), "--model", str(ckpt), "--no-tta"]
    r = subprocess.run(base + ["-o", str(tmp_path / "a.npz")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    warn = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warn) == 1 and "--no-dense" in warn[0] and "3,7" in warn[0], r.stderr
    r = subprocess.run(base + ["-o", str(tmp_path / "b.npz"), "--no-dense"], capture_output=True, text=True)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    ref = reference_predict(c["model_pos"], kps.astype(np.float64), w, h, [3, 7], False, False)
    assert np.abs(np.load(tmp_path / "b.npz")["poses_3d"][0] - ref).max() < 1e-5
    assert np.abs(np.load(tmp_path / "a.npz")["poses_3d"][0] - ref).max() > 1e-3  # the other reading
    from poselift.lift.weights import load_videopose3d
    assert load_videopose3d(ckpt, dense=False, quiet=True).model_pos.filter_widths == [3, 7]
    # A plain 3,3,3 has only one reading: no dense warning.
    _write_vp3d_checkpoint(tmp_path / "arc333.bin", [3, 3, 3], 16, False, False)
    lm = load_videopose3d(tmp_path / "arc333.bin", quiet=True, data_layout="h36m17")
    assert lm.meta["warnings"] == [] and lm.model_pos.filter_widths == [3, 3, 3] and not lm.model_pos.dense
