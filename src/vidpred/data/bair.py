"""The processed BAIR robot-pushing layout (action-conditioned video).

Layout (SVG's converter and the 2022 course; ``../shared/DATA.md`` section 1)::

    <root>/<split>/<group>/<k>/0.png ... <T-1>.png        64x64 RGB, numbered from 0
    <root>/<split>/<group>/<k>/actions.csv                 T rows x 4, comma-separated, no header
    <root>/<split>/<group>/<k>/endeffector_positions.csv   T rows x 3

``<split>`` is ``train``, ``validate`` (course; ``val`` is accepted as an alias) or ``test``;
``<group>`` is any folder name (``traj_0_to_255.tfrecords`` in the course, ``traj_0_to_255`` in
SVG's converter) and ``<k>`` an integer. Groups and sequences are ordered by the integers in
their names and frames numerically (``10.png`` after ``9.png``). The condition of frame t is
concat(action_t, end_effector_t), shape (7,).

Files are read once when the dataset is built, validated (every problem raises a
:class:`~vidpred.errors.DataError` naming the file) and kept in memory as uint8, so training
never waits on PNG decoding. Nothing under ``root`` is ever written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError

ACTION_DIM = 4
EE_DIM = 3
COND_DIM = ACTION_DIM + EE_DIM
SPLIT_ALIASES = {"val": ("validate", "val"), "validate": ("validate", "val"),
                 "train": ("train",), "test": ("test",)}
_INT = re.compile(r"\d+")


def _numeric_key(path: Path) -> tuple:
    nums = _INT.findall(path.name)
    return (int(nums[0]) if nums else float("inf"), path.name)


def resolve_split(root: str | Path, split: str) -> Path:
    """Return ``<root>/<split>`` (accepting ``val``/``validate`` for one another).

    Raises:
        DataError: the root or split folder does not exist.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset root {root} does not exist (generate one with "
                        f"`vidpred data push --out {root}` or pass --data)")
    for name in SPLIT_ALIASES.get(split, (split,)):
        if (root / name).is_dir():
            return root / name
    have = sorted(p.name for p in root.iterdir() if p.is_dir())
    raise DataError(f"{root}: no '{split}' split folder (found: {', '.join(have) or 'nothing'})")


def find_sequences(split_dir: Path) -> list[Path]:
    """Sequence folders ``<group>/<k>`` under a split, in numeric order.

    Raises:
        DataError: the split holds no sequence folder.
    """
    seqs = []
    for group in sorted((p for p in split_dir.iterdir() if p.is_dir()), key=_numeric_key):
        seqs += sorted((p for p in group.iterdir() if p.is_dir() and p.name.isdigit()),
                       key=lambda p: int(p.name))
    if not seqs:
        raise DataError(f"{split_dir}: empty split, expected folders <group>/<k>/ holding "
                        "0.png ... and actions.csv, endeffector_positions.csv")
    return seqs


def _read_csv(path: Path, n_rows: int, n_cols: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: missing (each sequence needs actions.csv and "
                        "endeffector_positions.csv)")
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != n_cols:
            raise DataError(f"{path}: line {line_no} has {len(cells)} columns, expected {n_cols}")
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            raise DataError(f"{path}: line {line_no} is not numeric: {line.strip()!r}") from None
    arr = np.asarray(rows, dtype=np.float32).reshape(-1, n_cols)
    if len(arr) != n_rows:
        raise DataError(f"{path}: {len(arr)} rows, expected {n_rows} (one per frame)")
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0]) + 1
        raise DataError(f"{path}: non-finite value on row {bad}")
    return arr


def _read_png(path: Path, image_size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode != "RGB":
                im = im.convert("RGB")
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError, SyntaxError) as e:
        raise DataError(f"{path}: unreadable or truncated PNG ({e})") from None
    if arr.shape[:2] != (image_size, image_size):
        raise DataError(f"{path}: image is {arr.shape[1]}x{arr.shape[0]}, expected "
                        f"{image_size}x{image_size}")
    return arr


