"""Reference training passes: the straightforward per-step loops users write, run on a
vidpred model's own weights.

They exist to check and to measure the batched passes of :class:`~vidpred.models.SVG` and
:class:`~vidpred.models.PoseCVAE`, not to train with:

- :func:`svg_reference_forward` is SVG's ``train.py`` loop (Denton & Fergus 2018, also the 2022
  course template): for every step t the encoder is called on x_{t-1} (predictor and prior input,
  skips) and again on x_t (posterior input), the LSTMs advance one step at a time, and the
  decoder concatenates the skips. vidpred's additions run in it one step at a time too: the
  condition points' maps are added to that step's decoder stages and the output head (a flow, a
  frame memory) is called on that step alone.
- :func:`pose_cvae_reference_forward` is the 2023/2024 course template's loop: every step encodes
  its previous frame, its current frame and its label separately.

Both are teacher-forced and compute the same objective as the batched ``forward`` (per-frame MSE
averaged over the steps, KL summed over the latent, averaged over the batch and the steps). With
the same noise ``eps`` and BatchNorm in eval mode they give the same loss; in train mode
BatchNorm normalizes each per-step call over B frames instead of B x T, as the templates do.
"""
from __future__ import annotations

import torch
from torch import Tensor

from vidpred.losses import gaussian_kl
from vidpred.models.base import StepOutput, memory_format_of
from vidpred.models.heads import CompositeHead, SigmoidHead
from vidpred.models.pose_cvae import PoseCVAE
from vidpred.models.svg import SVG


def draw_noise(model, frames: Tensor) -> Tensor:
    """The reparameterization noise the batched ``forward`` draws next from the global RNG.

    Returns:
        eps (B, T-1, z_dim) for SVG or (B, T-1, N, H, W) for the pose CVAE, float32; drawing it
        advances the global RNG exactly as the batched pass does, so seeding, drawing and then
        running the reference gives the batched pass's sample.
    """
    B, T = frames.shape[:2]
    if isinstance(model, SVG):
        return torch.randn(B, T - 1, model.z_dim, device=frames.device)
    return torch.randn(B, T - 1, model.z_channels, *frames.shape[-2:], device=frames.device)


def _sample(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    return mu + eps * torch.exp(0.5 * logvar)


def svg_reference_forward(model: SVG, frames: Tensor, cond: Tensor | None, n_past: int,
                          beta: float, eps: Tensor) -> StepOutput:
    """SVG's teacher-forced training pass written as its per-step loop.

    Args:
        model: an :class:`SVG`. frames: (B, T, C, H, W) in [0, 1]. cond: (B, T, D) vectors,
            (B, T, C', H, W) label images, or None. n_past: context frames. beta: KL weight.
        eps: (B, T-1, z_dim) standard-normal noise (see :func:`draw_noise`).

    Returns:
        :class:`StepOutput` (loss, mse (T-1,), kl (T-1,), pred (B, T-1, C, H, W)).
    """
    B, T = frames.shape[:2]
    H, W = frames.shape[-2:]
    fmt = memory_format_of(model.encoder)
    c = model.step_conditions(cond, B, T, frames.device)
    # the condition points, the frame memory's lookups and the block layer of every step (no
    # convolutions), read one step at a time below
    extras = model.step_extras(cond, T, n_past, frames[:, :n_past])
    post_state = prior_state = pred_state = None
    preds, mses, kls = [], [], []
    for t in range(1, T):
        h, skips = model.encoder(frames[:, t - 1].contiguous(memory_format=fmt))
        h_target, _ = model.encoder(frames[:, t].contiguous(memory_format=fmt))
        if t <= n_past:  # skips and background come from the last context frame
            skip, background = skips, frames[:, t - 1]
        ct = c[:, t - 1:t]
        mu_q, logvar_q, post_state = model.posterior(torch.cat([h_target[:, None], ct], -1), post_state)
        mu_p, logvar_p, prior_state = model._prior(torch.cat([h[:, None], ct], -1), prior_state)
        z = _sample(mu_q, logvar_q, eps[:, t - 1:t])
        g, pred_state = model.frame_predictor(torch.cat([h[:, None], z, ct], -1), pred_state)
        step = extras.at(slice(t - 1, t))
        maps = None if step.points is None else [
            model.points.maps(i, step.points[:, 0], (H >> (3 - i), W >> (3 - i)))
            for i in range(len(model.decoder.stage_channels))]
        raw = model.decoder.forward_concat(g[:, 0], skip, maps)
        if isinstance(model.head, SigmoidHead):
            x = torch.sigmoid(raw)
        elif type(model.head) is CompositeHead:
            rgb, mask = torch.sigmoid(raw).split([model.channels, 1], dim=1)
            x = mask * rgb + (1 - mask) * background
        else:  # a flow or a frame memory: the model's own head, called on this step alone
            x = model.head(raw[:, None], background[:, None], step)[:, 0]
        preds.append(x)
        mses.append((x - frames[:, t]).pow(2).mean())
        kls.append(gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).mean())
    mse, kl = torch.stack(mses), torch.stack(kls)
    return StepOutput(mse.mean() + beta * kl.mean(), mse, kl, torch.stack(preds, 1))


