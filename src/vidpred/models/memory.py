"""A frame memory: the training frame whose condition is nearest, as a source to copy from.

On data filmed by one fixed camera (the built-in pushing scene, BAIR), how the robot looks is
nearly a function of where its end effector is. A decoder that must learn to draw the arm from
the condition learns it slowly (docs/push-demo.md); here each frame to predict is also given the
training frame whose end-effector position is nearest to the one its condition names, and the
composite may copy pixels from it as it copies the static scene from the context frame. This is
retrieval by proprioception, a non-parametric part of the model: the frames travel with the
checkpoint, the test split is never read, and it helps only where the camera does not move
between sequences.

In training, the clip's own sequence is excluded from the lookup: its frames show the very block
and arm the model is asked to predict. The own sequence is found by the clip's last frame, whose
key is in the memory exactly (the memory is the training split). The last frame, not the first:
in the built-in data many sequences begin with the arm at rest at one position, so early frames
have exact twins in other sequences.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

# distance below which a memory key counts as the clip's own last frame (an exact copy gives 0;
# after the first 6 frames, frames of different sequences lie more than 2e-5 m apart)
_OWN_EPS = 1e-6


class FrameMemory(nn.Module):
    """Frames (M, C, H, W) uint8 keyed by a slice of their condition vectors.

    Args:
        match: the last ``match`` entries of a frame's condition vector are its key (3 for the
            BAIR layout: the end-effector position in metres, after the 4-d action).
        channels, hw: frame shape.

    The memory starts empty; :meth:`fill` stores a dataset's frames, and a checkpoint carries
    them (``state_dict`` buffers ``frames``, ``keys`` (centred) and ``center``; the frames are
    stored sequence after sequence, each of the same length).
    """

    def __init__(self, match: int, channels: int, hw: tuple[int, int]):
        super().__init__()
        if match < 1:
            raise ValueError(f"a frame memory needs match >= 1, got {match}")
        self.match = match
        self.register_buffer("frames", torch.zeros(0, channels, *hw, dtype=torch.uint8))
        self.register_buffer("keys", torch.zeros(0, match))
        self.register_buffer("center", torch.zeros(match))

    def __len__(self) -> int:
        return self.frames.shape[0]

    def fill(self, frames: Tensor, cond: Tensor) -> None:
        """Store sequences: frames (N, L, C, H, W) uint8, conditions (N, L, D) float, D >= match.

        Raises:
            ValueError: shapes that do not fit the memory.
        """
        if frames.dtype != torch.uint8 or frames.shape[2:] != self.frames.shape[1:]:
            raise ValueError(f"memory frames must be uint8 (N, L, {tuple(self.frames.shape[1:])}), "
                             f"got {frames.dtype} {tuple(frames.shape)}")
        if cond.shape[:2] != frames.shape[:2] or cond.shape[-1] < self.match:
            raise ValueError(f"memory conditions must be (N, L, >= {self.match}) for frames "
                             f"{tuple(frames.shape[:2])}, got {tuple(cond.shape)}")
        self.frames = frames.flatten(0, 1).contiguous()
        keys = cond[..., -self.match:].reshape(-1, self.match).double()
        # centred, so that float32 distances resolve well below the keys' spacing
        self.center = keys.mean(0).float()
        self.keys = (keys - keys.mean(0)).float().view(*cond.shape[:2], self.match)

    def adopt(self, state_dict: dict, prefix: str) -> None:
        """Resize the (empty) buffers to the ones in ``state_dict`` so that it loads."""
        for name in ("frames", "keys", "center"):
            t = state_dict.get(prefix + name)
            if t is not None:
                setattr(self, name, torch.empty_like(t, device=getattr(self, name).device))

    def lookup(self, cond: Tensor, exclude_own: bool = False) -> Tensor:
        """Conditions (B, T, D) -> the nearest memory frames (B, T, C, H, W) float32 in [0, 1]
        (Euclidean distance between keys).

        Args:
            exclude_own: skip the sequence that holds a frame whose key equals that of
                ``cond[:, -1]`` (training: the clip's own sequence).

        Raises:
            RuntimeError: the memory is empty.
        """
        if not len(self):
            raise RuntimeError("the frame memory is empty: fill it from the training split first")
        B, T = cond.shape[:2]
        N, L = self.keys.shape[:2]
        q = cond[..., -self.match:].reshape(B * T, self.match).float() - self.center
        keys = self.keys.view(N * L, self.match)
        d = torch.cdist(q, keys).view(B, T, N, L)
        if exclude_own:
            d0 = torch.cdist(q.view(B, T, -1)[:, -1], keys, compute_mode="donot_use_mm_for_euclid_dist")
            m, first = d0.min(1)  # (B,)
            own = first // L
            hit = (m < _OWN_EPS).nonzero()[:, 0]
            d[hit, :, own[hit]] = float("inf")
        return self.frames[d.view(B, T, N * L).argmin(-1)].float().div_(255.0)


__all__ = ["FrameMemory"]
