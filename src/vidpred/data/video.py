"""The ``video`` layout: footage converted by ``vidpred data video`` (:mod:`vidpred.data.video_convert`)
into shots of fixed-size frames, and the dataset that serves windows of them.

Layout::

    <root>/vidpred_dataset.json   the record: settings, sources, shots, the split (rule, counts,
                                  segments); written last, so only a finished dataset has it
    <root>/vidpred_run.json       vidpred's output marker (the files it wrote)
    <root>/shots/shot_<k>.npy     uint8 (T, H, W, 3) RGB, one file per shot (frames between two cuts)

The split is a list of segments ``[shot, start, end]`` per split (:mod:`vidpred.data.video_splits`);
a window never leaves its segment, so it never spans a cut or a split boundary. No conditions:
the layout gives empty condition vectors (B, T, 0), so a model of it has ``model.cond_dim: 0``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .jobs import META_FILE
from .video_splits import SPLITS

LAYOUT = "video"
SHOTS_DIR = "shots"
ALIASES = {"val": "validate"}


def read_record(root: str | Path) -> dict:
    """The dataset record of a ``video`` dataset.

    Raises:
        DataError: missing, unreadable, or not of the video layout (named, with the fix).
    """
    meta = Path(root).expanduser() / META_FILE
    if not meta.is_file():
        raise DataError(f"{meta}: missing; convert your footage with "
                        f"`vidpred data video FILE --out {Path(root)}`")
    try:
        record = json.loads(meta.read_text())
        if record.get("layout") != LAYOUT:
            raise ValueError(f"layout {record.get('layout')!r}, not {LAYOUT!r}")
        record["split"]["segments"], record["shots"]  # noqa: B018 — the keys the reader needs
    except (ValueError, OSError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"{meta}: unreadable video dataset record ({e}); convert the footage "
                        f"again with `vidpred data video FILE --out NEW_DIR`") from None
    return record


def is_video_dataset(root: Path) -> bool:
    """Whether ``root`` looks like the video layout (its ``shots/`` folder and record)."""
    return (root / SHOTS_DIR).is_dir() and (root / META_FILE).is_file()


def open_shot(path: Path, image_size: int | None = None) -> np.ndarray:
    """One shot file, memory-mapped: uint8 (T, H, W, 3).

    Raises:
        DataError: unreadable, or frames of another shape (named).
    """
    try:
        frames = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: unreadable shot ({e}); convert the footage again") from None
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise DataError(f"{path}: frames of shape {frames.shape} {frames.dtype}, expected uint8 "
                        "(T, H, W, 3); convert the footage again")
    if image_size is not None and frames.shape[1:3] != (image_size, image_size):
        raise DataError(f"{path}: frames are {frames.shape[1]}x{frames.shape[2]}, the config asks "
                        f"for {image_size}x{image_size}; convert with --image-size {image_size} "
                        f"or set data.image_size={frames.shape[1]}")
    return frames


class VideoClipsDataset:
    """Windows of converted footage (a :class:`~vidpred.data.base.VideoDataset`).

    ``train=True``: every start position of every segment of the split is an item (a random
    sampler draws a random window). ``train=False``: non-overlapping windows from the start of
    each segment, in order (item i is the same window in every run).

    Args:
        root: dataset root. split: ``train``, ``validate`` (``val``) or ``test``.
        seq_len: frames per item (n_past + n_future). image_size: the frames' size in pixels.
        max_sequences: keep only the first items (evaluation order).

    Items: frames float32 (seq_len, 3, H, W) in [0, 1] and an empty condition (seq_len, 0).

    Raises:
        DataError: a problem with the record or a shot file, an unknown split, or a split with
            no window of ``seq_len`` frames (named, with the fix).
    """

    def __init__(self, root: str | Path, split: str, seq_len: int, train: bool = True,
                 image_size: int = 64, max_sequences: int | None = None):
        self.root = Path(root).expanduser()
        record = read_record(self.root)
        name = ALIASES.get(split, split)
        if name not in SPLITS:
            raise DataError(f"{self.root}: the video layout has splits {', '.join(SPLITS)}, "
                            f"not {split!r}")
        self.seq_len = seq_len
        shots = {}
        self.items: list[tuple[int, int]] = []  # (shot, first frame)
        self.segments = record["split"]["segments"][name]
        for shot, start, end in self.segments:
            if shot not in shots:
                shots[shot] = open_shot(self.root / record["shots"][shot]["file"], image_size)
            step = 1 if train else seq_len
            self.items += [(shot, s) for s in range(start, end - seq_len + 1, step)]
        self.shots = shots
        if max_sequences is not None:
            self.items = self.items[:max_sequences]
        if not self.items:
            raise DataError(f"{self.root}: the {name} split has no window of {seq_len} frames "
                            f"(its segments: {[e - s for _, s, e in self.segments]} frames); "
                            f"convert with --window {seq_len} (n_past + n_future)")

    @property
    def n_sequences(self) -> int:
        """Segments (stretches of one shot) the items are cut from."""
        return len(self.segments)

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """frames float32 (B, seq_len, 3, H, W) in [0, 1], cond float32 (B, seq_len, 0)."""
        idx = [int(i) for i in indices]
        clips = np.stack([self.shots[shot][s:s + self.seq_len]
                          for shot, s in (self.items[i] for i in idx)])
        frames = torch.from_numpy(clips).permute(0, 1, 4, 2, 3).float().div_(255.0)
        return frames, torch.zeros(len(idx), self.seq_len, 0)


def check_video(root: str | Path, image_size: int = 64) -> list[str]:
    """``vidpred data check --layout video``: every problem of a converted dataset, one line each
    naming the file; empty when clean. Reads every shot file's header, not its frames."""
    root = Path(root).expanduser()
    try:
        record = read_record(root)
    except DataError as e:
        return [str(e)]
    problems, lengths = [], {}
    for k, shot in enumerate(record["shots"]):
        path = root / shot["file"]
        try:
            frames = open_shot(path, image_size)
        except DataError as e:
            problems.append(str(e))
            continue
        lengths[k] = len(frames)
        if len(frames) != shot["frames"]:
            problems.append(f"{path}: {len(frames)} frames, the record says {shot['frames']}; "
                            "convert the footage again")
    split = record["split"]
    seen: dict[tuple[int, int], str] = {}
    for name in SPLITS:
        segments = split["segments"].get(name, [])
        for shot, start, end in segments:
            if shot not in lengths:
                if shot >= len(record["shots"]):
                    problems.append(f"{root / META_FILE}: {name} names shot {shot}, which does not exist")
                continue
            if not 0 <= start < end <= lengths[shot]:
                problems.append(f"{root / META_FILE}: {name} segment {[shot, start, end]} is outside "
                                f"shot {shot} ({lengths[shot]} frames)")
            for other in [v for (s, f), v in seen.items() if s == shot and start <= f < end]:
                if other != name:
                    problems.append(f"{root / META_FILE}: shot {shot} frames {start}-{end - 1} are in "
                                    f"both {other} and {name} (a leak); convert the footage again")
                    break
            seen.update({(shot, f): name for f in range(start, end)})
        if not any(e - s >= split["window"] for _, s, e in segments):
            problems.append(f"{root / META_FILE}: the {name} split has no window of "
                            f"{split['window']} frames")
    return problems
