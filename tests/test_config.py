from pathlib import Path

import pytest

from vidpred.config import Config, demo_config
from vidpred.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_overrides_are_parsed_to_the_field_types():
    cfg = Config().apply_overrides(["train.lr=1e-3", "train.channels_last=false",
                                    "model.width=32", "train.iterations=2e3", "data.root=/x"])
    assert cfg.train.lr == 1e-3 and cfg.train.channels_last is False
    assert cfg.model.width == 32 and cfg.train.iterations == 2000 and cfg.data.root == "/x"


@pytest.mark.parametrize("item, message", [
    ("train.lrr=1", r"unknown key 'train.lrr' \(did you mean train.'lr'\?\)"),
    ("model.widht=3", r"did you mean model.'width'"),
    ("trian.lr=1", r"unknown key 'trian.lr' \(did you mean 'train.lr'\?\)"),
    ("model.width=wide", r"model.width: expected int, got 'wide'"),
    ("train.channels_last=3", r"expected bool"),
    ("train.lr", r"key=value"),
])
def test_bad_overrides_are_errors_that_help(item, message):
    with pytest.raises(ConfigError, match=message):
        Config().apply_overrides([item])


def test_yaml_round_trip_and_unknown_keys_in_files(tmp_path):
    cfg = Config().apply_overrides(["model.backbone=vgg64", "train.beta=1e-6"])
    cfg.save(tmp_path / "c.yaml")
    assert Config.load(tmp_path / "c.yaml") == cfg
    (tmp_path / "bad.yaml").write_text("model:\n  z_dimm: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*z_dimm.*did you mean model.'z_dim'"):
        Config.load(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        Config.load(tmp_path / "missing.yaml")


def test_shipped_demo_config_file_is_the_demo_config():
    shipped = Config.load(CONFIGS / "push_cpu.yaml")
    assert shipped == demo_config(shipped.data.root)


def test_shipped_dance_configs():
    from vidpred.config import dance_demo_config
    from vidpred.train import build_model

    shipped = Config.load(CONFIGS / "dance_cpu.yaml")
    assert shipped == dance_demo_config(shipped.data.root)
    template = Config.load(CONFIGS / "dance_template.yaml")
    m = template.model
    assert (m.frame_channels, m.label_channels, m.z_channels, m.fusion_channels) == (128, 32, 12, 192)
    assert template.train.batch_size == 2 and template.data.frame_size == (32, 64)
    # both build; the CPU-sized one is much smaller
    sizes = [sum(p.numel() for p in build_model(c).parameters()) for c in (shipped, template)]
    assert sizes[0] * 20 < sizes[1]
