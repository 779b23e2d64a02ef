"""The processed BAIR robot-pushing layout (action-conditioned video).

Layout::

    <root>/<split>/<group>/<k>/0.png ... <T-1>.png        64x64 RGB, numbered from 0
    <root>/<split>/<group>/<k>/actions.csv                 T rows x 4, comma-separated, no header
    <root>/<split>/<group>/<k>/endeffector_positions.csv   T rows x 3

``<split>`` is ``train``, ``validate`` (``val`` is accepted as an alias) or ``test``; ``<group>``
is any folder name (``traj_0_to_255.tfrecords`` or ``traj_0_to_255``) and ``<k>`` an integer.
Groups and sequences are ordered by the integers in their names and frames by their number
(:func:`vidpred.data.files.frame_number`: ``10.png`` after ``9.png``; a ``frame`` prefix is
allowed). The condition of frame t is concat(action_t, end_effector_t), shape (7,).

Files are read once when the dataset is built, validated (every problem raises a
:class:`~vidpred.errors.DataError` naming the file) and kept as uint8 in the decoded-frame cache
(:mod:`vidpred.data.frame_cache`), so training never waits on PNG decoding. A split of more than
:data:`STREAM_BYTES` of frames (the BAIR download converted: about 16 GB) is decoded straight
into the cache's memory-mapped files, a few sequences at a time, never whole in memory. Nothing
under ``root`` is ever written.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from ..progress import progress_bar
from .files import collect, folder_order, numbered_pngs, raise_first, read_csv, read_png
from .frame_cache import RELEASE_EVERY, PageBudget, cached_arrays, cached_arrays_streamed
from .jobs import generated_seq_len, unfinished
from .objects import ObjectTruth, batch_objects, read_objects

ACTION_DIM = 4
EE_DIM = 3
# splits with more frames than this are decoded into the cache a few sequences at a time
STREAM_BYTES = 2**30
SPLIT_ALIASES = {"val": ("validate", "val"), "validate": ("validate", "val"),
                 "train": ("train",), "test": ("test",)}


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
    for group in sorted((p for p in split_dir.iterdir() if p.is_dir()), key=folder_order):
        seqs += sorted((p for p in group.iterdir() if p.is_dir() and p.name.isdigit()),
                       key=lambda p: int(p.name))
    if not seqs:
        raise DataError(f"{split_dir}: empty split, expected folders <group>/<k>/ holding "
                        "0.png ... and actions.csv, endeffector_positions.csv")
    return seqs


def scan_sequence(folder: Path, image_size: int = 64, max_frames: int | None = None):
    """Read one sequence folder and collect every problem with it (at most one per file).

    Returns:
        (frames uint8 (T, 3, H, W) or None, conditions float32 (T, 7) or None, problems) where
        problems is a list of one-line messages, each naming the file. Frames and conditions are
        None when there is any problem. With ``max_frames`` only the first frames are decoded
        (the numbering and the CSVs are still checked for every frame).
    """
    problems: list[str] = []
    files = numbered_pngs(folder, problems)
    if not files:
        return None, None, problems or [f"{folder}: no frames (expected 0.png, 1.png, ...)"]
    n = max(files) + 1
    for missing in sorted(set(range(n)) - set(files)):
        problems.append(f"{folder / f'{missing}.png'}: missing frame (frames must be numbered "
                        f"0..{n - 1} without gaps)")
    actions = collect(problems, read_csv, folder / "actions.csv", n, ACTION_DIM)
    ee = collect(problems, read_csv, folder / "endeffector_positions.csv", n, EE_DIM)
    t = n if max_frames is None else min(n, max_frames)
    frames = [collect(problems, read_png, files[i], (image_size, image_size))
              for i in range(t) if i in files]
    if problems:
        return None, None, problems
    cond = np.concatenate([actions, ee], axis=1)[:t]
    return np.stack(frames).transpose(0, 3, 1, 2).copy(), cond, problems


def read_sequence(folder: Path, image_size: int = 64, max_frames: int | None = None):
    """Read and validate one sequence folder.

    Args:
        folder: ``<split>/<group>/<k>``.
        image_size: expected frame height and width in pixels.
        max_frames: decode only the first frames (the CSVs must still cover every frame).

    Returns:
        frames uint8 (T, 3, H, W) and conditions float32 (T, 7).

    Raises:
        DataError: missing/unreadable/wrong-size/non-RGB frame, a file name that is not a frame
            number, a numbering gap, a CSV with the wrong shape or values. The message is the
            first problem found (the same line ``vidpred data check`` prints) and says how many
            more there are.
    """
    frames, cond, problems = scan_sequence(folder, image_size, max_frames)
    raise_first(problems, "`vidpred data check`")
    return frames, cond


def check_dataset(root: str | Path, image_size: int = 64, progress: bool = False) -> list[str]:
    """Scan every split of a BAIR-layout dataset and return all problems, one line each, each
    starting with the path at fault (at most one problem per file; see :func:`scan_sequence`).

    Args:
        root: dataset root. image_size: expected frame height and width in pixels.
        progress: show a progress bar per split.

    Never writes anything under ``root``. An empty list means the dataset is clean.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        return [f"{root}: dataset root does not exist"]
    splits = [root / s for s in ("train", "validate", "val", "test") if (root / s).is_dir()]
    if not splits:
        return [f"{root}: no split folders (expected train/, validate/ and test/)"]
    problems: list[str] = []
    lengths: dict[Path, int] = {}
    for split in splits:
        seqs = collect(problems, find_sequences, split) or []
        for folder in progress_bar(seqs, desc=f"checking {split.name}", unit="seq",
                                   disable=not progress, leave=False):
            frames, _, found = scan_sequence(folder, image_size)
            problems += found
            if frames is not None:
                lengths[folder] = len(frames)
    recorded = generated_seq_len(root)
    wrong = [p for p, n in lengths.items() if recorded is not None and n != recorded]
    if wrong:  # e.g. a generator re-run with another --seq-len into one folder
        problems.append(f"{wrong[0]}: {lengths[wrong[0]]} frames, but the generator's record in "
                        f"{root} says {recorded} ({len(wrong)} such sequences: two runs of the "
                        "generator mixed in one folder?)")
    return problems + unfinished(root)


