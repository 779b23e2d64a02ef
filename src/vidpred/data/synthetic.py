"""A small in-memory synthetic dataset for fast tests of the training and evaluation loops.

Each sequence shows :data:`N_SQUARES` coloured squares moving with constant velocities on a plain
grey background; a square that leaves one edge comes back in at the opposite one (positions wrap
around), so the velocities stay constant for any sequence length. Square 0 is drawn on top.

The condition of frame t is square 0's velocity (vx, vy) and its top-left position (x_t, y_t),
in image widths/heights per frame and image widths/heights (positions in [0, 1)), padded with
zeros (or cut) to ``cond_dim`` values: an action-and-position conditioned video, like ``bair``.

Nothing is read or written: the parameters of every sequence are drawn when the dataset is built
(a few numbers per sequence) and frames are drawn with tensor operations when a batch is asked
for, so a batch of 16 sequences of 12 frames at 64x64 takes milliseconds.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError

SPLITS = {"train": 0, "validate": 1, "val": 1, "test": 2}
N_SQUARES = 3
MAX_SPEED = 0.05              # image sizes per frame (3.2 px at 64 px)
SIDE = (0.15, 0.3)            # square side, as a fraction of the smaller image dimension
MAX_BACKGROUND = 0.3          # the background is a grey level in [0, MAX_BACKGROUND]
_PER_SQUARE = 9               # uniforms per square: x, y, vx, vy, side, r, g, b, saturated channel


class SyntheticDataset:
    """Sequences of moving coloured squares (see the module doc), a
    :class:`~vidpred.data.base.VideoDataset` whose item i depends only on (seed, split, i):
    building the dataset with more sequences, another ``seq_len`` or another image size shows
    the same squares with the same motion (positions and velocities are relative to the image).

    Args:
        split: ``train``, ``validate``/``val`` or ``test`` (independent random streams).
        seq_len: frames per item (n_past + n_future).
        n_sequences: number of items.
        image_size: frame height in pixels. image_width: frame width in pixels (0: square).
        cond_dim: values per frame's condition (0: none, shape (B, T, 0)).
        seed: same seed, same sequences.

    ``batch(indices)`` returns frames float32 (B, seq_len, 3, H, W) in [0, 1] and conditions
    float32 (B, seq_len, cond_dim).

    Raises:
        DataError: an unknown split, or sizes that are not positive.
    """

    def __init__(self, split: str, seq_len: int, n_sequences: int = 256, image_size: int = 64,
                 image_width: int = 0, cond_dim: int = 7, seed: int = 0):
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; the synthetic dataset has {', '.join(SPLITS)}")
        if min(seq_len, n_sequences, image_size) < 1 or image_width < 0 or cond_dim < 0:
            raise DataError(f"synthetic dataset: seq_len={seq_len}, n_sequences={n_sequences}, "
                            f"image_size={image_size}, image_width={image_width}, "
                            f"cond_dim={cond_dim}; sizes must be positive")
        self.split, self.seq_len, self.cond_dim, self.seed = split, seq_len, cond_dim, seed
        self.height, self.width = image_size, image_width or image_size
        # uniforms drawn row by row: row i is the same whatever n_sequences is
        u = np.random.default_rng([seed, SPLITS[split]]).random((n_sequences, 1 + N_SQUARES * _PER_SQUARE))
        u = torch.from_numpy(u).float()
        sq = u[:, 1:].view(n_sequences, N_SQUARES, _PER_SQUARE)
        self.background = u[:, 0] * MAX_BACKGROUND                            # (N,)
        self.position = sq[..., 0:2]                                           # (N, S, 2) in [0, 1)
        self.velocity = (sq[..., 2:4] * 2 - 1) * MAX_SPEED                     # (N, S, 2)
        self.side = SIDE[0] + sq[..., 4] * (SIDE[1] - SIDE[0])                 # (N, S)
        saturated = F.one_hot((sq[..., 8] * 3).long().clamp_max(2), 3).bool()  # a bright channel
        self.colour = sq[..., 5:8].masked_fill(saturated, 1.0)                 # (N, S, 3)

    @property
    def n_sequences(self) -> int:
        """Sequences served, one per item (= ``len``)."""
        return len(self.background)

    def __len__(self) -> int:
        return len(self.background)

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the items ``indices``: frames float32 (B, seq_len, 3, H, W) in [0, 1] and
        conditions float32 (B, seq_len, cond_dim) (see the module doc)."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        B, H, W, T = len(idx), self.height, self.width, self.seq_len
        t = torch.arange(T, dtype=torch.float32)[:, None]
        pos = torch.remainder(self.position[idx, :, None] + self.velocity[idx, :, None] * t, 1.0)
        left = (pos[..., 0] * W).long()[..., None]                             # (B, S, T, 1)
        top = (pos[..., 1] * H).long()[..., None]
        side = (self.side[idx] * min(H, W)).round().clamp_min(1).long()[:, :, None, None]
        in_x = torch.remainder(torch.arange(W) - left, W) < side               # (B, S, T, W)
        in_y = torch.remainder(torch.arange(H) - top, H) < side                # (B, S, T, H)
        # which colour each pixel shows: 0 the background, s + 1 square s (painted back to front,
        # so square 0 is on top)
        key = torch.zeros(B, T, 1, H, W, dtype=torch.long)
        for s in reversed(range(N_SQUARES)):
            key[:, :, 0].masked_fill_(in_y[:, s, :, :, None] & in_x[:, s, :, None, :], s + 1)
        palette = torch.cat([self.background[idx, None, None].expand(B, 1, 3), self.colour[idx]], 1)
        palette = palette.transpose(1, 2)[:, None, :, :, None]                 # (B, 1, 3, S + 1, 1)
        frames = torch.gather(palette.expand(B, T, 3, N_SQUARES + 1, W), 3,
                              key.expand(B, T, 3, H, W))                       # (B, T, 3, H, W)
        cond = torch.cat([self.velocity[idx, 0, None].expand(-1, T, -1), pos[:, 0]], dim=-1)
        cond = F.pad(cond, (0, max(0, self.cond_dim - cond.shape[-1])))[..., :self.cond_dim]
        return frames, cond.contiguous()
