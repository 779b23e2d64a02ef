"""The pose-label "dance" layout (pose-conditioned video; ``../shared/DATA.md`` section 2)::

    <root>/train/train_img/*.png     <root>/train/train_label/*.png    same names, paired 1:1
    <root>/val/val_img/*.png         <root>/val/val_label/*.png
    <root>/test/test_img/<i>/*.png   <root>/test/test_label/<i>/*.png  only the first img is given

Files sort by the integer in their name (a ``frame`` prefix is allowed: ``frame10.png`` comes after
``frame9.png``). A label is the RGB rendering of a pose skeleton, the same size as its frame.

This module reads the layout (:class:`DanceDataset`) and validates it (:func:`check_dance`, used
by ``vidpred data check --layout dance``: every problem is one line naming the file). Nothing
under the root is ever written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .bair import _check_png_file, _read_png_checked

SPLIT_FOLDERS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
DEFAULT_FRAME_SIZE = (32, 64)

_INT = re.compile(r"(\d+)")


def frame_number(path: Path) -> int | None:
    """The integer in a file name (``frame12.png`` -> 12, ``12.png`` -> 12), or None."""
    found = _INT.findall(path.stem)
    return int(found[-1]) if found else None


def _pngs(folder: Path, problems: list[str]) -> dict[int, Path]:
    files: dict[int, Path] = {}
    for p in sorted(folder.glob("*.png")):
        n = frame_number(p)
        if n is None:
            problems.append(f"{p}: no frame number in the file name")
        elif n in files:
            problems.append(f"{p}: frame number {n} also used by {files[n].name}")
        else:
            files[n] = p
    return files


def _check_pair_folder(img_dir: Path, label_dir: Path, problems: list[str],
                       labels_may_outnumber: bool) -> None:
    for d in (img_dir, label_dir):
        if not d.is_dir():
            problems.append(f"{d}: missing folder")
            return
    imgs, labels = _pngs(img_dir, problems), _pngs(label_dir, problems)
    if not imgs and not labels:
        problems.append(f"{img_dir}: empty split (no PNG frames)")
        return
    for n in sorted(set(imgs) - set(labels)):
        problems.append(f"{imgs[n]}: frame without a label (expected {label_dir / imgs[n].name})")
    if not labels_may_outnumber:
        for n in sorted(set(labels) - set(imgs)):
            problems.append(f"{labels[n]}: label without a frame (expected {img_dir / labels[n].name})")
    numbered = labels if labels_may_outnumber else imgs
    if numbered:
        first, last = min(numbered), max(numbered)
        for n in sorted(set(range(first, last + 1)) - set(numbered)):
            problems.append(f"{(label_dir if labels_may_outnumber else img_dir)}: frame number {n} "
                            f"missing (files must be numbered {first}..{last} without gaps)")
    size = None
    for n in sorted(set(imgs) | set(labels)):
        for p in (imgs.get(n), labels.get(n)):
            if p is None:
                continue
            shape = _check_png_file(p, problems)
            if shape is None:
                continue
            if size is None:
                size = shape
            elif shape != size:
                problems.append(f"{p}: image is {shape[1]}x{shape[0]}, but the first image in this "
                                f"split is {size[1]}x{size[0]}")


def check_dance(root: str | Path) -> list[str]:
    """Scan a dance-layout dataset and return every problem, one line each (empty: clean)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return [f"{root}: dataset root does not exist"]
    problems: list[str] = []
    splits = [s for s in ("train", "val", "test") if (root / s).is_dir()]
    if not splits:
        return [f"{root}: no split folders (expected train/, val/ and test/)"]
    for split in ("train", "val"):
        if split in splits:
            _check_pair_folder(root / split / f"{split}_img", root / split / f"{split}_label",
                               problems, labels_may_outnumber=False)
    if "test" in splits:
        img_root, label_root = root / "test" / "test_img", root / "test" / "test_label"
        seqs = sorted({p.name for d in (img_root, label_root) if d.is_dir()
                       for p in d.iterdir() if p.is_dir()}, key=lambda s: (len(s), s))
        if not seqs:
            problems.append(f"{root / 'test'}: empty split (expected test_img/<i>/ and test_label/<i>/)")
        for s in seqs:
            _check_pair_folder(img_root / s, label_root / s, problems, labels_may_outnumber=True)
    return problems


