"""A training run's directory: checks before training, resume, the log sinks, checkpoint
rotation and the graceful stop. The files and their names: :mod:`vidpred.rundir`.
"""
from __future__ import annotations

import json
import shutil
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import load_checkpoint, load_model_state, save_checkpoint
from ..config import Config, config_differences, get_value
from ..errors import CheckpointError, ConfigError
from ..rundir import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    LAST_CHECKPOINT,
    METRICS_FILE,
    RUN,
    OutputDir,
    claim_output,
    copy_atomic,
    write_atomic,
)


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool, bytes_needed: int) -> None:
    """Claim the run directory (:func:`vidpred.rundir.claim_output`: a folder of a user's
    files is refused, ``overwrite`` removes only what vidpred wrote, the temporary files of an
    interrupted save are removed) and find a full disk before training. ``resume`` in a run
    stopped before its first checkpoint removes what that run wrote: it starts afresh.

    Raises:
        ConfigError: the directory holds files vidpred did not write, holds a run (without
            resume/overwrite), is not writable, or has less than ``bytes_needed`` free.
        CheckpointError: ``resume`` in a run without ``last.ckpt`` but with other checkpoints.
    """
    fresh = resume and not (run_dir / LAST_CHECKPOINT).is_file()
    kept = sorted(run_dir.glob("epoch_*.ckpt")) + [run_dir / BEST_CHECKPOINT]
    if fresh and any(p.is_file() for p in kept):  # not a run stopped before its first epoch
        raise CheckpointError(f"--resume: {run_dir} holds no {LAST_CHECKPOINT} but other "
                              f"checkpoints; copy the one to continue from to {LAST_CHECKPOINT}, "
                              "or start again with --overwrite")
    out = claim_output(run_dir, RUN, resume=resume and not fresh, overwrite=overwrite or fresh)
    out.add(CONFIG_FILE, METRICS_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT, "training_curves.png",
            "psnr_vs_time.png")
    free = shutil.disk_usage(run_dir).free
    if free < bytes_needed:
        raise ConfigError(f"run directory {run_dir} has {free / 2**20:.0f} MiB free, but this run's "
                          f"checkpoints and logs need about {bytes_needed / 2**20:.0f} MiB; free some "
                          "space or choose another --out")


