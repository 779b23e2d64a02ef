"""The pose-label "dance" layout (pose-conditioned video)::

    <root>/train/train_img/*.png     <root>/train/train_label/*.png    same names, paired 1:1
    <root>/val/val_img/*.png         <root>/val/val_label/*.png
    <root>/test/test_img/<i>/*.png   <root>/test/test_label/<i>/*.png  only the first img is given
    <root>/test/test_gt/<i>/*.png    optional ground-truth frames of test sequence <i>
    <root>/test/test_gt/<i>/objects.npz  optional: the dancer's mask per frame and the scene
                                     without it (written by :mod:`vidpred.data.sim_dance`)

Files are named by their frame number (:func:`vidpred.data.files.frame_number`: ``12.png`` or
``frame12.png``) and sort by it, so ``frame10.png`` comes after ``frame9.png``. A label is the RGB
rendering of a pose skeleton, the same size as its frame; every PNG is 8-bit RGB.

This module reads the layout (:class:`DanceDataset`) and validates it (:func:`check_dance`, used
by ``vidpred data check --layout dance``: every problem is one line naming the file). Nothing
under the root is ever written.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..progress import progress_bar
from .files import (
    collect,
    folder_order,
    frame_number,
    numbered_pngs,
    raise_first,
    read_png,
)
from .jobs import unfinished
from .objects import OBJECTS_FILE

SPLIT_FOLDERS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
DEFAULT_FRAME_SIZE = (32, 64)


def _pair(img_dir: Path, label_dir: Path, problems: list[str], labels_may_outnumber: bool
          ) -> tuple[dict[int, Path], dict[int, Path]]:
    """Frames and labels of a folder pair by frame number; problems (missing or empty folders,
    badly named files, unpaired files with the expected partner named) appended one per line."""
    for d in (img_dir, label_dir):
        if not d.is_dir():
            problems.append(f"{d}: missing folder (frames go in {img_dir}, their labels in "
                            f"{label_dir})")
            return {}, {}
    imgs, labels = numbered_pngs(img_dir, problems), numbered_pngs(label_dir, problems)
    if not imgs and not labels:
        problems.append(f"{img_dir}: no PNG files (empty folder)")
    for n in sorted(set(imgs) - set(labels)):
        problems.append(f"{imgs[n]}: frame without a label (expected {label_dir / imgs[n].name})")
    if not labels_may_outnumber:
        for n in sorted(set(labels) - set(imgs)):
            problems.append(f"{labels[n]}: label without a frame (expected {img_dir / labels[n].name})")
    return imgs, labels


def _check_pair_folder(img_dir: Path, label_dir: Path, problems: list[str],
                       labels_may_outnumber: bool) -> None:
    """:func:`_pair`'s problems, plus numbering gaps and PNGs that are unreadable, not RGB or of
    another size than the first image of the pair."""
    imgs, labels = _pair(img_dir, label_dir, problems, labels_may_outnumber)
    numbered, folder = (labels, label_dir) if labels_may_outnumber else (imgs, img_dir)
    if numbered:
        first, last = min(numbered), max(numbered)
        for n in sorted(set(range(first, last + 1)) - set(numbered)):
            problems.append(f"{folder}: frame number {n} missing (files must be numbered "
                            f"{first}..{last} without gaps)")
    size = None
    for n in sorted(set(imgs) | set(labels)):
        for p in (imgs.get(n), labels.get(n)):
            arr = None if p is None else collect(problems, read_png, p)
            if arr is None:
                continue
            if size is None:
                size = arr.shape[:2]
            elif arr.shape[:2] != size:
                problems.append(f"{p}: image is {arr.shape[1]}x{arr.shape[0]}, but the first image "
                                f"in this split is {size[1]}x{size[0]}")


def check_dance(root: str | Path) -> list[str]:
    """Scan a dance-layout dataset and return every problem, one line each starting with the
    path at fault (empty: clean). Decodes every PNG; never writes anything under ``root``."""
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
                       for p in d.iterdir() if p.is_dir()}, key=lambda s: folder_order(Path(s)))
        if not seqs:
            problems.append(f"{root / 'test'}: empty split (expected test_img/<i>/ and test_label/<i>/)")
        for s in seqs:
            _check_test_sequence(root / "test", s, problems)
    return problems + unfinished(root)


_ONE_LABEL = ("{}: one label; a test sequence needs the labels of frame 0 and of every frame "
              "to predict")


def _check_test_sequence(test: Path, name: str, problems: list[str]) -> None:
    """Test sequence ``name``: its first frame and labels, and its ground truth (``test_gt``,
    optional) paired with the labels, as :class:`DanceDataset` reads them."""
    img, label, gt = (test / f"test_{kind}" / name for kind in ("img", "label", "gt"))
    _check_pair_folder(img, label, problems, labels_may_outnumber=True)
    if label.is_dir() and len(list(label.glob("*.png"))) == 1:
        problems.append(_ONE_LABEL.format(label))
    if gt.is_dir():
        _check_pair_folder(gt, label, problems, labels_may_outnumber=False)


# ---- reading -------------------------------------------------------------------------------
def paired_files(img_dir: Path, label_dir: Path, labels_may_outnumber: bool = False
                 ) -> tuple[list[Path], list[Path]]:
    """Frame and label files of one folder pair, matched by frame number and sorted by it.

    Returns (frames, labels); with ``labels_may_outnumber`` (a test sequence: only the first
    frame is given) every label is returned and the frames are those that exist.

    Raises:
        DataError: a missing folder, an empty folder, a file name that is not a frame number, a
            frame without its label or a label without its frame (the message names both paths).
    """
    problems: list[str] = []
    imgs, labels = _pair(img_dir, label_dir, problems, labels_may_outnumber)
    raise_first(problems, "`vidpred data check --layout dance`")
    return [imgs[n] for n in labels if n in imgs], list(labels.values())


def read_frames(paths: list[Path], frame_size: tuple[int, int], desc: str = "",
                progress: bool = False, native: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode 8-bit RGB PNGs and resize them to ``frame_size`` (H, W) in pixels (bilinear with
    antialiasing, PIL) into one uint8 tensor (N, 3, H, W).

    The files may have any size, but one size (``native`` (H, W), or else the first file's),
    as :func:`check_dance` requires: a stray frame of another size is refused, not resized.

    Raises:
        DataError: a missing or unreadable file, a non-RGB image or one of another size
            (naming the file).
    """
    from PIL import Image

    H, W = frame_size
    out = torch.empty((len(paths), 3, H, W), dtype=torch.uint8)
    for i, p in enumerate(progress_bar(paths, desc=desc, unit="frame", disable=not progress,
                                       leave=False)):
        arr = read_png(p)
        native = native or arr.shape[:2]
        if arr.shape[:2] != tuple(native):
            raise DataError(f"{p}: image is {arr.shape[1]}x{arr.shape[0]}, but the first image "
                            f"in this split is {native[1]}x{native[0]}")
        if arr.shape[:2] != (H, W):
            arr = np.asarray(Image.fromarray(arr).resize((W, H), Image.BILINEAR))
        out[i] = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    return out