# ---- reading -------------------------------------------------------------------------------
def paired_files(img_dir: Path, label_dir: Path, labels_may_outnumber: bool = False
                 ) -> tuple[list[Path], list[Path]]:
    """Frame and label files of one folder pair, matched by frame number and sorted by it.

    Returns (frames, labels); with ``labels_may_outnumber`` (a test sequence: only the first
    frame is given) every label is returned and the frames are those that exist.

    Raises:
        DataError: a missing folder, an empty folder, a frame without its label or a label
            without its frame (the message names both paths).
    """
    for d in (img_dir, label_dir):
        if not d.is_dir():
            raise DataError(f"{d}: missing folder (dance layout: <split>/<split>_img and "
                            "<split>/<split>_label)")
    problems: list[str] = []
    imgs, labels = _pngs(img_dir, problems), _pngs(label_dir, problems)
    for n in sorted(set(imgs) - set(labels)):
        problems.append(f"{imgs[n]}: frame without a label (expected {label_dir / imgs[n].name})")
    if not labels_may_outnumber:
        for n in sorted(set(labels) - set(imgs)):
            problems.append(f"{labels[n]}: label without a frame (expected {img_dir / labels[n].name})")
    if not labels:
        problems.append(f"{label_dir}: no PNG files")
    if problems:
        more = f" (and {len(problems) - 1} more; run vidpred data check --layout dance)" \
            if len(problems) > 1 else ""
        raise DataError(problems[0] + more)
    numbers = sorted(labels)
    return [imgs[n] for n in numbers if n in imgs], [labels[n] for n in numbers]


def read_frames(paths: list[Path], frame_size: tuple[int, int], desc: str = "",
                progress: bool = False) -> torch.Tensor:
    """Decode and resize PNGs into one uint8 tensor (N, 3, H, W).

    Resizing is bilinear with antialiasing (PIL), from any source size to ``frame_size``
    (H, W). Raises DataError naming an unreadable file or a non-RGB image.
    """
    from PIL import Image
    from tqdm import tqdm

    H, W = frame_size
    out = torch.empty((len(paths), 3, H, W), dtype=torch.uint8)
    for i, p in enumerate(tqdm(paths, desc=desc, unit="frame", disable=not progress, leave=False)):
        problems: list[str] = []
        arr = _read_png_checked(p, problems)
        if arr is None:
            raise DataError(problems[0])
        if arr.shape[:2] != (H, W):
            arr = np.asarray(Image.fromarray(arr).resize((W, H), Image.BILINEAR))
        out[i] = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    return out


@dataclass
class DanceTestSequence:
    """One test sequence: the given first frame, all labels and, when the generator kept them,
    the ground-truth frames. uint8 tensors (3, H, W), (T, 3, H, W), (T, 3, H, W) or None."""

    name: str
    first_frame: torch.Tensor
    labels: torch.Tensor
    truth: torch.Tensor | None
    label_paths: list[Path]


