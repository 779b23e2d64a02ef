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
# pixels per piece of the per-pixel math: its temporaries then stay in a CPU's cache, where the
# same math over a whole split or a planner's candidates at once waits on memory
CHUNK_PIXELS = 1 << 18


def chroma(frames: Tensor) -> Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 3, H, W) chromaticity rgb / (r + g + b) (black:
    the sum is clamped at 1e-3)."""
    return frames / frames.sum(-3, keepdim=True).clamp_min(1e-3)


# The per-pixel math below works on the three chroma channels as separate (..., H, W) planes:
# elementwise operations on whole planes, where a (..., H, W, 3) layout would reduce over a
# strided last dimension of 3 in every step (several times slower on a CPU; equal to rounding),
# and on pieces of CHUNK_PIXELS pixels.


def _pieces(n: int, per_item: int) -> list[slice]:
    """Slices of ``n`` items of ``per_item`` pixels each, about :data:`CHUNK_PIXELS` per slice."""
    step = max(1, CHUNK_PIXELS // max(per_item, 1))
    return [slice(i, i + step) for i in range(0, n, step)]


def _segment_distance(planes, scene) -> Tensor:
    """Chroma planes (r, g, b), each (...), -> (...) the least Euclidean distance to any segment
    between two of ``scene``'s chromas."""
    scene = [tuple(float(v) for v in colour) for colour in scene]  # Python scalars: any device
    best = None
    for i in range(len(scene)):
        for j in range(i + 1, len(scene)):
            a = scene[i]
            ab = [scene[j][k] - a[k] for k in range(3)]
            rel = [planes[k] - a[k] for k in range(3)]
            t = ((rel[0] * ab[0] + rel[1] * ab[1] + rel[2] * ab[2])
                 / sum(v * v for v in ab)).clamp_(0.0, 1.0)
            d = _length([rel[k] - t * ab[k] for k in range(3)])
            best = d if best is None else torch.minimum(best, d)
    if best is None:  # no scene colours: every pixel is infinitely far from them
        best = torch.full_like(planes[0], float("inf"))
    return best


def scene_distance(c: Tensor, scene=PUSH_SCENE) -> Tensor:
    """Chroma distance to the scene's colours: (..., 3) chromas -> (...) the least Euclidean
    distance to any segment between two of ``scene``'s chromas (the blends of two surfaces)."""
    return _segment_distance(c.unbind(-1), scene)


def _length(planes) -> Tensor:
    """Euclidean length of 3-vectors given as three planes of equal shape."""
    return (planes[0] * planes[0] + planes[1] * planes[1] + planes[2] * planes[2]).sqrt_()


def _ramp(x: Tensor, lo: float, hi: float) -> Tensor:
    """0 at x <= lo rising linearly to 1 at x >= hi."""
    return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)


def _brightness(frames: Tensor) -> Tensor:
    return (frames.sum(-3) / BRIGHT).clamp(max=1.0)


def _foreign(planes, brightness: Tensor, scene) -> Tensor:
    """Foreignness from chroma planes and the pixels' brightness, all of one shape
    (:func:`foreignness`)."""
    return _ramp(_segment_distance(planes, scene), *FOREIGN) * brightness


def foreignness(frames: Tensor, scene=PUSH_SCENE) -> Tensor:
    """(..., 3, H, W) -> (..., H, W) in [0, 1]: how surely a pixel shows none of the scene's
    colours (:data:`FOREIGN`), times its brightness."""
    return _foreign(chroma(frames).unbind(-3), _brightness(frames), scene)


def colour_weights(frames: Tensor, colour: Tensor, scene=PUSH_SCENE) -> Tensor:
    """How much each pixel shows an object of chroma ``colour``: (..., 3, H, W) frames and
    (..., 3) colours (broadcast over the frames' leading dimensions) -> (..., H, W) in [0, 1]:
    1 within chroma distance :data:`NEAR`, 0 beyond :data:`FAR`, linear between, times
    :func:`foreignness`."""
    H, W = frames.shape[-2:]
    lead = torch.broadcast_shapes(frames.shape[:-3], colour.shape[:-1])
    flat = frames.expand(*lead, *frames.shape[-3:]).reshape(-1, 3, H, W)
    colours = colour.expand(*lead, 3).reshape(-1, 3)
    if flat.shape[0] == 0:
        return flat.new_zeros(*lead, H, W)
    return torch.cat([_colour_weights(flat[p], colours[p], scene)
                      for p in _pieces(flat.shape[0], H * W)]).reshape(*lead, H, W)


