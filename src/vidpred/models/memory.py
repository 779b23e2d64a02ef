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
and arm the model is asked to predict. It is found as the sequence that holds the clip's whole
window of keys, exactly and in order (the memory is the training split). A single key would not
do: in the built-in data many sequences begin with the arm at rest at one position, so their
first frames share keys.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# distance (in the key's unit) below which two keys are the same frame's: copies of one float32
# value give 0, while distinct positions differ by far more
_SAME = 1e-6


class FrameMemory(nn.Module):
    """Frames (N x L, C, H, W) uint8 keyed by the last ``match`` entries of their conditions.

    Args:
        match: the last ``match`` entries of a frame's condition vector are its key (3 for the
            BAIR layout: the end-effector position in metres, after the 4-d action).
        channels, hw: frame shape.

        masked: also keep each frame's arm mask and the empty scene (see :meth:`fill`), for
            the composite that pastes the retrieved arm alone
            (:class:`vidpred.models.heads.ArmPasteHead`).

    The memory starts empty; :meth:`fill` stores a dataset's N sequences of L frames each, and a
    checkpoint carries them: ``state_dict`` buffers ``frames`` (N x L, C, H, W) uint8, ``keys``
    (N, L, match) float32, centred on ``center`` (match,) so that float32 distances resolve
    well below the keys' spacing; when ``masked``, ``masks`` (N x L, 1, H, W) uint8 (1 = arm)
    and ``scene`` (C, H, W) float32 in [0, 1].
    """

    def __init__(self, match: int, channels: int, hw: tuple[int, int], masked: bool = False):
        super().__init__()
        if match < 1:
            raise ValueError(f"model.retrieval={match}: a frame memory needs a key of >= 1 entries")
        self.match, self.masked = match, masked
        self.register_buffer("frames", torch.zeros(0, channels, *hw, dtype=torch.uint8))
        self.register_buffer("keys", torch.zeros(0, 0, match))
        self.register_buffer("center", torch.zeros(match))
        if masked:
            self.register_buffer("masks", torch.zeros(0, 1, *hw, dtype=torch.uint8))
            self.register_buffer("scene", torch.zeros(channels, *hw))

    def __len__(self) -> int:
        return self.frames.shape[0]

    def fill(self, frames: Tensor, cond: Tensor, masks: Tensor | None = None) -> None:
        """Store sequences: frames (N, L, C, H, W) uint8, conditions (N, L, D) float, D >= match.

        A masked memory also stores ``masks`` (N, L, H, W) bool, where each frame shows the arm
        (the simulator's segmentation; without it, :func:`moving_masks` estimates them), and the
        empty scene: per pixel, the median over the frames where no mask covers it
        (:func:`empty_scene`).

        Raises:
            ValueError: shapes or a dtype that do not fit the memory.
        """
        if frames.dtype != torch.uint8 or frames.shape[2:] != self.frames.shape[1:]:
            raise ValueError(f"memory frames must be uint8 (N, L, {tuple(self.frames.shape[1:])}), "
                             f"got {frames.dtype} {tuple(frames.shape)}")
        if cond.shape[:2] != frames.shape[:2] or cond.shape[-1] < self.match:
            raise ValueError(f"memory conditions must be (N, L, >= {self.match}) for frames "
                             f"{tuple(frames.shape[:2])}, got {tuple(cond.shape)}")
        self.frames = frames.flatten(0, 1).contiguous()
        if self.masked:
            masks = moving_masks(frames) if masks is None else masks.bool()
            self.masks = masks.flatten(0, 1)[:, None].to(torch.uint8).contiguous()
            self.scene = empty_scene(self.frames, self.masks)
        keys = cond[..., -self.match:].double()
        self.center = keys.mean((0, 1)).float()
        self.keys = (keys - keys.mean((0, 1))).float().contiguous()

    def adopt(self, state_dict: dict, prefix: str) -> None:
        """Give the buffers the shapes of those under ``prefix`` in ``state_dict`` (on this
        memory's device), so that loading it fills them; buffers it lacks are left alone.

        Raises:
            ValueError: ``state_dict`` holds an empty memory (saved before it was filled).
        """
        frames = state_dict.get(prefix + "frames")
        if frames is not None and not len(frames):
            raise ValueError("the model has a frame memory (model.retrieval) but the checkpoint "
                             "holds no frames for it")
        for name in ("frames", "keys", "center") + (("masks", "scene") if self.masked else ()):
            t = state_dict.get(prefix + name)
            if t is not None:
                setattr(self, name, torch.empty_like(t, device=getattr(self, name).device))

    def lookup(self, cond: Tensor, exclude_own: bool = False) -> Tensor:
        """Conditions (B, T, D) -> the nearest memory frames (B, T, C, H, W) float32 in [0, 1]
        (Euclidean distance between keys; see :meth:`index`)."""
        return self.frames[self.index(cond, exclude_own)].float().div_(255.0)

    def arm_masks(self, index: Tensor) -> Tensor:
        """Memory indices (...) -> the frames' arm masks (..., 1, H, W) float32 in {0, 1}."""
        return self.masks[index].float()

    def index(self, cond: Tensor, exclude_own: bool = False) -> Tensor:
        """Conditions (B, T, D) -> (B, T) long: the memory frame whose key is nearest to each
        frame's (Euclidean distance between keys).

        Args:
            exclude_own: skip every sequence that holds the T keys of ``cond`` exactly and in
                order (training: the clip's own sequence, whose frames ``cond`` are).

        Raises:
            RuntimeError: the memory is empty.
        """
        if not len(self):
            raise RuntimeError("model.retrieval: the frame memory is empty; training fills it "
                               "from the training split (or call model.memory.fill)")
        B, T = cond.shape[:2]
        N, L = self.keys.shape[:2]
        keys = self.keys.view(N * L, self.match)
        q = cond[..., -self.match:].reshape(B, T, self.match).float() - self.center
        d = torch.cdist(q.view(B * T, -1), keys).view(B, T, N, L)  # ranking only
        if exclude_own and T <= L:
            d.transpose(1, 2)[self._own(q)] = float("inf")  # (B, N, T, L) view of d
        return d.view(B, T, N * L).argmin(-1)

    def _own(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """Centred keys (B, T, match) -> (clip, sequence) index pairs of the sequences that hold
        the clip's T keys exactly and in order: candidates by the last key, then the window."""
        B, T = q.shape[:2]
        N, L = self.keys.shape[:2]
        last = torch.cdist(q[:, -1], self.keys.view(N * L, self.match),
                           compute_mode="donot_use_mm_for_euclid_dist").view(B, N, L)
        b, n, j = (last[:, :, T - 1:] < _SAME).nonzero(as_tuple=True)  # window ends at j + T - 1
        window = self.keys[n[:, None], j[:, None] + torch.arange(T, device=q.device)]  # (C, T, m)
        whole = (window - q[b]).abs().amax((1, 2)) < _SAME
        return b[whole], n[whole]


def moving_masks(frames: Tensor, threshold: float = 0.1) -> Tensor:
    """Frames (N, L, C, H, W) uint8 -> (N, L, H, W) bool: where a frame differs (by more than
    ``threshold`` of the pixel range in some channel) from the empty scene of all of them, dilated
    by one pixel. Without a segmentation, what is not the scene is taken for the arm; objects
    that are not the scene's (a block) count too."""
    flat = frames.flatten(0, 1)
    scene = empty_scene(flat, torch.zeros_like(flat[:, :1]))
    diff = (flat.float() / 255 - scene).abs().amax(1, keepdim=True) > threshold
    grown = F.max_pool2d(diff.float(), 3, 1, 1) > 0
    return grown[:, 0].unflatten(0, frames.shape[:2])


def empty_scene(frames: Tensor, masks: Tensor, most: int = 4096) -> Tensor:
    """Frames (M, C, H, W) uint8 and masks (M, 1, H, W) uint8 (1 = not the scene) -> the scene
    (C, H, W) float32 in [0, 1]: per pixel, the median over the (at most ``most``, evenly
    spaced) frames whose mask leaves the pixel free. The arm and the blocks move between
    sequences; what stays is the table, the floor and the robot's base."""
    step = max(1, frames.shape[0] // most)
    x = frames[::step].float() / 255
    x = x.masked_fill(masks[::step].bool(), float("nan"))
    scene = x.nanmedian(0).values
    return torch.where(scene.isnan(), frames[::step].float().median(0).values / 255, scene)


__all__ = ["FrameMemory", "moving_masks", "empty_scene"]
