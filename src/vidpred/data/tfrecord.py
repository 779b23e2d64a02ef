"""TFRecord files and ``tf.train.Example`` records, read without TensorFlow, every checksum
checked.

A TFRecord file is a sequence of records, each framed as::

    uint64 little-endian length | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data

with masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 mod 2^32 (TensorFlow's
``core/lib/hash/crc32c.h``). CRC32C comes from ``google-crc32c``. A bad length checksum means
the framing cannot be trusted, so reading that file stops; a bad data checksum only loses that
record, since its length was sound.

An ``Example`` is parsed with ``protobuf``, from the messages of TensorFlow's
``core/example/{example,feature}.proto`` declared here in a private descriptor pool (so it never
clashes with TensorFlow's own registration when both are imported).
"""
from __future__ import annotations

import struct
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_MASK_DELTA = 0xA282EAD8
_HEADER = 12  # length (8) + its masked CRC (4)
_FOOTER = 4   # masked CRC of the data


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C of ``data`` (uint32)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass
class Record:
    """One record of a TFRecord file: ``index`` from 0, its ``data`` (None when it is damaged,
    or when only the framing was walked) and ``problem`` (one line, or None when intact)."""

    index: int
    data: bytes | None
    problem: str | None = None


def read_records(path: str | Path, skip: Container[int] = frozenset(),
                 walk: bool = False) -> Iterator[Record]:
    """Yield the records of a TFRecord file in order, checking both checksums of each.

    Args:
        path: the file.
        skip: record indices to step over without reading their data (yielded with data None
            and their data checksum unchecked; their length checksum is still checked).
        walk: skip every record (counting records costs one 12-byte read per record).

    Yields:
        :class:`Record`. A record with a bad data checksum is yielded with its problem and
        reading goes on; a bad length checksum or a file that ends inside a record is yielded
        as the last record (the framing after it cannot be trusted). Problems do not name the
        file: the caller does.
    """
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        index = 0
        while True:
            header = f.read(_HEADER)
            if not header:
                return
            if len(header) < _HEADER:
                yield Record(index, None, f"truncated: the file ends {len(header)} bytes into the "
                                          f"record's {_HEADER}-byte header")
                return
            length_bytes, (length_crc,) = header[:8], struct.unpack("<I", header[8:])
            if masked_crc32c(length_bytes) != length_crc:
                yield Record(index, None, "length checksum mismatch (corrupt header; the records "
                                          "after it cannot be located)")
                return
            (length,) = struct.unpack("<Q", length_bytes)
            if walk or index in skip:
                start = f.tell()
                if size < start + length + _FOOTER:
                    yield Record(index, None, _truncated(size - start, length))
                    return
                f.seek(length + _FOOTER, 1)
                yield Record(index, None)
            else:
                data = f.read(length)
                footer = f.read(_FOOTER)
                if len(data) < length or len(footer) < _FOOTER:
                    yield Record(index, None, _truncated(len(data) + len(footer), length))
                    return
                if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                    yield Record(index, None, "data checksum mismatch (corrupt record)")
                else:
                    yield Record(index, data)
            index += 1


def count_records(path: str | Path) -> tuple[int, str | None]:
    """(records whose framing is sound, the problem that stopped the walk or None), reading
    only the 12-byte headers."""
    n, problem = 0, None
    for record in read_records(path, walk=True):
        if record.problem is not None:
            problem = record.problem
            break
        n += 1
    return n, problem


def _truncated(have: int, length: int) -> str:
    return (f"truncated: the file ends {have} bytes into a record of {length} data bytes "
            f"+ {_FOOTER} checksum bytes")


def frame_record(data: bytes) -> bytes:
    """``data`` framed as one TFRecord record (length, checksums)."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


# ---- tf.train.Example ---------------------------------------------------------------------
def _example_class():
    """The ``tensorflow.Example`` message class, built from its declaration (BytesList,
    FloatList, Int64List, Feature with a oneof, Features with a map, Example)."""
    fd = descriptor_pb2.FileDescriptorProto(name="vidpred_tf_example.proto", package="tensorflow",
                                            syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto
    rep = F.LABEL_REPEATED

    for name, typ in (("BytesList", F.TYPE_BYTES), ("FloatList", F.TYPE_FLOAT),
                      ("Int64List", F.TYPE_INT64)):
        m = fd.message_type.add(name=name)
        m.field.add(name="value", number=1, label=rep, type=typ)
    feature = fd.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for number, (name, typ) in enumerate((("bytes_list", "BytesList"), ("float_list", "FloatList"),
                                          ("int64_list", "Int64List")), 1):
        feature.field.add(name=name, number=number, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                          type_name=f".tensorflow.{typ}", oneof_index=0)
    features = fd.message_type.add(name="Features")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
    entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                    type_name=".tensorflow.Feature")
    features.field.add(name="feature", number=1, label=rep, type=F.TYPE_MESSAGE,
                       type_name=".tensorflow.Features.FeatureEntry")
    example = fd.message_type.add(name="Example")
    example.field.add(name="features", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_MESSAGE,
                      type_name=".tensorflow.Features")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))


_EXAMPLE = None


def parse_example(data: bytes):
    """The ``features.feature`` map (key -> Feature) of a serialised ``tf.train.Example``.

    Raises:
        ValueError: the bytes are not a valid Example.
    """
    global _EXAMPLE
    if _EXAMPLE is None:
        _EXAMPLE = _example_class()
    from google.protobuf.message import DecodeError

    example = _EXAMPLE()
    try:
        example.ParseFromString(data)
    except DecodeError as e:
        raise ValueError(f"not a tf.train.Example ({e})") from None
    return example.features.feature
