"""Run configuration: the only place defaults live.

A :class:`Config` holds three sections (``data``, ``model``, ``train``) of typed dataclasses.
It loads from and saves to YAML, round-trips through plain dicts (the checkpoint stores it as
JSON) and takes ``section.key=value`` overrides that are type-checked against the dataclasses.
:func:`check_config` then checks every value (ranges, choices, combinations) in one pass that
reads no file, so a bad run stops before any data is decoded or any file is written.

The ``model`` section is flat on purpose (``model.width``, ``model.frame_channels``): each model
family is built from the keys its constructor takes (:mod:`vidpred.models.factory`), so SVG never
sees the pose CVAE's sizes; the constructors' defaults equal these (a test keeps them equal).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from .errors import ConfigError


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
            magenta, the planning episodes' colours), which ``model.block_weight`` needs.
        augment: training clips only: ``none``, ``flip`` (half mirrored left-right with their
            label images), ``colour`` (channel order, saturation and brightness per clip) or
            ``flip+colour`` (see :mod:`vidpred.data.augment`).
    """

    root: str = "data/push"
    layout: str = "bair"
    n_past: int = 2
    n_future: int = 10
    image_size: int = 64
    image_width: int = 0
    validate_files: int = 1
    generate: bool = False
    random_action_share: float = 0.0
    block_colours: str = "any"
    augment: str = "none"

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return self.image_size, self.image_width or self.image_size


@dataclass
class ModelConfig:
    """Network sizes of SVG (Denton & Fergus 2018) and of the pose CVAE (course 2023/2024).

    Attributes:
        name: model family: ``svg`` or ``pose_cvae``.
        backbone: ``dcgan64`` or ``vgg64`` frame encoder/decoder.
        width: channels of the first backbone stage (64 in the paper; 16 is CPU-sized); later
            stages use 2x, 4x, 8x.
        g_dim: frame embedding size.
        z_dim: latent size per frame.
        rnn_size: hidden units of every LSTM.
        predictor_layers, posterior_layers, prior_layers: LSTM depths.
        prior: ``learned`` (SVG-LP) or ``fixed`` N(0, I) (SVG-FP).
        cond_kind: ``vector`` (actions/positions, (B, T, cond_dim)) or ``image`` (pose labels,
            (B, T, cond_dim, H, W)).
        cond_dim: size of the per-frame condition vector (7 for BAIR: action 4 + end effector 3;
            0 for unconditional), or the label image's channels (3) for ``image``.
        cond_embed: SVG only: the vector an image condition is embedded into.
        channels: image channels (3 for RGB, 1 for Moving MNIST).
        output: ``sigmoid`` (the decoder draws the frame) or ``composite`` (the decoder also
            draws a mask and the frame is mask * drawn + (1 - mask) * a source frame — SVG: the
            skip frame; pose CVAE: the previous frame — so static background is copied rather
            than redrawn); SVG only: ``warp`` composites over the source frame warped by a flow
            field the decoder also predicts, so moved things keep their pixels (see
            :mod:`vidpred.models.warp`); pose CVAE only: ``composite_first`` composites over the
            first frame (see :mod:`vidpred.models.pose_cvae`).
        frame_channels, label_channels, z_channels, fusion_channels: pose CVAE only: F, L, N, D
            (template 128, 32, 12, 192).
        time_chunk: time steps of a clip that go through the convolutional networks in one call
            (0 = all at once). A speed setting with one side effect: in training, BatchNorm
            statistics are those of each chunk (B x time_chunk frames). 1 gives SVG's and the
            course templates' per-step statistics; small chunks keep activations in the CPU's
            cache (``benchmarks/train_speed.py`` compares values).
        cond_points: SVG with vector conditions only: K > 0 draws each frame's condition as K
            learned Gaussian blobs at every decoder stage (:mod:`vidpred.models.points`), so the
            decoder is told where the arm is; 0 (SVG's decoder) reaches it only through g_t.
        block_weight: SVG only: w > 0 weighs the squared error of pixels that show a red block
            (:func:`vidpred.losses.red_mask`) in the predicted frame or the one before it
            1 + w times in the loss (the logged MSE stays unweighted), so a small object that
            moves counts for more than its share of pixels; for push data generated with
            ``data.block_colours=red``. 0 = SVG's loss.
        retrieval: SVG only, on the BAIR layouts: k > 0 keeps the training split's frames in the
            model, keyed by the last k entries of their condition vectors (3: the end-effector
            position), and gives every frame to predict the one nearest to its condition as a
            third source of the composite (:mod:`vidpred.models.memory`); for data filmed by one
            fixed camera. The frames travel in every checkpoint (64 x 64 x 3 bytes each: 369 MB
            for the demo's 1,000 sequences of 30; at most 4 GiB). 0 = off.
        appearance_heads: pose CVAE only: K > 0 adds an appearance code of the first frame
            (K attention maps pooling its features) to every pixel of the decoder fusion
            (:mod:`vidpred.models.pose_cvae`); 0 leaves the model as the course defines it.
        first_label: pose CVAE with ``composite_first`` only: the first frame's label features
            also enter the decoder fusion (where the body stood, to be painted over).
    """

    name: str = "svg"
    backbone: str = "dcgan64"
    width: int = 16
    g_dim: int = 128
    z_dim: int = 16
    rnn_size: int = 256
    predictor_layers: int = 2
    posterior_layers: int = 1
    prior_layers: int = 1
    prior: str = "learned"
    cond_kind: str = "vector"
    cond_dim: int = 7
    cond_embed: int = 32
    output: str = "composite"
    channels: int = 3
    frame_channels: int = 128
    label_channels: int = 32
    z_channels: int = 12
    fusion_channels: int = 192
    time_chunk: int = 4
    cond_points: int = 0
    block_weight: float = 0.0
    retrieval: int = 0
    appearance_heads: int = 0
    first_label: bool = False


