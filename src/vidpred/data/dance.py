"""The pose-label "dance" layout (pose-conditioned video; ``../shared/DATA.md`` section 2)::

    <root>/train/train_img/*.png     <root>/train/train_label/*.png    same names, paired 1:1
    <root>/val/val_img/*.png         <root>/val/val_label/*.png
    <root>/test/test_img/<i>/*.png   <root>/test/test_label/<i>/*.png  only the first img is given

Files sort by the integer in their name (a ``frame`` prefix is allowed: ``frame10.png`` comes after
``frame9.png``). A label is the RGB rendering of a pose skeleton, the same size as its frame.

This module holds the layout's validation (used by ``vidpred data check --layout dance``); every
problem is one line naming the file. Nothing under the root is ever written.
"""
from __future__ import annotations

import re
from pathlib import Path

from .bair import _check_png_file

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
