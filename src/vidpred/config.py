"""Run configuration: a run's settings as typed data.

A :class:`Config` holds three sections: ``data`` (:class:`DataConfig`), ``model`` (the model
family's own section, chosen by ``model.name``: :class:`vidpred.models.svg.SVGConfig` or
:class:`vidpred.models.pose_cvae.PoseCVAEConfig`, which own their fields, defaults and checks)
and ``train`` (:class:`TrainConfig`). Each field's type, default and allowed values are on one
line (:mod:`vidpred.fields`). A config loads from and saves to YAML, round-trips through plain
dicts (the checkpoint stores it as JSON) and takes ``section.key=value`` overrides that are
type-checked against the sections. :func:`check_config` then checks every value (ranges,
choices, combinations) in one pass that reads no file, so a bad run stops before any data is
decoded or any file is written.

Configs written before the model families had sections of their own (a flat ``model`` section
with both families' keys, ``model.block_weight``) still load: :func:`_model_section` migrates
them.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml

from .data import CONDITIONS, LAYOUTS
from .data.augment import AUGMENTS
from .data.sim_push import BLOCK_COLOURS
from .device import PRECISIONS
from .errors import ConfigError
from .fields import (
    Above,
    AtLeast,
    OneOf,
    Within,
    coerce,
    field_types,
    section_problems,
    suggest,
)
from .models.base import ModelConfig
from .models.factory import FAMILIES
from .models.svg import SVGConfig
from .schedules import KL_ANNEAL_KINDS, LR_SCHEDULES


@dataclass
class DataConfig:
    """Where the frames come from and which window of each sequence is used.

    Attributes:
        root: dataset root.
        layout: ``bair`` (processed BAIR: ``<root>/<split>/<group>/<k>/0.png``),
            ``bair_tfrecord`` (the BAIR download: ``<root>/{train,test}/*.tfrecords``), ``smmnist``
            (Stochastic Moving MNIST written by ``vidpred data smmnist``), ``dance``
            (``<split>/<split>_img`` and ``<split>_label`` PNG pairs) or ``synthetic`` (moving
            squares drawn in memory; ``root`` is ignored).
        n_past: context frames given to the model.
        n_future: frames the model predicts after the context (training clips are
            n_past + n_future frames: the course's ``video_len`` 16 is 1 + 15).
        image_size: frame height in pixels (and width, unless ``image_width`` is set); bair
            frames must already have it, dance frames are resized to it.
        image_width: frame width in pixels; 0 means square (= image_size).
        validate_files: ``bair_tfrecord`` only: the first training files (numeric name order)
            held out as the validation split (256 sequences each).
        generate: ``vidpred train`` first generates the built-in robot-pushing data in ``root``
            when it holds none (``bair`` layout; the generator's default sizes, seed 0), as
            ``vidpred demo`` does in its cache; not when ``--data`` names the dataset.
        random_action_share: with ``generate``: the share of generated sequences driven by random
            smooth actions instead of the scripted pushes (what a planner's candidates look like;
            see :mod:`vidpred.data.sim_push`).
        block_colours: with ``generate``: ``any`` bright colour per sequence, or ``red`` (red to
            magenta, the planning episodes' colours).
        augment: training clips only: ``none``, ``flip`` (half mirrored left-right with their
            label images), ``colour`` (channel order, saturation and brightness per clip) or
            ``flip+colour`` (see :mod:`vidpred.data.augment`).
    """

    root: str = "data/push"
    layout: Annotated[str, OneOf(LAYOUTS)] = "bair"
    n_past: Annotated[int, AtLeast(1)] = 2
    n_future: Annotated[int, AtLeast(1)] = 10
    image_size: Annotated[int, AtLeast(1)] = 64
    image_width: Annotated[int, AtLeast(0)] = 0
    validate_files: Annotated[int, AtLeast(0)] = 1
    generate: bool = False
    random_action_share: Annotated[float, Within(0.0, 1.0)] = 0.0
    block_colours: Annotated[str, OneOf(BLOCK_COLOURS)] = "any"
    augment: Annotated[str, OneOf(AUGMENTS)] = "none"

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return self.image_size, self.image_width or self.image_size


@dataclass
class TrainConfig:
    """Optimisation, schedules and bookkeeping.

    Attributes:
        iterations: total optimiser steps.
        max_minutes: also stop after this much training time, in minutes: the steps and the
            model's preparation before them (filling a frame memory, fitting a block layer);
            validation, checkpoints and the final BatchNorm pass excluded; 0 = no limit. The
            learning-rate, KL and teacher-forcing schedules then run on the larger of the
            iteration's and the time's share of the steps' part of it
            (:func:`vidpred.schedules.schedule_step`), so they reach their ends on time on any
            machine.
        iters_per_epoch: iterations per epoch; at each epoch end vidpred validates, logs an
            epoch line and writes checkpoints. The teacher-forcing schedule counts epochs.
        batch_size: sequences per iteration.
        lr: Adam learning rate (betas 0.9, 0.999 as in SVG).
        lr_schedule: ``constant`` (SVG) or ``cosine`` decay to 5% of ``lr`` over the run.
        beta: KL weight at the top of the annealing schedule.
        block_weight: w > 0 weighs the squared error of pixels that show the pushed block
            (:func:`vidpred.losses.block_weighted_mse`) in the predicted frame or the one
            before it 1 + w times in the loss (the logged MSE stays unweighted), so a small
            object that moves counts for more than its share of pixels. 0 = SVG's loss.
        kl_anneal: ``cyclical``, ``monotonic`` or ``none`` (Fu et al. 2019).
        kl_anneal_cycles, kl_anneal_ratio: cycles over the run and rising fraction per cycle.
        tfr_start, tfr_decay_start, tfr_decay_step, tfr_floor: teacher-forcing ratio schedule
            (see :class:`vidpred.schedules.TeacherForcing`); epochs are 0-based.
        grad_clip: max gradient norm (0 disables clipping).
        seed: seeds weights, batch sampling and the reparameterization noise.
        val_sequences: validation sequences scored (PSNR, 1 prior sample) at each epoch end.
        threads: torch CPU threads (0 = number of physical cores).
        channels_last: NHWC memory layout for the convolutions (faster on CPU).
        deterministic: ``torch.use_deterministic_algorithms(True)`` (bit-exact reruns/resumes).
        keep_checkpoints: how many epoch checkpoints to keep besides ``last`` and ``best``.
        precise_bn_batches: at the end of training, replace the BatchNorm running statistics
            by their averages over this many training batches rolled out free-running
            ("precise BN", Wu & Johnson 2021; see :mod:`vidpred.training.precise_bn`) before the last
            validation and checkpoint; 0 keeps the running averages of the last steps.
        tensorboard: also write TensorBoard event files into the run directory.
        precision: the training step's arithmetic: ``auto`` (bf16 autocast on CUDA and on a
            CPU with AVX512-BF16 or AMX, said once in the log; float32 on other CPUs), ``bf16``
            (the same, with a note where the CPU lacks it) or ``float32``. Weights, optimizer
            state and evaluation stay float32.
    """

    iterations: Annotated[int, AtLeast(1)] = 3000
    max_minutes: Annotated[float, AtLeast(0.0)] = 0.0
    iters_per_epoch: Annotated[int, AtLeast(1)] = 250
    batch_size: Annotated[int, AtLeast(1)] = 16
    lr: Annotated[float, Above(0.0)] = 2e-3
    lr_schedule: Annotated[str, OneOf(LR_SCHEDULES)] = "cosine"
    beta: Annotated[float, AtLeast(0.0)] = 1e-4
    block_weight: Annotated[float, AtLeast(0.0)] = 0.0
    kl_anneal: Annotated[str, OneOf(KL_ANNEAL_KINDS)] = "cyclical"
    kl_anneal_cycles: Annotated[int, AtLeast(1)] = 3
    kl_anneal_ratio: Annotated[float, Within(0.0, 1.0, strict=True)] = 0.5
    tfr_start: Annotated[float, Within(0.0, 1.0)] = 1.0
    tfr_decay_start: Annotated[int, AtLeast(0)] = 100
    tfr_decay_step: Annotated[float, AtLeast(0.0)] = 0.1
    tfr_floor: Annotated[float, Within(0.0, 1.0)] = 0.0
    grad_clip: Annotated[float, AtLeast(0.0)] = 0.0
    seed: Annotated[int, AtLeast(0)] = 0
    val_sequences: Annotated[int, AtLeast(1)] = 64
    threads: Annotated[int, AtLeast(0)] = 0
    channels_last: bool = True
    deterministic: bool = False
    keep_checkpoints: Annotated[int, AtLeast(0)] = 2
    precise_bn_batches: Annotated[int, AtLeast(0)] = 0
    tensorboard: bool = True
    precision: Annotated[str, OneOf(PRECISIONS)] = "auto"


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# keys that moved: configs and checkpoints that name the old key load with the new one
_MOVED = {"model.block_weight": "train.block_weight"}
# options that were removed: the value that means "off" (configs and checkpoints that name it at
# that value load without it) and what to do instead
_REMOVED = {"model.block_transport": (False, "it moved the block by a displacement read from the "
                                              "conditions and lost to model.retrieval_paste=arm on "
                                              "every object figure (docs/push-demo.md); retrain "
                                              "without it")}
# the flat model section every config and checkpoint had before the families owned theirs:
# a key of the other family at this value carries nothing and is dropped on load
_FLAT_MODEL_DEFAULTS = {
    "backbone": "dcgan64", "width": 16, "g_dim": 128, "z_dim": 16, "rnn_size": 256,
    "predictor_layers": 2, "posterior_layers": 1, "prior_layers": 1, "prior": "learned",
    "cond_kind": "vector", "cond_dim": 7, "cond_embed": 32, "output": "composite", "channels": 3,
    "frame_channels": 128, "label_channels": 32, "z_channels": 12, "fusion_channels": 192,
    "time_chunk": 4, "cond_points": 0, "retrieval": 0, "appearance_heads": 0, "first_label": False}


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=SVGConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{"data": {...}, "model": {"name": ..., <the family's fields>}, "train": {...}}``."""
        return {"data": dataclasses.asdict(self.data),
                "model": {"name": self.model.name, **dataclasses.asdict(self.model)},
                "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config", legacy: bool = False) -> "Config":
        """Build a config from nested dicts; unknown sections/keys raise :class:`ConfigError`.

        ``legacy``: the dict comes from a checkpoint, whose model was built whatever the other
        family's keys said: those keys are dropped whatever their values (see
        :func:`_model_section`).
        """
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a mapping with sections data/model/train")
        cfg = cls()
        for section, values in d.items():
            if section not in _SECTIONS:
                raise ConfigError(f"{source}: unknown section {section!r}"
                                  f"{suggest(section, _SECTIONS)}; valid: {', '.join(_SECTIONS)}")
            if values is None:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: section {section!r} must be a mapping")
            if section == "model":
                values = _model_section(values, source, legacy)
            for key, value in values.items():
                cfg.set(f"{section}.{key}", value, source=source)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        """Load a YAML file. Raises :class:`ConfigError` naming the file when it is invalid."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a text file (a YAML config is text); give a .yaml "
                              "config or the name of a shipped one") from None
        try:
            d = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        return cls.from_dict(d, source=str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    # ---- overrides -----------------------------------------------------------------------
    def set(self, dotted_key: str, value: Any, source: str = "--set") -> None:
        """Set ``section.key`` to ``value`` after checking and converting its type.

        A string value (as given on the command line) is parsed as YAML scalar first, so
        ``train.lr=1e-3`` gives a float and ``train.channels_last=false`` a bool. Setting
        ``model.name`` to another family starts that family's section from its defaults.

        Raises:
            ConfigError: unknown key (with the closest valid key suggested, or the family that
                has it), an unknown model family, or a wrong type.
        """
        dotted_key = resolve_key(dotted_key)
        section, _, key = dotted_key.partition(".")
        if section not in _SECTIONS or not key:
            raise ConfigError(f"{source}: unknown key {dotted_key!r}{suggest(dotted_key, _all_keys())}")
        if dotted_key in _REMOVED:
            off, why = _REMOVED[dotted_key]
            if coerce(value, type(off), f"{source}: {dotted_key}") != off:
                raise ConfigError(f"{source}: {dotted_key} is no longer an option: {why}")
            return
        if dotted_key == "model.name":
            self._set_family(coerce(value, str, f"{source}: model.name"), source)
            return
        sub = getattr(self, section)
        types = field_types(type(sub))
        if key not in types:
            raise ConfigError(f"{source}: unknown key {dotted_key!r}"
                              f"{_where_else(key, self.model) if section == 'model' else ''}"
                              f"{suggest(key, list(types), prefix=section + '.')}")
        setattr(sub, key, coerce(value, types[key], f"{source}: {dotted_key}"))

    def _set_family(self, name: str, source: str) -> None:
        if name not in FAMILIES:
            raise ConfigError(f"{source}: model.name={name!r}: choose one of {', '.join(FAMILIES)}")
        if name != self.model.name:
            self.model = FAMILIES[name]()

    def apply_overrides(self, overrides: list[str]) -> "Config":
        """Apply ``key=value`` strings in order; returns self."""
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set expects key=value, got {item!r}")
            self.set(key.strip(), value.strip())
        return self


def _family_keys() -> dict[str, set[str]]:
    return {name: set(field_types(c)) for name, c in FAMILIES.items()}


def _all_keys() -> list[str]:
    keys = [f"{s}.{k}" for s in ("data", "train") for k in field_types(_SECTIONS[s])]
    return keys + sorted({f"model.{k}" for ks in _family_keys().values() for k in ks} | {"model.name"})


def _where_else(key: str, model: ModelConfig) -> str:
    """`` (a key of model pose_cvae, not of svg)`` when another family has ``key``."""
    others = [n for n, ks in _family_keys().items() if key in ks and n != model.name]
    return f" (a key of model {others[0]}, not of {model.name}; set model.name first)" if others else ""


def _model_section(values: dict, source: str, legacy: bool) -> dict:
    """A ``model`` section's items in the order to set them: ``name`` first (it picks the family
    whose defaults the rest override), without the other family's keys of a flat section
    written before the families owned theirs (at their old default, or any value when
    ``legacy``: the model they came with never read them)."""
    name = values.get("name", SVGConfig.name)
    own = _family_keys().get(name, set())
    out = {"name": name}
    for key, value in values.items():
        if key == "name" or (key not in own and key in _FLAT_MODEL_DEFAULTS
                             and (legacy or value == _FLAT_MODEL_DEFAULTS[key])):
            continue
        out[key] = value
    return out


def resolve_key(key: str) -> str:
    """``section.key`` as given (a moved key replaced by its new name), or a bare key
    (``kl_anneal``) expanded to the one section that has it (``train.kl_anneal``; ``model`` for
    a key of any model family). Unknown bare keys are returned unchanged."""
    if "." in key:
        return _MOVED.get(key, key)
    owners = [s for s in ("data", "train") if key in field_types(_SECTIONS[s])]
    if key == "name" or any(key in ks for ks in _family_keys().values()):
        owners.append("model")
    return f"{owners[0]}.{key}" if len(owners) == 1 else key


def config_differences(configs: list["Config"]) -> list[str]:
    """Dotted keys whose values differ between the configs (in section/field order; a key one
    config's model family lacks counts as differing)."""
    dicts = [c.to_dict() for c in configs]
    keys = [(s, k) for s in dicts[0] for k in dict.fromkeys(k for d in dicts for k in d[s])]
    return [f"{s}.{k}" for s, k in keys if len({json.dumps(d[s].get(k)) for d in dicts}) > 1]


def get_value(cfg: "Config", dotted_key: str) -> Any:
    """The value of ``section.key`` (None for a key the config's model family lacks)."""
    section, _, key = resolve_key(dotted_key).partition(".")
    if section == "model" and key == "name":
        return cfg.model.name
    return getattr(getattr(cfg, section), key, None)


# ---- the one validation pass ------------------------------------------------------------
def config_problems(cfg: Config, world_size: int = 1) -> list[str]:
    """Every problem with a config's values, one line each naming the key, the value and what
    is allowed (empty when the config is valid). Nothing is read from disk.

    Types are already right (see :meth:`Config.set`); here: ranges and choices of every section,
    the model family's own checks (:meth:`vidpred.models.base.ModelConfig.problems`, which also
    sees the data section), conditions the data layout can give, augmentations the data allows,
    and the global batch against ``world_size`` processes.
    """
    problems = section_problems(cfg.data, "data") + cfg.model.problems(cfg.data, world_size) + \
        section_problems(cfg.train, "train")
    return problems + _cross_problems(cfg, world_size)


def _cross_problems(cfg: Config, world_size: int) -> list[str]:
    """Combinations of values across sections."""
    m, d, t, problems = cfg.model, cfg.data, cfg.train, []
    if "flip" in d.augment and CONDITIONS.get(d.layout, ("image",))[0] == "vector" and m.cond_dim > 0:
        problems.append(f"data.augment={d.augment!r}: {d.layout} conditions are vectors "
                        "(actions), which a mirrored clip would contradict; use none or colour")
    if "colour" in d.augment and m.channels != 3:
        problems.append(f"data.augment={d.augment!r}: colour changes need RGB frames "
                        f"(model.channels=3, got {m.channels}); use none or flip")
    if d.generate and d.layout != "bair":
        problems.append(f"data.generate=true: only the built-in robot-pushing data (data.layout="
                        f"bair) is generated, not {d.layout!r}; set data.generate=false")
    if t.tfr_floor > t.tfr_start:
        problems.append(f"train.tfr_floor={t.tfr_floor}: must not exceed "
                        f"train.tfr_start={t.tfr_start}")
    kind, dim = CONDITIONS.get(d.layout, (None, None))
    if kind is not None and m.cond_dim and (m.cond_kind != kind or m.cond_dim != dim):
        problems.append(f"model.cond_kind={m.cond_kind!r}, model.cond_dim={m.cond_dim}: the "
                        f"{d.layout} layout gives {kind} conditions of size {dim}; set "
                        f"model.cond_kind={kind} model.cond_dim={dim} (or model.cond_dim=0 for none)")
    if world_size > 1 and t.batch_size % world_size:
        problems.append(f"train.batch_size={t.batch_size}: the global batch must split "
                        f"evenly over {world_size} processes")
    return problems


def check_config(cfg: Config, world_size: int = 1) -> Config:
    """Raise one :class:`ConfigError` listing every problem (one per line); returns ``cfg``."""
    problems = config_problems(cfg, world_size)
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg


CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def named_config(name: str) -> Config:
    """A shipped setup by name (``push_cpu``, ``dance_cpu``, ``bair_svg_lp``, ...): the YAML files
    in ``vidpred/configs/`` (also reachable as ``configs/`` at the repository root).

    Raises:
        ConfigError: no shipped config of that name (the available ones are listed).
    """
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"no shipped config named {name!r}{suggest(name, names)}; "
                          f"available: {', '.join(names)}")
    return Config.load(path)
