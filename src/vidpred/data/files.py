"""Reading and checking the files of the on-disk layouts (``bair``, ``dance``): numbered PNG
frames and headerless numeric CSVs.

Every problem is a :class:`~vidpred.errors.DataError` whose message is one line that starts with
the path of the file (or folder) at fault, so ``vidpred data check`` can list them one per line.
Nothing here ever writes a file.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DataError

_FRAME_NAME = re.compile(r"(?:frame)?(\d+)")
_FIRST_INT = re.compile(r"\d+")


def frame_number(path: Path) -> int:
    """The frame number in a frame file's name: the stem is an integer, optionally after the
    prefix ``frame`` (``0.png`` -> 0, ``frame12.png`` -> 12, ``frame007.png`` -> 7).

    Frames sort by this number, so ``10.png`` comes after ``9.png``.

    Raises:
        DataError: any other name (``img_3.png``, ``frame.png``, ``3b.png``), naming the file.
    """
    m = _FRAME_NAME.fullmatch(path.stem)
    if m is None:
        raise DataError(f"{path}: not a frame file name (expected <n>.png or frame<n>.png, "
                        "n an integer)")
    return int(m.group(1))


def folder_order(path: Path) -> tuple:
    """Sort key for folders that may have any name (BAIR groups such as ``traj_256_to_511``, test
    sequences ``<i>``): the first integer in the name (names without one last), then the name."""
    m = _FIRST_INT.search(path.name)
    return (0, int(m.group()), path.name) if m else (1, 0, path.name)


def numbered_pngs(folder: Path, problems: list[str]) -> dict[int, Path]:
    """The PNG files of ``folder`` by frame number (:func:`frame_number`), in ascending order.

    Files whose name breaks the rule, or that repeat a number (``3.png`` and ``frame3.png``), are
    left out, with a one-line problem naming them appended to ``problems``.
    """
    files: dict[int, Path] = {}
    for p in sorted(folder.glob("*.png")):
        n = collect(problems, frame_number, p)
        if n is None:
            continue
        if n in files:
            problems.append(f"{p}: frame number {n} also used by {files[n].name}")
        else:
            files[n] = p
    return dict(sorted(files.items()))


def read_png(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode an 8-bit RGB PNG.

    Args:
        path: the file.
        size: the (H, W) in pixels it must have; None accepts any size.

    Returns:
        uint8 (H, W, 3).

    Raises:
        DataError: missing, unreadable or truncated file, another format under a .png name
            (JPEG bytes), a mode other than RGB (grey, palette, RGBA, 16-bit), or the wrong
            size; one line naming the file.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"{path}: missing image")
    try:
        with Image.open(path) as im:
            im.load()
            kind, mode, arr = im.format, im.mode, np.asarray(im)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: unreadable or truncated PNG ({e})") from None
    if kind != "PNG" and path.suffix.lower() == ".png":  # a renamed JPEG: lossy, unseen
        raise DataError(f"{path}: holds {kind} data, not PNG (a renamed file?); save it as a PNG")
    if mode != "RGB":
        raise DataError(f"{path}: image mode is {mode}, expected 8-bit RGB")
    if size is not None and arr.shape[:2] != tuple(size):
        raise DataError(f"{path}: image is {arr.shape[1]}x{arr.shape[0]}, expected "
                        f"{size[1]}x{size[0]}")
    return arr


def read_csv(path: Path, n_rows: int, n_cols: int) -> np.ndarray:
    """Read a headerless, comma-separated table of finite numbers (blank lines are skipped).

    Returns:
        float32 (n_rows, n_cols).

    Raises:
        DataError: missing file, a line with another number of columns, a cell that is not a
            number, a NaN or infinity (line numbers count from 1), or another number of rows;
            one line naming the file.
    """
    if not path.is_file():
        raise DataError(f"{path}: missing")
    rows = []
    for line_no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != n_cols:
            raise DataError(f"{path}: line {line_no} has {len(cells)} columns, expected {n_cols}")
        try:
            values = [float(c) for c in cells]
        except ValueError:
            raise DataError(f"{path}: line {line_no} is not numeric: {line.strip()[:60]!r}") from None
        if not np.isfinite(values).all():
            raise DataError(f"{path}: non-finite value on row {line_no}")
        rows.append(values)
    if len(rows) != n_rows:
        raise DataError(f"{path}: {len(rows)} rows, expected {n_rows} (one per frame)")
    return np.asarray(rows, dtype=np.float32)


def collect(problems: list[str], read: Callable, *args, **kwargs):
    """``read(*args, **kwargs)``, or None with its DataError's message appended to ``problems``
    (for checks that list every problem instead of stopping at the first)."""
    try:
        return read(*args, **kwargs)
    except DataError as e:
        problems.append(str(e))
        return None


def raise_first(problems: list[str], hint: str) -> None:
    """Raise the first problem as a DataError, saying how many more there are and ``hint`` (the
    command that lists them all); return when there is none."""
    if problems:
        more = len(problems) - 1
        raise DataError(problems[0] + (f" (and {more} more problem{'s' * (more > 1)}: {hint} "
                                       "lists them all)" if more else ""))
