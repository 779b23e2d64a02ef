"""Writing BAIR TFRecord files in the download's exact format, for tests and benchmarks, without
TensorFlow: the ``tf.train.Example`` is encoded by hand in protobuf's wire format (so the tests
do not check vidpred's protobuf parsing against itself) and framed with masked CRC32C checksums.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path

import google_crc32c
import numpy as np

CAMERAS = ("main", "aux1")
RECORDS_PER_FILE = 256  # the download's files hold 256 records each


def masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _bytes_feature(value: bytes) -> bytes:
    return _field(1, _field(1, value))                          # Feature.bytes_list.value


def _float_feature(values) -> bytes:
    packed = struct.pack(f"<{len(values)}f", *values)
    return _field(2, _field(1, packed))                         # Feature.float_list, packed


def example_bytes(seq: dict, drop: tuple[str, ...] = (), replace: dict | None = None) -> bytes:
    """A serialised ``tf.train.Example`` of one sequence.

    Args:
        seq: ``main``, ``aux1`` uint8 (T, 64, 64, 3) (a camera left out of ``seq`` is not
            written); ``action`` float32 (T, 4); ``endeffector_pos`` float32 (T, 3).
        drop: keys to leave out. replace: key -> raw bytes value to write instead.
    """
    features = {}
    for t in range(len(seq["action"])):
        for cam in (c for c in CAMERAS if c in seq):
            features[f"{t}/image_{cam}/encoded"] = _bytes_feature(seq[cam][t].tobytes())
        features[f"{t}/action"] = _float_feature(seq["action"][t])
        features[f"{t}/endeffector_pos"] = _float_feature(seq["endeffector_pos"][t])
    for key, value in (replace or {}).items():
        features[key] = _bytes_feature(value)
    entries = b"".join(_field(1, _field(1, k.encode()) + _field(2, v))   # Features.feature map
                       for k, v in features.items() if k not in drop)
    return _field(1, entries)                                   # Example.features


def frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def write_split(folder: Path, seqs: Iterable[dict], count: int,
                per_file: int = RECORDS_PER_FILE,
                on_record: Callable[[int], None] | None = None) -> int:
    """Write the first ``count`` sequences of ``seqs`` into ``folder/traj_<a>_to_<b>.tfrecords``
    (the download's names: records a..b, ``per_file`` per file), one record in memory at a time;
    ``on_record(bytes)`` is called after each. Returns the bytes written."""
    folder.mkdir(parents=True, exist_ok=True)
    seqs, size = iter(seqs), 0
    for a in range(0, count, per_file):
        b = min(count, a + per_file)
        with (folder / f"traj_{a}_to_{b - 1}.tfrecords").open("wb") as f:
            for _ in range(a, b):
                n = f.write(frame(example_bytes(next(seqs))))
                size += n
                if on_record is not None:
                    on_record(n)
    return size


def make_sequence(rng: np.random.Generator, frames: int = 30) -> dict:
    """A sequence with distinct random frames per camera and random float32 vectors."""
    return {"main": rng.integers(0, 256, (frames, 64, 64, 3), dtype=np.uint8),
            "aux1": rng.integers(0, 256, (frames, 64, 64, 3), dtype=np.uint8),
            "action": rng.normal(size=(frames, 4)).astype(np.float32),
            "endeffector_pos": rng.normal(size=(frames, 3)).astype(np.float32)}


def write_file(path: Path, seqs: list[dict], **example_kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(frame(example_bytes(s, **example_kw)) for s in seqs))


def write_download(root: Path, files: dict[str, int], seed: int = 0, frames: int = 30) -> dict:
    """Write ``root/<split>/<name>`` with ``files[<split>/<name>]`` records each.

    Returns:
        ``<split>/<name>`` -> the list of sequences written into it.
    """
    rng = np.random.default_rng(seed)
    written = {}
    for rel, n in files.items():
        written[rel] = [make_sequence(rng, frames) for _ in range(n)]
        write_file(root / rel, written[rel])
    return written
