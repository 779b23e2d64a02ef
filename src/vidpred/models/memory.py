"""A frame memory: the training frame whose condition is nearest, as a source to copy from.

On data filmed by one fixed camera (the built-in pushing scene, BAIR), how the robot looks is
nearly a function of where its end effector is. A decoder that must learn to draw the arm from
the condition learns it slowly (docs/push-demo.md); here each frame to predict is also given the
training frame whose end-effector position is nearest to the one its condition names, and the
composite may copy pixels from it as it copies the static scene from the context frame. This is
retrieval by proprioception, a non-parametric part of the model: the frames travel with the
checkpoint, the test split is never read, and it helps only where the camera does not move
between sequences.

The memory does not need every training frame: it needs, for any end-effector position the
robot reaches, one frame showing the arm there. With a budget of M frames it keeps one frame per
cell of a grid over the keys, the grid as fine as M allows (:func:`coverage`), so its size is
bounded whatever the split's (the BAIR download's 1.3 million frames included) and its frames
cover the workspace evenly instead of where the data happens to dwell.

In training, the clip's own sequence is excluded from the lookup: its frames show the very block
and arm the model is asked to predict. Every memory frame keeps the index of its sequence in the
training split, and the clip's sequence is found as the one that holds the clip's whole window
of keys, exactly and in order (the memory keeps the split's keys and their hashes, 28 bytes
per frame, while it trains; they are not saved). A single key would not do: in the built-in
data many sequences begin with the arm at rest at one position, so their first frames share
keys.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# distance (in the key's unit) below which two keys are the same frame's: copies of one float32
# value give 0, while distinct positions differ by far more
_SAME = 1e-6


class FrameMemory(nn.Module):
    """At most ``budget`` frames, each keyed by the last ``match`` entries of its condition.

    Args:
        match: the last ``match`` entries of a frame's condition vector are its key (3 for the
            BAIR layout: the end-effector position in metres, after the 4-d action).
        channels, hw: frame shape.
        masked: also keep each frame's arm mask and the empty scene (see :meth:`fill`), for
            the composite that pastes the retrieved arm alone
            (:class:`vidpred.models.heads.ArmPasteHead`).
        budget: the most frames kept (:func:`coverage` chooses them); 0 keeps every frame.

    The memory starts empty; :meth:`fill` stores frames chosen from a dataset's N sequences of L
    frames, and a checkpoint carries them: ``state_dict`` buffers ``keys`` (M, match) float32,
    centred on ``center`` (match,) so that float32 distances resolve well below the keys'
    spacing, ``sequence`` (M,) int64, each frame's sequence in the split, and ``frames``
    (M, C, H, W) uint8. A ``masked`` memory keeps instead what the pasted arm reads: ``masks``
    (M, ceil(H W / 8)) uint8, each frame's arm mask packed 8 pixels a byte (row-major, least
    significant bit first), ``arm_pixels`` (P, C) uint8, the frames' pixels under their masks
    in that order (the frames are 0 elsewhere: about a tenth of the bytes on the pushing
    scene), and ``scene`` (C, H, W) float32 in [0, 1]. Older checkpoints (every frame, ``keys``
    (N, L, match), unpacked masks, whole frames) load as they are (:meth:`adopt`).
    """

    def __init__(self, match: int, channels: int, hw: tuple[int, int], masked: bool = False,
                 budget: int = 0):
        super().__init__()
        if match < 1:
            raise ValueError(f"model.retrieval={match}: a frame memory needs a key of >= 1 entries")
        self.match, self.masked, self.budget, self.hw = match, masked, budget, tuple(hw)
        # a masked memory saves only its frames' arm pixels (``arm_pixels``): the composite
        # reads nothing else of them; ``frames`` is rebuilt from those on load
        self.register_buffer("frames", torch.zeros(0, channels, *hw, dtype=torch.uint8),
                             persistent=not masked)
        self.register_buffer("keys", torch.zeros(0, match))
        self.register_buffer("center", torch.zeros(match))
        self.register_buffer("sequence", torch.zeros(0, dtype=torch.long))
        # the training split's centred keys (N, L, match), and the hashes of its raw keys,
        # sorted, with their flat indices: to find a clip's own sequence
        self.register_buffer("split_keys", torch.zeros(0, 0, match), persistent=False)
        self.register_buffer("split_hash", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("split_order", torch.zeros(0, dtype=torch.long), persistent=False)
        if masked:
            self.register_buffer("masks", torch.zeros(0, _packed(hw), dtype=torch.uint8))
            self.register_buffer("scene", torch.zeros(channels, *hw))
            self.register_buffer("arm_pixels", torch.zeros(0, channels, dtype=torch.uint8))
            self.register_load_state_dict_post_hook(lambda module, _: module._unpack_frames())

    def __len__(self) -> int:
        return self.frames.shape[0]

    def fill(self, frames: Tensor, cond: Tensor,
             masks: Tensor | Callable[[Tensor], Tensor | None] | None = None) -> None:
        """Store up to ``budget`` frames of N sequences: frames (N, L, C, H, W) uint8 (it may be
        memory-mapped: only the kept frames are read), conditions (N, L, D) float, D >= match.

        A masked memory also stores each kept frame's arm mask: ``masks`` is (N, L, H, W) bool,
        or a function from sequence indices (S,) to their masks (S, L, H, W) bool (so that only
        the kept sequences are read), where the frames show the arm (the simulator's
        segmentation); when it is None or gives None, :func:`moving_masks` estimates them. And
        the empty scene: per pixel, the median over the kept frames where no mask covers it
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
        N, L = frames.shape[:2]
        device = self.frames.device
        keys = cond[..., -self.match:].double()
        center = keys.mean((0, 1))
        split_keys = (keys - center).float()
        keep = coverage(split_keys.flatten(0, 1), self.budget) if self.budget else \
            torch.arange(N * L)
        seq, t = keep // L, keep % L
        self.center = center.float().to(device)
        self.split_keys = split_keys.to(device).contiguous()
        hashes, order = _hash(cond[..., -self.match:].flatten(0, 1)).sort()
        self.split_hash, self.split_order = hashes.to(device), order.to(device)
        self.keys = split_keys[seq, t].to(device).contiguous()
        self.sequence = seq.to(device)
        self.frames = frames[seq, t].to(device).contiguous()
        if self.masked:
            kept = self._kept_masks(frames, masks, seq, t).to(device)
            self.masks = pack_masks(kept)
            self.scene = empty_scene(self.frames, kept[:, None].to(torch.uint8))
            self.frames.mul_(kept[:, None])  # as a checkpoint gives them back: arms alone
            self.arm_pixels = self.frames.permute(0, 2, 3, 1)[kept]

    def _kept_masks(self, frames: Tensor, masks, seq: Tensor, t: Tensor) -> Tensor:
        """The arm masks (M, H, W) bool of the kept frames (``seq``, ``t``) (see :meth:`fill`)."""
        if callable(masks):
            used, where = seq.unique(return_inverse=True)
            got = masks(used)
            masks = None if got is None else got[where, t]
        elif masks is not None:
            masks = masks[seq, t]
        if masks is None:
            masks = moving_masks(frames[seq, t][:, None])[:, 0]
        return masks.bool()

    def adopt(self, state_dict: dict, prefix: str) -> None:
        """Give the buffers the shapes of those under ``prefix`` in ``state_dict`` (on this
        memory's device), so that loading it fills them; buffers it lacks are left alone.
        Memories saved in older layouts are converted in ``state_dict``, in place: every frame
        (``keys`` (N, L, match), no ``sequence``), unpacked masks (N L, 1, H, W), whole frames
        in a masked memory.

        Raises:
            ValueError: ``state_dict`` holds an empty memory (saved before it was filled).
        """
        keys = state_dict.get(prefix + "keys")
        if keys is not None and not keys.numel():
            raise ValueError("the model has a frame memory (model.retrieval) but the checkpoint "
                             "holds no frames for it")
        if keys is not None and keys.dim() == 3:  # every frame of N sequences of L
            N, L = keys.shape[:2]
            state_dict[prefix + "keys"] = keys.flatten(0, 1)
            state_dict[prefix + "sequence"] = torch.arange(N).repeat_interleave(L)
        masks = state_dict.get(prefix + "masks")
        if masks is not None and masks.dim() == 4:
            state_dict[prefix + "masks"] = masks = pack_masks(masks[:, 0].bool())
        if self.masked and prefix + "frames" in state_dict:
            frames = state_dict.pop(prefix + "frames")
            arm = unpack_masks(masks, tuple(frames.shape[-2:]))
            state_dict[prefix + "arm_pixels"] = frames.permute(0, 2, 3, 1)[arm]
        names = ("keys", "center", "sequence") + \
            (("masks", "scene", "arm_pixels") if self.masked else ("frames",))
        for name in names:
            t = state_dict.get(prefix + name)
            if t is not None:
                setattr(self, name, torch.empty_like(t, device=getattr(self, name).device))

    def _unpack_frames(self, chunk: int = 4096) -> None:
        """A masked memory's frames (M, C, H, W) uint8 from its arm pixels, 0 off the arm
        (``chunk`` masks unpacked at a time: no copy of the frames besides the result)."""
        self.frames = torch.zeros(len(self.masks), len(self.scene), *self.hw, dtype=torch.uint8,
                                  device=self.masks.device)
        pixels = self.frames.permute(0, 2, 3, 1)  # a view: (M, H, W, C)
        start = 0
        for i in range(0, len(self.masks), chunk):
            arm = unpack_masks(self.masks[i:i + chunk], self.hw)
            n = int(arm.sum())
            pixels[i:i + chunk][arm] = self.arm_pixels[start:start + n]
            start += n

    def lookup(self, cond: Tensor, exclude_own: bool = False) -> Tensor:
        """Conditions (B, T, D) -> the nearest memory frames (B, T, C, H, W) float32 in [0, 1]
        (Euclidean distance between keys; see :meth:`index`)."""
        return self.frames[self.index(cond, exclude_own)].float().div_(255.0)

    def arm_masks(self, index: Tensor) -> Tensor:
        """Memory indices (...) -> the frames' arm masks (..., 1, H, W) float32 in {0, 1}."""
        return unpack_masks(self.masks[index], self.hw)[..., None, :, :].float()

    def index(self, cond: Tensor, exclude_own: bool = False) -> Tensor:
        """Conditions (B, T, D) -> (B, T) long: the memory frame whose key is nearest to each
        frame's (Euclidean distance between keys).

        Args:
            exclude_own: skip every frame of the sequences of the split the memory was filled
                from that hold the T keys of ``cond`` exactly and in order (training: the
                clip's own sequence, whose frames ``cond`` are).

        Raises:
            RuntimeError: the memory is empty, or ``exclude_own`` on a memory loaded from a
                checkpoint (it keeps no split to find the sequence in; :meth:`fill` first).
        """
        if not len(self):
            raise RuntimeError("model.retrieval: the frame memory is empty; training fills it "
                               "from the training split (or call model.memory.fill)")
        B, T = cond.shape[:2]
        raw = cond[..., -self.match:].reshape(B, T, self.match)
        q = raw.float() - self.center
        d = torch.cdist(q.view(B * T, -1), self.keys).view(B, T, -1)  # ranking only
        if exclude_own:
            if not self.split_keys.numel():
                raise RuntimeError("model.retrieval: the memory was loaded, not filled: it "
                                   "cannot tell a clip's own sequence; call model.memory.fill")
            if T <= self.split_keys.shape[1]:
                b, n = self._own(raw[:, -1], q)
                own = torch.zeros(B, self.split_keys.shape[0], dtype=torch.bool, device=q.device)
                own[b, n] = True
                d = d.masked_fill(own[:, self.sequence][:, None], float("inf"))
        return d.argmin(-1)

    def _own(self, last: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        """A clip's last raw key (B, match) and its centred keys (B, T, match) -> (clip,
        sequence) index pairs of the split's sequences that hold the clip's T keys exactly and
        in order: candidates are the frames whose raw key has the clip's last key's hash (a
        binary search among the split's sorted hashes), then their windows are compared."""
        T = q.shape[1]
        L = self.split_keys.shape[1]
        h = _hash(last)
        lo = torch.searchsorted(self.split_hash, h)
        count = torch.searchsorted(self.split_hash, h, right=True) - lo
        b = torch.arange(len(h), device=q.device).repeat_interleave(count)
        start = (lo - count.cumsum(0) + count).repeat_interleave(count)   # lo minus those before
        flat = self.split_order[start + torch.arange(len(b), device=q.device)]
        n, j = flat // L, flat % L - (T - 1)                              # the window starts at j
        b, n, j = b[j >= 0], n[j >= 0], j[j >= 0]
        window = self.split_keys[n[:, None], j[:, None] + torch.arange(T, device=q.device)]
        whole = (window - q[b]).abs().amax((1, 2)) < _SAME
        return b[whole], n[whole]


def _hash(keys: Tensor) -> Tensor:
    """Keys (..., m) -> (...) int64 from their float32 bit patterns: equal keys (copies of one
    value, as a training clip's conditions are of the split's) hash equal; different keys
    almost never do, and :meth:`FrameMemory._own` compares the keys themselves after."""
    bits = keys.float().contiguous().view(torch.int32).long()
    h = torch.zeros(keys.shape[:-1], dtype=torch.long, device=keys.device)
    for i in range(bits.shape[-1]):
        h = h * 1_000_003 + bits[..., i]  # int64 arithmetic wraps around
    return h


def coverage(keys: Tensor, budget: int) -> Tensor:
    """Keys (K, m) float -> the indices (M,) int64, M <= budget, ascending, of keys that cover
    the key space: a grid of cubic cells over the keys, the finest whose occupied cells number
    at most ``budget``, and in each occupied cell the key nearest to the cell's centre. All K
    when K <= budget.

    A bisection over the cell size (40 halvings of the interval), each an ``unique`` over the K
    cells' numbers: seconds for the BAIR download's 1.3 million keys.
    """
    K = keys.shape[0]
    if K <= budget:
        return torch.arange(K)
    keys = keys.double()
    low = keys.amin(0)
    span = float((keys.amax(0) - low).max())
    if span == 0.0:
        return torch.zeros(1, dtype=torch.long)

    def cells(size: float) -> tuple[Tensor, Tensor]:
        """Each key's cell (K, m) and the cell's number (K,), unique per cell."""
        cell = ((keys - low) / size).floor().long()
        base = int(cell.max()) + 1
        number = cell[:, 0].clone()
        for i in range(1, cell.shape[1]):  # base ** m < 2 ** 63 while the cells are few
            number = number * base + cell[:, i]
        return cell, number

    small, large = span / (2 * budget), span * 2  # too many cells / one cell
    for _ in range(40):
        mid = (small * large) ** 0.5
        if len(torch.unique(cells(mid)[1])) > budget:
            small = mid
        else:
            large = mid
    cell, number = cells(large)
    _, which = torch.unique(number, return_inverse=True)
    off_centre = (keys - low - (cell + 0.5) * large).norm(dim=1)
    # sort by distance, then (stably) by cell: each cell's first entry is its nearest key
    order = off_centre.argsort(stable=True)
    order = order[which[order].argsort(stable=True)]
    first = torch.ones(K, dtype=torch.bool)
    first[1:] = which[order][1:] != which[order][:-1]
    return order[first].sort().values


def pack_masks(masks: Tensor) -> Tensor:
    """Masks (M, H, W) bool -> (M, ceil(H W / 8)) uint8, 8 pixels a byte (row-major, least
    significant bit first): an arm mask costs 512 bytes at 64 x 64 instead of 4,096."""
    flat = masks.flatten(1).to(torch.uint8)
    flat = F.pad(flat, (0, (-flat.shape[1]) % 8)).view(flat.shape[0], -1, 8)
    return (flat << torch.arange(8, dtype=torch.uint8, device=flat.device)).sum(-1, dtype=torch.uint8)


def unpack_masks(packed: Tensor, hw: tuple[int, int]) -> Tensor:
    """Packed masks (..., P) uint8 (:func:`pack_masks`) -> (..., H, W) bool."""
    bits = packed[..., None] >> torch.arange(8, dtype=torch.uint8, device=packed.device) & 1
    return bits.flatten(-2)[..., :hw[0] * hw[1]].unflatten(-1, hw).bool()


def _packed(hw: tuple[int, int]) -> int:
    return -(-hw[0] * hw[1] // 8)


def moving_masks(frames: Tensor, threshold: float = 0.1, chunk: int = 1024) -> Tensor:
    """Frames (N, L, C, H, W) uint8 -> (N, L, H, W) bool: where a frame differs (by more than
    ``threshold`` of the pixel range in some channel) from the empty scene of all of them, dilated
    by one pixel. Without a segmentation, what is not the scene is taken for the arm; objects
    that are not the scene's (a block) count too. ``chunk`` frames are compared at a time, so
    memory holds float copies of those alone."""
    flat = frames.flatten(0, 1)
    scene = empty_scene(flat, torch.zeros_like(flat[:, :1]))
    out = torch.empty(flat.shape[0], *flat.shape[2:], dtype=torch.bool, device=flat.device)
    for i in range(0, flat.shape[0], chunk):
        diff = (flat[i:i + chunk].float() / 255 - scene).abs().amax(1, keepdim=True) > threshold
        out[i:i + chunk] = F.max_pool2d(diff.float(), 3, 1, 1)[:, 0] > 0
    return out.unflatten(0, frames.shape[:2])


def empty_scene(frames: Tensor, masks: Tensor, most: int = 4096, rows: int = 8) -> Tensor:
    """Frames (M, C, H, W) uint8 and masks (M, 1, H, W) uint8 (1 = not the scene) -> the scene
    (C, H, W) float32 in [0, 1]: per pixel, the median over the (at most ``most``, evenly
    spaced) frames whose mask leaves the pixel free. The arm and the blocks move between
    sequences; what stays is the table, the floor and the robot's base. Computed ``rows`` image
    rows at a time, so memory holds float copies of those alone."""
    step = max(1, frames.shape[0] // most)
    frames, masks = frames[::step], masks[::step].bool()
    scene = torch.empty(frames.shape[1:], device=frames.device)
    for r in range(0, frames.shape[2], rows):
        x = frames[:, :, r:r + rows].float() / 255
        free = x.masked_fill(masks[:, :, r:r + rows], float("nan")).nanmedian(0).values
        scene[:, r:r + rows] = torch.where(free.isnan(), x.median(0).values, free)
    return scene


__all__ = ["FrameMemory", "coverage", "pack_masks", "unpack_masks", "moving_masks", "empty_scene"]
