"""The training recipe: learning-rate schedule tied to the time budget, losses, device placement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.lift.model import ModelConfig, build_model
from poselift.train.trainer import (ChunkSampler, Clip, TrainConfig, batch_loss, evaluate_chunks, learning_rate,
                                    pose_loss, train, training_progress)

from test_keypoint_style import STAND


def _clips(n: int = 3) -> list[Clip]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        ph = np.linspace(0, rng.uniform(3, 9), 200)
        pos = np.repeat(STAND[None], 200, 0).copy()
        for j, amp in ((13, 0.3), (16, -0.3), (3, 0.2), (6, -0.2)):
            pos[:, j, 1] += amp * np.sin(ph)
        out.append(Clip(f"c{i}", pos.astype(np.float32), "S1"))
    return out


def _toy_data_3d(tmp_path, n_s1: int):
    """A VideoPose3D data_3d file: ``n_s1`` clips of S1 and one of S8."""
    from poselift.io.vp3d import save_data_3d

    data = tmp_path / "data_3d_toy.npz"
    save_data_3d(data, {"S1": {f"move {i}": c.positions.astype(np.float64) for i, c in enumerate(_clips(n_s1))},
                        "S8": {"move 9": _clips(1)[0].positions.astype(np.float64)}})
    return data


def test_time_schedule_reaches_its_tail_at_the_limit():
    cfg = TrainConfig(lr=1e-3, lr_final=0.01, lr_schedule="time", time_limit_min=10.0)
    assert learning_rate(cfg, 0, 0.0) == 1e-3
    np.testing.assert_allclose(learning_rate(cfg, 5, 300.0), 1e-4)          # half-way: sqrt(0.01)
    np.testing.assert_allclose(learning_rate(cfg, 9, 600.0), 1e-5)          # the tail, at the limit
    assert learning_rate(cfg, 99, 9000.0) == learning_rate(cfg, 9, 600.0)  # and stays there
    lrs = [learning_rate(cfg, 0, t) for t in np.linspace(0, 600, 50)]
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert training_progress(cfg, 0, 600.0) == 1.0
    epoch_cfg = TrainConfig(lr=1e-3, lr_decay=0.9, epochs=20)
    np.testing.assert_allclose(learning_rate(epoch_cfg, 3, 1e9), 1e-3 * 0.9 ** 3)


def test_time_limited_run_ends_at_the_low_tail(tmp_path):
    cfg = TrainConfig(architecture="3,3", channels=32, dropout=0.0, batch_size=8, chunk=8, epoch_size=64,
                      val_chunks=16, threads=1, epochs=100000, lr=1e-3, lr_final=0.01, lr_schedule="time",
                      time_limit_min=0.15, bn_calibration_batches=2)
    res = train(cfg, _clips(), _clips(1), tmp_path / "m.safetensors", progress=False, log=lambda s: None)
    assert res.epochs_done < 100000                                        # stopped by the limit
    assert 0.15 * 60 <= res.wall_time_s < 0.15 * 60 + 20
    last = res.history[-1]["lr"]
    assert last <= 1e-3 * 0.01 ** 0.85, last                               # within 15 % of the tail (log scale)
    assert res.history[0]["lr"] > 3e-4


def test_velocity_term():
    target = torch.zeros(2, 5, 17, 3)
    steady = torch.full_like(target, 0.1)          # constant offset: no velocity error
    np.testing.assert_allclose(float(pose_loss(steady, target, 2.0)), float(pose_loss(steady, target, 0.0)))
    jitter = target.clone()
    jitter[:, ::2] += 0.1
    assert float(pose_loss(jitter, target, 2.0)) > float(pose_loss(jitter, target, 0.0)) + 0.1


def test_batches_follow_the_model_to_its_device():
    """Every tensor the training step and validation use is moved to the model's device.

    No GPU here: the ``meta`` device stands in for one (it checks shapes and device
    placement without computing); a batch left on the CPU makes the network raise."""
    cfg = TrainConfig(architecture="3,3", channels=16, batch_size=4, chunk=4, val_chunks=8, dropout=0.0)
    s = ChunkSampler(_clips(), cfg, 9, 0)
    b = s.sample(4)
    assert all(v.device.type == "cpu" for v in b.values())
    net = build_model(ModelConfig(17, 2, 17, [3, 3], False, 0.0, 16)).to("meta")
    loss = batch_loss(cfg, net, None, b, None, "meta")
    assert loss.device.type == "meta"
    loss.backward()
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in net.parameters())
    assert np.isnan(evaluate_chunks(net, s.sample(8), "pose", cfg.input_norm, "meta"))
    # Semi-supervised and trajectory paths too.
    traj = build_model(ModelConfig(17, 2, 1, [3, 3], False, 0.0, 16)).to("meta")
    semi = TrainConfig(**{**cfg.__dict__, "semi_supervised": True})
    assert batch_loss(semi, net, traj, b, s.sample(4), "meta").device.type == "meta"
    tcfg = TrainConfig(**{**cfg.__dict__, "kind": "trajectory"})
    assert batch_loss(tcfg, traj, None, b, None, "meta").device.type == "meta"
    assert np.isnan(evaluate_chunks(traj, s.sample(8), "trajectory", cfg.input_norm, "meta"))
    # The same step on the CPU gives a finite number (the meta run computed nothing).
    cpu = build_model(ModelConfig(17, 2, 17, [3, 3], False, 0.0, 16))
    assert np.isfinite(batch_loss(cfg, cpu, None, b, None, "cpu").item())


def test_interrupted_training_keeps_its_last_complete_checkpoint(tmp_path):
    """SIGINT during training: exit 130, a loadable checkpoint, no temp file, no half model;
    --resume continues from it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    data = _toy_data_3d(tmp_path, 4)
    out, ckpt = tmp_path / "m.safetensors", tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "poselift", "train", "--data", str(data), "--dataset", "all", "--subjects-val", "S8",
           "-arc", "3,3", "-ch", "16", "-drop", "0", "-e", "100000", "--epoch-size", "64", "-b", "8", "--chunk", "8",
           "--threads", "1", "--no-progress", "-o", str(out), "--checkpoint-dir", str(ckpt)]
    env = {**os.environ, "POSELIFT_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300
    while not (ckpt / "last.pt").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err.splitlines()[-1]
    st = torch.load(ckpt / "last.pt", map_location="cpu", weights_only=True)
    assert st["epoch"] >= 1 and set(st) >= {"model", "optimizer", "history", "elapsed"}
    assert not list(ckpt.glob("*.tmp")) and not out.exists()
    # Resume from it with a small epoch budget: it continues, then writes the model.
    again = cmd[:cmd.index("-e") + 1] + [str(st["epoch"] + 1)] + cmd[cmd.index("-e") + 2:] + ["--resume"]
    r = subprocess.run(again, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resumed from {ckpt / 'last.pt'} at epoch {st['epoch']}" in r.stderr and out.is_file()
    # The card lists every run that made the model, in order: the interrupted one, then the resume.
    from poselift.lift.weights import read_model_card

    runs = read_model_card(out)["training"]["commands"]
    assert len(runs) == 2 and "--resume" not in runs[0] and runs[1].endswith("--resume")
    assert runs[0].startswith("poselift train --data ")


def test_trajectory_model_starts_from_a_pose_models_backbone(tmp_path):
    from poselift.lift.weights import load_poselift_network
    from poselift.train.trainer import init_from

    clips = _clips()
    pose_cfg = TrainConfig(architecture="3,3", channels=32, epochs=1, epoch_size=64, batch_size=8, chunk=8,
                           dropout=0.0, threads=1, val_chunks=8)
    train(pose_cfg, clips, clips[:1], tmp_path / "pose.safetensors", progress=False, log=lambda s: None)
    pose, _ = load_poselift_network(tmp_path / "pose.safetensors", backend="torch")
    traj = build_model(ModelConfig(17, 2, 1, [3, 3], False, 0.0, 32, False))
    assert init_from(traj, pose.state_dict()) == ["shrink.weight", "shrink.bias"]
    st, own = pose.state_dict(), traj.state_dict()
    assert all(torch.equal(own[k], st[k]) for k in own if not k.startswith("shrink."))
    assert own["shrink.weight"].shape[0] == 3

    logs: list[str] = []
    res = train(TrainConfig(**{**pose_cfg.__dict__, "kind": "trajectory", "init": str(tmp_path / "pose.safetensors")}),
                clips, clips[:1], tmp_path / "traj.safetensors", progress=False, log=logs.append)
    assert np.isfinite(res.val_mpjpe_mm)
    assert any("shrink.weight" in s and "start fresh" in s for s in logs)
    # The fine-tune's card names what it started from: the file's sha256, the parent's
    # command and wall time, so its total cost can be told from the card alone.
    import hashlib

    from poselift.lift.weights import read_model_card

    parent = read_model_card(tmp_path / "pose.safetensors")
    rec = read_model_card(tmp_path / "traj.safetensors")["initialised_from"]
    assert rec["sha256"] == hashlib.sha256((tmp_path / "pose.safetensors").read_bytes()).hexdigest()
    assert rec["wall_time_s"] == pytest.approx(parent["training"]["wall_time_s"], abs=0.1) and rec["wall_time_s"] > 0
    assert rec["model"] == str(tmp_path / "pose.safetensors")
    # A fine-tune of the fine-tune adds both ancestors' time.
    train(TrainConfig(**{**pose_cfg.__dict__, "kind": "trajectory", "init": str(tmp_path / "traj.safetensors")}),
          clips, clips[:1], tmp_path / "traj2.safetensors", progress=False, log=lambda s: None)
    rec2 = read_model_card(tmp_path / "traj2.safetensors")["initialised_from"]
    first = read_model_card(tmp_path / "traj.safetensors")["training"]["wall_time_s"]
    assert rec2["wall_time_s"] == pytest.approx(first + rec["wall_time_s"], abs=0.2)
    assert rec2["initialised_from"]["sha256"] == rec["sha256"]
    # Anything but the output layer must match: a narrower network is refused.
    narrow = build_model(ModelConfig(17, 2, 17, [3, 3], False, 0.0, 16, False))
    try:
        init_from(narrow, st)
    except ValueError as exc:
        assert "does not match" in str(exc)
    else:
        raise AssertionError("a network of another width loaded")


def test_bodies_rescaled_to_one_leg_length(tmp_path):
    from poselift.train.trainer import H36M_LEG_LENGTH, leg_length, rescale_bodies

    small, big = _clips(2)
    small = Clip("small", small.positions * 0.85, "bandai", "bvh")
    out = rescale_bodies([small, big], H36M_LEG_LENGTH)
    for before, after in zip([small, big], out):
        np.testing.assert_allclose(leg_length(after.positions), H36M_LEG_LENGTH, rtol=1e-6)
        k = H36M_LEG_LENGTH / leg_length(before.positions)
        np.testing.assert_allclose(after.positions, before.positions * k, rtol=1e-5)   # pose and path alike
        assert (after.name, after.subject, after.dataset) == (before.name, before.subject, before.dataset)
    assert rescale_bodies([small], 0.0)[0] is small
    # A training run with the option sees the rescaled clips: its validation error is finite.
    cfg = TrainConfig(architecture="3,3", channels=16, epochs=1, epoch_size=32, batch_size=8, chunk=8,
                      dropout=0.0, threads=1, val_chunks=8, leg_length=H36M_LEG_LENGTH)
    res = train(cfg, [small, big], [small], tmp_path / "m.safetensors", progress=False, log=lambda s: None)
    assert np.isfinite(res.val_mpjpe_mm)


def test_bodies_retargeted_onto_the_h36m_skeleton(tmp_path):
    from poselift.geometry.angles import limb_flexions
    from poselift.geometry.skeletons import bone_lengths
    from poselift.train.trainer import H36M_BONE_LENGTHS, H36M_LEG_LENGTH, leg_length, retarget_bodies

    small, big = _clips(2)
    # Another rig: shoulders 30 % closer to the neck, thighs 15 % shorter, the whole body smaller.
    pos = small.positions.astype(np.float64).copy()
    for sh, arm in ((11, (12, 13)), (14, (15, 16))):
        d = 0.3 * (pos[:, sh] - pos[:, 8])
        pos[:, sh] -= d
        pos[:, list(arm)] -= d[:, None]
    for hip, rest in ((1, (2, 3)), (4, (5, 6))):
        d = 0.15 * (pos[:, hip + 1] - pos[:, hip])
        pos[:, list(rest)] -= d[:, None]
    rig = Clip("rig", (0.85 * pos).astype(np.float32), "bandai", "bvh")
    out = retarget_bodies([rig, big], "h36m")
    for before, after in zip([rig, big], out):
        np.testing.assert_allclose(bone_lengths(after.positions.astype(np.float64)),
                                   np.broadcast_to(H36M_BONE_LENGTHS, (len(after.positions), 16)), atol=2e-6)
        assert abs(leg_length(after.positions) - H36M_LEG_LENGTH) < 1e-5   # same size as --leg-length gives
        # Bone directions, hence every joint angle, are the clip's own.
        fb, fa = limb_flexions(before.positions.astype(np.float64)), limb_flexions(after.positions.astype(np.float64))
        for k in ("left_knee", "right_elbow"):
            np.testing.assert_allclose(fa[k], fb[k], atol=1e-3)
        # The root path scales with the body (feet keep the floor), it is not moved.
        k = H36M_LEG_LENGTH / leg_length(before.positions)
        np.testing.assert_allclose(after.positions[:, 0], before.positions[:, 0] * k, rtol=1e-5, atol=1e-6)
        assert (after.name, after.subject, after.dataset) == (before.name, before.subject, before.dataset)
    assert retarget_bodies([rig], "none")[0] is rig
    with pytest.raises(ValueError, match="unknown skeleton"):
        retarget_bodies([rig], "cmu")


def test_h36m_bone_table_matches_the_exp_map_skeleton(shared):
    from poselift.geometry.skeletons import bone_lengths
    from poselift.io.mocap import load_h36m_expmap_clip
    from poselift.train.trainer import H36M_BONE_LENGTHS

    files = sorted((shared / "data" / "h36m-expmap" / "S1").glob("*.txt*"))
    if not files:
        pytest.skip(f"no Human3.6M exp-map files under {shared / 'data' / 'h36m-expmap' / 'S1'}")
    f = files[0]
    lengths = np.median(bone_lengths(load_h36m_expmap_clip(f, fps=50.0).positions.astype(np.float64)), 0)
    np.testing.assert_allclose(lengths, H36M_BONE_LENGTHS, atol=1e-4)


def test_a_subject_in_both_lists_trains_and_validates_in_sample(tmp_path):
    """The paper's protocol trains on every subject: named in --subjects-train and
    --subjects-val, S8 stays in training (and the run says its validation is in-sample)."""
    import os
    import subprocess
    import sys

    data = _toy_data_3d(tmp_path, 2)
    env = {**os.environ, "POSELIFT_CACHE": str(tmp_path / "cache")}
    base = [sys.executable, "-m", "poselift", "train", "--data", str(data), "--dataset", "all", "-arc", "3,3",
            "-ch", "16", "-drop", "0", "-e", "1", "--epoch-size", "16", "-b", "8", "--chunk", "8", "--threads", "1",
            "--no-progress", "--subjects-val", "S8"]
    both = subprocess.run(base + ["--subjects-train", "S1,S8", "-o", str(tmp_path / "a.safetensors")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert both.returncode == 0, both.stderr[-2000:]
    assert "validating in-sample on S8" in both.stderr
    assert "training on 3 clips" in both.stderr and "validating on 1 clips" in both.stderr
    held_out = subprocess.run(base + ["-o", str(tmp_path / "b.safetensors")],
                              capture_output=True, text=True, env=env, timeout=300)
    assert held_out.returncode == 0, held_out.stderr[-2000:]
    assert "in-sample" not in held_out.stderr and "training on 2 clips" in held_out.stderr


@pytest.mark.parametrize("channels", [24, 32])
def test_widened_network_computes_the_same_function(channels):
    from poselift.train.trainer import widen_state

    torch.manual_seed(0)
    narrow = build_model(ModelConfig(17, 2, 17, [3, 3, 3], False, 0.0, 16, False))
    # Batch-norm statistics and affine parameters away from their defaults, so copying them matters.
    for m in narrow.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    wide = build_model(ModelConfig(17, 2, 17, [3, 3, 3], False, 0.0, channels, False))
    wide.load_state_dict(widen_state(narrow.state_dict(), channels, noise=0.0))
    x = torch.randn(4, 40, 17, 2)
    for mode in ("eval", "train"):       # running statistics, then batch statistics
        getattr(narrow, mode)(), getattr(wide, mode)()
        with torch.no_grad():
            torch.testing.assert_close(wide(x), narrow(x), atol=1e-5, rtol=1e-4)
    # With the symmetry-breaking noise the copies differ from their originals, the output barely.
    noisy = build_model(ModelConfig(17, 2, 17, [3, 3, 3], False, 0.0, channels, False))
    st = widen_state(narrow.state_dict(), channels, noise=0.01)
    noisy.load_state_dict(st)
    w = st["layers_conv.0.weight"]
    assert not torch.equal(w[16:], w[: channels - 16])
    narrow.eval(), noisy.eval()
    with torch.no_grad():
        ref = narrow(x)
        assert (noisy(x) - ref).abs().max() < 0.05 * ref.abs().max()
    with pytest.raises(ValueError, match="narrow"):
        widen_state(st, 8)


def test_init_from_a_narrower_model_widens_it(tmp_path):
    from poselift.lift.weights import read_model_card

    clips = _clips()
    cfg = TrainConfig(architecture="3,3", channels=16, epochs=1, epoch_size=32, batch_size=8, chunk=8,
                      dropout=0.0, threads=1, val_chunks=8)
    train(cfg, clips, clips[:1], tmp_path / "narrow.safetensors", progress=False, log=lambda s: None)
    logs: list[str] = []
    res = train(TrainConfig(**{**cfg.__dict__, "channels": 32, "init": str(tmp_path / "narrow.safetensors")}),
                clips, clips[:1], tmp_path / "wide.safetensors", progress=False, log=logs.append)
    assert np.isfinite(res.val_mpjpe_mm)
    assert any("widened from 16 to 32 channels" in s for s in logs)
    card = read_model_card(tmp_path / "wide.safetensors")
    assert card["architecture"]["channels"] == 32 and card["initialised_from"]["widened_from_channels"] == 16


@pytest.mark.parametrize("share", [0.0, 0.5, 1.0])
def test_a_share_of_h36m_chunks_is_seen_by_the_real_rig(share):
    from poselift.train.trainer import _h36m_virtual

    clips = _clips(2) + [Clip("other", _clips(1)[0].positions, "cmu-02", "cmu-daz")]
    s = ChunkSampler(clips, TrainConfig(h36m_camera_share=share), 9, 0)
    win, idx = s.windows(2000, 40)
    cams = s.cameras(idx, win)
    rig = np.stack([c.C for c in _h36m_virtual("S1")])
    on_rig = (np.linalg.norm(cams.C[:, None] - rig[None], axis=-1) < 1e-9).any(1)
    h36m = np.array([clips[i].subject == "S1" for i in idx])
    assert not on_rig[~h36m].any()                      # only clips captured in that rig
    assert abs(on_rig[h36m].mean() - share) < 0.04
    if share:
        f_rig = np.mean([c.f for c in _h36m_virtual("S1")])
        np.testing.assert_allclose(cams.f[on_rig], f_rig, rtol=0.01)
        batch = s.sample(16)                              # the rig's chunks pass the visibility check
        assert torch.isfinite(batch["inputs"]).all()


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_keypoint_definition_feature_marks_the_detector_styled_chunks(p, monkeypatch):
    # Fixed Human3.6M cameras see the standing toy clips whole: no chunk is redrawn, so the
    # chunks come out in the order keypoints() styled them.
    cfg = TrainConfig(style_prob=p, keypoint_definition_input=True, cameras="h36m")
    s = ChunkSampler(_clips(2), cfg, 9, 0)
    masks = []
    real = s.keypoints

    def recording(cams, x_cam):
        kp, styled = real(cams, x_cam)
        moved = np.abs(kp - cams.project(x_cam)).max(axis=(1, 2, 3)) > 1e-6
        np.testing.assert_array_equal(moved, styled)        # the mask names exactly the restyled chunks
        masks.append(styled)
        return kp, styled

    monkeypatch.setattr(s, "keypoints", recording)
    x = s.sample(400)["inputs"]
    assert len(masks) == 1 and x.shape[-1] == 3
    flag = x[..., 2]
    assert torch.equal(flag, flag[:, :1, :1].expand_as(flag))   # one value per chunk
    np.testing.assert_array_equal(flag[:, 0, 0].numpy(), masks[0].astype(np.float32))
    assert abs(float(flag[:, 0, 0].mean()) - p) < 0.08
    # The feature is added beside the 2D, which is what a sampler without it draws.
    plain = ChunkSampler(_clips(2), TrainConfig(style_prob=p, cameras="h36m"), 9, 0).sample(400)["inputs"]
    torch.testing.assert_close(x[..., :2], plain)


def test_init_adds_the_keypoint_definition_input_without_changing_the_function(tmp_path):
    from poselift.lift.weights import load_poselift_network, read_model_card
    from poselift.train.trainer import add_input_feature

    torch.manual_seed(0)
    two = build_model(ModelConfig(17, 2, 17, [3, 3], False, 0.0, 16, False)).eval()
    three = build_model(ModelConfig(17, 3, 17, [3, 3], False, 0.0, 16, False)).eval()
    three.load_state_dict(add_input_feature(two.state_dict(), 17))
    x = torch.randn(2, 30, 17, 2)
    with torch.no_grad():
        for flag in (0.0, 1.0):
            torch.testing.assert_close(three(torch.cat([x, torch.full((2, 30, 17, 1), flag)], -1)), two(x))
    with pytest.raises(ValueError, match="input columns"):
        add_input_feature(three.state_dict(), 17)

    clips = _clips()
    cfg = TrainConfig(architecture="3,3", channels=16, epochs=1, epoch_size=32, batch_size=8, chunk=8,
                      dropout=0.0, threads=1, val_chunks=8)
    train(cfg, clips, clips[:1], tmp_path / "two.safetensors", progress=False, log=lambda s: None)
    logs: list[str] = []
    train(TrainConfig(**{**cfg.__dict__, "keypoint_definition_input": True, "init": str(tmp_path / "two.safetensors")}),
          clips, clips[:1], tmp_path / "three.safetensors", progress=False, log=logs.append)
    assert any("keypoint-definition input added" in s for s in logs)
    card = read_model_card(tmp_path / "three.safetensors")
    assert card["architecture"]["in_features"] == 3 and card["keypoint_definition_input"] is True
    assert card["initialised_from"]["added_input"] == "keypoint_definition"
    net, _ = load_poselift_network(tmp_path / "three.safetensors")
    assert net.in_features == 3


def test_prefetched_batches_are_the_serial_ones_and_errors_surface():
    from poselift.train.trainer import BatchPrefetcher

    serial = ChunkSampler(_clips(2), TrainConfig(), 9, 3)
    threaded = ChunkSampler(_clips(2), TrainConfig(), 9, 3)
    pre = BatchPrefetcher(lambda: threaded.sample(8), 5)
    for _ in range(5):
        a, b = serial.sample(8), pre.next()
        for k in a:
            assert torch.equal(a[k], b[k]), k
    pre.close()

    calls = []

    def failing():
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("could not place virtual cameras")
        return len(calls)

    pre = BatchPrefetcher(failing, 10)
    assert (pre.next(), pre.next()) == (1, 2)
    with pytest.raises(ValueError, match="virtual cameras"):
        pre.next()
    pre.close()
    # Stopped early (time limit, interrupt): close() returns although batches remain.
    pre = BatchPrefetcher(lambda: serial.sample(8), 1000)
    pre.next()
    pre.close()
    assert not pre._thread.is_alive()


def test_training_with_and_without_prefetch_gives_the_same_model(tmp_path):
    from poselift.lift.weights import load_poselift_network

    cfg = TrainConfig(architecture="3,3", channels=16, epochs=2, epoch_size=32, batch_size=8, chunk=8,
                      dropout=0.0, threads=1, val_chunks=8, bn_calibration_batches=2)
    outs = []
    for prefetch in (False, True):
        path = tmp_path / f"p{int(prefetch)}.safetensors"
        train(TrainConfig(**{**cfg.__dict__, "prefetch": prefetch}), _clips(), _clips(1), path, progress=False,
              log=lambda s: None)
        outs.append(load_poselift_network(path, backend="torch")[0].state_dict())
    for k in outs[0]:
        torch.testing.assert_close(outs[0][k], outs[1][k], rtol=0, atol=0, msg=k)


def _standing_and_crouching(t_stand: int = 900, t_crouch: int = 100) -> np.ndarray:
    """One clip: ``t_stand`` frames of a person standing, then ``t_crouch`` crouched
    (pelvis 0.3 m lower, knees forward), facing a new way every frame."""
    crouch = STAND.copy()
    crouch[[0, 1, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 2] -= 0.3
    crouch[[2, 5], 1] -= 0.25
    pos = np.concatenate([np.repeat(STAND[None], t_stand, 0), np.repeat(crouch[None], t_crouch, 0)])
    a = np.linspace(0, 20, len(pos))
    c, s = np.cos(a)[:, None], np.sin(a)[:, None]
    out = pos.copy()
    out[..., 0], out[..., 1] = c * pos[..., 0] - s * pos[..., 1], s * pos[..., 0] + c * pos[..., 1]
    return out + np.array([1.0, -2.0, 0.0])


def test_heading_free_poses_ignore_where_the_person_faces_and_stands():
    from poselift.train.trainer import heading_free_poses

    pos = _standing_and_crouching(50, 50)
    hf = heading_free_poses(pos)
    np.testing.assert_allclose(hf[:50], np.repeat(hf[:1], 50, 0), atol=1e-9)    # one pose, every heading
    assert np.allclose(hf[:, 0], 0) and np.all(hf[:, 4, 0] > hf[:, 1, 0])        # hips along +X
    assert np.abs(hf[0] - hf[-1]).max() > 0.2                                     # two poses stay two


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_pose_balance_draws_rare_poses_more_often(power):
    from poselift.train.trainer import pose_rarity_weights

    pos = _standing_and_crouching()
    w = pose_rarity_weights(pos, power, clusters=4)
    np.testing.assert_allclose(w.mean(), 1.0)
    if power:
        np.testing.assert_allclose(w[-100:].mean() / w[:900].mean(), 9.0, rtol=0.01)   # 1/share each
    else:
        np.testing.assert_allclose(w, 1.0)
    s = ChunkSampler([Clip("mix", pos.astype(np.float32), "S1")], TrainConfig(pose_balance=power, chunk=8), 9, 0)
    win, _ = s.windows(4000, 8 + 9 - 1)
    out = win[:, 4:12]                                         # the chunks' output frames
    crouched = (out[..., 0, 2] < STAND[0, 2] - 0.15).mean()
    expected = 0.5 if power else 0.1                           # half the draws with equal groups
    assert abs(crouched - expected) < 0.06, crouched
    if power:   # batch-norm calibration samplers reuse the weights instead of regrouping every epoch
        again = ChunkSampler([Clip("mix", pos.astype(np.float32), "S1")], TrainConfig(pose_balance=power, chunk=8),
                             9, 1, s.frame_weights)
        assert again.frame_weights is s.frame_weights
        with pytest.raises(ValueError, match="frame weights"):
            ChunkSampler([Clip("mix", pos[:10].astype(np.float32), "S1")], TrainConfig(pose_balance=power), 9, 1,
                         s.frame_weights)


def test_weight_average_follows_its_formula():
    from poselift.train.trainer import WeightAverage

    net = torch.nn.Linear(3, 2)
    avg = WeightAverage(net, 0.9)
    expect = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ValueError):
        WeightAverage(net, 1.0)
    for n in range(1, 40):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.1 * n)
        d = min(0.9, (1 + n) / (10 + n))
        assert avg.rate() == pytest.approx(d)
        expect = [d * e + (1 - d) * p.detach() for e, p in zip(expect, net.parameters())]
        avg.update(net)
    for e, a in zip(expect, avg.model.parameters()):
        torch.testing.assert_close(a, e)
        assert not a.requires_grad
    # The live network is untouched and the average lags behind it.
    assert float(net.bias.detach()[0] - avg.model.bias[0]) > 1.0


def test_ema_run_saves_the_average_and_resumes_it(tmp_path):
    from poselift.lift.weights import load_poselift_network, read_model_card

    base = dict(architecture="3,3", channels=16, dropout=0.0, batch_size=8, chunk=8, epoch_size=64,
                val_chunks=8, threads=1, bn_calibration_batches=2, lr=3e-3, ema=0.95)
    ck = tmp_path / "ck"
    out = tmp_path / "m.safetensors"
    first = train(TrainConfig(epochs=2, **base), _clips(), _clips(1), out, checkpoint_dir=ck, progress=False,
                  log=lambda s: None)
    assert all("val_ema_mm" in h and "val_mm" in h for h in first.history)
    assert first.val_mpjpe_mm == first.history[-1]["val_ema_mm"]
    state = torch.load(ck / "last.pt", weights_only=True)
    assert state["ema"]["model"]["updates"] == 2 * 64 // 8
    saved = load_poselift_network(out, backend="torch")[0].state_dict()
    live = load_poselift_network(tmp_path / "m_live.safetensors", backend="torch")[0].state_dict()
    w = "expand_conv.weight"
    torch.testing.assert_close(saved[w], state["ema"]["model"]["state"][w])
    torch.testing.assert_close(live[w], state["model"][w])
    assert not torch.equal(saved[w], live[w])
    card = read_model_card(out)
    assert card["training"]["config"]["ema"] == 0.95
    assert card["training"]["final_val_mm"] == first.history[-1]["val_ema_mm"]
    assert card["training"]["final_val_mm_live_weights"] == first.history[-1]["val_mm"]
    # Resuming continues the average (same updates count, same weights) instead of restarting it.
    logs: list[str] = []
    second = train(TrainConfig(epochs=3, **base), _clips(), _clips(1), out, checkpoint_dir=ck, resume=True,
                   progress=False, log=logs.append)
    assert not any("no weight average" in s for s in logs)
    assert torch.load(ck / "last.pt", weights_only=True)["ema"]["model"]["updates"] == 3 * 64 // 8
    assert second.history[:2] == first.history
