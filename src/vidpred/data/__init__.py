"""Datasets: on-disk formats (``bair``), built-in generators (``sim_push``, ``smmnist``) and the
factory the training loop and evaluation use."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

LAYOUTS = ("bair", "smmnist")
COND_DIMS = {"bair": 7, "smmnist": 0}


def make_dataset(root: str | Path, layout: str, split: str, seq_len: int, train: bool,
                 image_size: int = 64, max_sequences: int | None = None, progress: bool = False):
    """Open a split of a dataset in ``layout``; every dataset has ``batch(indices)`` returning
    frames (B, seq_len, C, H, W) float32 in [0, 1] and conditions (B, seq_len, D) float32.

    Raises:
        ConfigError: unknown layout. DataError: problems with the files (named).
    """
    if layout == "bair":
        from .bair import BairDataset
        return BairDataset(root, split, seq_len, train=train, image_size=image_size,
                           max_sequences=max_sequences, progress=progress)
    if layout == "smmnist":
        from .smmnist import SMMNISTDataset
        return SMMNISTDataset(root, split, seq_len, train=train, max_sequences=max_sequences)
    raise ConfigError(f"data.layout: unknown layout {layout!r}; choose one of {LAYOUTS}")
