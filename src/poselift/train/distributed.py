"""Data-parallel training under ``torchrun``: one process per GPU (or per CPU share).

``torchrun --nproc_per_node N -m poselift train ...`` starts ``N`` copies of the command
with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set. :func:`init_distributed` joins them into
one process group (NCCL on GPUs, gloo on CPUs); the trainer then wraps its networks in
``DistributedDataParallel`` so gradients are averaged every step, draws each rank's
chunks from its own random stream, and lets only rank 0 log and write checkpoints and
the model. Everything that decides control flow (the time budget, an interrupt) is agreed
on by all ranks every step, so they stop together and use the same learning rate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class DistContext:
    """This process's place in the group; ``world == 1`` when not distributed."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def agree(self, elapsed_s: float, stop: bool) -> tuple[float, bool]:
        """The largest elapsed time and any rank's stop request, the same on every rank."""
        if not self.enabled:
            return elapsed_s, stop
        t = torch.tensor([elapsed_s, 1.0 if stop else 0.0], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return float(t[0]), bool(t[1] > 0)

    def mean(self, value: float) -> float:
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t)
        return float(t[0]) / self.world

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def parameter_spread(self, model: torch.nn.Module) -> float:
        """Largest difference between ranks of any parameter or buffer (0 when in sync)."""
        if not self.enabled:
            return 0.0
        flat = torch.cat([t.detach().double().reshape(-1) for t in model.state_dict().values()
                          if t.is_floating_point()]).to(self.device)
        hi, lo = flat.clone(), flat.clone()
        torch.distributed.all_reduce(hi, op=torch.distributed.ReduceOp.MAX)
        torch.distributed.all_reduce(lo, op=torch.distributed.ReduceOp.MIN)
        return float((hi - lo).abs().max())

    def close(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def init_distributed(device: str) -> DistContext:
    """Join the ``torchrun`` process group if there is one (``WORLD_SIZE`` > 1).

    On CUDA each rank takes the GPU of its ``LOCAL_RANK``; on CPU the ranks share the
    machine (give each ``--threads`` = cores / ranks).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(device=device)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device.startswith("cuda"):
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
        backend = "nccl"
    else:
        backend = "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend)
    return DistContext(rank=rank, world=world, local_rank=local, device=device)
