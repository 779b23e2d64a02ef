"""Precise BatchNorm statistics: the running mean and variance recomputed for the final weights.

In training mode a BatchNorm layer normalises with the statistics of the current batch and keeps
an exponential moving average of them (momentum 0.1, so about the last 10 batches) for
evaluation. With a small batch and weights that moved until the last step, that average is
noisy and partly stale, and the evaluation-mode network differs from the one that was trained:
Wu & Johnson, "Rethinking 'Batch' in BatchNorm" (2021), sec. 3, call the fix *precise BN* —
average the statistics of many batches through the final, frozen weights. Here the batches are
rolled out as at validation and test time: free-running (each predicted frame fed back), since
the layers of a predictor see its own predictions then, not the ground truth.

The pass itself is :func:`torch.optim.swa_utils.update_bn` (reset the statistics, momentum None
for a cumulative average, forward passes under ``no_grad``).
"""
from __future__ import annotations

import torch
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim.swa_utils import update_bn

from ..device import autocast, to_device
from ..progress import progress_bar
from .step import IterationSampler

__all__ = ["recompute_batchnorm_stats"]


class _FreeRunning(torch.nn.Module):
    """The model's training forward pass (free-running) on the clips whose indices it gets."""

    def __init__(self, model: torch.nn.Module, dataset, n_past: int,
                 device: torch.device, bf16: bool | None):
        super().__init__()
        self.model, self.dataset, self.n_past = model, dataset, n_past
        self.device, self.bf16 = device, bf16

    def forward(self, indices: torch.Tensor) -> None:
        frames, cond = to_device(self.dataset.batch(indices), self.device)
        with autocast(self.device, self.bf16):
            self.model(frames, cond, self.n_past, 0.0,
                       teacher_forcing=False)


def recompute_batchnorm_stats(model: torch.nn.Module, dataset, n_past: int, *, batches: int,
                              batch_size: int, seed: int = 0,
                              device: torch.device | str = "cpu", bf16: bool | None = None,
                              progress: bool = False) -> int:
    """Replace the running mean and variance of every BatchNorm layer of ``model`` by their
    average over ``batches`` training batches rolled out free-running (precise BN, Wu & Johnson
    2021). Weights, gradients and the caller's random state are left as they were; the model
    keeps its train/eval mode.

    Args:
        model: a :class:`vidpred.models.VideoModel` on ``device`` (not a DDP wrapper: under
            torchrun every rank runs the same batches and gets the same statistics).
        dataset: a training split (``batch(indices)`` -> frames (B, T, C, H, W) float32 in
            [0, 1] and conditions).
        n_past: context frames of a clip; the rest are predicted free-running.
        batches, batch_size: how many batches of how many clips (drawn with ``seed``).
        bf16: the forward pass under bf16 autocast (None: on CUDA only), as in training.
        progress: a progress bar over the batches.

    Returns:
        The number of BatchNorm layers updated (0 when the model has none or ``batches`` is 0;
        nothing is run then).
    """
    layers = sum(isinstance(m, _BatchNorm) for m in model.modules())
    if not layers or batches <= 0:
        return 0
    dev = torch.device(device)
    # a sampler seeded apart from the training loop's, so the clips are not its first batches
    sampler = IterationSampler(len(dataset), batch_size, seed + 1)
    loader = progress_bar((sampler.draw(i)[0] for i in range(batches)), total=batches,
                          desc="BatchNorm statistics", unit="batch", disable=not progress)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)  # the posterior's noise: the same statistics on every rerun
        update_bn(loader, _FreeRunning(model, dataset, n_past, dev, bf16))
    return layers
