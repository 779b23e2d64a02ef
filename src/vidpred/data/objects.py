"""Ground truth of the objects in push clips: where the block and the arm are in every frame.

The built-in push generator (:mod:`vidpred.data.sim_push`) writes ``objects.npz`` beside the
frames of each sequence, from the simulator's segmentation (arrays in
:data:`vidpred.data.sim_push.OBJECT_ARRAYS`; the ``bair`` readers ignore the file). Data without
it (the real BAIR clips, push data converted or generated before the file existed) get the
block locator's answer on the true frames instead (:meth:`ObjectTruth.located`), and no arm.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..vision import BlockLocator, centroid, visible

OBJECTS_FILE = "objects.npz"
KEPT_WEIGHT = 0.5  # a pixel shows the block's colour where the locator weighs it at least this


@dataclass
class ObjectTruth:
    """The block and the arm in a batch of clips.

    Attributes:
        block_mask: (B, T, H, W) bool, the block's visible pixels.
        block_visible: (B, T) bool (:func:`vidpred.vision.visible` of the mask's pixel count).
        arm_mask: (B, T, H, W) bool, the arm's visible pixels, or None when unknown.
        source: ``simulator`` (the generator's segmentation) or ``locator`` (the block locator
            on the true frames; no arm).
        block_centre: (B, T, 2) float32, the whole block's centre in pixels (the part the arm
            hides included), or None when unknown (the locator; files without it).
    """

    block_mask: Tensor
    block_visible: Tensor
    arm_mask: Tensor | None
    source: str
    block_centre: Tensor | None = None

    @property
    def block_xy(self) -> Tensor:
        """(B, T, 2) the centroid of the block's mask, pixels (:func:`vidpred.vision.centroid`)."""
        return centroid(self.block_mask.float())[0]

    def window(self, n: int) -> ObjectTruth:
        """The first ``n`` frames of every clip."""
        arm, centre = (None if x is None else x[:, :n] for x in (self.arm_mask, self.block_centre))
        return ObjectTruth(self.block_mask[:, :n], self.block_visible[:, :n], arm, self.source,
                           centre)

    def to(self, device) -> ObjectTruth:
        arm, centre = (None if x is None else x.to(device)
                       for x in (self.arm_mask, self.block_centre))
        return ObjectTruth(self.block_mask.to(device), self.block_visible.to(device), arm,
                           self.source, centre)

    @classmethod
    def located(cls, frames: Tensor) -> ObjectTruth:
        """The block locator's answer on true frames (B, T, 3, H, W) in [0, 1], the colour read
        from all of them: the mask is where the weights reach :data:`KEPT_WEIGHT`."""
        weights = BlockLocator.read(frames).weights(frames)
        mass = weights.sum((-2, -1))
        return cls(weights >= KEPT_WEIGHT, visible(mass, *frames.shape[-2:]), None, "locator")


def read_objects(folder: Path) -> dict[str, np.ndarray] | None:
    """The arrays of ``<folder>/objects.npz``, or None when the sequence has no such file.

    Raises:
        DataError: the file exists but cannot be read or lacks an array (named).
    """
    path = Path(folder) / OBJECTS_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in ("block_mask", "arm_mask", "block_visible")}
            if "block_centre" in z:  # files written before the generator recorded it lack it
                arrays["block_centre"] = z["block_centre"]
            return arrays
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read the objects' ground truth ({e}); regenerate the "
                        "dataset or remove the file") from None


def batch_objects(folders: list[Path], starts: Tensor, seq_len: int) -> ObjectTruth | None:
    """The ground truth of a batch of windows: ``folders[i]``'s frames ``starts[i]`` ..
    ``starts[i] + seq_len - 1``; None when any of the sequences has no ``objects.npz``."""
    arrays = []
    for folder, t0 in zip(folders, starts.tolist()):
        a = read_objects(folder)
        if a is None:
            return None
        if len(a["block_mask"]) < t0 + seq_len:
            raise DataError(f"{folder / OBJECTS_FILE}: {len(a['block_mask'])} frames, the "
                            f"sequence's window needs {t0 + seq_len}")
        arrays.append({k: v[t0:t0 + seq_len] for k, v in a.items()})
    keys = ["block_mask", "block_visible", "arm_mask"]
    if all("block_centre" in a for a in arrays):
        keys.append("block_centre")
    stack = {k: torch.from_numpy(np.stack([a[k] for a in arrays])) for k in keys}
    centre = stack.get("block_centre")
    return ObjectTruth(stack["block_mask"], stack["block_visible"], stack["arm_mask"],
                       "simulator", None if centre is None else centre.float())
