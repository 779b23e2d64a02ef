"""The block locator: where a coloured object (the push scene's block) is in frames, found by its
colour alone.

Colours are compared as chromaticity, chroma = rgb / (r + g + b), which shading does not change
(a face in shadow has the chroma of a lit one); pixels darker than r + g + b = :data:`BRIGHT`
count in part, since their chroma is unreliable. The scene's own surfaces have the chromas of
:data:`PUSH_SCENE` (grey: the white table, the dark floor, the grey parts of the robot; the
green background; the blue of the arm). A blend of two surfaces, as at an anti-aliased edge, has
a chroma on the segment between theirs, so the scene's colours are those segments: a pixel is
*foreign* when its chroma is at least :data:`FOREIGN` from every one of them.

The problem is well posed because the push data's block colours keep at least
:data:`MIN_SEPARATION` from the scene's colours (:func:`scene_distance`;
:func:`vidpred.data.sim_push.block_colour`): in frames that show the block, it is the one compact
region of foreign pixels, and its colour is their most common chroma. The locator:

1. reads the block's colour from frames known to be true (:meth:`BlockLocator.read`: a
   training or evaluation clip's true frames, an episode's start image): the mode of the
   foreign pixels' chroma (a 2-D histogram, then a weighted mean around its peak);
2. weighs every pixel of any frame by how close its chroma is to that colour
   (:meth:`BlockLocator.weights`, in [0, 1]: 1 within :data:`NEAR`, 0 beyond :data:`FAR`, times
   foreignness and brightness);
3. places the block at the weights' centroid, in continuous pixel coordinates: x to the right,
   y down, pixel (row i, column j) covering [j, j + 1) x [i, i + 1), so its centre is at
   (j + 0.5, i + 0.5) (:func:`centroid`);
4. calls the block visible when the weights sum to at least :data:`MIN_BLOCK_PIXELS` pixels at
   64 x 64, scaled with the image area (:func:`visible`); an unoccluded block covers 60-110.

Where the scene has no colour of its own (``scene=()``) every pixel is foreign.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# chromas (r, g, b) / (r + g + b) of the push scene's surfaces: grey (table, floor, robot body),
# the background's green as rendered (115, 220, 146) and the arm's blue as MuJoCo is given it
# (0.086, 0.506, 0.767; its lit faces render paler, toward grey, on the segment to it)
PUSH_SCENE = ((1 / 3, 1 / 3, 1 / 3), (0.2391, 0.4574, 0.3035), (0.0633, 0.3723, 0.5644))
FOREIGN = (0.06, 0.10)   # chroma distance to the scene's colours: foreignness 0 below, 1 above
NEAR, FAR = 0.07, 0.14   # chroma distance to the block's colour: weight 1 below NEAR, 0 above FAR
BRIGHT = 0.3             # r + g + b below which a pixel's weight falls off linearly
MIN_SEPARATION = 0.2     # chroma distance a block colour keeps from the scene's colours
MIN_BLOCK_PIXELS = 20.0  # weight (about pixels) of a visible block at 64 x 64
BINS = 20                # histogram bins per chroma axis when reading the colour
PIXEL_CENTRE = 0.5       # the centre of pixel j is at x = j + PIXEL_CENTRE


def chroma(frames: Tensor) -> Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 3, H, W) chromaticity rgb / (r + g + b) (black:
    the sum is clamped at 1e-3)."""
    return frames / frames.sum(-3, keepdim=True).clamp_min(1e-3)


def scene_distance(c: Tensor, scene=PUSH_SCENE) -> Tensor:
    """Chroma distance to the scene's colours: (..., 3) chromas -> (...) the least Euclidean
    distance to any segment between two of ``scene``'s chromas (the blends of two surfaces)."""
    pts = torch.tensor(scene, dtype=c.dtype, device=c.device)
    best = torch.full(c.shape[:-1], float("inf"), dtype=c.dtype, device=c.device)
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            a, ab = pts[i], pts[j] - pts[i]
            t = (((c - a) * ab).sum(-1) / (ab @ ab)).clamp(0.0, 1.0)
            d = _length(c - a - t[..., None] * ab)
            best = torch.minimum(best, d)
    return best