def _decode(paths: list[Path], image_size: int, max_frames: int | None, seq_len: int,
            progress: bool, name: str) -> dict[str, np.ndarray]:
    """Decode and validate every sequence: frames uint8 (N, T, 3, H, W), cond float32 (N, T, 7),
    T the shortest sequence's length (sequences of unequal length keep the common prefix)."""
    frames = conds = None
    length = None
    for i, p in enumerate(progress_bar(paths, desc=f"reading {name}", unit="seq",
                                       disable=not progress, leave=False)):
        f, c = read_sequence(p, image_size, max_frames=max_frames)
        if len(f) < seq_len:
            raise DataError(f"{p}: {len(f)} frames, but windows of {seq_len} frames "
                            "(n_past + n_future) were asked for")
        if frames is None:  # preallocate: one copy of the split in memory, not two
            length = len(f)
            frames = np.empty((len(paths), *f.shape), np.uint8)
            conds = np.empty((len(paths), *c.shape), np.float32)
        length = min(length, len(f))
        frames[i, :length] = f[:length]
        conds[i, :length] = c[:length]
    return {"frames": frames[:, :length], "cond": conds[:, :length]}


def _open_split(split_dir: Path, paths: list[Path], settings: dict, image_size: int,
                max_frames: int | None, seq_len: int, progress: bool, cache: bool):
    """The split's arrays (frames, cond) from the cache, decoded on a miss: whole into memory
    when small, streamed into the cache's files when the first sequence's frames times the
    count exceed :data:`STREAM_BYTES` (every sequence must then be at least as long as the
    first)."""
    name = split_dir.name

    def whole():
        return _decode(paths, image_size, max_frames, seq_len, progress, name)

    frames_each = len(numbered_pngs(paths[0], [])) if cache and paths else 0
    if max_frames is not None:
        frames_each = min(frames_each, max_frames)
    if len(paths) * frames_each * 3 * image_size ** 2 <= STREAM_BYTES:
        return cached_arrays(split_dir, settings, whole, enabled=cache)
    first = []  # read on a cache miss only

    def shapes():
        first.extend(read_sequence(paths[0], image_size, max_frames))
        if len(first[0]) < seq_len:
            raise DataError(f"{paths[0]}: {len(first[0])} frames, but windows of {seq_len} "
                            "frames (n_past + n_future) were asked for")
        return {"frames": ((len(paths), *first[0].shape), np.uint8),
                "cond": ((len(paths), *first[1].shape), np.float32)}

    def fill(arrays, release):
        for i, p in enumerate(progress_bar(paths, desc=f"reading {name}", unit="seq",
                                           disable=not progress, leave=False)):
            f, c = first if i == 0 else read_sequence(p, image_size, max_frames)
            T = len(first[0])
            if len(f) < T:
                raise DataError(f"{p}: {len(f)} frames, but the split's first sequence has {T} "
                                f"(a split of more than {STREAM_BYTES / 2**30:.0f} GiB needs "
                                "sequences of equal length)")
            arrays["frames"][i], arrays["cond"][i] = f[:T], c[:T]
            if (i + 1) % RELEASE_EVERY == 0:
                release()

    return cached_arrays_streamed(split_dir, settings, shapes, fill)


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
        image_size: expected frame height and width in pixels.
        max_sequences: read only the first sequences (in order).
        progress: show a progress bar while decoding.
        cache: keep the decoded frames in the decoded-frame cache
            (:mod:`vidpred.data.frame_cache`; rebuilt when any file of the split changes).

    Items:
        frames float32 (seq_len, 3, H, W) in [0, 1]; cond float32 (seq_len, 7).

    Raises:
        DataError: bad files (see :func:`read_sequence`), or sequences shorter than seq_len.
    """

    def __init__(self, root: str | Path, split: str, seq_len: int, train: bool = True,
                 image_size: int = 64, max_sequences: int | None = None, progress: bool = False,
                 cache: bool = True):
        self.split_dir = resolve_split(root, split)
        paths = find_sequences(self.split_dir)[:max_sequences]
        max_frames = None if train else seq_len
        settings = {"layout": "bair", "image_size": image_size, "sequences": len(paths),
                    "max_frames": max_frames}
        arrays = _open_split(self.split_dir, paths, settings, image_size, max_frames, seq_len,
                             progress, cache)
        frames = torch.from_numpy(arrays["frames"])
        if frames.shape[1] < seq_len:
            raise DataError(f"{self.split_dir}: sequences of {frames.shape[1]} frames, but windows "
                            f"of {seq_len} frames (n_past + n_future) were asked for")
        self.seqs = _Sequences(frames, torch.from_numpy(arrays["cond"]), paths)
        self.pages = PageBudget(arrays["frames"])
        self.seq_len = seq_len
        self.n_starts = frames.shape[1] - seq_len + 1 if train else 1

    @property
    def n_sequences(self) -> int:
        """Sequence folders read (each gives ``n_starts`` items)."""
        return len(self.seqs.paths)

    def __len__(self) -> int:
        return self.n_sequences * self.n_starts

    def __getitem__(self, index: int):
        """Item ``index``: frames float32 (seq_len, 3, H, W) in [0, 1], cond float32 (seq_len, 7)."""
        s, t0 = divmod(int(index), self.n_starts)
        window = slice(t0, t0 + self.seq_len)
        frames = self.seqs.frames[s, window].float().div_(255.0)
        self.pages.read(frames.numel())  # bytes of uint8 read
        return frames, self.seqs.cond[s, window]

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather items as a batch without a per-item Python loop.

        Returns frames float32 (B, seq_len, 3, H, W) in [0, 1] and cond float32 (B, seq_len, 7).
        """
        idx = torch.as_tensor(indices, dtype=torch.long)
        s, t0 = idx // self.n_starts, idx % self.n_starts
        t = t0[:, None] + torch.arange(self.seq_len)
        frames = self.seqs.frames[s[:, None], t].div(255.0)  # uint8 -> float32 in one pass
        self.pages.read(frames.numel())  # bytes of uint8 read
        return frames, self.seqs.cond[s[:, None], t]

    def arm_masks(self, sequences) -> torch.Tensor | None:
        """Where the arm is in every frame of the sequences ``sequences`` (indices into the
        split): (S, L, H, W) bool from each sequence's ``objects.npz`` (:mod:`vidpred.data.objects`),
        or None when one has no such file (the real BAIR data)."""
        L = self.seqs.frames.shape[1]
        masks = []
        for i in sequences:
            a = read_objects(self.seqs.paths[int(i)])
            if a is None:
                return None
            masks.append(torch.from_numpy(a["arm_mask"][:L]))
        return torch.stack(masks)

    def block_centres(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The block's true centre (S, L, 2) float32 pixels and visibility (S, L) bool in every
        frame of the split, from each sequence's ``objects.npz`` (:mod:`vidpred.data.objects`),
        or None when one has no such file or no centres (the real BAIR data)."""
        L = self.seqs.frames.shape[1]
        centres, seen = [], []
        for path in self.seqs.paths:
            a = read_objects(path)
            if a is None or "block_centre" not in a:
                return None
            centres.append(torch.from_numpy(a["block_centre"][:L]).float())
            seen.append(torch.from_numpy(a["block_visible"][:L]))
        return torch.stack(centres), torch.stack(seen)

    def objects(self, indices) -> ObjectTruth | None:
        """The ground truth of the block and the arm in the items ``indices``
        (:mod:`vidpred.data.objects`: from each sequence's ``objects.npz``), or None when a
        sequence has none (the real BAIR data)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        s, t0 = idx // self.n_starts, idx % self.n_starts
        return batch_objects([self.seqs.paths[i] for i in s.tolist()], t0, self.seq_len)
