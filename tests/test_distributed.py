"""Data-parallel training under torchrun: two real processes on the CPU with gloo."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from poselift.io.vp3d import save_data_3d

from test_train_evaluate import _motion


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_torchrun_two_gloo_processes(tmp_path):
    data = tmp_path / "data_3d_toy.npz"
    save_data_3d(data, {"S1": {f"move {i}": _motion(300, i).astype(np.float64) for i in range(6)},
                        "S8": {"move 9": _motion(200, 9).astype(np.float64)}})
    out, ckpt = tmp_path / "ddp.safetensors", tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "poselift", "train", "--data", str(data), "--dataset", "all",
           "--subjects-val", "S8", "-arc", "3,3", "-ch", "32", "-drop", "0", "-e", "4", "--epoch-size", "640",
           "-b", "16", "--chunk", "8", "-lr", "3e-3", "--threads", "1", "--no-progress", "-o", str(out),
           "--checkpoint-dir", str(ckpt)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "POSELIFT_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "data-parallel training on 2 processes (gloo)" in r.stderr
    assert "ranks hold the same weights (largest difference 0)" in r.stderr
    history = [json.loads(line) for line in r.stderr.splitlines() if line.startswith('{"epoch"')]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]         # only rank 0 logs
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"], history
    # Rank 0 wrote the checkpoint and the model; they hold the same weights.
    st = torch.load(ckpt / "last.pt", map_location="cpu", weights_only=True)
    assert st["epoch"] == 4
    final = load_file(str(out))
    assert set(final) == set(st["model"])
    for k, v in final.items():
        torch.testing.assert_close(v, st["model"][k], rtol=0, atol=0)


def test_single_process_is_not_distributed(monkeypatch):
    from poselift.train.distributed import init_distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init_distributed("cpu")
    assert not ctx.enabled and ctx.main
    assert ctx.agree(12.5, True) == (12.5, True)
    assert ctx.mean(3.0) == 3.0
