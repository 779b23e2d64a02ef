"""Decoded-frame cache: a split's frames decoded once into uint8 ``.npy`` files, memory-mapped on
later runs (and mapped in at open when they are small), so PNG decoding is off the start-up path.

A cache entry lives in ``<cache_root>/decoded/<key>/`` (``cache_root`` is ``$VIDPRED_CACHE`` or
``~/.cache/vidpred``), where ``key`` hashes the split's absolute path and the reading settings.
It records a fingerprint of the source files (relative path, size and modification time of every
file under the split): any added, removed, rewritten or touched file makes the entry stale and it
is rebuilt from the PNGs, with their full validation. Entries are written to a temporary folder
and renamed into place, so an interrupted write leaves no half entry.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import cache_root

VERSION = 1
META = "meta.json"


def fingerprint(split_dir: Path) -> str:
    """sha1 over (relative path, size, mtime_ns) of every file under ``split_dir``."""
    h = hashlib.sha1()
    for root, dirs, files in os.walk(split_dir):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            st = p.stat()
            h.update(f"{p.relative_to(split_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


# madvise(2) MADV_POPULATE_READ (Linux >= 5.14; Python's mmap module names it from 3.13 on)
_MADV_POPULATE_READ = 22
# arrays up to this size (the built-in datasets' splits) are mapped in at open; larger ones (a
# full BAIR split decodes to about 16 GB, more than some machines' memory) page in as batches
# touch them
POPULATE_MAX_BYTES = 2**30


def _populated(a: np.ndarray) -> np.ndarray:
    """Map every page of a memory-mapped array into the process now, in one system call, so
    that the first batches read memory already mapped instead of taking a page fault per 4 KiB
    page they touch (which makes early training steps slow and uneven). Older kernels:
    MADV_WILLNEED read-ahead, or nothing."""
    m = getattr(a, "_mmap", None)
    if m is None or not 0 < a.nbytes <= POPULATE_MAX_BYTES or not hasattr(m, "madvise"):
        return a
    try:
        if not sys.platform.startswith("linux"):  # the number means something else elsewhere
            raise OSError("MADV_POPULATE_READ is Linux's")
        m.madvise(_MADV_POPULATE_READ)
    except OSError:  # EINVAL before Linux 5.14
        with contextlib.suppress(OSError, AttributeError):
            m.madvise(mmap.MADV_WILLNEED)
    return a


RELEASE_EVERY = 64  # sequences written between flushing a streamed entry's pages (24 MB of 30 frames)

# bytes read from a large memory map between dropping its pages from the process (each read
# maps a little more than it reads: the kernel maps neighbouring cached pages too)
RESIDENT_READ_BYTES = 256 * 2**20


class PageBudget:
    """Keeps what a large memory-mapped array (a split's frames, more than
    :data:`POPULATE_MAX_BYTES`) adds to the process's resident memory bounded. Every page a
    batch reads stays mapped, and counted in the process's RSS, until unmapped: drawing random
    windows from a 16 GB split would map it all. After every :data:`RESIDENT_READ_BYTES` read,
    the map's pages are dropped from the process (``madvise(MADV_DONTNEED)``; a private map
    that was never written, so the next read maps the file's page again, from the page cache
    where the kernel kept it). Smaller arrays, and arrays that are not memory maps, are left
    alone.
    """

    def __init__(self, array: np.ndarray):
        m = getattr(array, "_mmap", None)
        large = array.nbytes > POPULATE_MAX_BYTES and hasattr(mmap, "MADV_DONTNEED")
        self._map = m if large else None
        self._read = 0

    def read(self, nbytes: int) -> None:
        """Count ``nbytes`` read from the array; drop its pages when the budget is spent."""
        if self._map is None:
            return
        self._read += nbytes
        if self._read >= RESIDENT_READ_BYTES:
            self._read = 0
            with contextlib.suppress(OSError, ValueError):
                self._map.madvise(mmap.MADV_DONTNEED)


def _entry(split_dir: Path, settings: dict) -> tuple[Path, str]:
    """The cache folder of (split, settings) and the split's current fingerprint."""
    ident = json.dumps({"split": str(split_dir), "settings": settings, "version": VERSION},
                       sort_keys=True)
    entry = cache_root() / "decoded" / hashlib.sha1(ident.encode()).hexdigest()[:20]
    return entry, fingerprint(split_dir)


def _hit(entry: Path, stamp: str) -> dict[str, np.ndarray] | None:
    """The entry's arrays as copy-on-write memory maps when it is fresh, else None."""
    meta = entry / META
    if meta.exists():
        try:
            info = json.loads(meta.read_text())
            if info.get("fingerprint") == stamp:
                return {name: _populated(np.load(entry / f"{name}.npy", mmap_mode="c"))
                        for name in info["arrays"]}
        except (OSError, ValueError, KeyError):
            pass  # unreadable entry: rebuilt by the caller
    return None