def _length(x: Tensor) -> Tensor:
    """Euclidean length over the last dimension (3 chroma channels), by elementwise products:
    ``norm(dim=-1)`` over a strided last dimension of 3 is far slower on a CPU."""
    return (x * x).sum(-1).sqrt()


def _ramp(x: Tensor, lo: float, hi: float) -> Tensor:
    """0 at x <= lo rising linearly to 1 at x >= hi."""
    return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)


def _brightness(frames: Tensor) -> Tensor:
    return (frames.sum(-3) / BRIGHT).clamp(max=1.0)


def foreignness(frames: Tensor, scene=PUSH_SCENE) -> Tensor:
    """(..., 3, H, W) -> (..., H, W) in [0, 1]: how surely a pixel shows none of the scene's
    colours (:data:`FOREIGN`), times its brightness."""
    c = chroma(frames).movedim(-3, -1)
    return _ramp(scene_distance(c, scene), *FOREIGN) * _brightness(frames)


def colour_weights(frames: Tensor, colour: Tensor, scene=PUSH_SCENE) -> Tensor:
    """How much each pixel shows an object of chroma ``colour``: (..., 3, H, W) frames and
    (..., 3) colours (broadcast over the frames' leading dimensions) -> (..., H, W) in [0, 1]:
    1 within chroma distance :data:`NEAR`, 0 beyond :data:`FAR`, linear between, times
    :func:`foreignness`."""
    c = chroma(frames).movedim(-3, -1)
    d = _length(c - colour[..., None, None, :])
    return (1.0 - _ramp(d, NEAR, FAR)) * _ramp(scene_distance(c, scene), *FOREIGN) \
        * _brightness(frames)


