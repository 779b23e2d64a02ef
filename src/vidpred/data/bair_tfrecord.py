"""Real BAIR robot pushing (``softmotion30_44k``) straight from its TFRecord files: converting
it to the processed BAIR layout, checking it, and training on it without converting.

The download holds ``<root>/train/traj_<a>_to_<b>.tfrecords`` (174 files) and
``<root>/test/traj_0_to_255.tfrecords``, 256 records per file. Each record is one
``tf.train.Example`` (the format TensorFlow Datasets' ``bair_robot_pushing`` builder, SVG's and
SAVP's converters read) with, for t = 0..T-1 (T = 30):

    {t}/image_main/encoded, {t}/image_aux1/encoded   bytes: raw uint8 RGB 64x64x3 (12,288 bytes, not JPEG)
    {t}/action                                       float (4,)
    {t}/endeffector_pos                              float (3,)

Sequences are numbered as the processed layout numbers them: the file's name is the group and
the record's index in the file (from 0) is ``k``. The validation split is the first
``validate_files`` training files in numeric name order (SAVP holds out training files the same
way); the training split is the rest. Every record's two checksums are checked
(:mod:`vidpred.data.tfrecord`); a problem names the file, the record and, for a bad Example,
the key.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..rundir import Outputs, claim_output, write_atomic
from .bair import ACTION_DIM, EE_DIM, BairDataset, _Sequences
from .files import folder_order
from .frame_cache import RELEASE_EVERY, PageBudget, cached_arrays_streamed
from .jobs import run_tasks
from .tfrecord import count_records, parse_example, read_records

CAMERAS = ("aux1", "main")
SUFFIX = ".tfrecords"
SOURCE_SPLITS = ("train", "test")
PARTIAL = ".partial-"  # a sequence folder being written; renamed to <k> when complete
SETTINGS_FILE = "vidpred_convert.json"  # what a converted folder was converted with
OUTPUTS = Outputs("data convert-bair", ("train", "validate", "test", SETTINGS_FILE),
                  legacy=(SETTINGS_FILE,))


# ---- one record -------------------------------------------------------------------------
def decode_example(data: bytes, camera: str = "aux1", image_size: int = 64):
    """Decode one BAIR record.

    Returns:
        frames uint8 (T, H, W, 3), actions float32 (T, 4), end-effector positions float32 (T, 3),
        T = 1 + the largest frame number among the keys.

    Raises:
        ValueError: not an Example, no frame keys, or a missing key, a value of the wrong type or
            size, a non-finite number; the message names the key.
    """
    features = parse_example(data)
    steps = {int(k.split("/", 1)[0]) for k in features.keys() if k.split("/", 1)[0].isdigit()}
    if not steps:
        raise ValueError(f"no frame keys (expected 0/image_{camera}/encoded, 0/action, ...)")
    T, n_bytes = max(steps) + 1, image_size * image_size * 3
    frames = np.empty((T, image_size, image_size, 3), np.uint8)
    actions = np.empty((T, ACTION_DIM), np.float32)
    ee = np.empty((T, EE_DIM), np.float32)
    for t in range(T):
        image = _values(features, f"{t}/image_{camera}/encoded", "bytes_list", 1)[0]
        if len(image) != n_bytes:
            raise ValueError(f"key '{t}/image_{camera}/encoded' has {len(image)} bytes, expected "
                             f"{n_bytes} (raw RGB {image_size}x{image_size}x3)")
        frames[t] = np.frombuffer(image, np.uint8).reshape(image_size, image_size, 3)
        actions[t] = _values(features, f"{t}/action", "float_list", ACTION_DIM)
        ee[t] = _values(features, f"{t}/endeffector_pos", "float_list", EE_DIM)
    for name, a in (("action", actions), ("endeffector_pos", ee)):
        bad = np.flatnonzero(~np.isfinite(a).all(1))
        if len(bad):
            raise ValueError(f"key '{bad[0]}/{name}' holds a non-finite value")
    return frames, actions, ee


def _values(features, key: str, kind: str, n: int):
    if key not in features:
        raise ValueError(f"missing key '{key}'")
    feature = features[key]
    if feature.WhichOneof("kind") != kind:
        raise ValueError(f"key '{key}' is a {feature.WhichOneof('kind')}, expected a {kind}")
    values = getattr(feature, kind).value
    if len(values) != n:
        raise ValueError(f"key '{key}' has {len(values)} values, expected {n}")
    return values


# ---- the files of a download --------------------------------------------------------------
def split_files(root: str | Path, validate_files: int) -> dict[str, list[Path]]:
    """The TFRecord files of each split: ``train`` (minus the first ``validate_files``),
    ``validate`` (those) and ``test``, each in numeric name order.

    Raises:
        DataError: no root, no ``train``/``test`` folder, a folder without ``*.tfrecords``, or
            more validation files than training files.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: BAIR download root does not exist (pass the folder holding "
                        "train/ and test/ of *.tfrecords, e.g. softmotion30_44k)")
    found = {}
    for split in SOURCE_SPLITS:
        files = sorted((root / split).glob(f"*{SUFFIX}"), key=folder_order)
        if not files:
            raise DataError(f"{root / split}: no *{SUFFIX} files (expected the BAIR download's "
                            f"{split}/traj_<a>_to_<b>{SUFFIX})")
        found[split] = files
    if validate_files >= len(found["train"]):
        raise DataError(f"{root / 'train'}: {len(found['train'])} files, so at most "
                        f"{len(found['train']) - 1} can be held out for validation "
                        f"(asked for {validate_files})")
    return {"train": found["train"][validate_files:], "validate": found["train"][:validate_files],
            "test": found["test"]}