def _new_entry(entry: Path) -> Path | None:
    """A temporary folder beside ``entry`` to write it into; None when the cache is read-only."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=entry.name + ".", dir=entry.parent))
    except OSError:
        return None


def _publish(tmp: Path, entry: Path, meta: dict) -> None:
    """Write ``meta.json`` last and rename the finished folder into place."""
    (tmp / META).write_text(json.dumps(meta))
    shutil.rmtree(entry, ignore_errors=True)
    os.replace(tmp, entry)


def cached_arrays(split_dir: Path, settings: dict, build: Callable[[], dict[str, np.ndarray]],
                  enabled: bool = True) -> dict[str, np.ndarray]:
    """The arrays ``build()`` returns for ``split_dir``, from the cache when it is fresh.

    Args:
        split_dir: the folder whose files the arrays are decoded from.
        settings: everything besides the files that changes the arrays (sizes, frame limits).
        build: decodes and validates the files; returns named arrays (raises on bad files).
        enabled: False decodes every time and writes nothing.

    Returns:
        name -> array; a cache hit gives copy-on-write memory maps (pages read on first touch).
    """
    if not enabled:
        return build()
    split_dir, entry, stamp, hit = _lookup(split_dir, settings)
    if hit is not None:
        return hit
    arrays = build()
    tmp = _new_entry(entry)
    if tmp is None:  # a read-only cache only costs speed
        return arrays
    try:
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", a)
        _publish(tmp, entry, {"fingerprint": stamp, "arrays": list(arrays),
                              "source": str(split_dir), "settings": settings})
    except OSError:  # a full disk only costs speed
        shutil.rmtree(tmp, ignore_errors=True)
    return arrays


def _lookup(split_dir: Path, settings: dict):
    """(resolved split_dir, entry folder, fingerprint, the arrays on a hit or None)."""
    split_dir = Path(split_dir).resolve()
    entry, stamp = _entry(split_dir, settings)
    return split_dir, entry, stamp, _hit(entry, stamp)


def cached_arrays_streamed(split_dir: Path, settings: dict,
                           shapes: Callable[[], dict[str, tuple[tuple[int, ...], np.dtype]]],
                           fill: Callable[[dict[str, np.ndarray], Callable[[], None]], None],
                           ) -> dict[str, np.ndarray]:
    """Like :func:`cached_arrays` for splits too large to decode into memory: on a miss the
    arrays are created as memory-mapped ``.npy`` files of the given (shape, dtype) in the new
    entry and ``fill(arrays, release)`` writes into them piece by piece, calling ``release()``
    now and then to write the pages filled so far to disk and unmap them, so that memory holds
    only the pages written since; then the arrays are opened again as on a hit.

    Args:
        split_dir: the folder whose files the arrays are decoded from (fingerprinted).
        settings: everything besides the files that changes the arrays.
        shapes: returns name -> (shape, dtype) of each array (called on a miss only: finding
            the shapes may need the files read).
        fill: decodes and validates the files into the arrays (raises on bad files; the entry
            is then discarded).

    Raises:
        DataError: the cache folder cannot be written (a full disk), naming it.

    Returns:
        name -> copy-on-write memory map. With a read-only or full cache the arrays are filled
        in memory instead.
    """
    split_dir, entry, stamp, hit = _lookup(split_dir, settings)
    if hit is not None:
        return hit
    shapes = shapes()
    tmp = _new_entry(entry)
    if tmp is None:
        arrays = {name: np.empty(shape, dtype) for name, (shape, dtype) in shapes.items()}
        fill(arrays, lambda: None)
        return arrays
    try:
        maps = {name: np.lib.format.open_memmap(tmp / f"{name}.npy", mode="w+", dtype=dtype,
                                                shape=shape)
                for name, (shape, dtype) in shapes.items()}
        fill(maps, lambda: _release(maps))
        for a in maps.values():
            a.flush()
        maps.clear()  # unmapped before the folder is renamed
        _publish(tmp, entry, {"fingerprint": stamp, "arrays": list(shapes),
                              "source": str(split_dir), "settings": settings})
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{entry.parent}: cannot write the decoded-frame cache ({e.strerror}); "
                        "free disk space there or point $VIDPRED_CACHE elsewhere") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _hit(entry, stamp)


def _release(arrays: dict[str, np.ndarray]) -> None:
    """Write the memory maps' dirty pages to disk (msync) and drop them from this process
    (MADV_DONTNEED: the data stays in the file and is read back on the next touch)."""
    for a in arrays.values():
        a.flush()
        m = getattr(a, "_mmap", None)
        if m is not None and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError):
                m.madvise(mmap.MADV_DONTNEED)