class DanceDataset:
    """The pose-label dance layout (``../shared/DATA.md`` section 2) as frames and labels.

    - ``train``: the frames of ``train_img`` in numeric order, cut into non-overlapping clips of
      ``seq_len`` consecutive frames (``len`` = frames // seq_len; the remainder is unused).
    - ``validate``/``val``: one clip of all validation frames (630 in the course data).
    - ``test``: one item per test sequence ``test_label/<i>``: the ground-truth frames from
      ``test_gt/<i>`` when present (the built-in generator writes them), else only frame 0.

    Every frame is resized to ``frame_size`` (H, W; default 32 x 64) when read and kept in
    memory as uint8.

    Args:
        root: dataset root. split: ``train``, ``validate``/``val`` or ``test``.
        seq_len: training clip length (``video_len``, 16 in the course); ignored for val/test.
        frame_size: (H, W) in pixels.
        max_sequences: keep only the first clips / test sequences.

    ``batch(indices)`` returns frames float32 (B, T, 3, H, W) and labels float32
    (B, T, 3, H, W), both in [0, 1].

    Raises:
        DataError: missing folders, unpaired files (both paths named), unreadable PNGs, too few
            frames, or test sequences without ground truth asked for as a batch.
    """

    cond_kind = "image"

    def __init__(self, root: str | Path, split: str, seq_len: int = 16, train: bool = True,
                 frame_size: tuple[int, int] = DEFAULT_FRAME_SIZE, max_sequences: int | None = None,
                 progress: bool = False):
        root = Path(root).expanduser()
        if split not in SPLIT_FOLDERS:
            raise DataError(f"unknown split {split!r}; the dance layout has train, val and test")
        folder = SPLIT_FOLDERS[split]
        self.root, self.split, self.frame_size = root, folder, tuple(frame_size)
        if not (root / folder).is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
            raise DataError(f"{root}: no {folder!r} split folder (found: {', '.join(found) or 'nothing'})")
        self.tests: list[DanceTestSequence] = []
        if folder == "test":
            self._read_test(max_sequences, progress)
            return
        img_paths, label_paths = paired_files(root / folder / f"{folder}_img",
                                              root / folder / f"{folder}_label")
        length = seq_len if folder == "train" else len(img_paths)
        n_clips = len(img_paths) // length
        if n_clips == 0:
            raise DataError(f"{root / folder / f'{folder}_img'}: {len(img_paths)} frames, fewer than "
                            f"one clip of {length}")
        if max_sequences is not None:
            n_clips = min(n_clips, max_sequences)
        n = n_clips * length
        self.frames = read_frames(img_paths[:n], self.frame_size, f"reading {folder}_img", progress)
        self.labels = read_frames(label_paths[:n], self.frame_size, f"reading {folder}_label", progress)
        self.seq_len, self.n_clips = length, n_clips

    def _read_test(self, max_sequences: int | None, progress: bool) -> None:
        img_root = self.root / "test" / "test_img"
        label_root = self.root / "test" / "test_label"
        gt_root = self.root / "test" / "test_gt"
        if not label_root.is_dir():
            raise DataError(f"{label_root}: missing folder (test labels go in test_label/<i>/)")
        names = sorted((p.name for p in label_root.iterdir() if p.is_dir()),
                       key=lambda s: (frame_number(Path(s)) is None, frame_number(Path(s)) or 0, s))
        if not names:
            raise DataError(f"{label_root}: no test sequences (expected test_label/<i>/)")
        for name in names[:max_sequences]:
            imgs, labels = paired_files(img_root / name, label_root / name, labels_may_outnumber=True)
            if not imgs or frame_number(imgs[0]) != frame_number(labels[0]):
                raise DataError(f"{img_root / name}: the first frame "
                                f"({img_root / name / labels[0].name}) is missing")
            truth = None
            if (gt_root / name).is_dir():
                gts, _ = paired_files(gt_root / name, label_root / name)
                truth = read_frames(gts, self.frame_size)
            self.tests.append(DanceTestSequence(
                name, read_frames(imgs[:1], self.frame_size)[0],
                read_frames(labels, self.frame_size, f"reading test_label/{name}", progress),
                truth, labels))
        self.seq_len = min(len(t.labels) for t in self.tests)
        self.n_clips = len(self.tests)

    def __len__(self) -> int:
        return self.n_clips

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames and labels of the given clips, float32 (B, T, 3, H, W) in [0, 1]."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        if self.split == "test":
            missing = [self.tests[i].name for i in idx.tolist() if self.tests[i].truth is None]
            if missing:
                raise DataError(f"{self.root / 'test'}: no ground truth (test_gt/<i>/) for "
                                f"sequence(s) {', '.join(missing)}; score them with vidpred predict --gt")
            T = self.seq_len
            frames = torch.stack([self.tests[i].truth[:T] for i in idx.tolist()])
            labels = torch.stack([self.tests[i].labels[:T] for i in idx.tolist()])
            return frames.float().div_(255.0), labels.float().div_(255.0)
        t = idx[:, None] * self.seq_len + torch.arange(self.seq_len)
        return self.frames[t].div(255.0), self.labels[t].div(255.0)  # uint8 -> float32, one pass
