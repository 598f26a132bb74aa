"""The keypoint-definition input: a network told whether its 2D is detector keypoints or
mocap joint centres, set by ``infer``/``lift``/``evaluate`` (``--keypoint-definition``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from poselift.io import vp3d
from poselift.lift.inference import KEYPOINT_DEFINITIONS, lift_sequence, network_input
from poselift.lift.model import ModelConfig, TemporalModel
from poselift.lift.weights import load_model, save_model
from poselift.options import LiftOptions, OptionError
from test_train_evaluate import _motion

SIZE = (640, 480)


@pytest.fixture(scope="module")
def flagged_model(tmp_path_factory):
    """A small focal-normalised model whose third input feature is the keypoint definition,
    with a strong weight on it so the two definitions give clearly different poses."""
    cfg = ModelConfig(num_joints_in=17, in_features=3, num_joints_out=17, filter_widths=[3, 3], channels=32,
                      dropout=0.0)
    torch.manual_seed(0)
    model = TemporalModel(17, 3, 17, [3, 3], dropout=0.0, channels=32)
    with torch.no_grad():
        model.expand_conv.weight[:, 2::3] *= 20
    meta = {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
            "input_normalization": "focal", "licence": "test", "keypoint_definition_input": True,
            "input_features": ["x", "y", "keypoint_definition"]}
    return save_model(tmp_path_factory.mktemp("flag") / "flagged", model.eval(), cfg, meta)


def _keypoints(t: int = 40) -> np.ndarray:
    """Pixels ``(T, 17, 2)`` of a moving person 4 m in front of a 500 px camera."""
    zup = _motion(t, 1).astype(np.float64)
    cam = np.stack([zup[..., 0], -(zup[..., 2] - 1.0), zup[..., 1] + 4.0], -1)
    return (cam[..., :2] / cam[..., 2:3] * 500 + np.array(SIZE) / 2).astype(np.float32)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_channel_carries_the_definition_to_the_network(flagged_model, backend):
    lm = load_model(flagged_model, backend=backend)
    kp = _keypoints()
    out = {d: lift_sequence(lm, kp, *SIZE, tta=False, focal_px=500.0, keypoint_definition=d)["poses_3d"]
           for d in KEYPOINT_DEFINITIONS}
    assert np.abs(out["detector"] - out["joint-centres"]).max() > 1e-2      # the network hears it
    # ... as the value KEYPOINT_DEFINITIONS gives, on every joint of every frame.
    x = (kp - np.array(SIZE, np.float32) / 2) / 500.0
    for d, value in KEYPOINT_DEFINITIONS.items():
        xi = network_input(lm.model_pos, x, d)
        assert xi.shape == (40, 17, 3) and np.all(xi[..., 2] == value)
        np.testing.assert_allclose(xi[..., :2], x)
    assert lift_sequence(lm, kp, *SIZE, tta=False, focal_px=500.0)["poses_3d"].tobytes() == \
        out["detector"].tobytes()                                           # detector unless told
    with pytest.raises(ValueError, match="unknown keypoint definition"):
        network_input(lm.model_pos, x, "centres")


def test_models_without_the_channel_ignore_the_definition(tmp_path):
    cfg = ModelConfig(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=[3, 3], channels=16)
    torch.manual_seed(1)
    path = save_model(tmp_path / "plain", TemporalModel(17, 2, 17, [3, 3], channels=16).eval(), cfg,
                      {"kind": "pose", "input_layout": "h36m17", "output_layout": "h36m17", "fps": 50.0,
                       "input_normalization": "focal", "licence": "test"})
    lm = load_model(path)
    kp = _keypoints()
    a, b = (lift_sequence(lm, kp, *SIZE, tta=True, focal_px=500.0, keypoint_definition=d)["poses_3d"]
            for d in KEYPOINT_DEFINITIONS)
    assert a.tobytes() == b.tobytes()


def test_options_reject_an_unknown_definition():
    with pytest.raises(OptionError, match="keypoint_definition"):
        LiftOptions(keypoint_definition="mocap")


def test_lift_command_sets_the_definition(flagged_model, tmp_path):
    src = tmp_path / "data_2d_custom_clip.npz"
    vp3d.save_custom_dataset(src, {"clip.mp4": vp3d.CustomVideo("clip.mp4", _keypoints(), *SIZE, "h36m17")})
    outs = {}
    for d in KEYPOINT_DEFINITIONS:
        out = tmp_path / f"{d}.npz"
        r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(src), "--model", str(flagged_model),
                            "-o", str(out), "--keypoint-definition", d, "--focal-length", "500"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs[d] = np.load(out)["poses_3d"]
    assert np.abs(outs["detector"] - outs["joint-centres"]).max() > 1e-2
    r = subprocess.run([sys.executable, "-m", "poselift.cli.main", "lift", str(src), "--model", str(flagged_model),
                        "-o", str(tmp_path / "x.npz"), "--keypoint-definition", "mocap"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr and not (tmp_path / "x.npz").exists()


@pytest.mark.shared
def test_evaluate_scores_joint_centre_2d_as_joint_centres_unless_told(flagged_model, shared):
    """Human3.6M's projected 2D is joint centres: evaluate says so in its JSON, feeds the
    network that value, and --keypoint-definition detector changes the score."""
    import json

    data = shared / "data" / "h36m-expmap"
    if not (data / "S8").is_dir():
        pytest.skip(f"{data / 'S8'} is absent")
    res = {}
    for d in (None, "detector"):
        args = [sys.executable, "-m", "poselift.cli.main", "evaluate", "--dataset", "h36m-expmap", "--data-dir",
                str(data), "--subjects", "S8", "--actions", "directions", "--downsample", "25", "--model",
                str(flagged_model), "--json"] + (["--keypoint-definition", d] if d else [])
        r = subprocess.run(args, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        res[d or "default"] = json.loads(r.stdout)
    assert res["default"]["keypoint_definition"] == "joint-centres"
    assert res["detector"]["keypoint_definition"] == "detector"
    assert res["default"]["sequences"] == res["detector"]["sequences"] > 0
    assert abs(res["default"]["mpjpe_mm"] - res["detector"]["mpjpe_mm"]) > 1.0
