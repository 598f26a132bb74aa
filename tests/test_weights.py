"""poselift's safetensors model format, the registry, and architecture inference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from poselift.errors import InputError
from poselift.lift import weights
from poselift.lift.model import ModelConfig, TemporalModel, build_model, infer_config
from poselift.lift.weights import list_models, load_model, read_model_card, save_model

CARD = {"kind": "pose", "input_layout": "coco17", "output_layout": "h36m17", "fps": 50.0,
        "input_normalization": "screen", "licence": "test", "training": {"epochs": 1}, "metrics": {}}


def _randomised(cfg: ModelConfig, seed: int = 0) -> TemporalModel:
    torch.manual_seed(seed)
    m = build_model(cfg)
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if "running_var" in name:
                t.copy_(torch.rand(t.shape) + 0.5)
            elif "running_mean" in name or name.endswith("bias"):
                t.copy_(torch.randn(t.shape) * 0.1)
    return m.eval()


def _outputs(model: torch.nn.Module, rf: int, joints: int = 17, seed: int = 1) -> torch.Tensor:
    x = torch.randn(2, rf + 6, joints, 2, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


def test_save_load_identical_outputs(tmp_path):
    cfg = ModelConfig(filter_widths=[3, 3, 3], channels=32)
    model = _randomised(cfg)
    path = save_model(tmp_path / "tiny", model, cfg, CARD)
    assert path == tmp_path / "tiny.safetensors" and path.is_file()
    assert not list(tmp_path.glob(".*tmp*")), "no temp files left behind"
    lm = load_model(path, backend="torch")  # bit-identical round trip; NumPy: test_numpy_backend
    assert torch.equal(_outputs(lm.model_pos, 27), _outputs(model, 27))
    assert (lm.input_layout, lm.output_layout, lm.fps, lm.causal, lm.input_normalization) == \
        ("coco17", "h36m17", 50.0, False, "screen")
    assert lm.receptive_field == 27 and lm.model_traj is None
    assert not lm.model_pos.training
    # The card beside it is the same JSON as the header's, architecture included.
    side = json.loads((tmp_path / "tiny.json").read_text())
    assert side == read_model_card(path)
    assert side["architecture"] == cfg.to_dict() and side["format"] == "poselift-1"
    with pytest.raises(InputError, match="coco17"):
        load_model(path, input_layout="h36m17")


def test_header_metadata_wins_over_sidecar(tmp_path):
    cfg = ModelConfig(filter_widths=[3, 3], channels=16)
    path = save_model(tmp_path / "m", _randomised(cfg), cfg, CARD)
    side = tmp_path / "m.json"
    card = json.loads(side.read_text())
    card["fps"] = 25.0
    card["architecture"]["channels"] = 999
    side.write_text(json.dumps(card))
    assert read_model_card(path)["fps"] == 50.0
    lm = load_model(path)
    assert lm.fps == 50.0


def test_sidecar_used_when_header_has_no_card(tmp_path):
    cfg = ModelConfig(filter_widths=[3, 3], channels=16, causal=True)
    model = _randomised(cfg)
    path = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    with pytest.raises(InputError, match="no poselift metadata"):
        load_model(path)
    (tmp_path / "bare.json").write_text(json.dumps({**CARD, "architecture": cfg.to_dict(), "fps": 30}))
    lm = load_model(path, backend="torch")
    assert lm.fps == 30.0 and lm.causal
    assert torch.equal(_outputs(lm.model_pos, 9), _outputs(model, 9))


def test_corrupted_files_raise_input_error(tmp_path):
    cfg = ModelConfig(filter_widths=[3, 3], channels=16)
    path = save_model(tmp_path / "m", _randomised(cfg), cfg, CARD)
    data = path.read_bytes()
    cases = {"truncated.safetensors": data[: len(data) - 500],
             "garbage.safetensors": b"\x00\x01 this is not a model" * 10,
             "empty.safetensors": b""}
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(InputError) as ei:
            load_model(bad)
        assert name in str(ei.value) and "\n" not in str(ei.value)
    # A card that is not JSON, or does not fit the weights.
    state = {k: v.contiguous() for k, v in _randomised(cfg).state_dict().items()}
    save_file(state, str(tmp_path / "badjson.safetensors"), metadata={"poselift": "{not json"})
    with pytest.raises(InputError, match="JSON"):
        load_model(tmp_path / "badjson.safetensors")
    other = {**CARD, "architecture": ModelConfig(filter_widths=[3, 3, 3], channels=16).to_dict()}
    save_file(state, str(tmp_path / "mismatch.safetensors"), metadata={"poselift": json.dumps(other)})
    with pytest.raises(InputError, match="does not match"):
        load_model(tmp_path / "mismatch.safetensors")


def test_unknown_model_lists_shipped_names(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="shipped") as ei:
        load_model("no-such-model")
    for name in list_models():
        assert name in str(ei.value)
    # With a registry holding models, their names are listed and resolve by name.
    reg = tmp_path / "registry"
    monkeypatch.setattr(weights, "WEIGHTS_DIR", reg)
    cfg = ModelConfig(filter_widths=[3, 3], channels=16)
    save_model(reg / "alpha-27", _randomised(cfg), cfg, {**CARD, "trajectory_model": "alpha-traj"})
    tcfg = ModelConfig(filter_widths=[3, 3], channels=16, num_joints_out=1)
    save_model(reg / "alpha-traj", _randomised(tcfg, 3), tcfg, {**CARD, "kind": "trajectory"})
    (reg / "broken.safetensors").write_bytes(b"nope")
    assert set(list_models()) == {"alpha-27", "alpha-traj"}
    with pytest.raises(InputError) as ei:
        load_model("no-such-model")
    assert "alpha-27" in str(ei.value) and "alpha-traj" in str(ei.value)
    lm = load_model("alpha-27")
    assert lm.model_traj is not None and lm.model_traj.num_joints_out == 1
    assert load_model("alpha-27", trajectory=None).model_traj is None
    with pytest.raises(InputError, match="trajectory model"):
        load_model("alpha-traj")


ARCHS = [
    # filter widths, channels, joints in, joints out, dense
    ([3, 3, 3], 64, 17, 17, False),
    ([3, 3, 3, 3], 32, 17, 17, False),
    ([3, 3, 3, 3, 3], 16, 17, 17, False),
    ([3, 3, 3], 24, 17, 17, True),
    ([3, 3, 3, 3], 8, 17, 17, True),
    ([3, 5, 3], 16, 33, 17, False),
    ([5, 3], 16, 17, 1, False),
    ([3], 16, 15, 15, False),
]


@pytest.mark.parametrize("widths,channels,jin,jout,dense", ARCHS)
def test_infer_config(widths, channels, jin, jout, dense):
    m = TemporalModel(jin, 2, jout, widths, channels=channels, dense=dense)
    cfg = infer_config(m.state_dict())
    assert cfg.filter_widths == widths
    assert (cfg.channels, cfg.num_joints_in, cfg.in_features, cfg.num_joints_out, cfg.dense) == \
        (channels, jin, 2, jout, dense)
    assert cfg.receptive_field == int(np.prod(widths)) == m.receptive_field()
    rebuilt = build_model(cfg)
    rebuilt.load_state_dict(m.state_dict(), strict=True)


def test_infer_config_explicit_dense_and_errors():
    # A plain (3, 7) stack has the kernel sizes of a dense (3, 3) one; an explicit flag decides.
    sd = TemporalModel(17, 2, 17, [3, 7], channels=8).state_dict()
    assert infer_config(sd, dense=False).filter_widths == [3, 7]
    sd = TemporalModel(17, 2, 17, [3, 3], channels=8, dense=True).state_dict()
    assert infer_config(sd, dense=True).filter_widths == [3, 3]
    with pytest.raises(ValueError, match="expand_conv"):
        infer_config({"shrink.weight": torch.zeros(51, 8, 1)})


def test_dataparallel_checkpoint_loads(tmp_path):
    cfg = ModelConfig(filter_widths=[3, 3, 3], channels=32)
    model = _randomised(cfg, 4)
    path = tmp_path / "dp_h36m.bin"
    torch.save({"epoch": 3, "model_pos": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    lm = load_model(path, backend="torch")
    assert lm.input_layout == "h36m17" and lm.meta["format"] == "videopose3d"
    assert torch.equal(_outputs(lm.model_pos, 27), _outputs(model, 27))
