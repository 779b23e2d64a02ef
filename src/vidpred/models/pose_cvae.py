"""The pose-conditioned CVAE of the dance task (one first frame + pose labels -> a video), as the
course labs that use this task define it, rebuilt.

Step t (t = 1 .. T-1) predicts frame x_t from the previous frame and the label (pose image or
condition vector) of frame t, with a *spatial* latent z_t of N channels at full resolution:

- RGB encoder:        f_t = E_rgb(x_t)                      (F channels, H x W)
- label encoder:      l_t = E_lab(label_t)                  (L channels)
- Gaussian predictor: q(z_t | x_t, label_t) = N(mu, exp(logvar)) from cat(f_t, l_t) (posterior)
- prior:              p(z_t) = N(0, I)
- decoder fusion:     d_t = Fuse(cat(f_{t-1}, l_t, z_t))     (D channels)
- generator:          x^_t = G(d_t)

f_{t-1} comes from the ground-truth previous frame under teacher forcing and from the model's own
previous prediction otherwise. Everything is stride 1, as in the template. Every ground-truth frame
goes through E_rgb once (the template encodes each frame twice: as current and as previous frame),
and under teacher forcing the predictor, fusion and generator also run over all steps, in calls of
``time_chunk`` time steps (B x time_chunk images).

Loss: mean_t MSE(x^_t, x_t) + beta * mean_t KL(q || N(0, I)), KL summed over N x H x W and
averaged over the batch (the template's KL / batch_size, per step).

Choices that differ from the course template (its known flaws are not reproduced):

- activations are ``LeakyReLU(0.2)``; the template's ``LeakyReLU(True)`` sets the negative slope
  to 1.0, i.e. an identity, so its "residual blocks" were linear;
- the output is bounded to [0, 1]: ``sigmoid`` (the generator draws the frame), ``composite``
  (the generator also draws a mask and x^_t = mask * drawn + (1 - mask) * x_{t-1}) or
  ``composite_first`` (x^_t = mask * drawn + (1 - mask) * x_0, the first frame, whose features
  E_rgb(x_0) are also fed to the decoder fusion so it knows what to cover). With a static camera,
  ``composite_first`` keeps the background pixel-exact over hundreds of frames: errors cannot
  accumulate where the mask is 0, which is most of the frame;
- logvar is bounded smoothly to [-10, 10] so the KL cannot overflow;
- optionally (``appearance_heads`` K > 0) an *appearance code* of the first frame reaches every
  pixel of the decoder fusion: K attention maps over the first frame (softmax over pixels of a
  1 x 1 convolution of cat(f_0, label_0)) pool f_0 into K vectors of F numbers, a linear layer
  (zero-initialised, so training starts from the model without it) maps them to one vector that
  is added to the fusion input at every pixel and step. The stride-1 networks see a few pixels
  around each place; the code tells them what the body and floor of *this* video look like
  wherever the body moves (attention pooling as in Lee et al. 2019, Set Transformer's PMA);
- optionally (``first_label``, with ``composite_first``) the first frame's label features
  E_lab(label_0) also enter the decoder fusion: the composite shows the first frame wherever the
  mask is 0, so the generator has to paint over the body where it stood in frame 0, and the
  label says where that was.

Vector conditions (actions) are tiled over the frame (``cat(cond_{t-1}, cond_t)`` at every pixel)
and read by the same label encoder.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, ClassVar

import torch
from torch import Tensor, nn

from ..fields import AtLeast, OneOf, section_problems
from ..losses import frame_mse, gaussian_kl, reparameterize
from .base import ModelConfig, StepOutput, VideoModel, memory_format_of
from .conditions import COND_KINDS, check_conditions, repeat_samples, vector_to_map

OUTPUTS = ("sigmoid", "composite", "composite_first")


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class ResidualBlock(nn.Module):
    """conv3x3 -> BN -> act -> conv3x3 -> BN, plus the input (1x1 conv if channels change), act."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), _act(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1, bias=False)
        self.act = _act()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.skip(x))