def _colour_weights(frames: Tensor, colour: Tensor, scene) -> Tensor:
    """:func:`colour_weights` of (n, 3, H, W) frames and (n, 3) colours -> (n, H, W)."""
    planes = chroma(frames).unbind(-3)
    d = _length([planes[k] - colour[:, k, None, None] for k in range(3)])
    return (1.0 - _ramp(d, NEAR, FAR)) * _foreign(planes, _brightness(frames), scene)


def read_colour(frames: Tensor, scene=PUSH_SCENE,
                least: float = MIN_BLOCK_PIXELS) -> tuple[Tensor, Tensor]:
    """The block's colour read from frames known to show it (step 1 of the module doc): the
    peak of the foreign pixels' chroma histogram (:data:`BINS` per axis, smoothed over 3 x 3
    bins), then the weighted mean chroma of the foreign pixels near it, twice (within twice
    :data:`NEAR`..:data:`FAR`, then within them).

    Args:
        frames: (B, N, 3, H, W) in [0, 1]: N frames per block (e.g. a clip's frames), pooled.
        least: the weight (about pixels at 64 x 64, scaled with the image area) the block's
            colour needs over the N frames together to count as found: by default a visible
            block's (:data:`MIN_BLOCK_PIXELS`); less for a block glimpsed past an occluder.

    Returns:
        (chroma (B, 3) float32; found (B,) bool: the pixels of that colour weigh at least
        ``least``).
    """
    frames = frames.float()
    if frames.shape[0] == 0:
        return frames.new_zeros(0, 3), torch.zeros(0, dtype=torch.bool, device=frames.device)
    pieces = [_read_colour(frames[p], scene, least)
              for p in _pieces(frames.shape[0], frames[0].numel() // 3)]
    return torch.cat([c for c, _ in pieces]), torch.cat([f for _, f in pieces])


def _read_colour(frames: Tensor, scene, least: float) -> tuple[Tensor, Tensor]:
    """:func:`read_colour` of (B, N, 3, H, W) float frames."""
    B = frames.shape[0]
    planes = [p.reshape(B, -1) for p in chroma(frames).unbind(-3)]      # 3 x (B, P)
    f = _foreign(planes, _brightness(frames).reshape(B, -1), scene)    # (B, P)
    i = (planes[0] * BINS).long().clamp_(0, BINS - 1)
    j = (planes[1] * BINS).long().clamp_(0, BINS - 1)
    hist = torch.zeros(B, BINS * BINS, dtype=f.dtype, device=f.device)
    hist.scatter_add_(1, i * BINS + j, f)
    # a bin's score: its 3 x 3 neighbourhood, itself counted twice (ties go to the fuller bin)
    score = F.avg_pool2d(hist.view(B, 1, BINS, BINS), 3, 1, 1).flatten(1) * 9 + hist
    peak = score.argmax(1)
    rg = torch.stack([peak // BINS, peak % BINS], 1).to(f.dtype).add(0.5).div(BINS)
    colour = torch.cat([rg, 1.0 - rg.sum(1, keepdim=True)], 1)
    for scale in (2.0, 1.0):
        d = _length([planes[k] - colour[:, k, None] for k in range(3)])
        w = f * (1.0 - _ramp(d, NEAR * scale, FAR * scale))
        colour = torch.stack([(w * planes[k]).sum(1) for k in range(3)], 1) \
            / w.sum(1, keepdim=True).clamp_min(1e-6)
    return colour, w.sum(1) >= min_mass(*frames.shape[-2:], least)


def min_mass(height: int, width: int, least: float = MIN_BLOCK_PIXELS) -> float:
    """``least`` (by default :data:`MIN_BLOCK_PIXELS`) pixels at 64 x 64 scaled to a
    ``height`` x ``width`` image."""
    return least * height * width / 64 ** 2


def visible(mass: Tensor, height: int, width: int, least: float = MIN_BLOCK_PIXELS) -> Tensor:
    """Mass of the block's weights (or its pixel count) -> whether it counts as visible (at
    least ``least`` pixels at 64 x 64, scaled)."""
    return mass >= min_mass(height, width, least)


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
    def read(cls, frames: Tensor, scene=PUSH_SCENE,
             least: float = MIN_BLOCK_PIXELS) -> BlockLocator:
        """From frames known to show the block: (B, N, 3, H, W) -> B locators (their colours
        pooled over the N frames), or (N, 3, H, W) / (3, H, W) -> one locator; ``least``: the
        weight that counts as found (:func:`read_colour`)."""
        if frames.dim() == 3:
            frames = frames[None]
        if frames.dim() == 4:
            colour, found = read_colour(frames[None], scene, least)
            return cls(colour[0], found[0], scene)
        colour, found = read_colour(frames, scene, least)
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
