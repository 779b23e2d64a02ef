import dataclasses
from pathlib import Path

import pytest

from vidpred.config import Config, check_config, config_problems, named_config
from vidpred.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_overrides_are_parsed_to_the_field_types():
    cfg = Config().apply_overrides(["train.lr=1e-3", "train.channels_last=false",
                                    "model.width=32", "train.iterations=2e3", "data.root=/x"])
    assert cfg.train.lr == 1e-3 and cfg.train.channels_last is False
    assert cfg.model.width == 32 and cfg.train.iterations == 2000 and cfg.data.root == "/x"


@pytest.mark.parametrize("item, message", [
    ("train.lrr=1", r"unknown key 'train.lrr' \(did you mean 'train.lr'\?\)"),
    ("model.widht=3", r"did you mean 'model.width'"),
    ("kl_anneal_cycle=3", r"did you mean 'train.kl_anneal_cycles'"),
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
    with pytest.raises(ConfigError, match=r"bad.yaml.*z_dimm.*did you mean 'model.z_dim'"):
        Config.load(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        Config.load(tmp_path / "missing.yaml")


def test_shipped_configs_are_reachable_by_name_and_from_the_repository_root():
    assert named_config("push_cpu") == Config.load(CONFIGS / "push_cpu.yaml")
    with pytest.raises(ConfigError, match=r"no shipped config named 'push_cp'.*did you mean 'push_cpu'"):
        named_config("push_cp")


@pytest.mark.parametrize("item, message", [
    ("train.kl_anneal=cosine", "train.kl_anneal='cosine': choose one of cyclical, monotonic, none"),
    ("train.lr=-1", r"train.lr=-1.0: must be > 0"),
    ("model.width=0", r"model.width=0: must be >= 1"),
    ("train.tfr_start=1.5", r"train.tfr_start=1.5: must be in \[0, 1\]"),
    ("train.kl_anneal_cycles=0", r"train.kl_anneal_cycles=0: must be >= 1"),
    ("train.batch_size=0", r"train.batch_size=0: must be >= 1"),
    ("train.iterations=-5", r"train.iterations=-5: must be >= 1"),
    ("model.z_dim=-3", r"model.z_dim=-3: must be >= 1"),
    ("model.backbone=resnet", r"model.backbone='resnet': choose one of dcgan64, vgg64"),
    ("train.kl_anneal_ratio=2", r"train.kl_anneal_ratio=2.0: must be in \(0, 1\]"),
    ("data.n_past=0", r"data.n_past=0: must be >= 1"),
    ("train.lr=nan", r"train.lr=nan: must be > 0"),
    ("data.image_size=60", r"needs height and width divisible by 16"),
    ("model.output=composite_first", r"model.output='composite_first': choose one of sigmoid, composite, warp"),
    ("model.cond_dim=3", r"the bair layout gives vector conditions of size 7"),
    ("train.precision=fp16", r"train.precision='fp16': choose one of auto, bf16, float32"),
    ("model.cond_points=-1", r"model.cond_points=-1: must be >= 0"),
    ("data.random_action_share=1.5", r"data.random_action_share=1.5: must be in \[0, 1\]"),
    ("data.augment=flip", r"data.augment='flip': bair conditions are vectors"),
    ("train.block_weight=-1", r"train.block_weight=-1.0: must be >= 0"),
])
def test_every_bad_value_is_one_line_naming_the_key(item, message):
    cfg = Config().apply_overrides([item])
    problems = config_problems(cfg)
    assert len(problems) == 1 and "\n" not in problems[0]
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


def test_condition_points_need_svg_with_vector_conditions():
    cfg = Config().apply_overrides(["model.cond_points=4", "model.cond_dim=0"])
    assert config_problems(cfg) == ["model.cond_points=4: condition points need model.name=svg with "
                                    "vector conditions (model.cond_kind=vector, model.cond_dim >= 1);"
                                    " set model.cond_points=0"]
    assert config_problems(Config().apply_overrides(["model.cond_points=4"])) == []


def test_the_frame_memory_is_checked():
    assert config_problems(Config().apply_overrides(["model.retrieval=3"])) == []
    for bad in (["model.output=warp"], ["data.augment=colour"], ["model.cond_dim=2"]):
        problems = config_problems(Config().apply_overrides(["model.retrieval=3"] + bad))
        assert any(p.startswith("model.retrieval=3: the frame memory needs") for p in problems), bad
    problems = config_problems(Config().apply_overrides(["model.retrieval=3"]), world_size=2)
    assert problems == ["model.retrieval=3: the frame memory trains in one process "
                        "(DistributedDataParallel would copy it every step); run without "
                        "torchrun or set model.retrieval=0"]
    problems = config_problems(Config().apply_overrides(["model.retrieval=3",
                                                         "model.retrieval_frames=400000"]))
    assert problems == ["model.retrieval_frames=400000: frames of 64 x 64 x 3 bytes exceed the "
                        "frame memory's 4 GiB; at most 349,525"]


def test_all_problems_are_listed_at_once_and_the_global_batch_must_split():
    cfg = Config().apply_overrides(["train.lr=-1", "model.width=0", "train.batch_size=6"])
    assert len(config_problems(cfg)) == 2
    assert any("split evenly over 4 processes" in p for p in config_problems(cfg, world_size=4))
    for path in sorted(CONFIGS.glob("*.yaml")):
        assert config_problems(Config.load(path)) == [], path.name


def test_each_model_family_owns_its_keys_and_defaults():
    """A key of the other family is an error naming the family that has it; switching the
    family starts from that family's own defaults (image conditions, sigmoid output)."""
    with pytest.raises(ConfigError, match=r"unknown key 'model.appearance_heads' \(a key of "
                                          r"model pose_cvae, not of svg; set model.name first\)"):
        Config().apply_overrides(["model.appearance_heads=2"])
    with pytest.raises(ConfigError, match=r"unknown key 'model.width' \(a key of model svg"):
        Config().apply_overrides(["model.name=pose_cvae", "model.width=8"])
    with pytest.raises(ConfigError, match=r"model.name='vae': choose one of svg, pose_cvae"):
        Config().apply_overrides(["model.name=vae"])
    cfg = Config().apply_overrides(["model.width=8", "model.name=pose_cvae"])
    m = cfg.model
    assert (m.name, m.cond_kind, m.cond_dim, m.output, m.time_chunk) == ("pose_cvae", "image", 3,
                                                                          "sigmoid", 0)
    assert cfg.to_dict()["model"] == {"name": "pose_cvae", **dataclasses.asdict(m)}
    assert "width" not in cfg.to_dict()["model"]
    problems = config_problems(Config().apply_overrides(
        ["model.name=pose_cvae", "model.first_label=true", "data.layout=dance"]))
    assert problems == ["model.first_label=true: only the pose CVAE's composite over the first "
                        "frame reads it (model.output=composite_first); set model.first_label=false"]


def test_a_removed_option_loads_when_off_and_is_named_when_on():
    d = Config().to_dict()
    d["model"]["block_transport"] = False          # what checkpoints of the option wrote
    assert Config.from_dict(d, legacy=True).model.retrieval == d["model"]["retrieval"]
    d["model"]["block_transport"] = True
    with pytest.raises(ConfigError, match=r"ckpt: model.block_transport is no longer an option: "
                                          r".*retrain without it"):
        Config.from_dict(d, source="ckpt", legacy=True)


def test_block_weight_is_a_loss_setting_and_old_configs_name_it_under_model(tmp_path):
    assert Config().apply_overrides(["model.block_weight=5"]).train.block_weight == 5.0
    (tmp_path / "old.yaml").write_text("model:\n  name: svg\n  block_weight: 20\n")
    assert Config.load(tmp_path / "old.yaml").train.block_weight == 20.0
    assert config_problems(Config().apply_overrides(["data.block_colours=blue"])) == [
        "data.block_colours='blue': choose one of any, red"]


def test_flat_configs_written_before_the_families_owned_their_sections_still_load(tmp_path):
    """A run's config.yaml (and every checkpoint) held all 25 keys of both families in one flat
    model section: the other family's keys are dropped at their old defaults (any value when
    the dict comes from a checkpoint, whose model never read them); a changed one is an error."""
    import yaml

    flat = {"name": "pose_cvae", "backbone": "dcgan64", "width": 16, "g_dim": 128, "z_dim": 16,
            "rnn_size": 256, "predictor_layers": 2, "posterior_layers": 1, "prior_layers": 1,
            "prior": "learned", "cond_kind": "image", "cond_dim": 3, "cond_embed": 32,
            "output": "composite_first", "channels": 3, "frame_channels": 24, "label_channels": 8,
            "z_channels": 4, "fusion_channels": 32, "time_chunk": 4, "cond_points": 0,
            "block_weight": 0.0, "retrieval": 0, "appearance_heads": 4, "first_label": True}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"model": flat, "data": {"layout": "dance"}}))
    cfg = Config.load(tmp_path / "config.yaml")
    assert cfg.model.name == "pose_cvae" and cfg.model.frame_channels == 24
    assert cfg.model.appearance_heads == 4 and cfg.model.time_chunk == 4
    assert config_problems(cfg) == []
    changed = {**flat, "width": 64}
    with pytest.raises(ConfigError, match=r"unknown key 'model.width' \(a key of model svg"):
        Config.from_dict({"model": changed})
    assert Config.from_dict({"model": changed}, legacy=True).model.frame_channels == 24


