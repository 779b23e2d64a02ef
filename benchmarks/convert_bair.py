"""Speed and memory of reading the BAIR download: ``vidpred data convert-bair`` (TFRecords ->
PNG + CSV layout) and opening the ``bair_tfrecord`` layout (TFRecords -> decoded-frame cache).

Writes a synthetic download of about ``--gigabytes`` in the real format (``train/`` and
``test/`` of ``traj_<a>_to_<b>.tfrecords``, 256 records of 30 frames per file, both cameras,
raw 64x64 RGB; frames are a smooth background with a moving block and a little noise, so PNG
compression works about as hard as on real frames), then times:

- conversion: sequences/s, MB/s of TFRecord read, peak RSS of this process and of the workers;
- a re-run of the conversion (every sequence skipped: the framing walk alone);
- opening the train split of the ``bair_tfrecord`` layout once (the cache is built, streamed)
  and again (the cache is mapped), with ``--layout``.

    python benchmarks/convert_bair.py [--gigabytes 1] [--workers 2] [--dir DIR] [--layout]

The download, the converted copy and the cache go under ``--dir`` (default: a temporary folder,
removed at the end); about 2.5x ``--gigabytes`` of disk is needed.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the record writer in tests/

from tests.data.bair_records import (  # noqa: E402
    RECORDS_PER_FILE, example_bytes, frame, write_split)

FRAMES = 30


def synthetic_sequence(rng: np.random.Generator) -> dict:
    """30 frames per camera: a smooth background, a 12-pixel block moving in a line, noise +-2."""
    y, x = np.mgrid[0:64, 0:64]
    seq = {}
    for cam in ("main", "aux1"):
        base = np.stack([x * 2 + 40, y * 2 + 40, (x + y) + 60], -1).astype(np.int16)
        start, step = rng.integers(0, 40, 2), rng.integers(-1, 2, 2)
        frames = np.empty((FRAMES, 64, 64, 3), np.uint8)
        for t in range(FRAMES):
            img = base + rng.integers(-2, 3, base.shape)
            r, c = np.clip(start + step * t, 0, 52)
            img[r:r + 12, c:c + 12] = rng.integers(100, 255, 3)
            frames[t] = np.clip(img, 0, 255)
        seq[cam] = frames
    seq["action"] = rng.normal(size=(FRAMES, 4)).astype(np.float32)
    seq["endeffector_pos"] = rng.normal(size=(FRAMES, 3)).astype(np.float32)
    return seq


def write_download(root: Path, gigabytes: float, seed: int = 0) -> tuple[int, int]:
    """Write about ``gigabytes`` of records (one test file, the rest train), one record in
    memory at a time. Returns (records, bytes)."""
    rng = np.random.default_rng(seed)
    record_bytes = len(frame(example_bytes(synthetic_sequence(rng))))
    n = max(2, int(gigabytes * 1e9 / record_bytes))
    n_test = min(RECORDS_PER_FILE, max(1, n // 10))
    size = 0
    for split, count in (("test", n_test), ("train", n - n_test)):
        size += write_split(root / split, (synthetic_sequence(rng) for _ in range(count)), count)
    return n, size


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its largest finished child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gigabytes", type=float, default=1.0, help="size of the synthetic download")
    p.add_argument("--workers", type=int, default=2, help="conversion processes (default 2)")
    p.add_argument("--dir", help="work folder (default: a temporary one, removed at the end)")
    p.add_argument("--layout", action="store_true", help="also time the bair_tfrecord layout")
    args = p.parse_args()

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="convert_bair."))
    os.environ["VIDPRED_CACHE"] = str(work / "cache")  # before vidpred reads it
    from vidpred.data.bair_tfrecord import BairTFRecordDataset, convert_bair

    try:
        t0 = time.perf_counter()
        records, size = write_download(work / "download", args.gigabytes)
        print(f"wrote {records} records, {size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s "
              f"({work / 'download'})")

        t0 = time.perf_counter()
        r = convert_bair(work / "download", work / "converted", workers=args.workers,
                         validate_files=0, progress=False)
        dt = time.perf_counter() - t0
        assert not r.problems and r.converted == records, r
        png = sum(f.stat().st_size for f in (work / "converted").rglob("*") if f.is_file())
        own, child = peak_rss_mb()
        print(f"convert-bair, {args.workers} workers: {dt:.1f} s, {records / dt:.1f} sequences/s, "
              f"{size / 1e6 / dt:.1f} MB/s read, {png / 1e6:.0f} MB written; peak RSS "
              f"{own:.0f} MB (main), {child:.0f} MB (largest worker)")

        t0 = time.perf_counter()
        r = convert_bair(work / "download", work / "converted", workers=args.workers,
                         validate_files=0, progress=False)
        dt = time.perf_counter() - t0
        print(f"re-run (all {r.skipped} skipped): {dt:.2f} s")

        if args.layout:
            for what in ("build the cache", "map the cache"):
                t0 = time.perf_counter()
                ds = BairTFRecordDataset(work / "download", "train", 12, validate_files=0)
                dt = time.perf_counter() - t0
                train_bytes = sum(f.stat().st_size for f in (work / "download" / "train").iterdir())
                print(f"bair_tfrecord train split, {what}: {dt:.2f} s ({ds.n_sequences} sequences, "
                      f"{train_bytes / 1e6 / dt:.1f} MB/s); peak RSS {peak_rss_mb()[0]:.0f} MB")
                del ds
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
