"""What the data writers share: the cached-dataset record, running render jobs in worker
processes that each own one OpenGL renderer (the simulator-backed generators), and running
plain tasks in worker processes that report progress as they go (the BAIR converter)."""
from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import queue
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import DataError, VidpredError
from ..progress import progress_bar
from ..rundir import read_marker, write_atomic

META_FILE = "vidpred_dataset.json"


def cached_dataset(out: Path, spec: dict) -> bool:
    """True when ``out`` already holds a complete dataset generated with ``spec``.

    Raises:
        DataError: ``out`` holds a dataset generated with other settings, or an unreadable
            record.
    """
    meta = out / META_FILE
    if not meta.exists():
        return False
    try:
        old = json.loads(meta.read_text())
    except (ValueError, OSError) as e:
        raise DataError(f"{meta}: unreadable dataset record ({e}); it names the settings the "
                        "dataset was generated with: restore it, or generate into a new --out") from None
    if old != spec:
        raise DataError(f"{out} already holds a generated dataset with other settings ({old}); "
                        "choose another --out or delete it")
    return True


def mark_complete(out: Path, spec: dict) -> None:
    """Record ``spec`` in ``out``; written last, so only a finished dataset has it."""
    write_atomic(out / META_FILE, json.dumps(spec, indent=1))


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


# this worker process's progress queue; set once per process by _start_task_worker
_reports = None


def _start_task_worker(reports) -> None:
    global _reports
    _reports = reports


def _run_task(fn_job):
    fn, job = fn_job
    return fn(job, _reports.put)


def run_tasks(tasks: Sequence, fn: Callable, workers: int, desc: str, unit: str, total: int,
              progress: bool) -> list:
    """``[fn(t, report) for t in tasks]``, in this process (workers <= 1) or in a spawn pool of
    ``workers`` processes; ``fn`` calls ``report(n)`` to advance the progress bar by n units
    (out of ``total``) while it works, so the bar moves within long tasks. ``fn`` must be
    module-level. Results come back in task order; a task's exception is re-raised here.
    """
    bar = progress_bar(total=total, desc=desc, unit=unit, disable=not progress)
    try:
        if workers <= 1 or len(tasks) <= 1:
            return [fn(t, bar.update) for t in tasks]
        ctx = mp.get_context("spawn")
        reports = ctx.Queue()
        with ctx.Pool(min(workers, len(tasks)), initializer=_start_task_worker,
                      initargs=(reports,)) as pool:
            pending = [pool.apply_async(_run_task, ((fn, t),)) for t in tasks]
            while not all(r.ready() for r in pending):
                try:
                    bar.update(reports.get(timeout=0.2))
                except queue.Empty:
                    pass
            results = [r.get() for r in pending]
        with contextlib.suppress(queue.Empty):  # reports still in the pipe
            while True:
                bar.update(reports.get(timeout=0.05))
        return results
    finally:
        bar.close()


def unfinished(root: Path) -> list[str]:
    """``vidpred data check``'s line for a generated dataset that was never finished: its
    marker records the generator's settings but ``vidpred_dataset.json`` is missing."""
    try:
        record = read_marker(root)
    except VidpredError as e:
        return [str(e)]
    if record is None or "settings" not in record or (root / META_FILE).exists():
        return []
    settings = ", ".join(f"{k}={v}" for k, v in record["settings"].items())
    return [f"{root}: generation was interrupted (no {META_FILE}; started with {settings}); "
            "run the generator again with these settings to finish it"]


def generated_seq_len(root: Path) -> int | None:
    """The frames per sequence a generator recorded for ``root`` (``vidpred_dataset.json``, or
    the marker of an unfinished run); None for data no generator wrote."""
    try:
        meta = root / META_FILE
        record = json.loads(meta.read_text()) if meta.is_file() else \
            (read_marker(root) or {}).get("settings", {})
    except (ValueError, OSError, VidpredError):
        return None
    n = record.get("seq_len")
    return n if isinstance(n, int) else None
