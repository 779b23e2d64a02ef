import os

import pytest
import torch

from vidpred.device import autocast, default_threads, resolve_device
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


def test_train_command_takes_device_auto_and_names_a_missing_gpu(push_root, tmp_path, capsys):
    from vidpred.cli import main
    from vidpred.config import Config

    from .conftest import tiny_config

    cfg = tiny_config(push_root, iterations=2, iters_per_epoch=2)
    cfg.save(tmp_path / "c.yaml")
    assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "auto"),
                 "--device", "auto", "--quiet"]) == 0
    assert Config.load(tmp_path / "auto" / "config.yaml") == cfg   # the device is not a config value
    if not torch.cuda.is_available():
        assert main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "gpu"),
                     "--device", "cuda", "--quiet"]) == 2
        assert "use --device cpu or auto" in capsys.readouterr().err
