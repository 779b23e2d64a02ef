"""Output heads: how SVG's decoder output becomes a frame.

The decoder draws ``raw`` (N, channels, H, W) before any activation; a head declares how many
channels it reads (:meth:`OutputHead.raw_channels`) and turns them, with the frame the composite
copies from (``source``: the last context frame), into frames in [0, 1]:

- :class:`SigmoidHead` (``output: sigmoid``, SVG's): the decoder draws the whole frame;
- :class:`CompositeHead` (``composite``): it also draws a mask, frame = mask * drawn +
  (1 - mask) * source, so static background is copied rather than redrawn;
- :class:`WarpHead` (``warp``): the source is first resampled along a flow field the decoder
  also draws (:mod:`vidpred.models.warp`), so moved things keep their pixels;
- :class:`MemoryCompositeHead` (``composite`` with a frame memory, ``retrieval_paste:
  blend``): a third source, the training frame retrieved for the step
  (:mod:`vidpred.models.memory`), in a softmax-weighted sum of source, drawn and retrieved frame;
- :class:`ArmPasteHead` (``retrieval_paste: arm``): the retrieved frame's arm alone, cut out
  by its mask, pasted over the source frame whose own arm is erased (the memory's empty scene
  shows through), and the drawn frame composited over that; with a block layer
  (:mod:`vidpred.models.block_layer`) the context's block is erased too and its layer laid over
  the drawn frame, under the pasted arm;
- :class:`ArmOverHead` (``retrieval_paste: arm_over``): the same, with the pasted arm laid over
  the drawn frame too, so the decoder cannot draw over it: the arm is drawn once, sharp.

Heads compute in float32 (the decoder may run under bf16 autocast), so frames, losses and the
float32 source agree in dtype.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .base import memory_format_of
from .warp import warp


@dataclass
class StepExtras:
    """What the decoder's steps read besides g_t and the skips, each None when the model has no
    use for it: ``points`` (B, T', 2K, 4), the condition points of each step's target and source
    frames (read by the decoder stages); ``retrieved`` (B, T', C, H, W) in [0, 1], each step's
    memory frame; ``retrieved_mask`` (B, T', 1, H, W) in {0, 1}, that frame's arm, and
    ``source_mask`` (B, T', 1, H, W), the arm of the frame the step composites over (the memory
    frame nearest to it); ``scene`` (C, H, W), the memory's empty scene; with a block layer
    (:mod:`vidpred.models.block_layer`) ``block_rgb`` (B, T', C, H, W) and ``block_alpha``
    (B, T', 1, H, W) in [0, 1], the block's layer for each step's target frame, and
    ``block_erase`` (B, 1, 1, H, W) in [0, 1], the context block to erase from the source."""

    points: Tensor | None = None
    retrieved: Tensor | None = None
    retrieved_mask: Tensor | None = None
    source_mask: Tensor | None = None
    scene: Tensor | None = None
    block_rgb: Tensor | None = None
    block_alpha: Tensor | None = None
    block_erase: Tensor | None = None

    _STEPWISE = ("points", "retrieved", "retrieved_mask", "source_mask", "block_rgb",
                 "block_alpha")

    def at(self, steps: slice) -> "StepExtras":
        """The extras of steps ``steps`` (a slice of the time axis)."""
        return dataclasses.replace(self, **{k: None if getattr(self, k) is None
                                            else getattr(self, k)[:, steps]
                                            for k in self._STEPWISE})

    def repeat(self, samples: int) -> "StepExtras":
        """Each sequence's extras repeated for ``samples`` futures (see ``repeat_samples``);
        themselves for one."""
        if samples == 1:
            return self
        per_clip = self._STEPWISE + ("block_erase",)
        return dataclasses.replace(self, **{k: None if getattr(self, k) is None
                                            else getattr(self, k).repeat_interleave(samples, 0)
                                            for k in per_clip})


class OutputHead(nn.Module):
    """Base class. Shapes: raw (B, T', raw_channels, H, W) float, source (B, T', C, H, W) in
    [0, 1], ``extras`` (:class:`StepExtras`) of the same steps -> frames (B, T', C, H, W)
    float32 in [0, 1]."""

    reads_memory = False

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    @staticmethod
    def raw_channels(channels: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_decoder(self, last_layer: nn.Module, point_projection: Tensor | None) -> None:
        """Adjust the decoder's last layer (and the condition points' last projection) at
        construction; nothing by default."""

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        raise NotImplementedError  # pragma: no cover - abstract


class SigmoidHead(OutputHead):
    """frame = sigmoid(raw) (SVG's decoder output)."""

    @staticmethod
    def raw_channels(channels: int) -> int:
        return channels

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        return torch.sigmoid(raw.float())


class CompositeHead(OutputHead):
    """frame = mask * rgb + (1 - mask) * source with (rgb, mask) = sigmoid(raw)."""

    @staticmethod
    def raw_channels(channels: int) -> int:
        return channels + 1

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        rgb, mask = torch.sigmoid(raw.float()).split([self.channels, 1], dim=2)
        return torch.lerp(source, rgb, mask)  # one pass forward and backward


class WarpHead(CompositeHead):
    """The composite over the source warped by tanh(flow), the flow being the raw output's last
    two channels (x, y displacements in ``grid_sample``'s [-1, 1] unit). The flow's share of the
    decoder's last layer starts at zero, so training starts from the plain composite."""

    @staticmethod
    def raw_channels(channels: int) -> int:
        return channels + 3

    def init_decoder(self, last_layer: nn.Module, point_projection: Tensor | None) -> None:
        first = self.channels + 1
        with torch.no_grad():
            # ConvTranspose2d weights are (in, out, k, k), Conv2d weights (out, in, k, k)
            w = last_layer.weight[:, first:] if isinstance(last_layer, nn.ConvTranspose2d) \
                else last_layer.weight[first:]
            w.zero_()
            if last_layer.bias is not None:
                last_layer.bias[first:].zero_()
            if point_projection is not None:
                point_projection[first:].zero_()

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        raw, flow = raw.float().split([self.channels + 1, 2], dim=2)
        warped = warp(source.flatten(0, 1), torch.tanh(flow).flatten(0, 1)).view_as(source)
        return super().forward(raw, warped, extras)


class MemoryCompositeHead(OutputHead):
    """softmax(0, l_draw, l_mem)-weighted sum of the source, the drawn and the retrieved frame;
    the logits (and the drawn colours) are the raw output plus a 3 x 3 convolution of the
    retrieved and source frames that starts at zero (so at first the logits are the decoder's
    alone)."""

    reads_memory = True

    def __init__(self, channels: int):
        super().__init__(channels)
        self.logits = nn.Conv2d(2 * channels, self.raw_channels(channels), 3, 1, 1)
        nn.init.zeros_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)

    @staticmethod
    def raw_channels(channels: int) -> int:
        return channels + 2

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        n, retrieved = raw.shape[:2], extras.retrieved
        seen = torch.cat([retrieved, source], 2).flatten(0, 1).contiguous(
            memory_format=memory_format_of(self.logits))
        raw = raw.float() + self.logits(seen).unflatten(0, n).float()
        rgb = torch.sigmoid(raw[:, :, :self.channels])
        logits = raw[:, :, self.channels:]
        w = torch.softmax(torch.cat([torch.zeros_like(logits[:, :, :1]), logits], 2), 2)
        return w[:, :, :1] * source + w[:, :, 1:2] * rgb + w[:, :, 2:] * retrieved


class ArmPasteHead(CompositeHead):
    """A composite of layers: the source frame with its own arm erased (the empty scene where
    the memory frame nearest to it shows the arm), the retrieved frame's arm pasted where its
    mask is, then the drawn frame over both by the decoder's mask (what moved besides the arm:
    a pushed block, what the arm uncovers). Only arm pixels come from another sequence's frame,
    so its block cannot replace this clip's; the arm is drawn once, by the memory frame."""

    reads_memory = True
    arm_over = False

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        pasted = torch.lerp(_background(source, extras), extras.retrieved, extras.retrieved_mask)
        frame = super().forward(raw, pasted, extras)
        if extras.block_alpha is not None:
            # the block's layer over the drawn frame, under the pasted arm
            frame = torch.lerp(frame, extras.block_rgb,
                               extras.block_alpha * (1 - extras.retrieved_mask))
        return _arm_over(self.arm_over, frame, extras)


class ArmOverHead(ArmPasteHead):
    """:class:`ArmPasteHead` with the pasted arm also laid over the drawn frame: where the
    retrieved arm's mask is, the frame is the retrieved arm alone. The decoder's mask can then
    not blend its own blurred arm over the pasted one (the double, translucent arm), and the
    arm is as sharp as the memory frame it comes from (docs/push-demo.md)."""

    arm_over = True


def _arm_over(over: bool, frame: Tensor, extras: StepExtras) -> Tensor:
    """``frame`` with the retrieved arm laid over it where the mask is, if ``over``."""
    if not over:
        return frame
    return torch.lerp(frame, extras.retrieved, extras.retrieved_mask)


def _background(source: Tensor, extras: StepExtras) -> Tensor:
    """The source frame without its arm (the empty scene there) and, with a block layer,
    without its block."""
    scene = extras.scene.to(source.dtype).expand_as(source)
    erase = extras.source_mask
    if extras.block_erase is not None:
        erase = torch.maximum(erase, extras.block_erase)
    return torch.lerp(source, scene, erase)


class ArmPasteWarpHead(WarpHead):
    """:class:`ArmPasteHead` whose arm-free source is first warped along the decoder's flow (as
    :class:`WarpHead`), so a pushed block can move with its own pixels; the arm is pasted after
    the warp, unmoved."""

    reads_memory = True
    arm_over = False

    def forward(self, raw: Tensor, source: Tensor, extras: StepExtras) -> Tensor:
        erased = _background(source, extras)
        raw, flow = raw.float().split([self.channels + 1, 2], dim=2)
        warped = warp(erased.flatten(0, 1), torch.tanh(flow).flatten(0, 1)).view_as(erased)
        pasted = torch.lerp(warped, extras.retrieved, extras.retrieved_mask)
        return _arm_over(self.arm_over, CompositeHead.forward(self, raw, pasted, extras), extras)


class ArmOverWarpHead(ArmPasteWarpHead):
    """:class:`ArmPasteWarpHead` with the pasted arm laid over the drawn frame too (as
    :class:`ArmOverHead`)."""

    arm_over = True


HEADS = {"sigmoid": SigmoidHead, "composite": CompositeHead, "warp": WarpHead}
PASTES = ("blend", "arm", "arm_over")
ARM_PASTES = ("arm", "arm_over")


def head_class(output: str, memory: bool, paste: str = "blend") -> type[OutputHead]:
    """The head of ``model.output``; with a frame memory, that of ``paste``: ``blend`` (the
    3-source softmax), ``arm`` (the retrieved arm pasted alone, under the drawn frame) or
    ``arm_over`` (pasted alone, over the drawn frame)."""
    if memory and paste in ARM_PASTES:
        if paste == "arm_over":
            return ArmOverWarpHead if output == "warp" else ArmOverHead
        return ArmPasteWarpHead if output == "warp" else ArmPasteHead
    if memory:
        return MemoryCompositeHead
    return HEADS[output]


__all__ = ["StepExtras", "OutputHead", "SigmoidHead", "CompositeHead", "WarpHead",
           "MemoryCompositeHead", "ArmPasteHead", "ArmPasteWarpHead", "ArmOverHead",
           "ArmOverWarpHead", "HEADS", "PASTES", "ARM_PASTES",
           "head_class"]