class DepthConvBlock(nn.Module):
    """Depthwise conv3x3 -> pointwise conv1x1 -> BN -> act, residual when channels match."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False),
                                  nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), _act())
        self.residual = cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def _ladder(cin: int, widths: list[int], cout: int) -> nn.Sequential:
    """ResidualBlock/DepthConvBlock pairs through ``widths``, then a 3x3 conv to ``cout``."""
    layers: list[nn.Module] = []
    c = cin
    for w in widths:
        layers += [ResidualBlock(c, w), DepthConvBlock(w, w)]
        c = w
    layers.append(nn.Conv2d(c, cout, 3, 1, 1))
    return nn.Sequential(*layers)


@dataclass
class PoseCVAEConfig(ModelConfig):
    """The pose CVAE's settings: the ``model`` section of a run config with
    ``name: pose_cvae``.

    Attributes:
        frame_channels, label_channels, z_channels, fusion_channels: F, L, N, D (the course
            template's 128, 32, 12, 192): RGB encoder output, label encoder output, latent
            channels per pixel, decoder-fusion output.
        cond_kind: ``image`` (labels (B, T, cond_dim, H, W)) or ``vector`` ((B, T, cond_dim)).
        cond_dim: label image channels or condition vector size (>= 1).
        output: ``sigmoid``, ``composite`` or ``composite_first`` (see the module doc).
        channels: frame channels.
        time_chunk: time steps per network call (0 = all); in training, BatchNorm statistics
            are per chunk.
        appearance_heads: K, attention maps of the first frame's appearance code (0 = none; see
            the module doc).
        first_label: ``composite_first`` only: the first frame's label features enter the
            decoder fusion too (see the module doc).
    """

    name: ClassVar[str] = "pose_cvae"
    frame_channels: Annotated[int, AtLeast(1)] = 128
    label_channels: Annotated[int, AtLeast(1)] = 32
    z_channels: Annotated[int, AtLeast(1)] = 12
    fusion_channels: Annotated[int, AtLeast(1)] = 192
    cond_kind: Annotated[str, OneOf(COND_KINDS)] = "image"
    cond_dim: Annotated[int, AtLeast(1)] = 3
    output: Annotated[str, OneOf(OUTPUTS)] = "sigmoid"
    channels: Annotated[int, AtLeast(1)] = 3
    time_chunk: Annotated[int, AtLeast(0)] = 0
    appearance_heads: Annotated[int, AtLeast(0)] = 0
    first_label: bool = False

    def problems(self, data=None, world_size: int = 1) -> list[str]:
        """Ranges and choices, and ``first_label`` without ``composite_first``."""
        problems = section_problems(self, "model")
        if self.first_label and self.output != "composite_first":
            problems.append("model.first_label=true: only the pose CVAE's composite over the first "
                            "frame reads it (model.output=composite_first); set "
                            "model.first_label=false")
        return problems

    def build(self, image_hw: tuple[int, int]) -> "PoseCVAE":
        return PoseCVAE(self)


class PoseCVAE(VideoModel):
    """The pose-conditioned CVAE (see module doc).

    Args:
        config: the model's :class:`PoseCVAEConfig` (default: its defaults); keyword
            ``overrides`` replace its fields (``PoseCVAE(frame_channels=8, output="composite")``).
        image_hw: unused (every network is stride 1); accepted as every model family takes it.

    Raises:
        ValueError: values or combinations :meth:`PoseCVAEConfig.problems` lists (all of them).
    """

    def __init__(self, config: PoseCVAEConfig | None = None, *,
                 image_hw: tuple[int, int] | None = None, **overrides):
        super().__init__()
        cfg = dataclasses.replace(config or PoseCVAEConfig(), **overrides)
        problems = cfg.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.config = cfg
        self.time_chunk = cfg.time_chunk
        F, L, N, D = cfg.frame_channels, cfg.label_channels, cfg.z_channels, cfg.fusion_channels
        self.cond_kind, self.cond_dim, self.channels, self.z_channels = cfg.cond_kind, cfg.cond_dim, cfg.channels, N
        self.composite = cfg.output.startswith("composite")
        self.anchor_first = cfg.output == "composite_first"
        label_in = cfg.cond_dim if cfg.cond_kind == "image" else 2 * cfg.cond_dim
        self.rgb_encoder = _ladder(cfg.channels, [max(F // 8, 4), max(F // 4, 4), max(F // 2, 4)], F)
        self.label_encoder = _ladder(label_in, [max(L // 2, 4)], L)
        self.gaussian_predictor = nn.Sequential(ResidualBlock(F + L, max(F // 4, 8)),
                                                DepthConvBlock(max(F // 4, 8), max(F // 4, 8)),
                                                nn.Conv2d(max(F // 4, 8), 2 * N, 3, 1, 1))
        self.first_label = cfg.first_label
        fuse_in = F + L + N + (F if self.anchor_first else 0) + (L if cfg.first_label else 0)
        self.decoder_fusion = nn.Sequential(DepthConvBlock(fuse_in, fuse_in),
                                            _ladder(fuse_in, [max(D // 4, 4), max(D // 2, 4)], D))
        self.appearance_heads = cfg.appearance_heads
        if cfg.appearance_heads:
            self.appearance_attention = nn.Conv2d(F + (cfg.cond_dim if cfg.cond_kind == "image" else 0),
                                                  cfg.appearance_heads, 1)
            self.appearance_proj = nn.Linear(cfg.appearance_heads * F, fuse_in)
            nn.init.zeros_(self.appearance_proj.weight)
            nn.init.zeros_(self.appearance_proj.bias)
        self.generator = nn.Sequential(DepthConvBlock(D, D),
                                       _ladder(D, [max(D // 2, 4), max(D // 4, 4)],
                                               cfg.channels + int(self.composite)))

    @property
    def conditional(self) -> bool:
        return True

    def _run(self, net: nn.Module, x: Tensor) -> Tensor:
        """net over (B, T, ...) images, ``time_chunk`` time steps per call."""
        k = self.time_chunk or x.shape[1]
        if x.shape[1] > k:
            return torch.cat([self._run(net, part) for part in x.split(k, 1)], 1)
        B, T = x.shape[:2]
        y = net(x.flatten(0, 1).contiguous(memory_format=memory_format_of(self)))
        return y.unflatten(0, (B, T))

    def label_maps(self, cond: Tensor, hw: tuple[int, int]) -> Tensor:
        """Conditions of frames 0..T-1 -> the label input of steps 1..T-1, (B, T-1, C', H, W)."""
        if self.cond_kind == "image":
            return cond[:, 1:]
        return vector_to_map(torch.cat([cond[:, :-1], cond[:, 1:]], -1), hw)

    def posterior(self, feats: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        stats = self._run(self.gaussian_predictor, torch.cat([feats, labels], 2))
        mu, raw = stats.chunk(2, dim=2)
        return mu, 10.0 * torch.tanh(raw / 10.0)

    def first(self, frame: Tensor, cond: Tensor, feats: Tensor | None = None
              ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """What every step reads of the first frame: its features E_rgb(x_0) (B, 1, F, H, W),
        the frame (B, 1, C, H, W), the appearance code (B, 1, fusion input, 1, 1; None without
        appearance heads) and its label's features E_lab(label_0) (B, 1, L, H, W; None without
        ``first_label``; a vector condition c_0 is read as the pair (c_0, c_0)).

        Args:
            frame: (B, 1, C, H, W) the first frame. cond: the conditions from frame 0 on
                (image labels (B, T', cond_dim, H, W) or vectors; only frame 0's label is read).
            feats: E_rgb(frame) when already computed.
        """
        if feats is None:
            feats = self._run(self.rgb_encoder, frame)
        labels = None
        if self.first_label:
            c0 = cond[:, :1]
            labels = self._run(self.label_encoder, c0 if self.cond_kind == "image" else
                               vector_to_map(torch.cat([c0, c0], -1), frame.shape[-2:]))
        if not self.appearance_heads:
            return feats, frame, None, labels
        f0 = feats[:, 0]
        x = torch.cat([f0, cond[:, 0].to(f0.dtype)], 1) if self.cond_kind == "image" else f0
        weights = self.appearance_attention(x).flatten(2).float().softmax(-1)   # (B, K, HW)
        pooled = torch.einsum("bkn,bfn->bkf", weights, f0.flatten(2).float())  # (B, K, F)
        code = self.appearance_proj(pooled.flatten(1))
        return feats, frame, code[:, None, :, None, None], labels

    def decode(self, prev_feats: Tensor, labels: Tensor, z: Tensor, prev_frames: Tensor,
               first_feats: Tensor, first_frame: Tensor, code: Tensor | None = None,
               first_labels: Tensor | None = None) -> Tensor:
        """Fusion + generator for steps given as (B, T', ...) tensors; ``first_*`` are (B, 1, ...)
        and only read by ``composite_first``; ``code`` is the appearance code (see
        :meth:`first`, whose tuple is the last four arguments)."""
        parts = [prev_feats, labels, z]
        T = prev_feats.shape[1]
        if self.anchor_first:
            parts.append(first_feats.expand(-1, T, -1, -1, -1))
        if first_labels is not None:
            parts.append(first_labels.expand(-1, T, -1, -1, -1))
        x = torch.cat(parts, 2)
        if code is not None:
            x = x + code.to(x.dtype)
        raw = self._run(lambda x: self.generator(self.decoder_fusion(x)), x)
        raw = raw.float()  # float32 output and composite under bf16 autocast too
        if not self.composite:
            return torch.sigmoid(raw)
        rgb, mask = torch.sigmoid(raw).split([self.channels, 1], dim=2)
        source = first_frame if self.anchor_first else prev_frames
        return torch.lerp(source, rgb, mask)  # mask * rgb + (1 - mask) * source, one pass

    # ---- training -------------------------------------------------------------------------
    def forward(self, frames: Tensor, cond: Tensor, n_past: int, beta: float,
                teacher_forcing: bool = True) -> StepOutput:
        """One training/validation pass over a clip.

        Args:
            frames: (B, T, C, H, W) float in [0, 1].
            cond: (B, T, cond_dim, H, W) labels or (B, T, cond_dim) vectors, float.
            n_past: frames that are always fed from the ground truth (>= 1; 1 in the course).
            beta: KL weight.
            teacher_forcing: every step reads the ground-truth previous frame (one batched pass
                over all steps); if False, steps after the context read the model's own previous
                prediction (one step at a time).

        Returns:
            :class:`StepOutput`.
        """
        check_conditions(cond, self.cond_kind, self.cond_dim)
        hw = frames.shape[-2:]
        feats = self._run(self.rgb_encoder, frames)                  # (B, T, F, H, W)
        labels = self._run(self.label_encoder, self.label_maps(cond, hw))   # (B, T-1, L, H, W)
        mu, logvar = self.posterior(feats[:, 1:], labels)
        z = reparameterize(mu, logvar)
        first = self.first(frames[:, :1], cond, feats[:, :1])
        if teacher_forcing:
            pred = self.decode(feats[:, :-1], labels, z, frames[:, :-1], *first)
        else:
            k = n_past
            preds = [self.decode(feats[:, :k], labels[:, :k], z[:, :k], frames[:, :k], *first)]
            for i in range(k, frames.shape[1] - 1):
                prev = preds[-1][:, -1:]
                f_prev = self._run(self.rgb_encoder, prev)
                preds.append(self.decode(f_prev, labels[:, i:i + 1], z[:, i:i + 1], prev, *first))
            pred = torch.cat(preds, 1)
        kl = gaussian_kl(mu.flatten(2), logvar.flatten(2)).mean(0)
        mse = frame_mse(pred, frames[:, 1:])
        return StepOutput(mse.mean() + beta * kl.mean(), mse, kl, pred)

    # ---- inference ------------------------------------------------------------------------
    @torch.inference_mode()
    def rollout_steps(self, context: Tensor, cond: Tensor, n_future: int,
                      samples: int = 1) -> Iterator[Tensor]:
        """Yield predicted frames one at a time, (B, samples, C, H, W) in [0, 1], z ~ N(0, I).

        The last context frame (and, for ``composite_first``, the first) is read. Labels are encoded
        step by step, so a 630-frame rollout holds one frame per sample in memory.
        """
        check_conditions(cond, self.cond_kind, self.cond_dim)
        B, n_past = context.shape[:2]
        if cond.shape[1] < n_past + n_future:
            raise ValueError(f"need conditions for {n_past + n_future} frames, got {cond.shape[1]}")
        hw = context.shape[-2:]
        prev = repeat_samples(context[:, -1:], samples)
        first = self.first(repeat_samples(context[:, :1], samples),
                           repeat_samples(cond[:, :1], samples))
        for t in range(n_past, n_past + n_future):
            c = repeat_samples(cond[:, t - 1:t + 1], samples)
            labels = self._run(self.label_encoder, self.label_maps(c, hw))
            z = torch.randn(prev.shape[0], 1, self.z_channels, *hw, device=prev.device)
            prev = self.decode(self._run(self.rgb_encoder, prev), labels, z, prev, *first)
            yield prev[:, 0].unflatten(0, (B, samples))
