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

from collections.abc import Iterator

import torch
from torch import Tensor

from ..errors import ConfigError
from ..losses import block_weighted_mse, frame_mse, gaussian_kl, reparameterize
from .backbones import build_backbone
from .base import StepOutput, VideoModel, memory_format_of
from .conditions import (
    ImageToVector,
    check_cond_kind,
    check_conditions,
    embed_conditions,
    repeat_samples,
)
from .memory import FrameMemory
from .points import ConditionPoints
from .recurrent import GaussianLSTM, LSTMPredictor
from .warp import warp

PRIORS = ("learned", "fixed")
# the most frames a frame memory holds (the model, every checkpoint and the distances per step
# grow with it): 4 GiB, about 350,000 frames of 64 x 64 RGB
MEMORY_BYTES = 4 * 2**30
OUTPUTS = ("sigmoid", "composite", "warp")


class SVG(VideoModel):
    """SVG-LP / SVG-FP with optional condition vectors.

    Args:
        backbone: ``dcgan64`` or ``vgg64``.
        width: first-stage channels of the backbone (64 in the paper).
        g_dim: frame embedding size. z_dim: latent size. rnn_size: LSTM hidden size.
        predictor_layers, posterior_layers, prior_layers: LSTM depths (paper: 2, 1, 1).
        prior: ``learned`` (SVG-LP) or ``fixed`` (SVG-FP).
        cond_dim: per-frame condition size (0 = unconditional): vector length, or image channels.
        output: ``sigmoid``, ``composite`` or ``warp`` (see :class:`vidpred.config.ModelConfig`
            and :mod:`vidpred.models.warp`).
        channels: image channels.
        cond_kind: ``vector`` ((B, T, cond_dim)) or ``image`` ((B, T, cond_dim, H, W)).
        cond_embed: size of the vector an image condition is embedded into.
        image_hw: frame (H, W); multiples of 16 (64 x 64 in the paper).
        time_chunk: time steps per encoder/decoder call (0 = all); in training, BatchNorm
            statistics are per chunk (see :class:`vidpred.config.ModelConfig`).
        cond_points: K > 0 also draws each frame's condition vector as K Gaussian blobs at
            every decoder stage, for the frame to predict and for the frame the composite copies
            (:mod:`vidpred.models.points`); 0 = SVG's decoder.
        block_weight: w > 0: the loss weighs pixels of a red block 1 + w times
            (:func:`vidpred.losses.block_weighted_mse`); 0 = SVG's loss.
        retrieval: k > 0 gives each predicted frame the training frame whose condition's last
            k entries are nearest (:mod:`vidpred.models.memory`; 3 for BAIR's end-effector
            position) as a third source of the composite: the frame is a softmax-weighted sum
            of the source frame, the drawn frame and the retrieved one, with the weights'
            logits also read from the two source frames by a 3 x 3 convolution. 0 = off.

    Raises:
        ValueError: unknown backbone, prior or output; cond_points with image or no conditions;
            retrieval without vector conditions of at least k entries or without ``composite``.
    """

    def __init__(self, *, backbone: str = "dcgan64", width: int = 16, g_dim: int = 128,
                 z_dim: int = 16, rnn_size: int = 256, predictor_layers: int = 2,
                 posterior_layers: int = 1, prior_layers: int = 1, prior: str = "learned",
                 cond_dim: int = 7, output: str = "composite", channels: int = 3,
                 cond_kind: str = "vector", cond_embed: int = 32,
                 image_hw: tuple[int, int] = (64, 64), time_chunk: int = 4,
                 cond_points: int = 0, block_weight: float = 0.0, retrieval: int = 0):
        super().__init__()
        check_cond_kind(cond_kind)
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.z_dim, self.cond_dim, self.channels = z_dim, cond_dim, channels
        self.cond_kind = cond_kind
        if time_chunk < 0:
            raise ValueError(f"time_chunk must be >= 0, got {time_chunk}")
        self.time_chunk = time_chunk
        self.block_weight = block_weight
        self.composite = output in ("composite", "warp")
        self.flow = output == "warp"
        out_channels = channels + int(self.composite) + 2 * int(self.flow) + int(retrieval > 0)
        self.encoder, self.decoder = build_backbone(backbone, g_dim, width, channels,
                                                    out_channels, image_hw)
        self.cond_encoder = None
        if cond_kind == "image" and cond_dim:
            self.cond_encoder = ImageToVector(cond_dim, cond_embed, image_hw)
        c = 2 * (cond_embed if self.cond_encoder is not None else cond_dim)
        self.posterior = GaussianLSTM(g_dim + c, z_dim, rnn_size, posterior_layers)
        self.prior = GaussianLSTM(g_dim + c, z_dim, rnn_size, prior_layers) if prior == "learned" else None
        self.frame_predictor = LSTMPredictor(g_dim + z_dim + c, g_dim, rnn_size, predictor_layers)
        self.points = None
        if cond_points:
            if cond_kind != "vector" or cond_dim == 0:
                raise ValueError("cond_points needs vector conditions (cond_kind 'vector', "
                                 f"cond_dim > 0), got {cond_kind!r} with cond_dim {cond_dim}")
            self.points = ConditionPoints(cond_dim, cond_points, self.decoder.stage_channels)
        if self.flow:
            self._zero_flow_head(channels + 1)
        self.memory = None
        if retrieval:
            if output != "composite" or cond_kind != "vector" or cond_dim < retrieval:
                raise ValueError(f"retrieval={retrieval} needs output 'composite' and vector "
                                 f"conditions of at least {retrieval} entries, got {output!r} "
                                 f"with {cond_kind} conditions of {cond_dim}")
            self.memory = FrameMemory(retrieval, channels, image_hw)
            # starts at zero: the weights' logits are the decoder's alone
            self.retrieval_logits = torch.nn.Conv2d(2 * channels, out_channels, 3, 1, 1)
            torch.nn.init.zeros_(self.retrieval_logits.weight)
            torch.nn.init.zeros_(self.retrieval_logits.bias)

    def _zero_flow_head(self, first: int) -> None:
        """Start ``warp`` models with zero flow: the output channels from ``first`` on (the
        flow's) get zero weights and bias in the decoder's last layer (and zero condition-point
        projections), so training starts from the plain composite."""
        last = self.decoder.merge[-1]
        with torch.no_grad():
            # ConvTranspose2d weights are (in, out, k, k), Conv2d weights (out, in, k, k)
            w = last.weight[:, first:] if isinstance(last, torch.nn.ConvTranspose2d) else last.weight[first:]
            w.zero_()
            if last.bias is not None:
                last.bias[first:].zero_()
            if self.points is not None:
                self.points.proj[-1][first:].zero_()

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
               points: Tensor | None = None, retrieved: Tensor | None = None) -> Tensor:
        """g (B, T', g_dim), ``decoder.skip_terms`` of S skip frames, background (B, S, C, H, W)
        -> frames (B, T', C, H, W) in [0, 1]; step i reads skip frame and background min(i, S-1).
        ``points`` (B, T', 2K, 4): each step's condition points (:meth:`step_points`);
        ``retrieved`` (B, T', C, H, W): each step's memory frame (:meth:`retrieve`)."""
        maps = None
        if points is not None:  # all steps' maps at once: few, larger calls
            B, T = points.shape[:2]
            H, W = background.shape[-2:]
            flat = points.flatten(0, 1)
            maps = [self.points.maps(i, flat, (H >> (3 - i), W >> (3 - i))).unflatten(0, (B, T))
                    for i in range(len(self.decoder.stage_channels))]
        return self._decode(g, terms, background, maps, retrieved)

    def _decode(self, g: Tensor, terms: list[Tensor], background: Tensor,
                maps: list[Tensor] | None, retrieved: Tensor | None = None) -> Tensor:
        k = self.time_chunk or g.shape[1]
        if g.shape[1] > k:
            S = background.shape[1]
            # split, not sliced: the backward of a split is one cat, of a slice a zero-filled copy
            parts = zip(*[m.split(k, 1) for m in maps]) if maps is not None else None
            return torch.cat([self._decode(g[:, i:i + k], [t[:, min(i, S - 1):] for t in terms],
                                           background[:, min(i, S - 1):],
                                           None if parts is None else list(next(parts)),
                                           None if retrieved is None else retrieved[:, i:i + k])
                              for i in range(0, g.shape[1], k)], 1)
        # the output and the composite are computed in float32 also under bf16 autocast, so
        # frames, losses and the float32 background agree in dtype
        raw = self.decoder(g, terms, maps).float()
        if not self.composite:
            return torch.sigmoid(raw)
        source = _skip_sources(background, raw.shape[1])
        if self.flow:
            raw, flow = raw.split([self.channels + 1, 2], dim=2)
            source = warp(source.flatten(0, 1), torch.tanh(flow).flatten(0, 1)).view_as(source)
        if retrieved is not None:
            return self._composite3(raw, source, retrieved)
        rgb, mask = torch.sigmoid(raw).split([self.channels, 1], dim=2)
        # mask * rgb + (1 - mask) * source in one pass forward and backward
        return torch.lerp(source, rgb, mask)

    def _composite3(self, raw: Tensor, source: Tensor, retrieved: Tensor) -> Tensor:
        """Raw output (B, T', C + 2, H, W) -> softmax(0, l_draw, l_mem)-weighted sum of the source,
        the drawn and the retrieved frame, the logits plus a 3 x 3 convolution of both frames."""
        n = raw.shape[:2]
        seen = torch.cat([retrieved, source], 2).flatten(0, 1).contiguous(
            memory_format=memory_format_of(self.retrieval_logits))
        raw = raw + self.retrieval_logits(seen).unflatten(0, n).float()
        rgb = torch.sigmoid(raw[:, :, :self.channels])
        logits = raw[:, :, self.channels:]
        w = torch.softmax(torch.cat([torch.zeros_like(logits[:, :, :1]), logits], 2), 2)
        return w[:, :, :1] * source + w[:, :, 1:2] * rgb + w[:, :, 2:] * retrieved

    def retrieve(self, cond: Tensor | None, T: int) -> Tensor | None:
        """Conditions (B, >= T, D) of a clip -> the nearest memory frame of each of its frames
        1 .. T-1, the ones steps predict: (B, T-1, C, H, W) in [0, 1], the clip's own sequence
        excluded in training; None without ``retrieval``."""
        if self.memory is None:
            return None
        return self.memory.lookup(cond[:, 1:T], exclude_own=self.training)

    @property
    def conditional(self) -> bool:
        return self.cond_dim > 0

    def prepare(self, train_set) -> None:
        """Store the training split in the frame memory (with ``retrieval``; the split's frames
        and conditions as held by a BAIR-layout dataset).

        Raises:
            ConfigError: a split larger than :data:`MEMORY_BYTES` of frames.
        """
        if self.memory is None:
            return
        frames = train_set.seqs.frames
        size = frames.numel() * frames.element_size()
        if size > MEMORY_BYTES:
            raise ConfigError(f"model.retrieval={self.memory.match}: the training split's "
                              f"{frames.shape[0] * frames.shape[1]:,} frames "
                              f"({size / 2**30:.1f} GiB) exceed the frame memory's "
                              f"{MEMORY_BYTES / 2**30:.0f} GiB; set model.retrieval=0")
        device = self.memory.frames.device
        self.memory.fill(frames.to(device), train_set.seqs.cond.to(device))

    def prepare_load(self, state_dict: dict) -> None:
        """Size the frame memory to a checkpoint's before loading it (its frames are data).

        Raises:
            ValueError: the checkpoint's memory is empty.
        """
        if self.memory is not None:
            self.memory.adopt(state_dict, "memory.")

    def step_conditions(self, cond: Tensor | None, B: int, T: int, device) -> Tensor:
        """Per-frame conditions (B, T, D) or (B, T, C, H, W) -> step conditions c_t
        (B, T-1, 2D'); empty if the model is unconditional."""
        if self.cond_dim == 0:
            return torch.zeros(B, T - 1, 0, device=device)
        check_conditions(cond, self.cond_kind, self.cond_dim)
        e = embed_conditions(self.cond_encoder, cond[:, :T])
        return torch.cat([e[:, :-1], e[:, 1:]], dim=-1)

    def step_points(self, cond: Tensor | None, T: int, n_past: int) -> Tensor | None:
        """Per-frame condition vectors (B, >= T, D) -> condition points (B, T-1, 2K, 4) of the
        T-1 steps: step i's K points of its target frame i+1, then K of its source frame
        min(i, n_past-1); None without ``cond_points``."""
        if self.points is None:
            return None
        p = self.points.locate(cond[:, :T])
        return torch.cat([p[:, 1:], _skip_sources(p[:, :n_past], T - 1)], 2)

    def _prior(self, x: Tensor, state=None):
        if self.prior is None:
            return torch.zeros(*x.shape[:2], self.z_dim, device=x.device), \
                torch.zeros(*x.shape[:2], self.z_dim, device=x.device), None
        return self.prior(x, state)

    # ---- training -------------------------------------------------------------------------
    def forward(self, frames: Tensor, cond: Tensor | None, n_past: int, beta: float,
                teacher_forcing: bool = True) -> StepOutput:
        """One training/validation pass over a window of frames.

        Args:
            frames: (B, T, C, H, W) float in [0, 1], T = n_past + n_future.
            cond: (B, T, cond_dim) vectors or (B, T, cond_dim, H, W) images, float, or None for
                an unconditional model.
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
        points = self.step_points(cond, T, n_past)
        retrieved = self.retrieve(cond, T)
        if teacher_forcing:
            h_in = h[:, :-1]
            g, _ = self.frame_predictor(torch.cat([h_in, z, c], -1))
            mu_p, logvar_p, _ = self._prior(torch.cat([h_in, c], -1))
            pred = self.decode(g, terms, background, points, retrieved)
        else:
            pred, mu_p, logvar_p = self._free_running(h, z, c, terms, background, n_past, points,
                                                      retrieved)
        kl = gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).mean(0)
        if self.block_weight:
            mse, fit = block_weighted_mse(pred, frames, self.block_weight)
        else:
            mse = frame_mse(pred, frames[:, 1:])
            fit = mse.mean()
        return StepOutput(fit + beta * kl.mean(), mse, kl, pred)

    def _free_running(self, h, z, c, terms, background, n_past, points, retrieved=None):
        k = n_past  # steps 1..n_past read ground-truth (context) frames
        h_in = h[:, :k]
        g, pred_state = self.frame_predictor(torch.cat([h_in, z[:, :k], c[:, :k]], -1))
        mu_p, logvar_p, prior_state = self._prior(torch.cat([h_in, c[:, :k]], -1))
        preds = [self.decode(g, terms, background, None if points is None else points[:, :k],
                             None if retrieved is None else retrieved[:, :k])]
        mus, logvars = [mu_p], [logvar_p]
        last_terms, last_background = [t[:, -1:] for t in terms], background[:, -1:]
        for i in range(k, z.shape[1]):
            h_prev, _ = self.encode(preds[-1][:, -1:], 0)
            ci = c[:, i:i + 1]
            g, pred_state = self.frame_predictor(torch.cat([h_prev, z[:, i:i + 1], ci], -1), pred_state)
            mu_p, logvar_p, prior_state = self._prior(torch.cat([h_prev, ci], -1), prior_state)
            mus.append(mu_p)
            logvars.append(logvar_p)
            preds.append(self.decode(g, last_terms, last_background,
                                     None if points is None else points[:, i:i + 1],
                                     None if retrieved is None else retrieved[:, i:i + 1]))
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

        def step_cond(i: int) -> Tensor:  # c_{i+1}: the step from frame i to frame i + 1
            if self.cond_dim == 0:
                return torch.zeros(n, 1, 0, device=x.device)
            return self.step_conditions(repeat_samples(cond[:, i:i + 2], samples), n, 2, x.device)

        pred_state = prior_state = None
        if n_past > 1:
            c = self.step_conditions(repeat_samples(cond[:, :n_past], samples) if self.cond_dim
                                     else None, n, n_past, x.device)
            mu_q, logvar_q, _ = self.posterior(torch.cat([h[:, 1:], c], -1))
            z = reparameterize(mu_q, logvar_q)
            _, pred_state = self.frame_predictor(torch.cat([h[:, :-1], z, c], -1))
            _, _, prior_state = self._prior(torch.cat([h[:, :-1], c], -1))
        # (n, T-1, 2K, 4), step i+1 reads index i; located once per sequence, then repeated
        points = repeat_samples(self.step_points(cond, T, n_past), samples)
        # (B, T-1, C, H, W), step i+1 reads index i; looked up once per sequence
        retrieved = self.retrieve(cond, T)
        last_terms = self.decoder.skip_terms([s[:, -1:] for s in skips])  # once per rollout
        background = x[:, -1:]
        h_prev = h[:, -1:]
        for i in range(n_past - 1, T - 1):
            ci = step_cond(i)
            mu_p, logvar_p, prior_state = self._prior(torch.cat([h_prev, ci], -1), prior_state)
            z = reparameterize(mu_p, logvar_p)
            g, pred_state = self.frame_predictor(torch.cat([h_prev, z, ci], -1), pred_state)
            frame = self.decode(g, last_terms, background,
                                None if points is None else points[:, i:i + 1],
                                repeat_samples(None if retrieved is None else retrieved[:, i:i + 1],
                                               samples))
            yield frame[:, 0].unflatten(0, (B, samples))
            if i < T - 2:
                h_prev, _ = self.encode(frame, 0)


def _skip_sources(x: Tensor, steps: int) -> Tensor:
    """(B, S, ...) -> (B, steps, ...) whose step i is x[:, min(i, S-1)]: a view when S = 1, else
    slicing + expand (whose backward is a sum) rather than an index gather."""
    S = x.shape[1]
    last = x[:, S - 1:S].expand(-1, steps - S + 1, *x.shape[2:])
    return last if S == 1 else torch.cat([x[:, :S - 1], last], 1)

