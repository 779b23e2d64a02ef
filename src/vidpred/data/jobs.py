"""What both simulator-backed generators share: the cached-dataset record and running render
jobs in worker processes that each own one OpenGL renderer."""
from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import DataError

META_FILE = "vidpred_dataset.json"


def cached_dataset(out: Path, spec: dict) -> bool:
    """True when ``out`` already holds a complete dataset generated with ``spec``.

    Raises:
        DataError: ``out`` holds a dataset generated with other settings.
    """
    meta = out / META_FILE
    if not meta.exists():
        return False
    old = json.loads(meta.read_text())
    if old != spec:
        raise DataError(f"{out} already holds a generated dataset with other settings ({old}); "
                        "choose another --out or delete it")
    return True


def mark_complete(out: Path, spec: dict) -> None:
    """Record ``spec`` in ``out``; written last, so only a finished dataset has it."""
    (out / META_FILE).write_text(json.dumps(spec, indent=1))


def run_jobs(jobs: Sequence, job: Callable, init: Callable, init_args: tuple, close: Callable,
             workers: int, desc: str, unit: str, progress: bool, chunksize: int = 1) -> None:
    """Run ``job(j)`` for every j, in this process (workers <= 1) or in a spawn pool whose
    processes each call ``init(*init_args)`` once; ``close()`` ends the in-process run.

    Spawn, never fork: a forked process must not inherit a GL context.
    """
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    try:
        if workers <= 1:
            init(*init_args)
            for j in jobs:
                job(j)
                bar.update()
            close()
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=init, initargs=init_args) as pool:
                for _ in pool.imap_unordered(job, jobs, chunksize=chunksize):
                    bar.update()
    finally:
        bar.close()
