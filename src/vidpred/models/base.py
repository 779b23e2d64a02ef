"""What every vidpred model shares: its family's config section, the training-step output and
rollouts built from a step-by-step generator, so a short evaluation rollout and a 630-frame
streamed one are the same code."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn


@dataclass
class ModelConfig:
    """Base of a model family's settings, the ``model`` section of a run config (nanoGPT's
    ``GPTConfig`` beside ``GPT``): each family's dataclass (:class:`vidpred.models.svg.SVGConfig`,
    :class:`vidpred.models.pose_cvae.PoseCVAEConfig`) is the one home of its fields, their
    defaults and checks, and builds its model.

    Every family has the fields ``channels``, ``cond_kind``, ``cond_dim``, ``output`` and
    ``time_chunk``, which the run config checks against the data (conditions a layout gives,
    colour augmentation).
    """

    name: ClassVar[str] = ""

    def problems(self, data=None, world_size: int = 1) -> list[str]:  # pragma: no cover
        """Every problem with the values, one line each naming the key; with ``data`` (a
        :class:`vidpred.config.DataConfig`) also what that data cannot give; ``world_size``:
        processes under torchrun."""
        raise NotImplementedError

    def build(self, image_hw: tuple[int, int]) -> "VideoModel":  # pragma: no cover - abstract
        """The model, for frames of ``image_hw`` (H, W) pixels."""
        raise NotImplementedError


@dataclass
class StepOutput:
    """What one training/validation pass returns.

    Attributes:
        loss: scalar objective (MSE + beta * KL).
        mse: (T-1,) MSE per predicted step, averaged over batch and pixels.
        kl: (T-1,) KL per step in nats, summed over the latent, averaged over the batch.
        pred: (B, T-1, C, H, W) predicted frames x^_1 .. x^_{T-1} in [0, 1].
    """

    loss: Tensor
    mse: Tensor
    kl: Tensor
    pred: Tensor


class VideoModel(nn.Module):
    """Base class: subclasses implement ``forward`` (a training pass returning
    :class:`StepOutput`), ``rollout_steps`` (a generator of predicted frames) and
    ``conditional``; the hooks :meth:`prepare` and :meth:`prepare_load` are no-ops unless a
    model keeps data of its own (a frame memory)."""

    @property
    def conditional(self) -> bool:  # pragma: no cover - abstract
        """Whether the model reads per-frame conditions (an unconditional model ignores the
        ``cond`` it is given)."""
        raise NotImplementedError

    @property
    def keeps_training_frames(self) -> bool:
        """Whether the model holds frames of its training split (a frame memory): figures on
        that split would copy the answers. False by default."""
        return False

    def prepare(self, train_set, resuming: bool = False) -> str | None:
        """Before training: take what the model keeps of the training split (a
        :class:`vidpred.data.base.VideoDataset`) and return a line for the log saying what;
        nothing by default. ``resuming``: a checkpoint will be loaded next, so what it holds in
        full need not be computed."""

    def prepare_load(self, state_dict: dict) -> None:
        """Before ``load_state_dict``: size data buffers to a checkpoint's; nothing by default.

        Raises:
            ValueError: the checkpoint cannot fill the model's data (named in the message).
        """

    def block_centres(self, context: Tensor, cond: Tensor | None,
                      n_future: int) -> Tensor | None:
        """Where the model places the pushed block in each of ``n_future`` predicted frames,
        (B, n_future, 2) pixels, seen or hidden; None for a model that keeps no such place
        (the default)."""
        return None

    def rollout_steps(self, context: Tensor, cond: Tensor | None, n_future: int,
                      samples: int = 1) -> Iterator[Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.inference_mode()
    def rollout(self, context: Tensor, cond: Tensor | None, n_future: int, samples: int = 1) -> Tensor:
        """Sample futures autoregressively with z from the prior (call ``model.eval()`` first).

        Args:
            context: (B, n_past, C, H, W) in [0, 1].
            cond: conditions for the n_past + n_future frames — (B, T, D) vectors or
                (B, T, C', H, W) images — or None for an unconditional model.
            n_future: frames to predict. samples: futures per sequence, run as one batch.

        Returns:
            (B, samples, n_future, C, H, W) float in [0, 1].
        """
        return torch.stack(list(self.rollout_steps(context, cond, n_future, samples)), 2)


def memory_format_of(module: nn.Module) -> torch.memory_format:
    """channels_last if the module's first 4-d weight is stored that way, else contiguous."""
    for w in module.parameters():
        if w.dim() == 4:
            if w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous():
                return torch.channels_last
            return torch.contiguous_format
    return torch.contiguous_format
