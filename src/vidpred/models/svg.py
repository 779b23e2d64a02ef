"""SVG: Stochastic Video Generation with a learned or fixed prior (Denton & Fergus, ICML 2018),
with per-frame condition vectors (actions, end-effector positions) fed to the LSTMs.

Step t (t = 1 .. T-1) predicts frame x_t from x_{t-1}:

- encoder: h_t, skips_t = Enc(x_t) — every ground-truth frame encoded once, ``time_chunk`` time
  steps per call (not twice per step, as in SVG's loop);
- posterior q(z_t | x_<=t): GaussianLSTM(h_t, c_t);
- prior p(z_t | x_<t): GaussianLSTM(h_{t-1}, c_t) (SVG-LP) or N(0, I) (SVG-FP);
- frame predictor: g_t = LSTM(h_{t-1}, z_t, c_t);
- decoder: x^_t = Dec(g_t, skips of frame s(t)), s(t) = min(t-1, n_past-1) (skips come from the
  last context frame once prediction starts, as in SVG); the skips' share of the decoder's
  convolutions is computed once per skip frame, not once per step (see
  :class:`vidpred.models.backbones._SkipDecoder`).

The condition of step t is c_t = concat(e(cond_{t-1}), e(cond_t)): for BAIR (vectors, e = identity),
the action that moves x_{t-1} to x_t and the end-effector position in both frames; for pose
labels (images), e is a small CNN (:class:`vidpred.models.conditions.ImageToVector`) run over all
frames in one call.

Loss (SVG eq. 4, averaged rather than summed over the T-1 steps, which rescales both terms alike)::

    loss = mean_t MSE(x^_t, x_t) + beta * mean_t KL(q(z_t | x_<=t) || p(z_t | x_<t))

with the MSE averaged over pixels and the KL summed over z and averaged over the batch.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, ClassVar

import torch
from torch import Tensor

from ..errors import ConfigError
from ..fields import AtLeast, OneOf, section_problems
from ..losses import frame_mse, gaussian_kl, reparameterize
from .backbones import BACKBONES, build_backbone
from .base import ModelConfig, StepOutput, VideoModel, memory_format_of
from .block_layer import BlockLayer
from .conditions import (
    COND_KINDS,
    ImageToVector,
    check_conditions,
    embed_conditions,
    repeat_samples,
)
from .heads import ARM_PASTES, HEADS, PASTES, OutputHead, StepExtras, head_class
from .memory import FrameMemory
from .points import ConditionPoints
from .recurrent import GaussianLSTM, LSTMPredictor

PRIORS = ("learned", "fixed")
OUTPUTS = tuple(HEADS)
# the most frames a frame memory holds (the model, every checkpoint and the distances per step
# grow with it): 4 GiB, about 350,000 frames of 64 x 64 RGB
MEMORY_BYTES = 4 * 2**30
# layouts whose frames are filmed by one fixed camera with the end effector in the conditions
MEMORY_LAYOUTS = ("bair", "bair_tfrecord")


@dataclass
class SVGConfig(ModelConfig):
    """SVG's settings: the ``model`` section of a run config with ``name: svg``.

    Attributes:
        backbone: ``dcgan64`` or ``vgg64`` frame encoder/decoder.
        width: channels of the first backbone stage (64 in the paper; 16 is CPU-sized); later
            stages use 2x, 4x, 8x.
        g_dim: frame embedding size. z_dim: latent size per frame.
        rnn_size: hidden units of every LSTM.
        predictor_layers, posterior_layers, prior_layers: LSTM depths (paper: 2, 1, 1).
        prior: ``learned`` (SVG-LP) or ``fixed`` N(0, I) (SVG-FP).
        cond_kind: ``vector`` (actions/positions, (B, T, cond_dim)) or ``image`` (pose labels,
            (B, T, cond_dim, H, W)).
        cond_dim: size of the per-frame condition vector (7 for BAIR: action 4 + end effector 3;
            0 for unconditional), or the label image's channels for ``image``.
        cond_embed: the vector an image condition is embedded into.
        output: ``sigmoid`` (the decoder draws the frame), ``composite`` (it also draws a mask
            and the frame is mask * drawn + (1 - mask) * the last context frame) or ``warp``
            (the composite over that frame warped by a flow the decoder also draws); see
            :mod:`vidpred.models.heads`.
        channels: image channels (3 for RGB, 1 for Moving MNIST).
        time_chunk: time steps of a clip that go through the convolutional networks in one call
            (0 = all at once). A speed setting with one side effect: in training, BatchNorm
            statistics are those of each chunk (B x time_chunk frames); 1 gives SVG's per-step
            statistics.
        cond_points: with vector conditions, K > 0 draws each frame's condition as K learned
            Gaussian blobs at every decoder stage (:mod:`vidpred.models.points`); 0 = SVG's
            decoder, which reaches the condition only through g_t.
        retrieval: on the BAIR layouts, k > 0 keeps the training split's frames in the model,
            keyed by the last k entries of their condition vectors (3: the end-effector
            position), and gives every frame to predict the nearest one as a third source of
            the composite (:mod:`vidpred.models.memory`); for data filmed by one fixed camera.
            The frames travel in every checkpoint (64 x 64 x 3 bytes each; at most
            :data:`MEMORY_BYTES`). 0 = off.
        retrieval_frames: the most training frames the memory keeps, chosen to cover the
            end-effector positions evenly (:func:`vidpred.models.memory.coverage`); 0 = every
            frame of the training split. The default keeps the built-in data's 30,000 whole
            and 32,768 of the BAIR download's 1.3 million: with the pasted arm (``arm``,
            ``arm_over``) a checkpoint carries only the arms' pixels and packed masks (about
            2 kB a frame at 64 x 64 on the pushing scene), and fewer, farther frames cost PSNR
            (docs/push-demo.md).
        retrieval_paste: how the retrieved frame enters the composite: ``blend`` (a softmax of
            the context, drawn and retrieved frames per pixel) or ``arm`` (only the retrieved
            frame's arm, cut out by its mask, pasted over the context frame whose own arm is
            erased, the drawn frame composited over it) or ``arm_over`` (the same, with the
            pasted arm laid over the drawn frame too: a sharp arm drawn once); see
            :mod:`vidpred.models.heads`. Without a memory it is not read, so
            ``--set model.retrieval=0`` turns a config's memory off whatever it says here.
        block_layer: with the pasted arm, the pushed block is a layer of its own drawn over the
            prediction (under the arm), moved by a small network fitted before training to where
            the block goes given the conditions (:mod:`vidpred.models.block_layer`); for RGB
            scenes with one coloured block (the block locator's, :mod:`vidpred.vision`). It
            erases the block to the memory's empty scene, so without a memory it is not read:
            ``--set model.retrieval=0`` turns it off too.
    """

    name: ClassVar[str] = "svg"
    backbone: Annotated[str, OneOf(tuple(BACKBONES))] = "dcgan64"
    width: Annotated[int, AtLeast(1)] = 16
    g_dim: Annotated[int, AtLeast(1)] = 128
    z_dim: Annotated[int, AtLeast(1)] = 16
    rnn_size: Annotated[int, AtLeast(1)] = 256
    predictor_layers: Annotated[int, AtLeast(1)] = 2
    posterior_layers: Annotated[int, AtLeast(1)] = 1
    prior_layers: Annotated[int, AtLeast(1)] = 1
    prior: Annotated[str, OneOf(PRIORS)] = "learned"
    cond_kind: Annotated[str, OneOf(COND_KINDS)] = "vector"
    cond_dim: Annotated[int, AtLeast(0)] = 7
    cond_embed: Annotated[int, AtLeast(1)] = 32
    output: Annotated[str, OneOf(OUTPUTS)] = "composite"
    channels: Annotated[int, AtLeast(1)] = 3
    time_chunk: Annotated[int, AtLeast(0)] = 4
    cond_points: Annotated[int, AtLeast(0)] = 0
    retrieval: Annotated[int, AtLeast(0)] = 0
    retrieval_paste: Annotated[str, OneOf(PASTES)] = "blend"
    retrieval_frames: Annotated[int, AtLeast(0)] = 32768
    block_layer: bool = False

    def problems(self, data=None, world_size: int = 1) -> list[str]:
        """Ranges and choices, then combinations SVG cannot use, with ``data`` (a
        :class:`vidpred.config.DataConfig`) those the data cannot give; one line each."""
        problems = section_problems(self, "model")
        vector = self.cond_kind == "vector" and self.cond_dim > 0
        if self.cond_points and not vector:
            problems.append(f"model.cond_points={self.cond_points}: condition points need model.name=svg "
                            "with vector conditions (model.cond_kind=vector, model.cond_dim >= 1);"
                            " set model.cond_points=0")
        if self.retrieval and (not vector or self.cond_dim < self.retrieval
                               or self.output not in self._memory_outputs() or (data is not None and (
                                   data.layout not in MEMORY_LAYOUTS or data.augment != "none"))):
            problems.append(f"model.retrieval={self.retrieval}: the frame memory needs model.name=svg, "
                            f"model.output {' or '.join(self._memory_outputs())}, vector "
                            f"conditions of at least {self.retrieval} "
                            "entries, data.layout bair or bair_tfrecord and data.augment=none; set "
                            "model.retrieval=0")
        if self.block_layer and self.retrieval and (self.retrieval_paste not in ARM_PASTES
                                                    or self.output != "composite"
                                                    or self.channels != 3):
            problems.append("model.block_layer=true: the block is laid over the composite with the "
                            "pasted arm of RGB frames (model.retrieval_paste=arm or arm_over, "
                            "model.output=composite, model.channels=3); set "
                            "model.block_layer=false")
        if self.retrieval and world_size > 1:
            problems.append(f"model.retrieval={self.retrieval}: the frame memory trains in one "
                            "process (DistributedDataParallel would copy it every step); run "
                            "without torchrun or set model.retrieval=0")
        if data is not None and self.retrieval:
            H, W = data.frame_size
            if self.retrieval_frames * self.channels * H * W > MEMORY_BYTES:
                problems.append(f"model.retrieval_frames={self.retrieval_frames}: frames of "
                                f"{H} x {W} x {self.channels} bytes exceed the frame memory's "
                                f"{MEMORY_BYTES / 2**30:.0f} GiB; at most "
                                f"{MEMORY_BYTES // (self.channels * H * W):,}")
        if data is not None:
            H, W = data.frame_size
            if (H % 16 or W % 16) and H >= 1 and W >= 1:
                problems.append(f"data.image_size={data.image_size}, data.image_width="
                                f"{data.image_width}: the {self.backbone} backbone needs height "
                                "and width divisible by 16")
        return problems

    def _memory_outputs(self) -> tuple[str, ...]:
        """The outputs a frame memory composites with (the pasted arm also over a warp)."""
        return ("composite", "warp") if self.retrieval_paste in ARM_PASTES else ("composite",)

    def build(self, image_hw: tuple[int, int]) -> "SVG":
        return SVG(self, image_hw=image_hw)


class SVG(VideoModel):
    """SVG-LP / SVG-FP with optional condition vectors.

    Args:
        config: the model's :class:`SVGConfig` (default: its defaults); keyword ``overrides``
            replace its fields, so ``SVG(width=8, cond_dim=0)`` works without a config object.
        image_hw: frame (H, W); multiples of 16 (64 x 64 in the paper).

    What the options add are parts the model holds: ``head`` (:mod:`vidpred.models.heads`),
    ``points`` (:class:`~vidpred.models.points.ConditionPoints` or None), ``memory``
    (:class:`~vidpred.models.memory.FrameMemory` or None) and ``block``
    (:class:`~vidpred.models.block_layer.BlockLayer` or None).

    Raises:
        ValueError: values or combinations :meth:`SVGConfig.problems` lists (all of them).
    """

    def __init__(self, config: SVGConfig | None = None, *, image_hw: tuple[int, int] = (64, 64),
                 **overrides):
        super().__init__()
        cfg = dataclasses.replace(config or SVGConfig(), **overrides)
        problems = cfg.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.config = cfg
        self.z_dim, self.cond_dim, self.channels = cfg.z_dim, cfg.cond_dim, cfg.channels
        self.cond_kind, self.time_chunk = cfg.cond_kind, cfg.time_chunk
        head = head_class(cfg.output, cfg.retrieval > 0, cfg.retrieval_paste)
        # the order of construction is the order weights are drawn in: kept, so a seed gives
        # the same initial weights as ever
        self.encoder, self.decoder = build_backbone(cfg.backbone, cfg.g_dim, cfg.width, cfg.channels,
                                                    head.raw_channels(cfg.channels), image_hw)
        self.cond_encoder = None
        if cfg.cond_kind == "image" and cfg.cond_dim:
            self.cond_encoder = ImageToVector(cfg.cond_dim, cfg.cond_embed, image_hw)
        c = 2 * (cfg.cond_embed if self.cond_encoder is not None else cfg.cond_dim)
        g, z, rnn = cfg.g_dim, cfg.z_dim, cfg.rnn_size
        self.posterior = GaussianLSTM(g + c, z, rnn, cfg.posterior_layers)
        self.prior = GaussianLSTM(g + c, z, rnn, cfg.prior_layers) if cfg.prior == "learned" else None
        self.frame_predictor = LSTMPredictor(g + z + c, g, rnn, cfg.predictor_layers)
        self.points = ConditionPoints(cfg.cond_dim, cfg.cond_points, self.decoder.stage_channels) \
            if cfg.cond_points else None
        self.memory = FrameMemory(cfg.retrieval, cfg.channels, image_hw,
                                  masked=cfg.retrieval_paste in ARM_PASTES,
                                  budget=cfg.retrieval_frames) if cfg.retrieval else None
        self.head: OutputHead = head(cfg.channels)
        self.head.init_decoder(self.decoder.merge[-1],
                               None if self.points is None else self.points.proj[-1])
        self.block = BlockLayer(cfg.cond_dim, image_hw) if cfg.block_layer and cfg.retrieval \
            else None

    @property
    def conditional(self) -> bool:
        return self.cond_dim > 0

    @property
    def keeps_training_frames(self) -> bool:
        return self.memory is not None

    # ---- pieces ---------------------------------------------------------------------------
    def encode(self, frames: Tensor, skip_frames: int | None = None) -> tuple[Tensor, list[Tensor]]:
        """(B, T, C, H, W) -> h (B, T, g_dim), skips [(B, S, c_i, h_i, w_i)] of the first
        S = ``skip_frames`` frames (default all T), one encoder call per ``time_chunk`` time steps.

        Only the skips the decoder reads are kept: the chunks after the first S frames give just
        h, so their skip maps are neither copied into the output nor given zero gradients.
        """
        T = frames.shape[1]
        S = T if skip_frames is None else min(skip_frames, T)
        k = self.time_chunk or T
        if T > k:
            parts = [self.encode(f, max(0, min(k, S - i)))
                     for i, f in zip(range(0, T, k), frames.split(k, 1))]
            kept = [p[1] for p in parts if p[1][0].shape[1]] or [parts[0][1]]
            return (torch.cat([p[0] for p in parts], 1),
                    [torch.cat(ss, 1) if len(ss) > 1 else ss[0] for ss in zip(*kept)])
        B = frames.shape[0]
        x = frames.flatten(0, 1).contiguous(memory_format=memory_format_of(self.encoder))
        h, skips = self.encoder(x)
        return h.unflatten(0, (B, T)), [s.unflatten(0, (B, T))[:, :S] for s in skips]

    def decode(self, g: Tensor, terms: list[Tensor], background: Tensor,
               extras: StepExtras | None = None) -> Tensor:
        """g (B, T', g_dim), ``decoder.skip_terms`` of S skip frames, background (B, S, C, H, W)
        -> frames (B, T', C, H, W) in [0, 1]; step i reads skip frame and background
        min(i, S-1), and ``extras.at(i)``."""
        extras = extras or StepExtras()
        maps = None
        if extras.points is not None:  # all steps' maps at once: few, larger calls
            B, T = extras.points.shape[:2]
            H, W = background.shape[-2:]
            flat = extras.points.flatten(0, 1)
            maps = [self.points.maps(i, flat, (H >> (3 - i), W >> (3 - i))).unflatten(0, (B, T))
                    for i in range(len(self.decoder.stage_channels))]
        return self._decode(g, terms, background, maps, extras)

    def _decode(self, g: Tensor, terms: list[Tensor], background: Tensor,
                maps: list[Tensor] | None, extras: StepExtras) -> Tensor:
        k = self.time_chunk or g.shape[1]
        if g.shape[1] > k:
            S = background.shape[1]
            # split, not sliced: the backward of a split is one cat, of a slice a zero-filled copy
            parts = zip(*[m.split(k, 1) for m in maps]) if maps is not None else None
            return torch.cat([self._decode(g[:, i:i + k], [t[:, min(i, S - 1):] for t in terms],
                                           background[:, min(i, S - 1):],
                                           None if parts is None else list(next(parts)),
                                           extras.at(slice(i, i + k)))
                              for i in range(0, g.shape[1], k)], 1)
        raw = self.decoder(g, terms, maps)
        return self.head(raw, _skip_sources(background, raw.shape[1]), extras)

    def retrieve(self, cond: Tensor | None, T: int, n_past: int) -> StepExtras:
        """Conditions (B, >= T, D) of a clip -> what the frame memory gives its T-1 steps, the
        clip's own sequence excluded in training: the nearest memory frame of each of frames
        1 .. T-1, the ones steps predict (``retrieved``, (B, T-1, C, H, W) in [0, 1]), and for
        the pasted arm its mask, the mask of the memory frame nearest to each step's source
        frame (context frame min(i, n_past-1)) and the empty scene. Empty without a memory."""
        if self.memory is None:
            return StepExtras()
        index = self.memory.index(cond[:, 1:T], exclude_own=self.training)
        retrieved = self.memory.frames[index].float().div_(255.0)
        if not self.memory.masked:
            return StepExtras(retrieved=retrieved)
        context = self.memory.index(cond[:, :n_past], exclude_own=self.training)
        return StepExtras(None, retrieved, self.memory.arm_masks(index),
                          _skip_sources(self.memory.arm_masks(context), T - 1), self.memory.scene)

    def step_points(self, cond: Tensor | None, T: int, n_past: int) -> Tensor | None:
        """Per-frame condition vectors (B, >= T, D) -> condition points (B, T-1, 2K, 4) of the
        T-1 steps: step i's K points of its target frame i+1, then K of its source frame
        min(i, n_past-1); None without condition points."""
        if self.points is None:
            return None
        p = self.points.locate(cond[:, :T])
        return torch.cat([p[:, 1:], _skip_sources(p[:, :n_past], T - 1)], 2)

    def step_extras(self, cond: Tensor | None, T: int, n_past: int,
                    context: Tensor | None = None) -> StepExtras:
        """The :class:`StepExtras` of a clip's T-1 steps (the block layer reads the context
        frames (B, n_past, C, H, W))."""
        extras = self.retrieve(cond, T, n_past)
        extras.points = self.step_points(cond, T, n_past)
        if self.block is not None:
            # the context frames' arms: step i's source is context frame min(i, n_past - 1)
            arm = extras.source_mask[:, :n_past]
            extras.block_rgb, extras.block_alpha, extras.block_erase = self.block(
                context, cond, T, self.memory.scene, arm)
        return extras

    def block_centres(self, context: Tensor, cond: Tensor, n_future: int) -> Tensor | None:
        """Where the block layer puts the block in each of ``n_future`` predicted frames, as
        :meth:`rollout_steps` draws them from ``context`` (B, n_past, C, H, W) and ``cond``
        (B, >= n_past + n_future, D), whether or not the pasted arm hides it there: (B,
        n_future, 2) pixels, NaN where the context shows not even a glimpse of the block
        (:meth:`vidpred.models.block_layer.BlockLayer.centres`); None without a block layer."""
        if self.block is None:
            return None
        return self.block.centres(context, cond, context.shape[1] + n_future)

    def step_conditions(self, cond: Tensor | None, B: int, T: int, device) -> Tensor:
        """Per-frame conditions (B, T, D) or (B, T, C, H, W) -> step conditions c_t
        (B, T-1, 2D'); empty if the model is unconditional."""
        if self.cond_dim == 0:
            return torch.zeros(B, T - 1, 0, device=device)
        check_conditions(cond, self.cond_kind, self.cond_dim)
        e = embed_conditions(self.cond_encoder, cond[:, :T])
        return torch.cat([e[:, :-1], e[:, 1:]], dim=-1)

    def _prior(self, x: Tensor, state=None):
        if self.prior is None:
            return torch.zeros(*x.shape[:2], self.z_dim, device=x.device), \
                torch.zeros(*x.shape[:2], self.z_dim, device=x.device), None
        return self.prior(x, state)

    def recurrence(self, h_prev: Tensor, c: Tensor, state=None, z: Tensor | None = None):
        """The recurrent part of steps t .. t+T'-1, given as (B, T', ...) tensors: the prior
        p(z_t | x_<t) from (h_{t-1}, c_t), z_t (the given posterior sample, or one drawn from the
        prior when ``z`` is None) and the frame predictor's g_t = LSTM(h_{t-1}, z_t, c_t).

        The one step that teacher-forced training (all steps at once), free-running training
        and rollouts (one step at a time) share.

        Args:
            h_prev: (B, T', g_dim) embeddings of the frames before the steps. c: (B, T', c).
            state: (predictor state, prior state) of the step before, or None at the start.
            z: (B, T', z_dim) or None.

        Returns:
            (g (B, T', g_dim), mu_p, logvar_p (B, T', z_dim), state after the last step).
        """
        pred_state, prior_state = state or (None, None)
        mu_p, logvar_p, prior_state = self._prior(torch.cat([h_prev, c], -1), prior_state)
        if z is None:
            z = reparameterize(mu_p, logvar_p)
        g, pred_state = self.frame_predictor(torch.cat([h_prev, z, c], -1), pred_state)
        return g, mu_p, logvar_p, (pred_state, prior_state)

    # ---- hooks ----------------------------------------------------------------------------
    def prepare(self, train_set, resuming: bool = False) -> str | None:
        """Fill the frame memory from the training split (with ``retrieval``; the split's frames
        and conditions as held by a BAIR-layout dataset, at most ``retrieval_frames`` of them,
        and for the pasted arm the arm's masks it has, else estimated:
        :func:`vidpred.models.memory.moving_masks`), and fit the block layer's dynamics to it
        (with ``block_layer``: :meth:`vidpred.models.block_layer.BlockLayer.fit`, to the true
        block centres the dataset records, else to the block locator's; not when ``resuming``:
        the checkpoint holds the fitted dynamics). Returns the log's lines: frames kept, their
        bytes in a checkpoint, seconds taken; the fit's seconds (resuming: that the fitted
        dynamics come from the checkpoint).

        Raises:
            ConfigError: a memory larger than :data:`MEMORY_BYTES` of frames.
        """
        lines = [self._fill_memory(train_set) if self.memory is not None else None]
        if self.block is not None and resuming:
            lines.append("block layer: its fitted dynamics come from the checkpoint")
        elif self.block is not None:
            lines.append(self.block.fit(train_set.seqs.frames, train_set.seqs.cond,
                                        _block_centres(train_set), train_set.seq_len,
                                        seed=int(torch.initial_seed()) % 2**31))
        lines = [x for x in lines if x]
        return "\n".join(lines) if lines else None

    def _fill_memory(self, train_set) -> str:
        frames = train_set.seqs.frames
        count = frames.shape[0] * frames.shape[1]
        kept = min(count, self.memory.budget or count)
        size = kept * frames[0, 0].numel()
        if size > MEMORY_BYTES:
            raise ConfigError(f"model.retrieval_frames={self.memory.budget}: a memory of "
                              f"{kept:,} frames ({size / 2**30:.1f} GiB) exceeds "
                              f"{MEMORY_BYTES / 2**30:.0f} GiB; set model.retrieval_frames to "
                              "at most "
                              f"{MEMORY_BYTES // frames[0, 0].numel():,} (or model.retrieval=0)")
        start = time.perf_counter()
        self.memory.fill(frames, train_set.seqs.cond,
                         train_set.arm_masks if self.memory.masked else None)
        saved = sum(t.numel() * t.element_size() for t in self.memory.state_dict().values())
        return (f"frame memory: {len(self.memory):,} of the training split's {count:,} frames, "
                f"{saved / 1e6:.0f} MB in each checkpoint, filled in "
                f"{time.perf_counter() - start:.1f} s")

    def prepare_load(self, state_dict: dict) -> None:
        """Rename the weights of checkpoints written before the output heads were parts of their
        own (``retrieval_logits.*`` -> ``head.logits.*``, in place), size the frame memory to
        the checkpoint's (its frames are data) and match the block layer's dynamics to it
        (:meth:`vidpred.models.block_layer.BlockLayer.adopt`).

        Raises:
            ValueError: the checkpoint's memory is empty.
        """
        for name in [k for k in state_dict if k.startswith("retrieval_logits.")]:
            state_dict["head.logits." + name.split(".", 1)[1]] = state_dict.pop(name)
        if self.memory is not None:
            self.memory.adopt(state_dict, "memory.")
        if self.block is not None:
            self.block.adopt(state_dict, "block.")

    # ---- training -------------------------------------------------------------------------
    def forward(self, frames: Tensor, cond: Tensor | None, n_past: int, beta: float,
                teacher_forcing: bool = True) -> StepOutput:
        """One training/validation pass over a window of frames.

        Args:
            frames: (B, T, C, H, W) float in [0, 1], T = n_past + n_future.
            cond: (B, T, cond_dim) vectors or (B, T, cond_dim, H, W) images, float, or None for
                an unconditional model (which ignores any it is given).
            n_past: context frames (>= 1).
            beta: KL weight.
            teacher_forcing: feed ground-truth frames to the predictor and prior at every step
                (everything is batched over time); if False, steps after the context are fed
                the model's own previous prediction (one step at a time).

        Returns:
            :class:`StepOutput`.
        """
        B, T = frames.shape[:2]
        h, skips = self.encode(frames, n_past)
        c = self.step_conditions(cond, B, T, frames.device)
        mu_q, logvar_q, _ = self.posterior(torch.cat([h[:, 1:], c], -1))
        z = reparameterize(mu_q, logvar_q)
        # steps read the skips and background of frame min(t-1, n_past-1): the context frames
        terms = self.decoder.skip_terms(skips)
        background = frames[:, :n_past]
        extras = self.step_extras(cond, T, n_past, frames[:, :n_past])
        if teacher_forcing:
            g, mu_p, logvar_p, _ = self.recurrence(h[:, :-1], c, z=z)
            pred = self.decode(g, terms, background, extras)
        else:
            pred, mu_p, logvar_p = self._free_running(h, z, c, terms, background, n_past, extras)
        kl = gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).mean(0)
        mse = frame_mse(pred, frames[:, 1:])
        loss = mse.mean() + beta * kl.mean()
        return StepOutput(loss, mse, kl, pred)

    def _free_running(self, h, z, c, terms, background, n_past: int, extras: StepExtras):
        """Steps 1..n_past from the context frames at once, then each later step from the
        encoding of the one predicted before it."""
        k = n_past
        ctx = slice(0, k)
        g, mu_p, logvar_p, state = self.recurrence(h[:, ctx], c[:, ctx], z=z[:, ctx])
        preds, mus, logvars = [self.decode(g, terms, background, extras.at(ctx))], [mu_p], [logvar_p]
        last_terms, last_background = [t[:, -1:] for t in terms], background[:, -1:]
        for i in range(k, z.shape[1]):
            h_prev, _ = self.encode(preds[-1][:, -1:], 0)
            step = slice(i, i + 1)
            g, mu_p, logvar_p, state = self.recurrence(h_prev, c[:, step], state, z[:, step])
            mus.append(mu_p)
            logvars.append(logvar_p)
            preds.append(self.decode(g, last_terms, last_background, extras.at(step)))
        return torch.cat(preds, 1), torch.cat(mus, 1), torch.cat(logvars, 1)

    # ---- inference ------------------------------------------------------------------------
    @torch.inference_mode()
    def rollout_steps(self, context: Tensor, cond: Tensor | None, n_future: int,
                      samples: int = 1) -> Iterator[Tensor]:
        """Yield predicted frames one at a time, (B, samples, C, H, W) in [0, 1], z from the prior.

        The context frames warm up the LSTMs (with posterior z, since those frames are observed,
        as in SVG's generation), then each future frame is decoded and re-encoded as the next
        input. All samples of all sequences run as one batch; conditions are embedded step by
        step, so long rollouts hold one frame per sample. Call ``model.eval()`` first so
        BatchNorm uses its running statistics.

        Args:
            context: (B, n_past, C, H, W) in [0, 1].
            cond: conditions of the n_past + n_future frames, or None.
            n_future: frames to predict. samples: futures per sequence.
        """
        B, n_past = context.shape[:2]
        T = n_past + n_future
        if cond is not None and self.cond_dim and cond.shape[1] < T:
            raise ValueError(f"need conditions for {T} frames, got {cond.shape[1]}")
        x = repeat_samples(context, samples)
        h, skips = self.encode(x)
        n = x.shape[0]

        def step_cond(i: int, steps: int = 1) -> Tensor:  # c_{i+1} .. c_{i+steps}
            if self.cond_dim == 0:
                return torch.zeros(n, steps, 0, device=x.device)
            return self.step_conditions(repeat_samples(cond[:, i:i + steps + 1], samples), n,
                                        steps + 1, x.device)

        state = None
        if n_past > 1:
            c = step_cond(0, n_past - 1)
            mu_q, logvar_q, _ = self.posterior(torch.cat([h[:, 1:], c], -1))
            _, _, _, state = self.recurrence(h[:, :-1], c, z=reparameterize(mu_q, logvar_q))
        # step i+1 reads index i; points located, memory frames looked up once per sequence
        # (and repeated per step for the samples)
        extras = self.step_extras(cond, T, n_past, context)
        last_terms = self.decoder.skip_terms([s[:, -1:] for s in skips])  # once per rollout
        background = x[:, -1:]
        h_prev = h[:, -1:]
        for i in range(n_past - 1, T - 1):
            g, _, _, state = self.recurrence(h_prev, step_cond(i), state)
            frame = self.decode(g, last_terms, background, extras.at(slice(i, i + 1)).repeat(samples))
            yield frame[:, 0].unflatten(0, (B, samples))
            if i < T - 2:
                h_prev, _ = self.encode(frame, 0)


def _block_centres(train_set):
    """The split's true block centres and visibility, where its dataset records them."""
    centres = getattr(train_set, "block_centres", None)
    return None if centres is None else centres()


def _skip_sources(x: Tensor, steps: int) -> Tensor:
    """(B, S, ...) -> (B, steps, ...) whose step i is x[:, min(i, S-1)]: a view when S = 1, else
    slicing + expand (whose backward is a sum) rather than an index gather."""
    S = x.shape[1]
    last = x[:, S - 1:S].expand(-1, steps - S + 1, *x.shape[2:])
    return last if S == 1 else torch.cat([x[:, :S - 1], last], 1)


__all__ = ["SVG", "SVGConfig", "StepExtras", "PRIORS", "OUTPUTS", "PASTES", "MEMORY_BYTES"]