def _check_file(path: Path, camera: str, image_size: int) -> list[str]:
    problems = []
    for r in read_records(path):
        problem = r.problem
        if problem is None:
            try:
                decode_example(r.data, camera, image_size)
            except ValueError as e:
                problem = str(e)
        if problem is not None:
            problems.append(f"{path}: record {r.index}: {problem}")
    return problems


def check_tfrecords(root: str | Path, camera: str = "aux1", image_size: int = 64,
                    progress: bool = False) -> list[str]:
    """Check every record of every file of a BAIR download (checksums, keys, sizes) and return
    all problems, one line each naming the file and record. Writes nothing."""
    try:
        files = [f for fs in split_files(root, 0).values() for f in fs]
    except DataError as e:
        return [str(e)]
    from ..progress import progress_bar

    problems = []
    for f in progress_bar(files, desc="checking", unit="file", disable=not progress):
        problems += _check_file(f, camera, image_size)
    return problems


# ---- converting -------------------------------------------------------------------------
@dataclass
class ConvertResult:
    """What a conversion did: sequences written and skipped (already there), and every problem
    (one line each: file, record, what is wrong)."""

    converted: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)


def write_sequence(folder: Path, frames: np.ndarray, actions: np.ndarray, ee: np.ndarray) -> None:
    """Write one sequence in the processed layout (``0.png`` .., ``actions.csv``,
    ``endeffector_positions.csv``) atomically: into ``<group>/.partial-<k>``, then renamed to
    ``<group>/<k>``, so a folder named ``<k>`` is always complete. The CSVs hold float32 values
    with 9 significant digits, which read back exactly."""
    from PIL import Image

    tmp = folder.with_name(PARTIAL + folder.name)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp / f"{t}.png", compress_level=1)
    np.savetxt(tmp / "actions.csv", actions, delimiter=",", fmt="%.9g")
    np.savetxt(tmp / "endeffector_positions.csv", ee, delimiter=",", fmt="%.9g")
    os.replace(tmp, folder)


