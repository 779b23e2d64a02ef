"""Pluggable per-frame conditions: vectors (actions, end-effector positions) or images (pose
labels), turned into what each model consumes.

A dataset gives conditions as either

- ``vector``: float (B, T, D), e.g. BAIR's action (4) + end-effector position (3), D = 7;
- ``image``:  float (B, T, C, H, W) in [0, 1], e.g. a pose-skeleton rendering, C = 3.

SVG's LSTMs need a vector per frame: :class:`ImageToVector` embeds an image condition with a
small strided CNN (the identity keeps vector conditions as they are). The pose CVAE's
convolutional label encoder needs a map per frame: :func:`vector_to_map` tiles a vector over the
frame, so the same label encoder reads either kind.
"""
from __future__ import annotations

from torch import Tensor, nn

COND_KINDS = ("vector", "image")


def check_cond_kind(kind: str) -> None:
    if kind not in COND_KINDS:
        raise ValueError(f"cond_kind must be one of {COND_KINDS}, got {kind!r}")


class ImageToVector(nn.Module):
    """Condition image (N, C, H, W) -> vector (N, out_dim).

    Four [Conv 4x4 stride 2 -> BatchNorm -> LeakyReLU(0.2)] stages (width w, 2w, 4w, 4w) and a
    linear layer over the flattened (H/16, W/16) map, so where a limb is stays in the vector.
    H and W must be multiples of 16.
    """

    def __init__(self, channels: int, out_dim: int, image_hw: tuple[int, int], width: int = 16):
        super().__init__()
        H, W = image_hw
        if H % 16 or W % 16:
            raise ValueError(f"image conditions need H and W divisible by 16, got {H}x{W}")
        w = width
        layers: list[nn.Module] = []
        for cin, cout in ((channels, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, inplace=True)]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(4 * w * (H // 16) * (W // 16), out_dim), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x).flatten(1))


def embed_conditions(encoder: nn.Module | None, cond: Tensor) -> Tensor:
    """Per-frame conditions (B, T, ...) -> vectors (B, T, D'), all frames in one encoder call.
    ``encoder`` None means vector conditions used as they are."""
    if encoder is None:
        return cond
    B, T = cond.shape[:2]
    return encoder(cond.flatten(0, 1)).unflatten(0, (B, T))


def vector_to_map(v: Tensor, hw: tuple[int, int]) -> Tensor:
    """(..., D) -> (..., D, H, W): the vector repeated at every pixel (a view, no copy)."""
    return v[..., None, None].expand(*v.shape, *hw)


def check_conditions(cond: Tensor | None, kind: str, dim: int) -> None:
    """Raise ValueError unless ``cond`` has the shape a model with (kind, dim) expects."""
    if dim == 0:
        return
    want = "(B, T, %d)" % dim if kind == "vector" else "(B, T, %d, H, W)" % dim
    ok = cond is not None and (
        (kind == "vector" and cond.dim() == 3 and cond.shape[-1] == dim)
        or (kind == "image" and cond.dim() == 5 and cond.shape[2] == dim))
    if not ok:
        got = None if cond is None else tuple(cond.shape)
        raise ValueError(f"model expects {kind} conditions of shape {want}, got {got}")


def repeat_samples(x: Tensor | None, samples: int) -> Tensor | None:
    """(B, ...) -> (B * samples, ...), each item repeated ``samples`` times in a row (``x``
    itself for one sample)."""
    return x if x is None or samples == 1 else x.repeat_interleave(samples, 0)


__all__ = ["COND_KINDS", "ImageToVector", "embed_conditions", "vector_to_map",
           "check_conditions", "repeat_samples", "check_cond_kind"]

