"""A BAIR download as large as the real one (``softmotion30_44k``: 43,264 training sequences),
in its exact TFRecord format, made from generated push sequences, to check that training on the
``bair_tfrecord`` layout works at full size.

Reads a generated push dataset in the converted ``bair`` layout (``--source``, default the one
``vidpred demo`` generates) and writes ``--out/softmotion30_44k/{train,test}/
traj_<a>_to_<b>.tfrecords``, 256 records of 30 frames per file, raw 64x64 RGB, the ``aux1``
camera only (the reader's default; with ``--camera main`` it finds no frames). The source's
training sequences are cycled until ``--train-sequences`` are written; test gets the source's
first ``--test-sequences``. One record is in memory at a time. With ``--open`` the train split
is then opened as training opens it (decoded once into the frame cache, under ``--out/cache``),
timed in a fresh process with its peak RSS.

    python benchmarks/bair_full_size.py --out DIR [--source DIR] [--train-sequences 43264]
        [--test-sequences 256] [--open]

then train on it with the command it prints (``VIDPRED_CACHE=DIR/cache vidpred train ...
--data DIR/softmotion30_44k``). Disk: 372 kB per sequence written (16.2 GB at
full size), and opening the train split (``--open`` or training) builds a cache of about as much
again (15.9 GB at full size), both under ``DIR``: delete it to free them.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the record writer in tests/

from tests.data.bair_records import (  # noqa: E402
    RECORDS_PER_FILE, example_bytes, frame, write_split)

FRAMES = 30
DOWNLOAD = "softmotion30_44k"
REAL_TRAIN = 43_264
# run in a fresh process, so that its peak RSS is the opening's alone: VmHWM, the peak of this
# program's memory (getrusage's ru_maxrss would include the parent's RSS at the fork before exec)
OPEN = """
import json, resource, sys, time
from vidpred.data.bair_tfrecord import BairTFRecordDataset
t0 = time.perf_counter()
ds = BairTFRecordDataset(sys.argv[1], "train", seq_len=12, train=True, progress=True)
seconds = time.perf_counter() - t0
try:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
    rss_mb = int(hwm.split()[1]) / 1024
except (OSError, IndexError):
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "sequences": ds.n_sequences, "rss_mb": rss_mb}))
"""


def sequences(ds, indices):
    """The record contents (``aux1``, ``action``, ``endeffector_pos``) of ``ds``'s sequences at
    ``indices``, one at a time."""
    A = ds.seqs.cond.shape[-1] - 3
    for i in indices:
        cond = ds.seqs.cond[i, :FRAMES].numpy()
        yield {"aux1": ds.seqs.frames[i, :FRAMES].permute(0, 2, 3, 1).contiguous().numpy(),
               "action": cond[:, :A], "endeffector_pos": cond[:, A:]}


def dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="an empty or new folder for the download")
    p.add_argument("--source", default="~/.cache/vidpred/push-v2-seed0",
                   help="generated push data in the bair layout (default: the demo's)")
    p.add_argument("--train-sequences", type=int, default=REAL_TRAIN,
                   help=f"training sequences to write (default {REAL_TRAIN:,}, the real count)")
    p.add_argument("--test-sequences", type=int, default=256,
                   help="at most this many of the source's test sequences (default 256)")
    p.add_argument("--open", action="store_true",
                   help="then time opening the train split (builds the cache in --out/cache)")
    args = p.parse_args()

    out = Path(args.out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        sys.exit(f"--out {out}: not an empty folder; choose a new one")
    if args.train_sequences <= RECORDS_PER_FILE:
        sys.exit(f"--train-sequences {args.train_sequences}: at least {RECORDS_PER_FILE + 1} (the "
                 f"first file's {RECORDS_PER_FILE} are the validation split)")

    from vidpred.data.bair import BairDataset
    from vidpred.errors import DataError
    from vidpred.progress import progress_bar

    try:
        train = BairDataset(args.source, "train", seq_len=FRAMES, train=True, progress=True)
        test = BairDataset(args.source, "test", seq_len=FRAMES, train=True, progress=True,
                           max_sequences=args.test_sequences)
    except DataError as e:
        sys.exit(f"--source: {e}")
    n_test = test.n_sequences
    record = len(frame(example_bytes(next(sequences(train, [0])))))
    need = record * (args.train_sequences + n_test) * (2 if args.open else 1)
    out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free
    print(f"source {Path(args.source).expanduser()}: {train.n_sequences} train, {n_test} test "
          f"sequences; writing {args.train_sequences:,} + {n_test} records of {record:,} bytes "
          f"to {out} (needs {need / 1e9:.1f} GB, {free / 1e9:.0f} GB free)")
    if need > free:
        sys.exit(f"--out {out}: {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")

    root = out / DOWNLOAD
    t0 = time.perf_counter()
    with progress_bar(total=args.train_sequences + n_test, desc="writing", unit="seq") as bar:
        size = write_split(root / "test", sequences(test, range(n_test)), n_test,
                           on_record=lambda _: bar.update())
        train_size = write_split(root / "train", sequences(train, cycle(range(train.n_sequences))),
                            args.train_sequences, on_record=lambda _: bar.update())
    dt = time.perf_counter() - t0
    size += train_size
    print(f"wrote {args.train_sequences + n_test:,} sequences ({args.train_sequences:,} train, "
          f"{n_test} test), {size / 1e9:.2f} GB in {dt:.1f} s, {size / 1e6 / dt:.0f} MB/s")

    cache = out / "cache"
    if args.open:
        env = dict(os.environ, VIDPRED_CACHE=str(cache))
        r = subprocess.run([sys.executable, "-c", OPEN, str(root)], env=env, check=True,
                           stdout=subprocess.PIPE, text=True)
        o = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"opened the train split ({o['sequences']:,} sequences, cache "
              f"{dir_bytes(cache) / 1e9:.2f} GB): {o['seconds']:.1f} s, "
              f"{train_size / 1e6 / o['seconds']:.0f} MB/s of records; "
              f"peak RSS {o['rss_mb']:.0f} MB")
    print(f"train on it (frame cache in {cache}; push_cpu's frame memory keeps "
          "model.retrieval_frames of the split's frames):\n"
          f"  VIDPRED_CACHE={cache} vidpred train --config push_cpu --set "
          f"data.layout=bair_tfrecord --data {root} --out RUN")

if __name__ == "__main__":
    main()