def pose_cvae_reference_forward(model: PoseCVAE, frames: Tensor, cond: Tensor, n_past: int,
                                beta: float, eps: Tensor) -> StepOutput:
    """The course template's teacher-forced training loop for the pose CVAE.

    Args:
        model: a :class:`PoseCVAE`. frames: (B, T, C, H, W) in [0, 1]. cond: (B, T, C', H, W)
            labels or (B, T, D) vectors. n_past: unused under teacher forcing (every step reads
            the ground-truth previous frame). beta: KL weight.
        eps: (B, T-1, N, H, W) standard-normal noise (see :func:`draw_noise`).

    Returns:
        :class:`StepOutput`.
    """
    del n_past
    T = frames.shape[1]
    hw = frames.shape[-2:]
    fmt = memory_format_of(model)

    def run(net, x):  # one (B, C, H, W) image batch through a sub-network
        return net(x.contiguous(memory_format=fmt))

    label_maps = model.label_maps(cond, hw)
    first_frame = frames[:, 0]
    first_feats = run(model.rgb_encoder, first_frame)
    _, _, code, first_labels = model.first(frames[:, :1], cond)  # once per clip (or None)
    preds, mses, kls = [], [], []
    for t in range(1, T):
        prev_feats = run(model.rgb_encoder, frames[:, t - 1])
        feats = run(model.rgb_encoder, frames[:, t])
        labels = run(model.label_encoder, label_maps[:, t - 1])
        mu, raw = run(model.gaussian_predictor, torch.cat([feats, labels], 1)).chunk(2, dim=1)
        logvar = 10.0 * torch.tanh(raw / 10.0)
        z = _sample(mu, logvar, eps[:, t - 1])
        parts = [prev_feats, labels, z] + ([first_feats] if model.anchor_first else []) + \
            ([] if first_labels is None else [first_labels[:, 0]])
        fused = torch.cat(parts, 1) + (0 if code is None else code[:, 0])
        out = torch.sigmoid(run(model.generator, run(model.decoder_fusion, fused)))
        if model.composite:
            rgb, mask = out.split([model.channels, 1], dim=1)
            source = first_frame if model.anchor_first else frames[:, t - 1]
            out = mask * rgb + (1 - mask) * source
        preds.append(out)
        mses.append((out - frames[:, t]).pow(2).mean())
        kls.append(gaussian_kl(mu.flatten(1), logvar.flatten(1)).mean())
    mse, kl = torch.stack(mses), torch.stack(kls)
    return StepOutput(mse.mean() + beta * kl.mean(), mse, kl, torch.stack(preds, 1))


def reference_forward(model, frames: Tensor, cond: Tensor | None, n_past: int, beta: float,
                      eps: Tensor) -> StepOutput:
    """Dispatch to the reference loop of the model's family.

    Raises:
        TypeError: a model without a reference loop.
    """
    if isinstance(model, SVG):
        return svg_reference_forward(model, frames, cond, n_past, beta, eps)
    if isinstance(model, PoseCVAE):
        return pose_cvae_reference_forward(model, frames, cond, n_past, beta, eps)
    raise TypeError(f"no reference loop for {type(model).__name__}")
