"""What both simulator-backed generators share: the cached-dataset record and running render
jobs in worker processes that each own one OpenGL renderer."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import DataError
from ..progress import progress_bar

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


# this worker process's (renderer scene, job function); set once per process by _start_worker
_worker: tuple | None = None


def _start_worker(gl_backend: str, scene_cls: type, scene_args: tuple, job: Callable) -> None:
    global _worker
    os.environ["MUJOCO_GL"] = gl_backend
    _worker = (scene_cls(*scene_args), job)


def _run_one(item):
    scene, job = _worker
    return job(scene, item)


def run_jobs(jobs: Sequence, job: Callable, scene_cls: type, scene_args: tuple, gl_backend: str,
             workers: int, desc: str, unit: str, progress: bool, chunksize: int = 1) -> None:
    """Run ``job(scene, j)`` for every j, where ``scene = scene_cls(*scene_args)`` is built once
    per process with ``MUJOCO_GL=gl_backend``: in this process (workers <= 1, the scene closed
    at the end) or in a spawn pool of ``workers`` processes. ``job`` and ``scene_cls`` must be
    module-level (they are sent to the workers by reference).

    Spawn, never fork: a forked process must not inherit a GL context.
    """
    global _worker
    init_args = (gl_backend, scene_cls, tuple(scene_args), job)
    bar = progress_bar(total=len(jobs), desc=desc, unit=unit, disable=not progress)
    try:
        if workers <= 1:
            _start_worker(*init_args)
            try:
                for j in jobs:
                    _run_one(j)
                    bar.update()
            finally:
                _worker[0].close()
                _worker = None
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_start_worker, initargs=init_args) as pool:
                for _ in pool.imap_unordered(_run_one, jobs, chunksize=chunksize):
                    bar.update()
    finally:
        bar.close()
