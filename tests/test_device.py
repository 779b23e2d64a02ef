import os
import platform
import subprocess
import sys

import pytest
import torch

from vidpred import device as device_module
from vidpred.device import (
    autocast,
    cpu_has_bf16,
    default_threads,
    resolve_device,
    use_bf16,
)
from vidpred.errors import ConfigError


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"


def test_unknown_or_missing_devices_are_config_errors():
    with pytest.raises(ConfigError, match="choose one of auto, cpu, cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            resolve_device("cuda")


def test_cpu_autocast_keeps_float32_and_threads_are_the_cores():
    with autocast(torch.device("cpu")):
        y = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.float32
    assert 1 <= default_threads() <= (os.cpu_count() or 1)


def test_bf16_precision_is_used_only_where_the_cpu_computes_it(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert use_bf16("float32", cuda) == (False, None) and use_bf16("float32", cpu) == (False, None)
    assert use_bf16("auto", cuda) == (True, None)
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: False)
    on, note = use_bf16("bf16", cpu)
    assert not on and "train.precision=bf16" in note and "float32" in note
    assert use_bf16("auto", cpu) == (False, None)  # no note: float32 is what auto means here
    monkeypatch.setattr(device_module, "cpu_has_bf16", lambda: True)
    assert use_bf16("bf16", cpu) == (True, None)
    on, note = use_bf16("auto", cpu)  # auto picks bf16 and says how to turn it off
    assert on and "train.precision=auto" in note and "train.precision=float32" in note


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16")
def test_cpu_bf16_step_convolves_in_bf16_and_follows_the_float32_loss():
    from vidpred.models import SVG
    from vidpred.training.step import make_optimizer, train_step

    g = torch.Generator().manual_seed(0)
    frames, cond = torch.rand(4, 5, 3, 64, 64, generator=g), torch.randn(4, 5, 7, generator=g)
    losses, dtypes = {}, []
    for bf16 in (False, True):
        torch.manual_seed(0)
        model = SVG(width=8, g_dim=32, z_dim=4, rnn_size=32, cond_points=2)
        model.encoder.stages[0][0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
        opt = make_optimizer(model.parameters(), 1e-3)
        torch.manual_seed(1)
        losses[bf16] = [train_step(model, opt, frames, cond, 2, 1e-4, bf16=bf16).loss
                        for _ in range(3)]
        assert all(p.dtype == torch.float32 for p in model.parameters())
    assert dtypes[0] == torch.float32 and dtypes[-1] == torch.bfloat16
    assert losses[True] == pytest.approx(losses[False], rel=0.03)


def test_train_command_takes_device_auto_and_names_a_missing_gpu(tmp_path, capsys):
    from vidpred.cli import main
    from vidpred.config import Config

    from .conftest import synthetic_config

    cfg = synthetic_config(iterations=2, iters_per_epoch=2)
    cfg.save(tmp_path / "c.yaml")
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "auto"),
                 "--device", "auto", "--quiet"]) == 0
    assert Config.load(tmp_path / "auto" / "config.yaml") == cfg   # the device is not a config value
    if not torch.cuda.is_available():
        assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "gpu"),
                     "--device", "cuda", "--quiet"]) == 2
        assert "use --device cpu or auto" in capsys.readouterr().err


_FAULTS = """
import resource, sys, torch
from vidpred.device import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
counts = []
for _ in range(33):  # 64 MiB activations, freed and allocated again as in a training step
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.empty(16 * 2**20).fill_(1.0)
    del x
    counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, sorted(counts[1:])[16])  # median of the 32 refills
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="glibc malloc only")
def test_keep_freed_memory_stops_the_page_faults_of_reallocated_tensors():
    """Each 64 MiB tensor is a fresh mmap by default (16,384 pages faulted in on every fill);
    after keep_freed_memory the freed block is reused and a refill faults nothing (the median of
    32: now and then a small allocation splits the freed block and a few refills grow the heap)."""
    def run(mode):
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        return out[0] == "True", int(out[1])

    applied, kept = run("keep")
    _, default = run("default")
    assert applied
    assert default > 10_000  # the control: glibc's default really faults every time
    assert kept < 100