def test_shipped_dance_configs():
    from vidpred.models import build_model

    shipped = Config.load(CONFIGS / "dance_cpu.yaml")
    m = shipped.model
    assert (m.name, m.output, m.frame_channels, m.label_channels, m.z_channels,
            m.fusion_channels) == ("pose_cvae", "composite_first", 24, 8, 4, 32)
    template = Config.load(CONFIGS / "dance_template.yaml")
    m = template.model
    assert (m.frame_channels, m.label_channels, m.z_channels, m.fusion_channels) == (128, 32, 12, 192)
    assert template.train.batch_size == 2 and template.data.frame_size == (32, 64)
    # both build; the CPU-sized one is much smaller
    sizes = [sum(p.numel() for p in build_model(c).parameters()) for c in (shipped, template)]
    assert sizes[0] * 20 < sizes[1]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads_builds_and_trains_one_step(path):
    """Each named setup in configs/ is valid data: loads, builds its model, and gives a finite
    loss and gradients on one random clip of its frame size and condition kind."""
    import torch

    from vidpred.models import build_model

    cfg = Config.load(path)
    model = build_model(cfg)
    torch.manual_seed(0)
    H, W = cfg.data.frame_size
    T = cfg.data.n_past + 2
    frames = torch.rand(1, T, cfg.model.channels, H, W)
    cond = (None if cfg.model.cond_dim == 0 else torch.randn(1, T, cfg.model.cond_dim)
            if cfg.model.cond_kind == "vector" else torch.rand(1, T, cfg.model.cond_dim, H, W))
    if getattr(model, "memory", None) is not None:  # a frame memory: filled from the clip
        model.memory.fill(frames.mul(255).to(torch.uint8), cond)
    out = model(frames, cond, cfg.data.n_past, beta=cfg.train.beta)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_2022_course_setting_is_svg_fp_with_7d_conditions():
    cfg = Config.load(CONFIGS / "course2022_svg_fp.yaml")
    m, t = cfg.model, cfg.train
    assert (m.name, m.prior, m.cond_kind, m.cond_dim, m.backbone) == ("svg", "fixed", "vector", 7, "vgg64")
    assert (m.g_dim, m.z_dim, m.rnn_size, m.predictor_layers, m.posterior_layers) == (128, 64, 256, 2, 1)
    assert (t.batch_size, t.lr, t.iterations, t.iters_per_epoch) == (12, 0.002, 300 * 600, 600)
    assert (t.kl_anneal, t.kl_anneal_cycles, cfg.data.n_past, cfg.data.n_future) == ("cyclical", 3, 2, 10)
    from vidpred.models import build_model

    assert not any("prior" in name for name, _ in build_model(cfg).named_parameters())


