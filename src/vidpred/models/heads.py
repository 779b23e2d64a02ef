"""Output heads: how SVG's decoder output becomes a frame.

The decoder draws ``raw`` (N, channels, H, W) before any activation; a head declares how many
channels it reads (:meth:`OutputHead.raw_channels`) and turns them, with the frame the composite
copies from (``source``: the last context frame), into frames in [0, 1]:

- :class:`SigmoidHead` (``output: sigmoid``, SVG's): the decoder draws the whole frame;
- :class:`CompositeHead` (``composite``): it also draws a mask, frame = mask * drawn +
  (1 - mask) * source, so static background is copied rather than redrawn;
- :class:`WarpHead` (``warp``): the source is first resampled along a flow field the decoder
  also draws (:mod:`vidpred.models.warp`), so moved things keep their pixels;
- :class:`MemoryCompositeHead` (``composite`` with a frame memory): a third source, the
  training frame retrieved for the step (:mod:`vidpred.models.memory`), in a softmax-weighted
  sum of source, drawn and retrieved frame.

Heads compute in float32 (the decoder may run under bf16 autocast), so frames, losses and the
float32 source agree in dtype.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import memory_format_of
from .warp import warp


class OutputHead(nn.Module):
    """Base class. Shapes: raw (B, T', raw_channels, H, W) float, source (B, T', C, H, W) in
    [0, 1], retrieved (B, T', C, H, W) in [0, 1] or None -> frames (B, T', C, H, W) float32 in
    [0, 1]."""

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

    def forward(self, raw: Tensor, source: Tensor, retrieved: Tensor | None = None) -> Tensor:
        raise NotImplementedError  # pragma: no cover - abstract


class SigmoidHead(OutputHead):
    """frame = sigmoid(raw) (SVG's decoder output)."""

    @staticmethod
    def raw_channels(channels: int) -> int:
        return channels

    def forward(self, raw: Tensor, source: Tensor, retrieved: Tensor | None = None) -> Tensor:
        return torch.sigmoid(raw.float())


class CompositeHead(OutputHead):
    """frame = mask * rgb + (1 - mask) * source with (rgb, mask) = sigmoid(raw)."""

    @staticmethod
    def raw_channels(channels: int) -> int:
        return channels + 1

    def forward(self, raw: Tensor, source: Tensor, retrieved: Tensor | None = None) -> Tensor:
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

    def forward(self, raw: Tensor, source: Tensor, retrieved: Tensor | None = None) -> Tensor:
        raw, flow = raw.float().split([self.channels + 1, 2], dim=2)
        warped = warp(source.flatten(0, 1), torch.tanh(flow).flatten(0, 1)).view_as(source)
        return super().forward(raw, warped)


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

    def forward(self, raw: Tensor, source: Tensor, retrieved: Tensor | None = None) -> Tensor:
        n = raw.shape[:2]
        seen = torch.cat([retrieved, source], 2).flatten(0, 1).contiguous(
            memory_format=memory_format_of(self.logits))
        raw = raw.float() + self.logits(seen).unflatten(0, n).float()
        rgb = torch.sigmoid(raw[:, :, :self.channels])
        logits = raw[:, :, self.channels:]
        w = torch.softmax(torch.cat([torch.zeros_like(logits[:, :, :1]), logits], 2), 2)
        return w[:, :, :1] * source + w[:, :, 1:2] * rgb + w[:, :, 2:] * retrieved


HEADS = {"sigmoid": SigmoidHead, "composite": CompositeHead, "warp": WarpHead}


def head_class(output: str, memory: bool) -> type[OutputHead]:
    """The head of ``model.output`` (with a frame memory: the memory's composite)."""
    return MemoryCompositeHead if memory else HEADS[output]


__all__ = ["OutputHead", "SigmoidHead", "CompositeHead", "WarpHead", "MemoryCompositeHead",
           "HEADS", "head_class"]
