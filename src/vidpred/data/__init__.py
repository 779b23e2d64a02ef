"""Datasets: on-disk formats (``bair``, ``dance``), built-in generators (``sim_push``,
``sim_dance``, ``smmnist``) and the factory the training loop and evaluation use."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

LAYOUTS = ("bair", "smmnist", "dance")
# what each layout's conditions are: (kind, size) — see vidpred.models.conditions
CONDITIONS = {"bair": ("vector", 7), "smmnist": ("vector", 0), "dance": ("image", 3)}


def cache_root() -> Path:
    """Where built-in datasets and decoded-frame caches live: ``$VIDPRED_CACHE``, else
    ``$XDG_CACHE_HOME/vidpred``, else ``~/.cache/vidpred``."""
    root = os.environ.get("VIDPRED_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vidpred")
    return Path(root)


def make_dataset(root: str | Path, layout: str, split: str, seq_len: int, train: bool,
                 image_size: int = 64, max_sequences: int | None = None, progress: bool = False,
                 image_width: int = 0):
    """Open a split of a dataset in ``layout``; every dataset has ``batch(indices)`` returning
    frames (B, T, C, H, W) float32 in [0, 1] and conditions: vectors (B, T, D) float32 (bair,
    smmnist) or label images (B, T, 3, H, W) float32 in [0, 1] (dance). T is ``seq_len``, except
    for the dance layout's val split (its whole clip) and test split (its full sequences).

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
    if layout == "dance":
        from .dance import DanceDataset
        return DanceDataset(root, split, seq_len, train=train,
                            frame_size=(image_size, image_width or image_size),
                            max_sequences=max_sequences, progress=progress)
    raise ConfigError(f"data.layout: unknown layout {layout!r}; choose one of {LAYOUTS}")
