"""More than one process: ``torchrun`` + DistributedDataParallel, and the single-process case.

Under ``torchrun`` (which sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``) :func:`setup` joins the process group — ``gloo`` on CPU, ``nccl`` on CUDA, each
CUDA process on GPU ``LOCAL_RANK`` — and everything else in the training loop asks the returned
:class:`Distributed` what to do: ``rank 0`` alone writes logs, TensorBoard events and
checkpoints; every rank trains on its share of the global batch; per-iteration figures are
averaged over ranks. Without ``torchrun`` it is a world of one, and every call is a no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ConfigError


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in the job.

    Attributes:
        rank: global rank, 0 .. world_size - 1.
        world_size: processes in the job (1 without torchrun).
        local_rank: rank on this machine (selects the GPU).
        local_world_size: processes on this machine (they share its CPU cores).
        device: the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the one process that writes files and prints progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def shard(self, global_batch: int) -> slice:
        """This rank's contiguous slice of a global batch of ``global_batch`` items.

        Raises:
            ConfigError: the global batch does not split evenly over the processes (unequal
                shards would weight the ranks' gradients unequally).
        """
        if global_batch % self.world_size:
            fit = -(-global_batch // self.world_size) * self.world_size
            raise ConfigError(f"train.batch_size={global_batch} is the global batch and must be a "
                              f"multiple of the {self.world_size} processes; set e.g. "
                              f"train.batch_size={fit}")
        per_rank = global_batch // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise mean of a small float tensor over all ranks (identity for one process)."""
        if not self.enabled:
            return values
        values = values.detach().to(self.device, torch.float64).clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return (values / self.world_size).cpu()

    def gather_rng_states(self) -> list[torch.Tensor]:
        """Every rank's CPU RNG state (uint8 tensors), in rank order, on every rank.

        Saved in the checkpoint so each rank resumes its own reparameterization-noise stream.
        """
        state = torch.get_rng_state()
        if not self.enabled:
            return [state]
        out = [torch.empty_like(state) for _ in range(self.world_size)]
        if self.device.type == "cuda":  # nccl gathers CUDA tensors only
            gathered = [o.to(self.device) for o in out]
            dist.all_gather(gathered, state.to(self.device))
            return [g.cpu() for g in gathered]
        dist.all_gather(out, state)
        return out

    def barrier(self) -> None:
        if self.enabled:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """``DistributedDataParallel(model)`` in a multi-process job, else ``model`` itself.

        Gradients are averaged over ranks during backward, so with equal shards one optimizer
        step equals the single-process step on the global batch (up to BatchNorm, whose
        statistics are per rank, and the per-rank reparameterization noise).
        """
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)


def world_size() -> int:
    """Processes in the job as ``torchrun`` announced them (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_world_size() -> int:
    """Processes of the job on this machine (they share its CPU cores)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())))


def in_torchrun() -> bool:
    """True when this process was started by ``torchrun`` with more than one process."""
    return world_size() > 1


def is_main_process() -> bool:
    """True unless this is a torchrun process of rank >= 1 (those print nothing)."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: torch.device) -> Distributed:
    """Join the ``torchrun`` process group if there is one.

    Args:
        device: the device asked for (``cpu`` or ``cuda``); under torchrun a CUDA job uses
            GPU ``LOCAL_RANK``.

    Returns:
        The :class:`Distributed` of this process (a world of one without torchrun).

    Raises:
        ConfigError: torchrun gave more CUDA processes on this machine than it has GPUs.
    """
    if not in_torchrun():
        return Distributed(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"torchrun started local rank {local_rank}, but this machine has "
                              f"{torch.cuda.device_count()} GPU(s); use --nproc-per-node "
                              f"{torch.cuda.device_count()}")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(rank, world, local_rank, local_world, device)


def teardown(ctx: Distributed) -> None:
    """Leave the process group (a no-op for one process)."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
