"""Train / validate / test splits of converted footage that leak nothing: whole files when there
are enough, else stretches of time with a gap between them (:func:`split_shots`).

A *segment* is ``(shot, start, end)``: frames ``start .. end - 1`` of one shot (a stretch between
two cuts). Windows are cut inside a segment only, so no window spans a cut or a split boundary.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DataError

SPLITS = ("train", "validate", "test")
# shares of the footage's windows the evaluation splits get (at least the minimums below)
TEST_SHARE, VALIDATE_SHARE = 0.15, 0.10
MIN_TEST_WINDOWS, MIN_VALIDATE_WINDOWS, MIN_TRAIN_WINDOWS = 3, 1, 1
# a split by file needs a file for each of the three splits
MIN_FILES_BY_FILE = 3


@dataclass
class Split:
    """Which frames each split holds.

    Attributes:
        rule: ``by-file`` or ``by-time``. window: frames per window; gap: frames left out
            between two splits of a split by time (0 by file).
        segments: split name -> ``[shot, start, end]`` lists.
        files: split name -> indices of the source files (by file) or [] (by time).
    """

    rule: str
    window: int
    gap: int
    segments: dict[str, list[list[int]]]
    files: dict[str, list[int]] = field(default_factory=dict)

    def frames(self, name: str) -> int:
        return sum(e - s for _, s, e in self.segments[name])

    def windows(self, name: str) -> int:
        """Non-overlapping windows in a split (what an evaluation scores)."""
        return sum((e - s) // self.window for _, s, e in self.segments[name])

    def record(self) -> dict:
        """The split as the dataset record keeps it (rule, counts and segments)."""
        return {"rule": self.rule, "window": self.window, "gap_frames": self.gap,
                "files": self.files,
                "frames": {n: self.frames(n) for n in SPLITS},
                "windows": {n: self.windows(n) for n in SPLITS},
                "segments": self.segments}


def _windows_in(lengths: list[int], window: int, lo: int, hi: int) -> int:
    """Non-overlapping windows of the timeline frames ``lo .. hi - 1`` (shots end to end)."""
    n, pos = 0, 0
    for length in lengths:
        a, b = max(lo, pos), min(hi, pos + length)
        n += max(b - a, 0) // window
        pos += length
    return n


def _segments(lengths: list[int], lo: int, hi: int) -> list[list[int]]:
    out, pos = [], 0
    for shot, length in enumerate(lengths):
        a, b = max(lo, pos), min(hi, pos + length)
        if b > a:
            out.append([shot, a - pos, b - pos])
        pos += length
    return out


def _latest_start(lengths: list[int], window: int, end: int, need: int) -> int | None:
    """The largest start s with ``need`` windows in ``s .. end - 1`` (None: not even from 0)."""
    if _windows_in(lengths, window, 0, end) < need:
        return None
    lo, hi = 0, end  # windows(lo) >= need; find the largest such start
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _windows_in(lengths, window, mid, end) >= need:
            lo = mid
        else:
            hi = mid - 1
    return lo


def split_by_time(lengths: list[int], window: int, where: str, dropped: str = "") -> Split:
    """Train, then validate, then test along the footage's timeline (the shots end to end), with
    ``window`` frames left out between two splits. The test split is the tail holding
    max(3, 15 %) of the windows, validate the stretch before it holding max(1, 10 %).

    ``where`` names the footage in the error; ``dropped`` says what was left out before.

    Raises:
        DataError: too little footage for 1 + 1 + 3 windows and the two gaps (the numbers named).
    """
    total = sum(lengths)
    all_windows = _windows_in(lengths, window, 0, total)
    need_test = max(MIN_TEST_WINDOWS, round(TEST_SHARE * all_windows))
    need_val = max(MIN_VALIDATE_WINDOWS, round(VALIDATE_SHARE * all_windows))
    test = _latest_start(lengths, window, total, need_test)
    val = None if test is None or test - window <= 0 else \
        _latest_start(lengths, window, test - window, need_val)
    train_end = None if val is None else val - window
    if train_end is None or _windows_in(lengths, window, 0, max(train_end, 0)) < MIN_TRAIN_WINDOWS:
        raise DataError(
            f"{where}: {total} frames kept in {len(lengths)} shot(s){dropped} hold {all_windows} windows of "
            f"{window} frames (no window spans a cut); a split by time needs at least "
            f"{MIN_TRAIN_WINDOWS + MIN_VALIDATE_WINDOWS + MIN_TEST_WINDOWS} windows plus a gap of one "
            f"window between splits (train 1, validate 1, test 3): give longer footage or more "
            f"files, a higher --fps, or a shorter --window")
    bounds = {"train": (0, train_end), "validate": (val, test - window), "test": (test, total)}
    return Split("by-time", window, window,
                 {n: _segments(lengths, *bounds[n]) for n in SPLITS}, {n: [] for n in SPLITS})


def split_by_file(shot_files: list[int], lengths: list[int], n_files: int,
                  window: int) -> Split | None:
    """Whole files per split: the last files holding max(3, 15 %) of the windows are the test
    split, the files before them holding max(1, 10 %) validate, the rest train. None when the
    files are too few (< 3) or too unequal for that."""
    if n_files < MIN_FILES_BY_FILE:
        return None
    per_file = [0] * n_files
    for f, length in zip(shot_files, lengths):
        per_file[f] += length // window
    total = sum(per_file)
    files: dict[str, list[int]] = {n: [] for n in SPLITS}
    k = n_files
    for name, need in (("test", max(MIN_TEST_WINDOWS, round(TEST_SHARE * total))),
                       ("validate", max(MIN_VALIDATE_WINDOWS, round(VALIDATE_SHARE * total)))):
        got = 0
        while got < need and k > 1:
            k -= 1
            files[name].insert(0, k)
            got += per_file[k]
        if got < need:
            return None
    files["train"] = list(range(k))
    if sum(per_file[f] for f in files["train"]) < MIN_TRAIN_WINDOWS:
        return None
    segments = {n: [[s, 0, length] for s, (f, length) in enumerate(zip(shot_files, lengths))
                    if f in files[n]] for n in SPLITS}
    return Split("by-file", window, 0, segments, files)


def split_shots(shot_files: list[int], lengths: list[int], n_files: int, window: int,
                where: str, dropped: str = "") -> Split:
    """The split of converted footage: by file when :func:`split_by_file` can, else by time
    (:func:`split_by_time`). ``shot_files[i]``: the source file of shot i; ``lengths[i]``: its
    frames (shots in time order, file after file).

    Raises:
        DataError: too little footage (named with its numbers and the fix).
    """
    return split_by_file(shot_files, lengths, n_files, window) or \
        split_by_time(lengths, window, where, dropped)
