"""Where tensors live: ``--device auto|cpu|cuda``, the training step's precision (bf16 autocast),
and the process-wide settings (threads, allocator, deterministic algorithms) of
:func:`configure_process`.

CPU is the default everywhere. On CUDA, convolutions and matmuls run under bf16 autocast (float32
weights and optimizer state, as ``torch.autocast`` does) with cuDNN's benchmark mode on. On CPU the
training step runs under bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 or AMX)
and ``train.precision`` is ``auto`` or ``bf16``; elsewhere bf16 would be emulated and slower, so it
runs in float32. ``auto`` picks bf16 because float32 and bf16 training of the paper setting and of
the pose CVAE reach the same test PSNR at equal iterations (docs/speed.md).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform

import torch

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
# train.precision: auto = bf16 autocast on CUDA and on a CPU with native bf16, float32 on other
# CPUs; bf16 = the same, with a note where the CPU lacks it; float32 = no autocast anywhere
PRECISIONS = ("auto", "bf16", "float32")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16), from the flags in
    ``/proc/cpuinfo``; False where that file does not exist (macOS, Windows)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return any(flag in flags for flag in _CPU_BF16_FLAGS)


def use_bf16(precision: str, device: torch.device, key: str = "train.precision",
             work: str = "training") -> tuple[bool, str | None]:
    """Whether ``work`` (the training step by default) runs under bf16 autocast on ``device`` for
    ``precision`` (the value of ``key``: ``auto``, ``bf16`` or ``float32``), and a one-line note
    for the log naming ``key``: where ``auto`` chose bf16 on a CPU (how to turn it off), or where
    ``bf16`` was asked for but this CPU lacks it (float32 is used); None otherwise."""
    if precision == "float32":
        return False, None
    if device.type == "cuda":
        return True, None
    if cpu_has_bf16():
        note = None if precision == "bf16" else (
            f"{key}=auto: {work} under bf16 autocast (this CPU has AVX512-BF16 or AMX); "
            f"set {key}=float32 for float32")
        return True, note
    if precision == "bf16":
        return False, (f"{key}=bf16: this CPU has no native bf16 (AVX512-BF16 or AMX); "
                       f"{work} in float32")
    return False, None


def default_threads() -> int:
    """CPU cores available to this process (the machines here have no SMT siblings, so this is
    the physical core count; torch's own default counts logical CPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory in the process instead of handing it back to the
    kernel (Linux/glibc; elsewhere a no-op). Call once before training or a rollout.

    By default glibc serves large blocks (from 128 KiB, up to 32 MiB as its threshold adapts) with
    a fresh ``mmap`` that ``free`` unmaps, and trims the free top of the heap, so each training
    step faults its activations in page by page again (on a VM each fault is a trip to the host).
    With mmap and trimming off, the next step reuses the freed blocks (docs/speed.md gives the
    figures). The same effect as the jemalloc/tcmalloc ``LD_PRELOAD`` that PyTorch's CPU tuning
    guides recommend, without installing either. Resident memory then stays at its peak until the process exits.

    Returns:
        True when the settings were applied.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    # -1: never trim (man mallopt)
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, -1))


def configure_process(threads: int = 0, deterministic: bool = False,
                      processes_per_machine: int = 1) -> None:
    """The process-wide settings vidpred's commands train and evaluate with; call it once at the
    start of a script or notebook to get the same speed (nothing in the library calls it).

    - torch's CPU threads: ``threads``, or (0) this machine's cores divided among the
      ``processes_per_machine`` processes of a torchrun job;
    - glibc's malloc keeps freed memory (:func:`keep_freed_memory`);
    - ``torch.use_deterministic_algorithms(deterministic)`` (bit-exact reruns and resumes).
    """
    torch.set_num_threads(threads or max(1, default_threads() // max(1, processes_per_machine)))
    keep_freed_memory()
    torch.use_deterministic_algorithms(deterministic)


@contextlib.contextmanager
def process_settings(threads: int = 0, deterministic: bool = False,
                     processes_per_machine: int = 1):
    """:func:`configure_process` for the duration of a ``with`` block: the thread count and
    the deterministic-algorithms flag are restored afterwards (the allocator setting stays)."""
    previous = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    configure_process(threads, deterministic, processes_per_machine)
    try:
        yield
    finally:
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])


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


def autocast(device: torch.device, bf16: bool | None = None):
    """bf16 autocast (float32 weights, bf16 matmuls and convolutions) or a no-op context.
    ``bf16`` None: on for CUDA, off for CPU; True/False (see :func:`use_bf16`) decides."""
    if bf16 is None:
        bf16 = device.type == "cuda"
    if bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (for honest timings); nothing on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_device(batch: tuple, device) -> tuple:
    """A dataset batch ``(frames, cond)`` moved to ``device`` (``cond`` may be None)."""
    return tuple(None if x is None else x.to(device, non_blocking=True) for x in batch)
