"""Frame encoders/decoders with skip connections for 64x64 frames (Denton & Fergus 2018).

``dcgan64``: 4 x [Conv 4x4 stride 2 -> BatchNorm -> LeakyReLU(0.2)] with w, 2w, 4w, 8w channels,
then Conv 4x4 -> BatchNorm -> tanh to a ``g_dim`` vector; the decoder mirrors it with transposed
convolutions and concatenates the encoder's feature map at every scale.
``vgg64``: VGG-style 3x3 blocks (2, 2, 3, 3 convs; w .. 8w channels), max-pooling down and
nearest-neighbour upsampling up. The paper uses w = 64; ``width`` makes CPU-sized models.

Encoders map (N, C, H, W) -> (h (N, g_dim), skips [4 feature maps at 1/2..1/16 or 1..1/8 scale]).
Decoders map (g (B, T', g_dim), skip terms of S skip frames) -> raw output (B, T', out_channels, H, W)
*before* any output activation (the system chooses sigmoid or mask compositing); see
:class:`_SkipDecoder` for why the skips enter as precomputed terms. The paper's frames are 64 x 64; any
H and W divisible by 16 work (the last encoder conv covers the whole H/16 x W/16 map, e.g. 4 x 4
for 64 x 64, 2 x 4 for the 32 x 64 dance frames).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _head_kernel(image_hw: tuple[int, int]) -> tuple[int, int]:
    H, W = image_hw
    if H % 16 or W % 16 or H < 16 or W < 16:
        raise ValueError(f"the dcgan64/vgg64 backbones need H and W divisible by 16, got {H}x{W}")
    return H // 16, W // 16


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.2, inplace=True))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.2, inplace=True))


def _vgg(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2, inplace=True)]


def _vgg_block(channels: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cin, cout in zip(channels[:-1], channels[1:]):
        layers += _vgg(cin, cout)
    return nn.Sequential(*layers)


class DCGANEncoder(nn.Module):
    def __init__(self, g_dim: int, width: int = 64, in_channels: int = 3,
                 image_hw: tuple[int, int] = (64, 64)):
        super().__init__()
        w = width
        self.stages = nn.ModuleList([_down(in_channels, w), _down(w, 2 * w), _down(2 * w, 4 * w),
                                     _down(4 * w, 8 * w)])
        self.head = nn.Sequential(nn.Conv2d(8 * w, g_dim, _head_kernel(image_hw), 1, 0, bias=False),
                                  nn.BatchNorm2d(g_dim), nn.Tanh())

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        return self.head(x).flatten(1), skips


class _SkipDecoder(nn.Module):
    """What both decoders share: every stage's first layer reads cat(x, skip), a convolution,
    which is linear in its input, so it is split into a part that reads x and a part that reads
    the skip. The skip part (:meth:`skip_terms`) is computed once per distinct skip frame and added
    to every step that uses it: SVG decodes all T-1 steps of a sequence from the skips of at most
    n_past frames, and a rollout from one. Same weights, same result as the concatenation
    (:meth:`forward_concat`, the straightforward form), fewer FLOPs and no skip copies per step.

    Subclasses set ``head``, ``merge`` (the layers that read a concatenation, coarse to fine),
    ``rest`` (what follows each of them), ``pre`` (applied to x before each merge) and
    ``upsamples`` (True when ``pre`` is 2x nearest upsampling and the merges are 3x3 convolutions:
    the x part is then computed as one transposed convolution, see :func:`_upsample_conv`).
    """

    upsamples = False

    def skip_terms(self, skips: list[Tensor]) -> list[Tensor]:
        """Encoder skips [(B, S, c_i, h_i, w_i)] (fine to coarse) -> the skip part of every merge
        layer [(B, S, c'_i, h'_i, w'_i)] (coarse to fine)."""
        terms = []
        for layer, skip in zip(self.merge, reversed(skips)):
            B, S = skip.shape[:2]
            cx = layer.in_channels - skip.shape[2]
            terms.append(_partial_conv(layer, skip.flatten(0, 1), cx, None, bias=False).unflatten(0, (B, S)))
        return terms

    @property
    def stage_channels(self) -> list[int]:
        """Output channels of each merge layer, coarse to fine (the last is the raw output)."""
        return [layer.out_channels for layer in self.merge]

    def forward(self, g: Tensor, terms: list[Tensor], extra: list[Tensor] | None = None) -> Tensor:
        """g (B, T', g_dim) and :meth:`skip_terms` of S skip frames -> raw output (B, T', C, H, W).
        Step i reads skip frame min(i, S-1). ``extra``, if given, holds one map per merge layer,
        (B, T', stage_channels[i], H_i, W_i) with H_i = H / 2^(3-i), added to that layer's output
        (condition points, :mod:`vidpred.models.points`)."""
        B, T = g.shape[:2]
        x = self.head(g.flatten(0, 1)[:, :, None, None])
        for i, (layer, rest, term) in enumerate(zip(self.merge, self.rest, terms)):
            y = _add_per_step(self._x_part(layer, x).unflatten(0, (B, T)), term)
            if extra is not None:
                y = y + extra[i]
            x = rest(y.flatten(0, 1))
        return x.unflatten(0, (B, T))

    def _x_part(self, layer: nn.Module, x: Tensor) -> Tensor:
        """The share of merge ``layer`` that reads pre(x) (its first x.shape[1] input channels),
        with the layer's bias."""
        if self.upsamples and min(x.shape[-2:]) >= UPSAMPLE_CONV_MIN_HW:
            return _upsample_conv(layer, x)
        return _partial_conv(layer, self.pre(x), 0, x.shape[1], bias=True)

    def forward_concat(self, g: Tensor, skips: list[Tensor], extra: list[Tensor] | None = None
                       ) -> Tensor:
        """The straightforward form: g (N, g_dim), skips [(N, c_i, h_i, w_i)] -> (N, C, H, W);
        ``extra`` as in :meth:`forward`, one (N, stage_channels[i], H_i, W_i) map per merge."""
        x = self.head(g[:, :, None, None])
        for i, (layer, rest, skip) in enumerate(zip(self.merge, self.rest, reversed(skips))):
            y = layer(torch.cat([self.pre(x), skip], 1))
            x = rest(y if extra is None else y + extra[i])
        return x


def _partial_conv(layer: nn.Module, x: Tensor, lo: int, hi: int | None, bias: bool) -> Tensor:
    """``layer`` applied with only its input channels lo:hi (the rest taken as zeros)."""
    if isinstance(layer, nn.ConvTranspose2d):  # weight (in, out, kh, kw)
        return F.conv_transpose2d(x, layer.weight[lo:hi], layer.bias if bias else None, layer.stride,
                                  layer.padding, layer.output_padding, layer.groups, layer.dilation)
    return F.conv2d(x, layer.weight[:, lo:hi], layer.bias if bias else None, layer.stride,
                    layer.padding, layer.dilation, layer.groups)


# Kernel of the transposed convolution equal to nearest 2x upsampling + a 3x3 convolution, per axis:
# row k of the 4-tap kernel sums the 3x3 kernel's taps listed as ones (see _upsample_conv).
_UPSAMPLE_TAPS = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))
# below 8 x 8 inputs oneDNN's transposed convolution is slower than upsampling + 3x3 convolution
# (few output positions per kernel launch; benchmarks/train_speed.py times both)
UPSAMPLE_CONV_MIN_HW = 8