def convert_file(task, report) -> ConvertResult:
    """Convert the records of one file (``task`` = (source file, group folder, camera, image
    size)) that are not converted yet; ``report(n)`` advances the progress bar."""
    src, group, camera, image_size = task
    group.mkdir(parents=True, exist_ok=True)
    for stale in group.glob(PARTIAL + "*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    done = {int(p.name) for p in group.iterdir() if p.is_dir() and p.name.isdigit()}
    result = ConvertResult()
    for r in read_records(src, skip=done):
        problem = r.problem
        if problem is None and r.data is None:
            result.skipped += 1
        elif problem is None:
            try:
                write_sequence(group / str(r.index), *decode_example(r.data, camera, image_size))
                result.converted += 1
            except ValueError as e:
                problem = str(e)
        if problem is not None:
            result.problems.append(f"{src}: record {r.index}: {problem}")
        report(1)
    return result


def convert_bair(src: str | Path, out: str | Path, camera: str = "aux1", validate_files: int = 1,
                 workers: int = 2, image_size: int = 64, progress: bool = True) -> ConvertResult:
    """Convert a BAIR download into the processed BAIR layout
    ``out/{train,validate,test}/<file name>/<k>/`` (see :mod:`vidpred.data.bair`), one worker
    process per file at a time.

    Sequences already converted are skipped; damaged records are reported and the intact ones
    still converted. Nothing under ``src`` is written. The settings are recorded in
    ``out/vidpred_convert.json``, so that a re-run cannot mix cameras or splits.

    Raises:
        DataError: an unknown camera, a download without train/test files (see
            :func:`split_files`), ``out`` converted with other settings (or an unreadable
            record of them), or ``out`` inside ``src``. ConfigError: ``out`` holds files
            vidpred did not write (:func:`vidpred.rundir.claim_output`).
    """
    if camera not in CAMERAS:
        raise DataError(f"--camera {camera!r}: choose one of {', '.join(CAMERAS)}")
    out, src = Path(out).expanduser(), Path(src).expanduser()
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise DataError(f"--out {out}: lies in the download {src}, which is never written; "
                        "choose a folder outside it")
    settings = {"camera": camera, "validate_files": validate_files, "image_size": image_size}
    record = out / SETTINGS_FILE
    if record.is_file():
        try:
            old = json.loads(record.read_text())
        except (ValueError, OSError) as e:
            raise DataError(f"{record}: unreadable ({e}); it names the camera and splits {out} "
                            "was converted with: restore it, or convert into a new --out") from None
        if old != settings:
            raise DataError(f"{record}: {out} was converted with other settings "
                            f"({record.read_text().strip()}); choose another --out or delete it")
    split_of = split_files(src, validate_files)
    claim_output(out, OUTPUTS).add(*OUTPUTS.patterns)
    write_atomic(record, json.dumps(settings))
    tasks = [(f, out / split / f.name, camera, image_size)
             for split, files in split_of.items() for f in files]
    counts = [count_records(t[0]) for t in tasks]  # a damaged tail is one more report
    total = sum(n + (problem is not None) for n, problem in counts)
    results = run_tasks(tasks, convert_file, workers, desc="converting", unit="seq", total=total,
                        progress=progress)
    merged = ConvertResult()
    for r in results:
        merged.converted += r.converted
        merged.skipped += r.skipped
        merged.problems += r.problems
    return merged


# ---- training without converting ----------------------------------------------------------
class BairTFRecordDataset(BairDataset):
    """A split of a BAIR download (layout ``bair_tfrecord``), served as :class:`BairDataset`
    serves the converted layout: the same items, order and tensors.

    The records are decoded once into the decoded-frame cache, streamed record by record into
    memory-mapped files (:func:`vidpred.data.frame_cache.cached_arrays_streamed`; the full train
    split is about 16 GB), and memory-mapped on later runs.

    Args:
        root: the download's root (``train/`` and ``test/`` of ``*.tfrecords``).
        split: ``train``, ``validate``/``val`` or ``test``.
        seq_len, train, image_size, max_sequences, progress: as :class:`BairDataset`.
        validate_files: training files held out as the validation split.
        camera: ``aux1`` (SVG's) or ``main`` (SAVP's).

    Raises:
        DataError: missing files, a damaged record (file, record and what is wrong named), or
            sequences shorter than seq_len.
    """

    def __init__(self, root: str | Path, split: str, seq_len: int, train: bool = True,
                 image_size: int = 64, max_sequences: int | None = None, progress: bool = False,
                 validate_files: int = 1, camera: str = "aux1"):
        split = "validate" if split == "val" else split
        files = split_files(root, validate_files).get(split)
        if files is None:
            raise DataError(f"{root}: no '{split}' split (a BAIR download has train, validate "
                            "and test)")
        index = []  # (file, record index) of every sequence, in order
        for f in files:
            n, problem = count_records(f)
            if problem is not None:
                raise DataError(f"{f}: record {n}: {problem} (`vidpred data check --layout "
                                "bair_tfrecord` lists every problem)")
            index += [(f, k) for k in range(n)]
        index = index[:max_sequences]
        if not index:
            raise DataError(f"{files[0].parent}: the {split} files hold no records")
        settings = {"layout": "bair_tfrecord", "split": split, "validate_files": validate_files,
                    "camera": camera, "image_size": image_size, "sequences": len(index),
                    "max_frames": None if train else seq_len}

        def shapes():
            # every record of the download has the first one's length (30 frames)
            t = len(_decode_one(*index[0], camera, image_size)[0])
            t = t if train else min(t, seq_len)
            return {"frames": ((len(index), t, 3, image_size, image_size), np.uint8),
                    "cond": ((len(index), t, ACTION_DIM + EE_DIM), np.float32)}

        arrays = cached_arrays_streamed(
            files[0].parent, settings, shapes,
            lambda a, release: _fill(a, release, index, camera, image_size, progress, split))
        length = arrays["frames"].shape[1]
        if length < seq_len:
            raise DataError(f"{index[0][0]}: record 0: {length} frames, but windows of "
                            f"{seq_len} frames (n_past + n_future) were asked for")
        self.split_dir = files[0].parent
        self.seqs = _Sequences(torch.from_numpy(arrays["frames"]), torch.from_numpy(arrays["cond"]),
                               [f.parent / f.name / str(k) for f, k in index])
        self.pages = PageBudget(arrays["frames"])
        self.seq_len = seq_len
        self.n_starts = length - seq_len + 1 if train else 1


def _decode_one(path: Path, k: int, camera: str, image_size: int):
    for r in read_records(path, skip=range(k)):
        if r.index == k:
            if r.problem is not None:
                raise DataError(f"{path}: record {k}: {r.problem}")
            return _decoded(path, r, camera, image_size)
    raise DataError(f"{path}: record {k} does not exist")


def _decoded(path: Path, record, camera: str, image_size: int):
    try:
        return decode_example(record.data, camera, image_size)
    except ValueError as e:
        raise DataError(f"{path}: record {record.index}: {e}") from None




def _fill(arrays: dict[str, np.ndarray], release, index: list[tuple[Path, int]], camera: str,
          image_size: int, progress: bool, name: str) -> None:
    """Decode the sequences of ``index`` into ``arrays`` one record at a time, calling
    ``release()`` every :data:`RELEASE_EVERY` records so that memory holds no more than those."""
    from ..progress import progress_bar

    T = arrays["frames"].shape[1]
    wanted: dict[Path, int] = {}
    for f, k in index:
        wanted[f] = max(wanted.get(f, 0), k + 1)
    i = 0
    with progress_bar(total=len(index), desc=f"reading {name}", unit="seq",
                      disable=not progress, leave=False) as bar:
        for f, n in wanted.items():
            for r in read_records(f):
                if r.index >= n:
                    break
                if r.problem is not None:
                    raise DataError(f"{f}: record {r.index}: {r.problem} (`vidpred data check "
                                    "--layout bair_tfrecord` lists every problem)")
                frames, actions, ee = _decoded(f, r, camera, image_size)
                if len(frames) < T:
                    raise DataError(f"{f}: record {r.index}: {len(frames)} frames, expected "
                                    f"at least {T} like the split's first record")
                arrays["frames"][i] = frames[:T].transpose(0, 3, 1, 2)
                arrays["cond"][i, :, :ACTION_DIM] = actions[:T]
                arrays["cond"][i, :, ACTION_DIM:] = ee[:T]
                i += 1
                bar.update()
                if i % RELEASE_EVERY == 0:
                    release()
