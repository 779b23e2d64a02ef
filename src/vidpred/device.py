"""Where tensors live: ``--device auto|cpu|cuda``, bf16 autocast on CUDA, thread count on CPU.

CPU is the default everywhere. On CUDA, convolutions and matmuls run under bf16 autocast (float32
weights and optimizer state, as ``torch.autocast`` does) with cuDNN's benchmark mode on.
"""
from __future__ import annotations

import contextlib
import os

import torch

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def default_threads() -> int:
    """CPU cores available to this process (the machines here have no SMT siblings, so this is
    the physical core count; torch's own default counts logical CPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def resolve_device(name: str = "cpu") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` / ``cuda:K`` / ``cpu`` as given.

    Raises:
        ConfigError: an unknown name, or ``cuda`` asked for on a machine without CUDA.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"device {name!r}: choose one of {', '.join(DEVICES)} (or cuda:K)")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: this torch build or machine has no CUDA "
                          f"(torch {torch.__version__}); use --device cpu or auto")
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return device


def autocast(device: torch.device):
    """bf16 autocast on CUDA; a no-op context on CPU (float32 there)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (for honest timings); nothing on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_device(batch: tuple, device) -> tuple:
    """A dataset batch ``(frames, cond)`` moved to ``device`` (``cond`` may be None)."""
    return tuple(None if x is None else x.to(device, non_blocking=True) for x in batch)