@dataclass
class TrainConfig:
    """Optimisation, schedules and bookkeeping.

    Attributes:
        iterations: total optimiser steps.
        max_minutes: also stop after this much training time, in minutes (validation excluded;
            0 = no limit). The learning-rate, KL and teacher-forcing schedules then run on the
            larger of the iteration's and the time's share of the run
            (:func:`vidpred.training.loop.schedule_step`), so they reach their ends on time on any
            machine.
        iters_per_epoch: iterations per epoch; at each epoch end vidpred validates, logs an
            epoch line and writes checkpoints. The teacher-forcing schedule counts epochs.
        batch_size: sequences per iteration.
        lr: Adam learning rate (betas 0.9, 0.999 as in SVG).
        lr_schedule: ``constant`` (SVG) or ``cosine`` decay to 5% of ``lr`` over the run.
        beta: KL weight at the top of the annealing schedule.
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
        precision: the training step's arithmetic: ``auto`` (bf16 autocast on CUDA, float32 on
            CPU), ``bf16`` (bf16 autocast also on a CPU with AVX512-BF16 or AMX; float32, with a
            note, on other CPUs) or ``float32``. Weights, optimizer state and evaluation stay
            float32.
    """

    iterations: int = 3000
    max_minutes: float = 0.0
    iters_per_epoch: int = 250
    batch_size: int = 16
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    beta: float = 1e-4
    kl_anneal: str = "cyclical"
    kl_anneal_cycles: int = 3
    kl_anneal_ratio: float = 0.5
    tfr_start: float = 1.0
    tfr_decay_start: int = 100
    tfr_decay_step: float = 0.1
    tfr_floor: float = 0.0
    grad_clip: float = 0.0
    seed: int = 0
    val_sequences: int = 64
    threads: int = 0
    channels_last: bool = True
    deterministic: bool = False
    keep_checkpoints: int = 2
    precise_bn_batches: int = 0
    tensorboard: bool = True
    precision: str = "auto"


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "Config":
        """Build a config from nested dicts; unknown sections/keys raise :class:`ConfigError`."""
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: expected a mapping with sections data/model/train")
        cfg = cls()
        for section, values in d.items():
            if section not in _SECTIONS:
                raise ConfigError(f"{source}: unknown section {section!r}"
                                  f"{_suggest(section, _SECTIONS)}; valid: {', '.join(_SECTIONS)}")
            if values is None:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: section {section!r} must be a mapping")
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
        ``train.lr=1e-3`` gives a float and ``train.channels_last=false`` a bool.

        Raises:
            ConfigError: unknown key (with the closest valid key suggested) or wrong type.
        """
        dotted_key = resolve_key(dotted_key)
        section, _, key = dotted_key.partition(".")
        if section not in _SECTIONS or not key:
            all_keys = [f"{s}.{k}" for s, t in _SECTIONS.items() for k in _fields(t)]
            raise ConfigError(f"{source}: unknown key {dotted_key!r}{_suggest(dotted_key, all_keys)}")
        sub = getattr(self, section)
        hints = _fields(type(sub))
        if key not in hints:
            raise ConfigError(f"{source}: unknown key {dotted_key!r}"
                              f"{_suggest(key, list(hints), prefix=section + '.')}")
        setattr(sub, key, _coerce(value, hints[key], f"{source}: {dotted_key}"))

    def apply_overrides(self, overrides: list[str]) -> "Config":
        """Apply ``key=value`` strings in order; returns self."""
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"--set expects key=value, got {item!r}")
            self.set(key.strip(), value.strip())
        return self


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def resolve_key(key: str) -> str:
    """``section.key`` as given, or a bare key (``kl_anneal``) expanded to the one section that
    has it (``train.kl_anneal``). Unknown bare keys are returned unchanged."""
    if "." in key:
        return key
    owners = [s for s, cls in _SECTIONS.items() if key in _fields(cls)]
    return f"{owners[0]}.{key}" if len(owners) == 1 else key


def config_differences(configs: list["Config"]) -> list[str]:
    """Dotted keys whose values differ between the configs (in section/field order)."""
    dicts = [c.to_dict() for c in configs]
    return [f"{s}.{k}" for s in dicts[0] for k in dicts[0][s]
            if len({json.dumps(d[s][k]) for d in dicts}) > 1]


def get_value(cfg: "Config", dotted_key: str) -> Any:
    section, _, key = resolve_key(dotted_key).partition(".")
    return getattr(getattr(cfg, section), key)


def _fields(cls: type) -> dict[str, type]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _suggest(word: str, options: list[str] | dict, prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def _coerce(value: Any, typ: type, where: str) -> Any:
    if isinstance(value, str) and typ is not str:
        try:  # YAML 1.1 reads "1e-3" as a string; Python's parsers do not
            value = int(value) if typ is int else float(value) if typ is float else yaml.safe_load(value)
        except (ValueError, yaml.YAMLError):
            if typ is int:
                try:
                    value = float(value)
                except ValueError:
                    pass
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"{where}: expected {typ.__name__}, got {value!r}")


# ---- the one validation pass ------------------------------------------------------------
def _choices() -> dict[str, tuple[str, ...]]:
    """Allowed values of the keys that name a choice (owned by the modules that use them)."""
    from .data import LAYOUTS
    from .data.augment import AUGMENTS
    from .data.sim_push import BLOCK_COLOURS
    from .device import PRECISIONS
    from .models.backbones import BACKBONES
    from .models.conditions import COND_KINDS
    from .models.factory import MODELS, OUTPUTS, PRIORS
    from .schedules import KL_ANNEAL_KINDS, LR_SCHEDULES
    return {"data.layout": LAYOUTS, "data.augment": AUGMENTS, "data.block_colours": BLOCK_COLOURS,
            "model.name": MODELS, "model.backbone": tuple(BACKBONES),
            "model.prior": PRIORS, "model.cond_kind": COND_KINDS, "model.output": OUTPUTS,
            "train.lr_schedule": LR_SCHEDULES, "train.kl_anneal": KL_ANNEAL_KINDS,
            "train.precision": PRECISIONS}


# (key, lowest allowed, whether the lowest is allowed, highest allowed or None)
_RANGES = [
    ("data.n_past", 1, True, None), ("data.n_future", 1, True, None),
    ("data.image_size", 1, True, None), ("data.image_width", 0, True, None),
    ("data.validate_files", 0, True, None), ("data.random_action_share", 0.0, True, 1.0),
    ("model.width", 1, True, None), ("model.g_dim", 1, True, None), ("model.z_dim", 1, True, None),
    ("model.rnn_size", 1, True, None), ("model.predictor_layers", 1, True, None),
    ("model.posterior_layers", 1, True, None), ("model.prior_layers", 1, True, None),
    ("model.cond_dim", 0, True, None), ("model.cond_embed", 1, True, None),
    ("model.channels", 1, True, None), ("model.frame_channels", 1, True, None),
    ("model.label_channels", 1, True, None), ("model.z_channels", 1, True, None),
    ("model.fusion_channels", 1, True, None), ("model.time_chunk", 0, True, None),
    ("model.cond_points", 0, True, None), ("model.appearance_heads", 0, True, None),
    ("model.block_weight", 0.0, True, None), ("model.retrieval", 0, True, None),
    ("train.iterations", 1, True, None), ("train.max_minutes", 0.0, True, None), ("train.iters_per_epoch", 1, True, None),
    ("train.batch_size", 1, True, None), ("train.lr", 0.0, False, None),
    ("train.beta", 0.0, True, None), ("train.kl_anneal_cycles", 1, True, None),
    ("train.kl_anneal_ratio", 0.0, False, 1.0), ("train.tfr_start", 0.0, True, 1.0),
    ("train.tfr_decay_start", 0, True, None), ("train.tfr_decay_step", 0.0, True, None),
    ("train.tfr_floor", 0.0, True, 1.0), ("train.grad_clip", 0.0, True, None),
    ("train.seed", 0, True, None), ("train.val_sequences", 1, True, None),
    ("train.threads", 0, True, None), ("train.keep_checkpoints", 0, True, None),
    ("train.precise_bn_batches", 0, True, None),
]


def config_problems(cfg: Config, world_size: int = 1) -> list[str]:
    """Every problem with a config's values, one line each naming the key, the value and what
    is allowed (empty when the config is valid). Nothing is read from disk.

    Checks types are already right (see :meth:`Config.set`); here: ranges, choices, the global
    batch against ``world_size`` processes, frame sizes the backbone supports, and conditions
    the data layout can give.
    """
    problems = []
    for key, low, inclusive, high in _RANGES:
        v = get_value(cfg, key)
        if not math.isfinite(v) or v < low or (v == low and not inclusive) or \
                (high is not None and v > high):
            bound = (f"{'>=' if inclusive else '>'} {low:g}" if high is None
                     else f"in {'[' if inclusive else '('}{low:g}, {high:g}]")
            problems.append(f"{key}={v!r}: must be {bound}")
    for key, allowed in _choices().items():
        v = get_value(cfg, key)
        if v not in allowed:
            problems.append(f"{key}={v!r}: choose one of {', '.join(allowed)}")
    problems += _model_problems(cfg)
    if world_size > 1 and cfg.model.retrieval:
        problems.append(f"model.retrieval={cfg.model.retrieval}: the frame memory trains in one "
                        "process (DistributedDataParallel would copy it every step); run without "
                        "torchrun or set model.retrieval=0")
    if world_size > 1 and cfg.train.batch_size % world_size:
        problems.append(f"train.batch_size={cfg.train.batch_size}: the global batch must split "
                        f"evenly over {world_size} processes")
    return problems


def _model_problems(cfg: Config) -> list[str]:
    """Combinations of values that one model or data layout cannot use."""
    from .data import CONDITIONS
    from .models.factory import model_outputs

    m, d, problems = cfg.model, cfg.data, []
    H, W = d.frame_size
    if m.name == "svg" and (H % 16 or W % 16) and H >= 1 and W >= 1:
        problems.append(f"data.image_size={d.image_size}, data.image_width={d.image_width}: the "
                        f"{m.backbone} backbone needs height and width divisible by 16")
    if m.name in ("svg", "pose_cvae") and m.output not in model_outputs(m.name):
        problems.append(f"model.output={m.output!r}: model {m.name} offers "
                        f"{', '.join(model_outputs(m.name))}")
    if m.name == "pose_cvae" and m.cond_dim < 1:
        problems.append("model.cond_dim=0: the pose CVAE needs conditions (model.cond_dim >= 1)")
    if m.cond_points and (m.name != "svg" or m.cond_kind != "vector" or m.cond_dim == 0):
        problems.append(f"model.cond_points={m.cond_points}: condition points need model.name=svg "
                        "with vector conditions (model.cond_kind=vector, model.cond_dim >= 1); "
                        "set model.cond_points=0")
    if m.block_weight and m.name != "svg":
        problems.append(f"model.block_weight={m.block_weight}: only SVG's loss weighs block "
                        "pixels; set model.block_weight=0")
    if m.retrieval and (m.name != "svg" or m.cond_kind != "vector" or m.cond_dim < m.retrieval
                        or m.output != "composite" or d.layout not in ("bair", "bair_tfrecord")
                        or d.augment != "none"):
        problems.append(f"model.retrieval={m.retrieval}: the frame memory needs model.name=svg, "
                        f"model.output=composite, vector conditions of at least {m.retrieval} "
                        "entries, data.layout bair or bair_tfrecord and data.augment=none; set "
                        "model.retrieval=0")
    if m.appearance_heads and m.name != "pose_cvae":
        problems.append(f"model.appearance_heads={m.appearance_heads}: the appearance code is "
                        "the pose CVAE's (model.name=pose_cvae); set model.appearance_heads=0")
    if m.first_label and (m.name != "pose_cvae" or m.output != "composite_first"):
        problems.append("model.first_label=true: only the pose CVAE's composite over the first "
                        "frame reads it (model.name=pose_cvae, model.output=composite_first); set "
                        "model.first_label=false")
    if "flip" in d.augment and CONDITIONS.get(d.layout, ("image",))[0] == "vector" and \
            m.cond_dim > 0:
        problems.append(f"data.augment={d.augment!r}: {d.layout} conditions are vectors "
                        "(actions), which a mirrored clip would contradict; use none or colour")
    if "colour" in d.augment and m.channels != 3:
        problems.append(f"data.augment={d.augment!r}: colour changes need RGB frames "
                        f"(model.channels=3, got {m.channels}); use none or flip")
    if d.generate and d.layout != "bair":
        problems.append(f"data.generate=true: only the built-in robot-pushing data (data.layout="
                        f"bair) is generated, not {d.layout!r}; set data.generate=false")
    if cfg.train.tfr_floor > cfg.train.tfr_start:
        problems.append(f"train.tfr_floor={cfg.train.tfr_floor}: must not exceed "
                        f"train.tfr_start={cfg.train.tfr_start}")
    kind, dim = CONDITIONS.get(d.layout, (None, None))
    if kind is not None and m.cond_dim and (m.cond_kind != kind or m.cond_dim != dim):
        problems.append(f"model.cond_kind={m.cond_kind!r}, model.cond_dim={m.cond_dim}: the "
                        f"{d.layout} layout gives {kind} conditions of size {dim}; set "
                        f"model.cond_kind={kind} model.cond_dim={dim} (or model.cond_dim=0 for none)")
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
        raise ConfigError(f"no shipped config named {name!r}{_suggest(name, names)}; "
                          f"available: {', '.join(names)}")
    return Config.load(path)
