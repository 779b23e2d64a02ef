"""Training-clip augmentation: one random transform per clip, the same for all its frames.

A model trained on a few dozen scenes can learn to draw those scenes instead of reading the
first frame it is given. Transforms that change a clip's look but not its task make copying the
first frame's appearance the only way to score:

- ``flip``: half of the clips mirrored left-right, frames and label images together (pixels stay
  paired with their labels; vector conditions such as actions cannot be mirrored, so ``flip``
  needs image conditions);
- ``colour``: the frames' RGB channels permuted (one of the 6 orders), then saturation scaled by
  s ~ U(0.2, 1.2) (a lerp from the pixel's luma, ITU-R BT.601 weights) and brightness by
  b ~ U(0.8, 1.2), clipped to [0, 1]. Labels are untouched: they are drawn in one style
  whatever the scene looks like.

Draws are a pure function of (seed, iteration), made for the whole global batch and cut to the
process's rows, so a resumed run and a run on any number of processes see the same clips.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["AUGMENTS", "ClipAugmenter"]

AUGMENTS = ("none", "flip", "colour", "flip+colour")
_LUMA = (0.299, 0.587, 0.114)


class ClipAugmenter:
    """Applies ``data.augment`` to training batches.

    Args:
        kind: one of :data:`AUGMENTS`.
        batch_size: clips per global batch (draws are made for all of them).
        seed: the run's seed.

    Raises:
        ValueError: an unknown kind.
    """

    def __init__(self, kind: str, batch_size: int, seed: int):
        if kind not in AUGMENTS:
            raise ValueError(f"data.augment must be one of {AUGMENTS}, got {kind!r}")
        self.flip, self.colour = "flip" in kind, "colour" in kind
        self.batch_size, self.seed = batch_size, seed

    def __call__(self, frames: Tensor, cond: Tensor | None, iteration: int,
                 rows: slice = slice(None)) -> tuple[Tensor, Tensor | None]:
        """Augmented copies of one batch.

        Args:
            frames: (B, T, C, H, W) float in [0, 1]; C = 3 for ``colour``.
            cond: (B, T, C', H, W) label images (flipped with their frames), (B, T, D) vectors
                or None.
            iteration: the training iteration (seeds the draws).
            rows: this process's rows of the global batch.

        Returns:
            (frames, cond): new tensors, or the inputs themselves for ``none``; the inputs are
            never modified.

        Raises:
            ValueError: ``flip`` with vector conditions, ``colour`` on frames that are not RGB.
        """
        if not (self.flip or self.colour):
            return frames, cond
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + iteration + 7_919)
        n = self.batch_size
        flip = torch.rand(n, generator=g)[rows] < 0.5
        order = torch.rand(n, 3, generator=g).argsort(1)[rows]
        sat = (0.2 + torch.rand(n, generator=g)[rows]).to(frames)
        bright = (0.8 + 0.4 * torch.rand(n, generator=g)[rows]).to(frames)
        dev = frames.device
        if self.flip:
            # empty condition vectors (action-free data) have nothing to mirror
            if cond is not None and cond.dim() != 5 and cond.shape[-1] > 0:
                raise ValueError("data.augment=flip mirrors label images with their frames; "
                                 "vector conditions (actions) cannot be mirrored: use colour")
            f = flip.to(dev)[:, None, None, None, None]
            frames = torch.where(f, frames.flip(-1), frames)
            if cond is not None and cond.dim() == 5:
                cond = torch.where(f, cond.flip(-1), cond)
        if self.colour:
            if frames.shape[2] != 3:
                raise ValueError(f"data.augment=colour needs RGB frames, got {frames.shape[2]} "
                                 "channels")
            idx = order.to(dev)[:, None, :, None, None].expand_as(frames)
            frames = frames.gather(2, idx)
            luma = torch.tensor(_LUMA, dtype=frames.dtype, device=dev).view(1, 1, 3, 1, 1)
            grey = (frames * luma).sum(2, keepdim=True)
            frames = torch.lerp(grey.expand_as(frames), frames, sat.view(-1, 1, 1, 1, 1))
            frames = (frames * bright.view(-1, 1, 1, 1, 1)).clamp_(0.0, 1.0)
        return frames, cond