def read_colour(frames: Tensor, scene=PUSH_SCENE) -> tuple[Tensor, Tensor]:
    """The block's colour read from frames known to show it (step 1 of the module doc): the
    peak of the foreign pixels' chroma histogram (:data:`BINS` per axis, smoothed over 3 x 3
    bins), then the weighted mean chroma of the foreign pixels near it, twice (within twice
    :data:`NEAR`..:data:`FAR`, then within them).

    Args:
        frames: (B, N, 3, H, W) in [0, 1]: N frames per block (e.g. a clip's frames), pooled.

    Returns:
        (chroma (B, 3) float32; found (B,) bool: the pixels of that colour weigh at least
        :func:`min_mass` over the N frames together, a block's worth).
    """
    frames = frames.float()
    B = frames.shape[0]
    c = chroma(frames).movedim(-3, -1).reshape(B, -1, 3)            # (B, P, 3)
    f = (_ramp(scene_distance(c, scene), *FOREIGN)
         * _brightness(frames).reshape(B, -1))                        # (B, P)
    ij = (c[..., :2] * BINS).long().clamp(0, BINS - 1)
    hist = torch.zeros(B, BINS * BINS, dtype=f.dtype, device=f.device)
    hist.scatter_add_(1, ij[..., 0] * BINS + ij[..., 1], f)
    # a bin's score: its 3 x 3 neighbourhood, itself counted twice (ties go to the fuller bin)
    score = F.avg_pool2d(hist.view(B, 1, BINS, BINS), 3, 1, 1).flatten(1) * 9 + hist
    peak = score.argmax(1)
    rg = torch.stack([peak // BINS, peak % BINS], 1).to(c.dtype).add(0.5).div(BINS)
    colour = torch.cat([rg, 1.0 - rg.sum(1, keepdim=True)], 1)
    for scale in (2.0, 1.0):
        d = _length(c - colour[:, None])
        w = f * (1.0 - _ramp(d, NEAR * scale, FAR * scale))
        colour = (w[..., None] * c).sum(1) / w.sum(1, keepdim=True).clamp_min(1e-6)
    return colour, w.sum(1) >= min_mass(*frames.shape[-2:])


def min_mass(height: int, width: int) -> float:
    """:data:`MIN_BLOCK_PIXELS` scaled from 64 x 64 to a ``height`` x ``width`` image."""
    return MIN_BLOCK_PIXELS * height * width / 64 ** 2


def visible(mass: Tensor, height: int, width: int) -> Tensor:
    """Mass of the block's weights (or its pixel count) -> whether it counts as visible."""
    return mass >= min_mass(height, width)


def centroid(weights: Tensor) -> tuple[Tensor, Tensor]:
    """(..., H, W) non-negative weights -> ((..., 2) centroid (x, y) in continuous pixel
    coordinates, pixel centres at +0.5 (module doc); (...) the weights' sum). The centroid of
    weights summing to 0 is the image's centre."""
    H, W = weights.shape[-2:]
    mass = weights.sum((-2, -1))
    xs = torch.arange(W, dtype=weights.dtype, device=weights.device) + PIXEL_CENTRE
    ys = torch.arange(H, dtype=weights.dtype, device=weights.device) + PIXEL_CENTRE
    safe = mass.clamp_min(1e-6)
    cx = torch.where(mass > 0, (weights.sum(-2) * xs).sum(-1) / safe, torch.full_like(mass, W / 2))
    cy = torch.where(mass > 0, (weights.sum(-1) * ys).sum(-1) / safe, torch.full_like(mass, H / 2))
    return torch.stack([cx, cy], -1), mass


@dataclass(frozen=True)
class Location:
    """Where the block is in some frames: ``xy`` (..., 2) its centroid in pixels (module doc),
    ``mass`` (...) its weights' sum (about pixels), ``visible`` (...) bool (:func:`visible`)."""

    xy: Tensor
    mass: Tensor
    visible: Tensor


@dataclass(frozen=True)
class BlockLocator:
    """The locator of one block per batch element (module doc).

    Attributes:
        colour: (B, 3) the block's chroma, or (3,) for one block. found: (B,) or () bool:
            whether the frames it was read from showed the block at all; where not, every
            weight is 0 (the block is never visible).
        scene: the scene's chromas (:data:`PUSH_SCENE`).
    """

    colour: Tensor
    found: Tensor
    scene: tuple = PUSH_SCENE

    @classmethod
    def read(cls, frames: Tensor, scene=PUSH_SCENE) -> BlockLocator:
        """From frames known to show the block: (B, N, 3, H, W) -> B locators (their colours
        pooled over the N frames), or (N, 3, H, W) / (3, H, W) -> one locator."""
        if frames.dim() == 3:
            frames = frames[None]
        if frames.dim() == 4:
            colour, found = read_colour(frames[None], scene)
            return cls(colour[0], found[0], scene)
        colour, found = read_colour(frames, scene)
        return cls(colour, found, scene)

    @classmethod
    def of_rgb(cls, rgb, scene=PUSH_SCENE) -> BlockLocator:
        """The locator of a block known to have chroma ``rgb`` ((3,) or (B, 3), any scale)."""
        rgb = torch.as_tensor(rgb, dtype=torch.float32)
        colour = rgb / rgb.sum(-1, keepdim=True)
        return cls(colour, torch.ones(colour.shape[:-1], dtype=torch.bool), scene)

    def _expand(self, x: Tensor, frames: Tensor) -> Tensor:
        """Give ``x`` (B, ...) singleton dimensions for the frames' extra leading dimensions:
        frames (B, T..., 3, H, W)."""
        lead = self.colour.dim() - 1
        extra = frames.dim() - 3 - lead
        return x.reshape((*x.shape[:lead], *([1] * extra), *x.shape[lead:]))

    def weights(self, frames: Tensor) -> Tensor:
        """(B, ..., 3, H, W) frames in [0, 1] (one block's: (..., 3, H, W)) -> (B, ..., H, W)
        block weights in [0, 1] (:func:`colour_weights`; 0 where the colour was not found)."""
        frames = frames.float()
        colour = self._expand(self.colour.to(frames.device), frames)
        found = self._expand(self.found.to(frames.device), frames)
        w = colour_weights(frames, colour, self.scene)
        return w * found[..., None, None].to(w.dtype)

    def locate(self, frames: Tensor) -> Location:
        """(B, ..., 3, H, W) -> the block's :class:`Location` in every frame."""
        xy, mass = centroid(self.weights(frames))
        return Location(xy, mass, visible(mass, *frames.shape[-2:]))


__all__ = ["BlockLocator", "Location", "MIN_BLOCK_PIXELS", "MIN_SEPARATION", "PUSH_SCENE",
           "centroid", "chroma", "colour_weights", "foreignness", "min_mass", "read_colour",
           "scene_distance", "visible"]