def _upsample_conv(layer: nn.Conv2d, x: Tensor) -> Tensor:
    """conv3x3(upsample_nearest_2x(x)) with ``layer``'s first x.shape[1] input channels and its
    bias, computed as one stride-2 transposed convolution with a 4 x 4 kernel.

    Along each axis, output 2p reads upsampled positions 2p-1, 2p, 2p+1 = input p-1, p, p (taps
    W0, W1 + W2) and output 2p+1 reads 2p, 2p+1, 2p+2 = input p, p, p+1 (taps W0 + W1, W2); in the
    transposed convolution's kernel order (k = o + 1 - 2i) that is K = (W2, W1 + W2, W0 + W1, W0).
    Zero padding agrees on both sides (upsampled position -1 or 2H is input -1 or H). 16 instead of
    36 multiply-adds per input position and no upsampled copy; the same function up to float
    rounding (~1e-6 relative). Shapes: x (N, c, H, W) -> (N, out, 2H, 2W).
    """
    w = layer.weight[:, :x.shape[1]]  # (out, c, 3, 3)
    taps = torch.tensor(_UPSAMPLE_TAPS, dtype=w.dtype, device=w.device)
    k = torch.einsum("kr,ls,ocrs->cokl", taps, taps, w)  # (c, out, 4, 4)
    if x.is_contiguous(memory_format=torch.channels_last):
        k = k.contiguous(memory_format=torch.channels_last)
    return F.conv_transpose2d(x, k, layer.bias, stride=2, padding=1)


