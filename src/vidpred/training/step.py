"""One training step: the optimiser, the batch drawn for an iteration, and ``train_step``.

The training loop (:mod:`vidpred.training.loop`), the speed benchmark and the tests all call
:func:`train_step`, so what is timed and tested is what trains.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..device import autocast
from ..errors import TrainingError
from ..losses import block_weighted_mse


class NonFiniteLoss(TrainingError):
    """The loss of a step is NaN or infinite; ``term`` is ``MSE`` or ``KL``."""

    def __init__(self, term: str, loss: float):
        super().__init__(f"non-finite {term} (loss={loss})")
        self.term, self.loss = term, loss


def make_optimizer(parameters, lr: float) -> torch.optim.Adam:
    """Adam with betas (0.9, 0.999), as in SVG (Denton & Fergus 2018), using PyTorch's fused
    kernel: one multi-tensor update per step instead of a Python loop over the parameters (the
    same update up to float rounding; the state dict has the same format)."""
    return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), fused=True)


class IterationSampler:
    """Batch indices and the teacher-forcing coin as a pure function of the iteration.

    ``draw(it)`` returns (indices (B,) long, u in [0, 1)); the same (seed, it) always gives the
    same draw, which is what makes resume exact without saving a sampler state.
    """

    def __init__(self, n_items: int, batch_size: int, seed: int):
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed

    def draw(self, iteration: int) -> tuple[Tensor, float]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + iteration)
        return (torch.randint(self.n_items, (self.batch_size,), generator=g),
                float(torch.rand((), generator=g)))


@dataclass
class StepFigures:
    """What one step logs: the loss (MSE + beta * KL), the MSE per pixel and the KL in nats per
    predicted frame (summed over z, averaged over the batch), each averaged over the predicted
    frames and, under torchrun, over the processes; ``extra`` are the caller's values reduced in
    the same collective."""

    loss: float
    mse: float
    kl: float
    extra: list[float]


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, frames: Tensor,
               cond: Tensor | None, n_past: int, beta: float, *, teacher_forcing: bool = True,
               grad_clip: float = 0.0, reduce: Callable[[Tensor], Tensor] | None = None,
               extra: Sequence[float] = (), parameters=None, bf16: bool | None = None,
               block_weight: float = 0.0) -> StepFigures:
    """One optimisation step of a CVAE video model on one batch.

    Forward pass (by default bf16 autocast on CUDA, float32 on CPU), loss = mean over predicted
    frames of MSE + beta * KL(q(z_t | x_<=t) || p(z_t | x_<t)) (Denton & Fergus 2018, eq. 2 with
    beta; with ``block_weight`` the MSE term weighs the pushed block's pixels, see
    :func:`vidpred.losses.block_weighted_mse`), backward, optional gradient-norm clipping,
    optimiser step.

    Args:
        model: a :class:`vidpred.models.VideoModel` (or its DistributedDataParallel wrapper) in
            train mode.
        frames: (B, T, C, H, W) float32 in [0, 1] on the model's device, T = n_past + n_future.
        cond: per-frame conditions, (B, T, D) or (B, T, C', H, W), or None (unconditional).
        n_past: context frames. beta: the KL weight of this iteration.
        teacher_forcing: feed ground-truth frames to every step (else the model's own
            predictions after the context).
        grad_clip: max gradient norm (0 = no clipping).
        reduce: averages a 1-d tensor over processes (torchrun); None in one process.
        extra: more floats to reduce in the same collective (e.g. a stop request).
        parameters: what to clip (default ``model.parameters()``).
        bf16: run the forward pass under bf16 autocast (None: on CUDA only; see
            :func:`vidpred.device.use_bf16`).
        block_weight: w > 0 weighs the block's pixels 1 + w times in the loss (the logged MSE
            stays the plain one); 0 = the model's own loss.

    Returns:
        :class:`StepFigures`.

    Raises:
        NonFiniteLoss: a non-finite loss on any process (the weights are left untouched).
    """
    with autocast(frames.device, bf16):
        out = model(frames, cond, n_past, beta, teacher_forcing=teacher_forcing)
        objective = out.loss if not block_weight else \
            block_weighted_mse(out.pred, frames, block_weight)[1] + beta * out.kl.mean()
    figures = torch.stack([objective.detach().float(), out.mse.detach().float().mean(),
                           out.kl.detach().float().mean(),
                           *[torch.tensor(float(v), device=out.loss.device) for v in extra]])
    if reduce is not None:
        figures = reduce(figures)
    loss, mse, kl, *rest = figures.tolist()
    if not math.isfinite(loss):
        raise NonFiniteLoss("MSE" if not math.isfinite(mse) else "KL", loss)
    optimizer.zero_grad(set_to_none=True)
    objective.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(parameters if parameters is not None else model.parameters(),
                                       grad_clip)
    optimizer.step()
    return StepFigures(loss, mse, kl, rest)
