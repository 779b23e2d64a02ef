"""Datasets: on-disk formats (``bair``, ``bair_tfrecord``, ``dance``, ``video``: your own footage
converted by ``vidpred data video``), built-in generators (``sim_push``,
``sim_dance``, ``smmnist``), an in-memory ``synthetic`` dataset for tests, and the factory the
training loop and evaluation use. Every dataset is a :class:`VideoDataset`."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from .base import VideoDataset

__all__ = ["CHECKED_LAYOUTS", "CONDITIONS", "LAYOUTS", "VideoDataset", "cache_root", "check_data",
           "detect_layout", "make_dataset"]

LAYOUTS = ("bair", "bair_tfrecord", "smmnist", "dance", "video", "synthetic")
# what each layout's conditions are: (kind, size) — see vidpred.models.conditions
CONDITIONS = {"bair": ("vector", 7), "bair_tfrecord": ("vector", 7), "smmnist": ("vector", 0), "dance": ("image", 3),
              "video": ("vector", 0), "synthetic": ("vector", 7)}
# items of the synthetic layout when max_sequences does not say: training sees more sequences
SYNTHETIC_SEQUENCES = {True: 1024, False: 64}


def cache_root() -> Path:
    """Where built-in datasets and decoded-frame caches live: ``$VIDPRED_CACHE``, else
    ``$XDG_CACHE_HOME/vidpred``, else ``~/.cache/vidpred``."""
    root = os.environ.get("VIDPRED_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vidpred")
    return Path(root)


def make_dataset(root: str | Path, layout: str, split: str, seq_len: int, train: bool,
                 image_size: int = 64, max_sequences: int | None = None, progress: bool = False,
                 image_width: int = 0, validate_files: int = 1) -> VideoDataset:
    """Open a split of a dataset in ``layout`` (one of :data:`LAYOUTS`).

    Its ``batch(indices)`` returns frames (B, T, C, H, W) float32 in [0, 1] and conditions:
    vectors (B, T, D) float32 (bair, bair_tfrecord, smmnist, video, synthetic) or label images (B, T, 3, H, W) float32
    in [0, 1] (dance); :data:`CONDITIONS` gives each layout's kind and D. T is ``seq_len``,
    except for the dance layout's val split (its whole clip) and test split (its full sequences).

    Args:
        root: dataset root (ignored by ``synthetic``).
        split: ``train``, ``validate`` or ``test``.
        seq_len: frames per item (n_past + n_future).
        train: training items (random windows, or for ``synthetic`` more sequences) rather than
            the fixed evaluation order.
        image_size, image_width: frame height and width in pixels (width 0: square; ``bair``
            requires its files to have this size, ``dance`` and ``synthetic`` draw at it,
            ``smmnist`` is always 64x64).
        max_sequences: read only the first sequences (``synthetic``: the number of sequences,
            default :data:`SYNTHETIC_SEQUENCES`).
        progress: show progress bars while decoding.
        validate_files: ``bair_tfrecord`` only: the first training files held out as the
            validation split.

    Raises:
        ConfigError: unknown layout. DataError: problems with the files (named).
    """
    if layout == "bair":
        from .bair import BairDataset
        return BairDataset(root, split, seq_len, train=train, image_size=image_size,
                           max_sequences=max_sequences, progress=progress)
    if layout == "bair_tfrecord":
        from .bair_tfrecord import BairTFRecordDataset
        return BairTFRecordDataset(root, split, seq_len, train=train, image_size=image_size,
                                   max_sequences=max_sequences, progress=progress,
                                   validate_files=validate_files)
    if layout == "smmnist":
        from .smmnist import SMMNISTDataset
        return SMMNISTDataset(root, split, seq_len, train=train, max_sequences=max_sequences)
    if layout == "dance":
        from .dance import DanceDataset
        return DanceDataset(root, split, seq_len, train=train,
                            frame_size=(image_size, image_width or image_size),
                            max_sequences=max_sequences, progress=progress)
    if layout == "video":
        from .video import VideoClipsDataset
        return VideoClipsDataset(root, split, seq_len, train=train, image_size=image_size,
                                 max_sequences=max_sequences)
    if layout == "synthetic":
        from .synthetic import SyntheticDataset
        n = max_sequences or SYNTHETIC_SEQUENCES[train]
        return SyntheticDataset(split, seq_len, n_sequences=n, image_size=image_size,
                                image_width=image_width)
    raise ConfigError(f"data.layout: unknown layout {layout!r}; choose one of {LAYOUTS}")


def detect_layout(root: str | Path) -> str | None:
    """The on-disk layout (:data:`LAYOUTS`) a dataset root looks like, from its folder names
    alone (nothing is decoded): ``video`` (``shots/`` and the dataset record), ``dance`` (``train/train_img``, ``val/val_img`` or
    ``test/test_label``), ``smmnist`` (``test.npz``), ``bair_tfrecord`` (``*.tfrecords`` files
    in ``train/`` or ``test/``) or ``bair`` (``<split>/<group>/<k>/`` folders); None when it
    is none of them (or does not exist)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return None
    from .video import is_video_dataset
    if is_video_dataset(root):
        return "video"
    if any((root / s / f"{s}_{kind}").is_dir() for s in ("train", "val", "test")
           for kind in ("img", "label")):
        return "dance"
    if (root / "test.npz").is_file():
        return "smmnist"
    splits = [root / s for s in ("train", "validate", "val", "test") if (root / s).is_dir()]
    if any(p.is_file() for s in splits for p in s.glob("*.tfrecords")):
        return "bair_tfrecord"
    if any(k.is_dir() and k.name.isdigit() for s in splits for g in s.iterdir() if g.is_dir()
           for k in g.iterdir()):
        return "bair"
    return None


CHECKED_LAYOUTS = ("bair", "bair_tfrecord", "dance", "video")


def check_data(root: str | Path, layout: str = "bair", image_size: int = 64,
               progress: bool = False) -> list[str]:
    """``vidpred data check``: every problem of a dataset in ``layout`` (one of
    :data:`CHECKED_LAYOUTS`), one line each naming the file; empty when clean. Writes nothing.

    Raises:
        ConfigError: a layout without a check.
    """
    if layout == "video":
        from .video import check_video
        return check_video(root, image_size=image_size)
    if layout == "dance":
        from .dance import check_dance
        return check_dance(root)
    if layout == "bair_tfrecord":
        from .bair_tfrecord import check_tfrecords
        return check_tfrecords(root, image_size=image_size, progress=progress)
    if layout == "bair":
        from .bair import check_dataset
        return check_dataset(root, image_size=image_size, progress=progress)
    raise ConfigError(f"--layout {layout!r}: choose one of {', '.join(CHECKED_LAYOUTS)}")