def _add_per_step(y: Tensor, s: Tensor) -> Tensor:
    """y (B, T', ...) + s (B, S, ...), step i getting s[:, min(i, S-1)] (broadcast, no copies of s)."""
    S = s.shape[1]
    out = y + s[:, S - 1:S]
    if S > 1:
        out[:, :S - 1] += s[:, :S - 1] - s[:, S - 1:S]
    return out


class DCGANDecoder(_SkipDecoder):
    def __init__(self, g_dim: int, width: int = 64, out_channels: int = 3,
                 image_hw: tuple[int, int] = (64, 64)):
        super().__init__()
        w = width
        self.head = nn.Sequential(nn.ConvTranspose2d(g_dim, 8 * w, _head_kernel(image_hw), 1, 0, bias=False),
                                  nn.BatchNorm2d(8 * w), nn.LeakyReLU(0.2, inplace=True))
        self.stages = nn.ModuleList([_up(16 * w, 4 * w), _up(8 * w, 2 * w), _up(4 * w, w)])
        self.out = nn.ConvTranspose2d(2 * w, out_channels, 4, 2, 1)
        self.merge = [st[0] for st in self.stages] + [self.out]  # plain lists: no new parameter names
        self.rest = [st[1:] for st in self.stages] + [nn.Identity()]
        self.pre = nn.Identity()


class VGGEncoder(nn.Module):
    def __init__(self, g_dim: int, width: int = 64, in_channels: int = 3,
                 image_hw: tuple[int, int] = (64, 64)):
        super().__init__()
        w = width
        self.stages = nn.ModuleList([
            _vgg_block([in_channels, w, w]),
            _vgg_block([w, 2 * w, 2 * w]),
            _vgg_block([2 * w, 4 * w, 4 * w, 4 * w]),
            _vgg_block([4 * w, 8 * w, 8 * w, 8 * w]),
        ])
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Conv2d(8 * w, g_dim, _head_kernel(image_hw), 1, 0, bias=False),
                                  nn.BatchNorm2d(g_dim), nn.Tanh())

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        skips = []
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else self.pool(x))
            skips.append(x)
        return self.head(self.pool(x)).flatten(1), skips


class VGGDecoder(_SkipDecoder):
    def __init__(self, g_dim: int, width: int = 64, out_channels: int = 3,
                 image_hw: tuple[int, int] = (64, 64)):
        super().__init__()
        w = width
        self.head = nn.Sequential(nn.ConvTranspose2d(g_dim, 8 * w, _head_kernel(image_hw), 1, 0, bias=False),
                                  nn.BatchNorm2d(8 * w), nn.LeakyReLU(0.2, inplace=True))
        self.stages = nn.ModuleList([
            _vgg_block([16 * w, 8 * w, 8 * w, 4 * w]),
            _vgg_block([8 * w, 4 * w, 4 * w, 2 * w]),
            _vgg_block([4 * w, 2 * w, w]),
        ])
        self.last = nn.Sequential(*_vgg(2 * w, w), nn.Conv2d(w, out_channels, 3, 1, 1))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge = [st[0] for st in self.stages] + [self.last[0]]
        self.rest = [st[1:] for st in self.stages] + [self.last[1:]]
        self.pre = self.up
        self.upsamples = True


BACKBONES = {"dcgan64": (DCGANEncoder, DCGANDecoder), "vgg64": (VGGEncoder, VGGDecoder)}


def build_backbone(name: str, g_dim: int, width: int, in_channels: int = 3,
                   out_channels: int = 3, image_hw: tuple[int, int] = (64, 64)
                   ) -> tuple[nn.Module, nn.Module]:
    """Return (encoder, decoder) for ``dcgan64`` or ``vgg64`` and frames of ``image_hw``.

    Raises:
        ValueError: unknown name, or H/W not divisible by 16.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    enc_cls, dec_cls = BACKBONES[name]
    return (enc_cls(g_dim, width, in_channels, image_hw),
            dec_cls(g_dim, width, out_channels, image_hw))