@dataclass
class DanceTestSequence:
    """One test sequence ``<i>``: the given first frame (uint8 (3, H, W)), all its labels (uint8
    (T, 3, H, W)), the ground-truth frames of ``test_gt/<i>/`` (uint8 (T, 3, H, W)) or None when
    that folder is absent, and the label files in frame order; with ``test_gt/<i>/objects.npz``,
    the dancer's true pixels (bool (T, H, W)) and the scene without it (uint8 (3, H, W)), both
    resized as the frames are (else None)."""

    name: str
    first_frame: torch.Tensor
    labels: torch.Tensor
    truth: torch.Tensor | None
    label_paths: list[Path]
    dancer_mask: torch.Tensor | None = None
    background: torch.Tensor | None = None


def read_dancer(folder: Path, frame_size: tuple[int, int]):
    """(dancer mask bool (T, H, W), background uint8 (3, H, W)) from ``folder/objects.npz``
    resized to ``frame_size`` (a pixel is the dancer's where it covers at least half of the
    pixel), or (None, None) without the file.

    Raises:
        DataError: the file exists but cannot be read (named).
    """
    import zipfile

    from PIL import Image

    path = folder / OBJECTS_FILE
    if not path.is_file():
        return None, None
    try:
        with np.load(path) as z:
            mask, background = z["dancer_mask"], z["background"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: cannot read the dancer's ground truth ({e})") from None
    H, W = frame_size
    m = torch.from_numpy(mask).float()[:, None]
    if m.shape[-2:] != (H, W):
        m = torch.nn.functional.interpolate(m, size=(H, W), mode="area")
        background = np.asarray(Image.fromarray(background).resize((W, H), Image.BILINEAR))
    return m[:, 0] >= 0.5, torch.from_numpy(np.ascontiguousarray(background.transpose(2, 0, 1)))


class DanceDataset:
    """A split of the pose-label dance layout (see the module doc) as clips of frames and labels.

    - ``train``: the frames of ``train_img`` in numeric order, cut into non-overlapping clips of
      ``seq_len`` consecutive frames (``len`` = frames // seq_len; the remainder is unused).
    - ``validate``/``val``: one clip of all validation frames.
    - ``test``: one item per test sequence ``test_label/<i>`` (in :attr:`tests`, also served
      whole): the ground-truth frames from ``test_gt/<i>`` when present (the built-in generator
      writes them), else only frame 0, which cannot be batched.

    Every frame is resized to ``frame_size`` (H, W; default 32 x 64) when read and kept in
    memory as uint8.

    Args:
        root: dataset root. split: ``train``, ``validate``/``val`` or ``test``.
        seq_len: training clip length in frames; ignored for val/test (their clips are whole).
        train: unused (the split decides how clips are cut); accepted like every dataset's.
        frame_size: (H, W) in pixels.
        max_sequences: keep only the first clips / test sequences.
        progress: show progress bars while decoding.

    Attributes:
        seq_len: T of a batch (for test, the shortest test sequence's number of labels).
        n_sequences: clips (= ``len``).
        frames, labels: every clip's frames and labels, uint8 (len, seq_len, 3, H, W) (for test,
            zero frames for sequences without ground truth).
        tests: the test sequences (:class:`DanceTestSequence`; empty for train and val).

    Raises:
        DataError: missing folders, unpaired files (both paths named), badly named or unreadable
            PNGs, too few frames for one clip, a test sequence without its first frame.
    """

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
        n, clips = n_clips * length, (n_clips, length, 3, *self.frame_size)
        native = read_png(img_paths[0]).shape[:2]  # one size for the split's frames and labels
        # uint8 (n_clips, seq_len, 3, H, W): views of the frames in file order
        self.frames = read_frames(img_paths[:n], self.frame_size, f"reading {folder}_img",
                                  progress, native).view(clips)
        self.labels = read_frames(label_paths[:n], self.frame_size, f"reading {folder}_label",
                                  progress, native).view(clips)
        self.has_truth = torch.ones(n_clips, dtype=torch.bool)
        self.seq_len = length

    def _read_test(self, max_sequences: int | None, progress: bool) -> None:
        img_root = self.root / "test" / "test_img"
        label_root = self.root / "test" / "test_label"
        gt_root = self.root / "test" / "test_gt"
        if not label_root.is_dir():
            raise DataError(f"{label_root}: missing folder (test labels go in test_label/<i>/)")
        names = [p.name for p in sorted((p for p in label_root.iterdir() if p.is_dir()),
                                        key=folder_order)]
        if not names:
            raise DataError(f"{label_root}: no test sequences (expected test_label/<i>/)")
        for name in names[:max_sequences]:
            imgs, labels = paired_files(img_root / name, label_root / name, labels_may_outnumber=True)
            if not imgs or frame_number(imgs[0]) != frame_number(labels[0]):
                raise DataError(f"{img_root / name}: the first frame "
                                f"({img_root / name / labels[0].name}) is missing")
            if len(labels) < 2:
                raise DataError(_ONE_LABEL.format(label_root / name))
            native = read_png(imgs[0]).shape[:2]
            truth, dancer = None, (None, None)
            if (gt_root / name).is_dir():
                gts, _ = paired_files(gt_root / name, label_root / name)
                truth = read_frames(gts, self.frame_size, native=native)
                dancer = read_dancer(gt_root / name, self.frame_size)
            self.tests.append(DanceTestSequence(
                name, read_frames(imgs[:1], self.frame_size)[0],
                read_frames(labels, self.frame_size, f"reading test_label/{name}", progress,
                            native), truth, labels, *dancer))
        T = self.seq_len = min(len(t.labels) for t in self.tests)
        # the batchable form: every sequence's first T frames and labels (zero frames where no
        # ground truth was given; batch() refuses those sequences)
        self.labels = torch.stack([t.labels[:T] for t in self.tests])
        self.frames = torch.stack([torch.zeros_like(t.labels[:T]) if t.truth is None else t.truth[:T]
                                   for t in self.tests])
        self.has_truth = torch.tensor([t.truth is not None for t in self.tests])

    @property
    def n_sequences(self) -> int:
        """Clips served (train: seq_len-frame clips; val: 1; test: test sequences)."""
        return len(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames and labels of the given clips: both float32 (B, seq_len, 3, H, W) in [0, 1].

        Raises:
            DataError: a test sequence without ground truth (``test_gt/<i>/``) was asked for.
        """
        idx = torch.as_tensor(indices, dtype=torch.long)
        if not self.has_truth[idx].all():
            missing = [self.tests[i].name for i in idx[~self.has_truth[idx]].tolist()]
            raise DataError(f"{self.root / 'test'}: no ground truth (test_gt/<i>/) for "
                            f"sequence(s) {', '.join(missing)}; score them with vidpred predict --gt")
        return self.frames[idx].div(255.0), self.labels[idx].div(255.0)  # uint8 -> float32
