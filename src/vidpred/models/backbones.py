"""Frame encoders/decoders with skip connections for 64x64 frames (Denton & Fergus 2018).

``dcgan64``: 4 x [Conv 4x4 stride 2 -> BatchNorm -> LeakyReLU(0.2)] with w, 2w, 4w, 8w channels,
then Conv 4x4 -> BatchNorm -> tanh to a ``g_dim`` vector; the decoder mirrors it with transposed
convolutions and concatenates the encoder's feature map at every scale.
``vgg64``: VGG-style 3x3 blocks (2, 2, 3, 3 convs; w .. 8w channels), max-pooling down and
nearest-neighbour upsampling up. The paper uses w = 64; ``width`` makes CPU-sized models.

Encoders map (N, C, H, W) -> (h (N, g_dim), skips [4 feature maps at 1/2..1/16 or 1..1/8 scale]).
Decoders map (g (N, g_dim), skips) -> raw output (N, out_channels, H, W) *before* any output
activation (the system chooses sigmoid or mask compositing). The paper's frames are 64 x 64; any
H and W divisible by 16 work (the last encoder conv covers the whole H/16 x W/16 map, e.g. 4 x 4
for 64 x 64, 2 x 4 for the 32 x 64 dance frames).
"""
from __future__ import annotations

import torch
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


class DCGANDecoder(nn.Module):
    def __init__(self, g_dim: int, width: int = 64, out_channels: int = 3,
                 image_hw: tuple[int, int] = (64, 64)):
        super().__init__()
        w = width
        self.head = nn.Sequential(nn.ConvTranspose2d(g_dim, 8 * w, _head_kernel(image_hw), 1, 0, bias=False),
                                  nn.BatchNorm2d(8 * w), nn.LeakyReLU(0.2, inplace=True))
        self.stages = nn.ModuleList([_up(16 * w, 4 * w), _up(8 * w, 2 * w), _up(4 * w, w)])
        self.out = nn.ConvTranspose2d(2 * w, out_channels, 4, 2, 1)

    def forward(self, g: Tensor, skips: list[Tensor]) -> Tensor:
        x = self.head(g[:, :, None, None])
        for stage, skip in zip(self.stages, reversed(skips[1:])):
            x = stage(torch.cat([x, skip], 1))
        return self.out(torch.cat([x, skips[0]], 1))


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


class VGGDecoder(nn.Module):
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

    def forward(self, g: Tensor, skips: list[Tensor]) -> Tensor:
        x = self.head(g[:, :, None, None])
        for stage, skip in zip(self.stages, reversed(skips[1:])):
            x = stage(torch.cat([self.up(x), skip], 1))
        return self.last(torch.cat([self.up(x), skips[0]], 1))


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