def resumable(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a training run that ``train(..., resume=True)`` continues: from
    its ``last.ckpt``, or afresh when the run was stopped before its first checkpoint (what a
    sweep or a demo started again should pass as ``resume``)."""
    return any((Path(run_dir) / n).is_file() for n in (LAST_CHECKPOINT, CONFIG_FILE, METRICS_FILE))


@dataclass
class ResumePoint:
    """Where training continues: iteration, best validation PSNR (dB) and training seconds so
    far (0, -inf, 0 for a fresh run); ``prepared``: of those, the seconds the model took to
    prepare before the first step (filling a frame memory, fitting a block layer), which count
    against ``train.max_minutes`` but not in the schedules' share of it
    (:func:`vidpred.schedules.schedule_step`)."""

    iteration: int = 0
    best_psnr: float = float("-inf")
    seconds: float = 0.0
    prepared: float = 0.0


def resumes(run_dir: Path, resume: bool) -> bool:
    """Whether a run started with ``resume`` loads ``run_dir/last.ckpt`` (:func:`resume_run`),
    rather than starting afresh."""
    return resume and (run_dir / LAST_CHECKPOINT).exists()


def resume_run(run_dir: Path, cfg: Config, model, optimizer, ctx, log) -> ResumePoint:
    """Load ``run_dir/last.ckpt`` into the model and optimizer and restore this rank's RNG; a
    directory without one (a run stopped before its first checkpoint) starts afresh, with a note.

    Raises:
        CheckpointError: a checkpoint trained with another config (the differing keys named),
            or one without the optimizer's state (a ``best.ckpt`` put in its place).
    """
    path = run_dir / LAST_CHECKPOINT
    if not resumes(run_dir, True):
        log(f"note: {run_dir} holds no checkpoint (a run stopped before its first epoch end, or "
            "none): starting afresh")
        return start_fresh(run_dir, cfg.train.seed, ctx)
    state = load_checkpoint(path)
    if state["config"].to_dict() != cfg.to_dict():
        raise CheckpointError(f"{path} was trained with another config "
                              f"({_config_diff(state['config'], cfg)}); resume with the same "
                              "config or use --overwrite")
    if state["optimizer"] is None:
        raise CheckpointError(f"{path} holds weights without the optimizer's state (a best.ckpt?): "
                              "a run resumes from its own last.ckpt or an epoch_*.ckpt")
    load_model_state(model, state["model"], path)
    optimizer.load_state_dict(state["optimizer"])
    _restore_rng(state, ctx, cfg.train.seed, log)
    if ctx.is_main:
        _trim_log(run_dir / METRICS_FILE, state["iteration"], log)
    log(f"resuming {run_dir} at iteration {state['iteration']}")
    return ResumePoint(state["iteration"], state["best_psnr"],
                       state["extra"].get("train_seconds", 0.0),
                       state["extra"].get("prepare_seconds", 0.0))


def start_fresh(run_dir: Path, seed: int, ctx) -> ResumePoint:
    """A new run: drop an old log and give each rank >= 1 its own reparameterization noise."""
    if ctx.is_main:
        (run_dir / METRICS_FILE).unlink(missing_ok=True)
    if ctx.rank:
        torch.manual_seed(rank_seed(seed, ctx.rank))
    return ResumePoint()


def _extra(point: ResumePoint) -> dict:
    """What a checkpoint records of the resume point besides iteration and best PSNR."""
    return {"train_seconds": point.seconds, "prepare_seconds": point.prepared}


def rank_seed(seed: int, rank: int) -> int:
    """The noise seed of rank >= 1 (rank 0 uses ``seed`` itself, like a single process)."""
    return seed * 1_000_003 + rank


def _restore_rng(state: dict, ctx, seed: int, log) -> None:
    """Each rank continues its own noise stream; a run resumed on another number of processes
    cannot (rank 0 continues its stream, the others start fresh ones, and this is said)."""
    ranks = state.get("rng_ranks") or [state["rng"]]
    if len(ranks) == ctx.world_size:
        torch.set_rng_state(ranks[ctx.rank])
        return
    log(f"note: the checkpoint was written by {len(ranks)} process(es), this run has "
        f"{ctx.world_size}: the reparameterization noise differs from an uninterrupted run")
    if ctx.rank == 0:
        torch.set_rng_state(ranks[0])
    else:
        torch.manual_seed(rank_seed(seed, ctx.rank))


def _trim_log(path: Path, iteration: int, log=print) -> None:
    """Drop log lines written after the checkpoint we resume from (they will be redone), and a
    torn last line (a kill or a full disk mid-write), with a note.

    Raises:
        CheckpointError: a line before the last one that is not a log record (named).
    """
    if not path.exists():
        return
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    keep = []
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            it = record["iteration"]
        except (ValueError, KeyError, TypeError):
            if n == len(lines):
                log(f"note: {path}: dropped a torn last line (an interrupted write)")
                break
            raise CheckpointError(f"{path}: line {n} is not a metrics record; restore the file "
                                  "or start again with --overwrite") from None
        if it <= iteration:
            keep.append(line)
    write_atomic(path, "".join(line + "\n" for line in keep))


def _config_diff(a: Config, b: Config) -> str:
    keys = config_differences([a, b])
    return "; ".join(f"{k}: {get_value(a, k)!r} -> {get_value(b, k)!r}" for k in keys[:6]) \
        or "no difference"


class RunLog:
    """The log sinks of rank 0: ``metrics.jsonl`` and, with ``tensorboard``, TensorBoard events.
    Other ranks get a RunLog that writes nothing."""

    def __init__(self, run_dir: Path, start_iteration: int, enabled: bool, tensorboard: bool,
                 log=print):
        from .tblog import open_tensorboard

        self.file = (run_dir / METRICS_FILE).open("a") if enabled else None
        before = set(run_dir.glob("events.out.tfevents.*"))
        self.board = open_tensorboard(run_dir, start_iteration, log) \
            if enabled and tensorboard else None
        if self.board:  # the event file's name is TensorBoard's: listed once it exists
            OutputDir.of(run_dir).add(*sorted(p.name for p in
                                              set(run_dir.glob("events.out.tfevents.*")) - before))

    def iteration(self, record: dict) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
        if self.board:
            self.board.iteration(record)

    def epoch(self, record: dict, truth=None, pred=None) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()
        if self.board:
            self.board.epoch(record, truth, pred)

    def close(self) -> None:
        if self.file:
            self.file.close()
        if self.board:
            self.board.close()


class Checkpoints:
    """Writes ``last.ckpt`` (weights, optimizer and every rank's RNG state: what a resume
    needs) and copies of it as the last ``keep`` epoch checkpoints (a rolled-back run resumes
    from one), and ``best.ckpt`` (weights and config only: for evaluating)."""

    def __init__(self, run_dir: Path, cfg: Config, model, optimizer, ctx):
        self.run_dir, self.cfg, self.model, self.optimizer, self.ctx = \
            run_dir, cfg, model, optimizer, ctx

    def save(self, iteration: int, point: ResumePoint, best: bool = False,
             epoch: int | None = None) -> None:
        """A collective under torchrun: every rank must call it."""
        rng_ranks = self.ctx.gather_rng_states()
        if not self.ctx.is_main:
            return
        last = self.run_dir / LAST_CHECKPOINT
        save_checkpoint(last, config=self.cfg, model=self.model, optimizer=self.optimizer,
                        iteration=iteration, best_psnr=point.best_psnr,
                        extra=_extra(point), rng_ranks=rng_ranks)
        if best:  # for evaluating, not resuming: without Adam's moments, a third of the weights
            save_checkpoint(self.run_dir / BEST_CHECKPOINT, config=self.cfg, model=self.model,
                            iteration=iteration, best_psnr=point.best_psnr,
                            extra=_extra(point))
        keep = self.cfg.train.keep_checkpoints
        if epoch is not None and keep > 0:
            name, record = f"epoch_{epoch:04d}.ckpt", OutputDir.of(self.run_dir)
            record.add(name)
            copy_atomic(last, self.run_dir / name)  # a link: no bytes until last.ckpt moves on
            for old in sorted(self.run_dir.glob("epoch_*.ckpt"))[:-keep]:
                if old.name in record.files:  # an epoch checkpoint vidpred wrote, not a user's
                    old.unlink(missing_ok=True)
                    record.discard(old.name)


class GracefulStop:
    """The first Ctrl-C (SIGINT) or SIGTERM asks the loop to stop at the next iteration boundary,
    where a consistent checkpoint can be written; a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested: str | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False
