"""Frame-quality metrics on (B, T, C, H, W) tensors in [0, 1], and the SVG sampling protocol.

- PSNR per frame: 10 * log10(1 / MSE) in dB with data range 1, MSE over C, H, W of one frame.
- SSIM per frame: Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
  K2 = 0.03, data range 1, averaged over the valid (unpadded) window positions and channels —
  scikit-image's ``structural_similarity(data_range=1, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, channel_axis=0)``. Computed by ``pytorch_msssim``.
- Best-of-N (Denton & Fergus 2018): for each sequence, the sample whose metric averaged over time
  is best (:func:`best_sample`).
"""
from __future__ import annotations

import torch
from pytorch_msssim import ssim as _ssim
from torch import Tensor

MIN_MSE = 1e-10  # PSNR of a perfect frame is capped at 100 dB instead of infinity


def _check(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape or pred.dim() != 5:
        raise ValueError(f"expected two (B, T, C, H, W) tensors of one shape, got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB per frame: (B, T, C, H, W) x2 -> (B, T) float32 (MSE accumulated in float64)."""
    _check(pred, target)
    mse = (pred.float() - target.float()).pow(2).mean(dim=(2, 3, 4), dtype=torch.float64)
    return (10.0 * torch.log10(1.0 / mse.clamp_min(MIN_MSE))).float()


def ssim(pred: Tensor, target: Tensor, chunk: int = 256) -> Tensor:
    """SSIM per frame: (B, T, C, H, W) x2 -> (B, T) float32.

    Frames are processed ``chunk`` at a time in float32 (memory stays bounded for many samples;
    agreement with scikit-image's float64 result is ~1e-6). Frames must be at least 11 pixels on
    each side.
    """
    _check(pred, target)
    B, T = pred.shape[:2]
    p, t = pred.flatten(0, 1), target.flatten(0, 1)
    values = [_ssim(p[i:i + chunk].float(), t[i:i + chunk].float(), data_range=1.0,
                    size_average=False, win_size=11, win_sigma=1.5, K=(0.01, 0.03))
              for i in range(0, len(p), chunk)]
    return torch.cat(values).float().view(B, T)


def best_sample(per_frame: Tensor, scored: int | None = None) -> Tensor:
    """SVG's best-sample protocol: (B, S, T) metric -> (B,) index of the sample with the highest
    mean over frames 1..``scored`` (default all T), per sequence."""
    return per_frame[:, :, :scored].mean(dim=2).argmax(dim=1)


def pick(per_frame: Tensor, index: Tensor) -> Tensor:
    """(B, S, T) metric, (B,) sample per sequence -> (B, T)."""
    return per_frame[torch.arange(per_frame.shape[0]), index]


def best_of_n(per_frame: Tensor, scored: int | None = None) -> Tensor:
    """(B, S, T) metric -> (B, T) of each sequence's best sample by that same metric
    (:func:`best_sample`)."""
    return pick(per_frame, best_sample(per_frame, scored))


def sample_diversity(samples: Tensor) -> Tensor:
    """Mean per-pixel standard deviation across samples: (B, S, T, C, H, W) -> (B,)."""
    if samples.shape[1] < 2:
        return torch.zeros(samples.shape[0])
    return samples.std(dim=1).mean(dim=(1, 2, 3, 4))
