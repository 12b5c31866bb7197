"""Distributed set-up for torchrun: rank, world size, device, process group (NCCL on GPUs, else gloo)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..utils import pick_device


@dataclass
class DistContext:
    """Where this process sits: rank, world size, its device; ``owns_group`` if we initialised it."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            tensor = tensor.clone()
            dist.all_reduce(tensor)
            tensor /= self.world_size
        return tensor


def setup_distributed(device: str = "auto") -> DistContext:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; initialise the process group (NCCL on GPUs, else gloo)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=pick_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested under torchrun but CUDA is not available; use 'cpu'")
    use_cuda = torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))
    if use_cuda:  # one GPU per process: cuda:LOCAL_RANK, whatever index was asked for
        torch.cuda.set_device(local_rank)
        chosen, backend = torch.device("cuda", local_rank), "nccl"
    else:
        chosen, backend = torch.device("cpu"), "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend=backend)
    return DistContext(rank, world_size, local_rank, chosen, owns)


def check_ranks_in_sync(model: nn.Module, ctx: DistContext) -> None:
    """All ranks must hold the same weights (DDP's promise); compare per-tensor checksums, raise if not."""
    if ctx.world_size == 1:
        return
    sums = torch.stack([p.detach().double().sum() for p in model.parameters()]).to(ctx.device)
    gathered = [torch.zeros_like(sums) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, sums)
    for other, theirs in enumerate(gathered[1:], start=1):
        if not torch.equal(gathered[0], theirs):
            raise RuntimeError(f"rank 0 and rank {other} hold different weights: distributed training went out of sync")


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model
