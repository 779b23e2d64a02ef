"""Loss terms of the conditional VAE objective ``MSE + beta * KL``."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .vision import BlockLocator


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor | None = None,
                logvar_p: Tensor | None = None) -> Tensor:
    """KL(q || p) between diagonal Gaussians, summed over the latent dimensions.

    Closed form (Kingma & Welling 2014, appendix B, generalised to a non-standard prior)::

        KL = 0.5 * sum( logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)^2) / exp(logvar_p) - 1 )

    Args:
        mu_q, logvar_q: posterior mean and log-variance, shape (..., Z) or (..., Z, H, W) for a
            spatial latent; float.
        mu_p, logvar_p: prior mean and log-variance of the same shape; ``None`` means N(0, I).

    Returns:
        float32 tensor of shape ``mu_q.shape[:-1]`` for a vector latent: KL in nats per sample.
        For a spatial latent pass ``mu_q.flatten(-3)`` first.
    """
    # float32 whatever the inputs: under bf16 autocast each term exp(logvar) - 1 - logvar would
    # be rounded to 8 bits, and over a spatial latent's thousands of terms the sum drifts by
    # whole nats (below zero near the prior)
    mu_q, logvar_q = mu_q.float(), logvar_q.float()
    if mu_p is None:
        return 0.5 * torch.sum(mu_q.pow(2) + logvar_q.exp() - 1.0 - logvar_q, dim=-1)
    mu_p, logvar_p = mu_p.float(), logvar_p.float()
    return 0.5 * torch.sum(
        logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) * torch.exp(-logvar_p) - 1.0,
        dim=-1,
    )


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """Sample z = mu + sigma * eps with eps ~ N(0, I) (the reparameterization trick).

    Uses the global torch RNG, whose state the training checkpoint saves. eps is drawn in the
    contiguous order of ``mu.shape`` whatever mu's memory layout, so the sample does not depend on
    channels_last.
    """
    eps = torch.randn(mu.shape, dtype=mu.dtype, device=mu.device)
    return mu + eps * torch.exp(0.5 * logvar)


def frame_mse(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error per frame: (B, T, C, H, W) x2 -> (T,), averaged over B, C, H, W.

    ``F.mse_loss`` computes the squared error in one pass forward and one backward (instead of a
    difference, a square and their two backward passes over the whole clip)."""
    return F.mse_loss(pred, target, reduction="none").mean(dim=(0, 2, 3, 4))


def block_weighted_mse(pred: Tensor, frames: Tensor, weight: float) -> tuple[Tensor, Tensor]:
    """The squared error of a clip's predicted frames, plain and with the pixels of the pushed
    block weighed ``1 + weight`` times, from one pass over the error.

    The block is found by the block locator (:class:`vidpred.vision.BlockLocator`), its colour
    read from the clip's frames (any colour none of the scene's surfaces has). A pixel's weight
    is 1 + ``weight`` x the larger of the locator's weights in the frame it predicts and in the
    frame before: where the block is and where it was, so a prediction that leaves a pushed
    block behind costs as much as one that draws it in the wrong place.

    Args:
        pred: (B, T-1, C, H, W) frames 1..T-1 as predicted. frames: (B, T, C, H, W) the clip,
            float in [0, 1]. weight: >= 0.

    Returns:
        (:func:`frame_mse` of pred and frames 1..T-1, (T-1,); the weighted loss, a scalar: the
        mean over everything of squared error x pixel weight).
    """
    frames32 = frames.float()
    mask = BlockLocator.read(frames32).weights(frames32)
    pixel = 1.0 + weight * torch.maximum(mask[:, 1:], mask[:, :-1]).unsqueeze(2)
    err = F.mse_loss(pred, frames[:, 1:], reduction="none")
    return err.mean(dim=(0, 2, 3, 4)), (err * pixel).mean()