def read_sequence(folder: Path, image_size: int = 64, max_frames: int | None = None):
    """Read and validate one sequence folder.

    Args:
        folder: ``<split>/<group>/<k>``.
        image_size: expected frame height and width.
        max_frames: read only the first frames (the CSVs must still cover every frame).

    Returns:
        frames uint8 (T, 3, H, W) and conditions float32 (T, 7).

    Raises:
        DataError: missing/unreadable frame, numbering gap, CSV with wrong shape or values.
    """
    pngs = [p for p in folder.glob("*.png") if p.stem.isdigit()]
    if not pngs:
        raise DataError(f"{folder}: no frames (expected 0.png, 1.png, ...)")
    numbers = sorted(int(p.stem) for p in pngs)
    n = len(numbers)
    if numbers != list(range(n)):
        missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
        raise DataError(f"{folder / f'{missing[0]}.png'}: missing frame (frames must be numbered "
                        f"0..{numbers[-1]} without gaps)")
    actions = _read_csv(folder / "actions.csv", n, ACTION_DIM)
    ee = _read_csv(folder / "endeffector_positions.csv", n, EE_DIM)
    t = n if max_frames is None else min(n, max_frames)
    frames = np.stack([_read_png(folder / f"{i}.png", image_size) for i in range(t)])
    cond = np.concatenate([actions, ee], axis=1)[:t]
    return frames.transpose(0, 3, 1, 2).copy(), cond


@dataclass
class _Sequences:
    frames: torch.Tensor     # uint8 (N, T, 3, H, W)
    cond: torch.Tensor       # float32 (N, T, 7)
    paths: list[Path]


class BairDataset(Dataset):
    """Windows of ``seq_len`` frames from a split of the processed BAIR layout.

    Item ``i`` is the window starting at frame ``i % n_starts`` of sequence ``i // n_starts``
    (with ``train=True`` every start position is an item, so a random sampler draws a random
    window; with ``train=False`` only the window at frame 0 is an item and sequences come in
    their fixed numeric order).

    Args:
        root: dataset root.
        split: ``train``, ``validate``/``val`` or ``test``.
        seq_len: frames per item (n_past + n_future).
        train: see above.
        image_size: expected frame size.
        max_sequences: read only the first sequences (in order).
        progress: show a progress bar while decoding.

    Items:
        frames float32 (seq_len, 3, H, W) in [0, 1]; cond float32 (seq_len, 7).

    Raises:
        DataError: bad files (see :func:`read_sequence`), or sequences shorter than seq_len.
    """

    def __init__(self, root: str | Path, split: str, seq_len: int, train: bool = True,
                 image_size: int = 64, max_sequences: int | None = None, progress: bool = False):
        from tqdm import tqdm

        self.split_dir = resolve_split(root, split)
        paths = find_sequences(self.split_dir)[:max_sequences]
        frames = conds = None
        length = None
        for i, p in enumerate(tqdm(paths, desc=f"reading {self.split_dir.name}", unit="seq",
                                   disable=not progress, leave=False)):
            f, c = read_sequence(p, image_size, max_frames=None if train else seq_len)
            if len(f) < seq_len:
                raise DataError(f"{p}: {len(f)} frames, but windows of {seq_len} frames "
                                "(n_past + n_future) were asked for")
            if frames is None:  # preallocate: one copy of the split in memory, not two
                length = len(f)
                frames = np.empty((len(paths), *f.shape), np.uint8)
                conds = np.empty((len(paths), *c.shape), np.float32)
            length = min(length, len(f))  # sequences of unequal length: keep the common prefix
            frames[i, :length] = f[:length]
            conds[i, :length] = c[:length]
        self.seqs = _Sequences(torch.from_numpy(frames[:, :length]),
                               torch.from_numpy(conds[:, :length]), paths)
        self.seq_len = seq_len
        self.n_starts = length - seq_len + 1 if train else 1

    @property
    def n_sequences(self) -> int:
        return len(self.seqs.paths)

    def __len__(self) -> int:
        return self.n_sequences * self.n_starts

    def __getitem__(self, index: int):
        s, t0 = divmod(int(index), self.n_starts)
        window = slice(t0, t0 + self.seq_len)
        return self.seqs.frames[s, window].float().div_(255.0), self.seqs.cond[s, window]

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather items as a batch without a per-item Python loop.

        Returns frames float32 (B, seq_len, 3, H, W) in [0, 1] and cond float32 (B, seq_len, 7).
        """
        idx = torch.as_tensor(indices, dtype=torch.long)
        s, t0 = idx // self.n_starts, idx % self.n_starts
        t = t0[:, None] + torch.arange(self.seq_len)
        frames = self.seqs.frames[s[:, None], t].float().div_(255.0)
        return frames, self.seqs.cond[s[:, None], t]
