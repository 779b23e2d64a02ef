"""Warping a source frame by a predicted flow field: moved things keep their pixels.

A mask composite (``output: composite``) can only copy the source frame's pixels *in place*: when
the block is pushed, or the arm moves, the decoder must paint it anew at its new place from a
128-number embedding, and the result is a smear that fades after a few frames. With
``output: warp`` the decoder also predicts a displacement field, the source frame (the last
context frame) is resampled along it, and the mask composites the drawn pixels over the *warped*
source: moving an object becomes a matter of predicting where its pixels go, as in the
transformation-based models Visual Foresight plans with (Finn, Goodfellow & Levine, NIPS 2016,
"Unsupervised learning for physical interaction through video prediction": DNA/CDNA/STP heads
that transform the previous frame), here with a dense field sampled bilinearly (Jaderberg et al.,
NIPS 2015, spatial transformers: ``torch.nn.functional.grid_sample``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def warp(source: Tensor, flow: Tensor) -> Tensor:
    """Resample ``source`` at (pixel + flow): output pixel p reads source at p + flow(p).

    Args:
        source: (N, C, H, W) float frames.
        flow: (N, 2, H, W) float displacements (x, y) in the [-1, 1] image coordinate of
            ``grid_sample`` with ``align_corners=False`` (1 = half the image's width or height,
            so 2 / W per pixel along x). Zero flow returns ``source`` unchanged.

    Returns:
        (N, C, H, W): bilinear samples, edge pixels repeated outside the image.
    """
    N, _, H, W = flow.shape
    xs = (torch.arange(W, device=flow.device, dtype=flow.dtype) * 2 + 1) / W - 1
    ys = (torch.arange(H, device=flow.device, dtype=flow.dtype) * 2 + 1) / H - 1
    grid = torch.stack([xs[None, :].expand(H, W), ys[:, None].expand(H, W)], -1)
    return F.grid_sample(source, grid + flow.permute(0, 2, 3, 1), mode="bilinear",
                         padding_mode="border", align_corners=False)