def test_resolved_config_is_saved_in_the_run_directory_and_the_checkpoint(push_root, tmp_path):
    from vidpred.checkpoint import load_checkpoint
    from vidpred.cli import main

    assert main(["train", "--config", str(CONFIGS / "push_cpu.yaml"), "--data", str(push_root),
                 "--set", "model.width=4", "--set", "model.rnn_size=16", "--set", "data.n_future=3",
                 "--set", "train.iterations=2", "--set", "train.iters_per_epoch=2",
                 "--set", "train.batch_size=2", "--set", "val_sequences=2", "--out",
                 str(tmp_path / "run"), "--quiet"]) == 0
    saved = Config.load(tmp_path / "run" / "config.yaml")
    assert saved.model.width == 4 and saved.train.val_sequences == 2 and saved.data.root == str(push_root)
    assert load_checkpoint(tmp_path / "run" / "last.ckpt")["config"] == saved


def test_only_the_built_in_push_data_is_generated():
    cfg = Config().apply_overrides(["data.generate=true", "data.layout=synthetic"])
    assert config_problems(cfg) == ["data.generate=true: only the built-in robot-pushing data "
                                    "(data.layout=bair) is generated, not 'synthetic'; set "
                                    "data.generate=false"]
    assert named_config("push_plan").data.generate and not config_problems(named_config("push_plan"))
