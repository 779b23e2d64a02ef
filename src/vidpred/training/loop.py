"""The training loop: schedules, the step, validation, logging, checkpoints and exact resume.

What the run directory holds is described in :mod:`vidpred.training.runs`. Batches are a pure function
of (seed, iteration) and the checkpoint stores the torch RNG state (every rank's, under
torchrun), so ``resume=True`` continues exactly where the last checkpoint stopped. Under
``torchrun`` the same loop trains with DistributedDataParallel (:mod:`vidpred.training.distributed`).

Process-wide settings (threads, allocator, deterministic algorithms) are not touched here: the
CLI applies them with :func:`vidpred.device.configure_process`, and so can a library user.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import Config, check_config
from ..data import make_dataset
from ..data.augment import ClipAugmenter
from ..device import resolve_device, synchronize, to_device, use_bf16
from ..errors import TrainingError
from ..evaluation.scoring import dataset_batches, rollout_and_score
from ..models import VideoModel, build_model
from ..progress import progress_bar
from ..rundir import CONFIG_FILE, LAST_CHECKPOINT, METRICS_FILE
from ..schedules import Schedules, schedule_step
from . import distributed
from .precise_bn import recompute_batchnorm_stats
from .runs import (
    Checkpoints,
    GracefulStop,
    ResumePoint,
    RunLog,
    prepare_run_dir,
    resume_run,
    resumes,
    start_fresh,
)
from .step import IterationSampler, NonFiniteLoss, make_optimizer, train_step

__all__ = ["TrainResult", "train", "validate"]


@dataclass
class TrainResult:
    run_dir: Path
    iteration: int
    best_psnr: float
    seconds: float


def validate(model: VideoModel, dataset, n_past: int, seed: int = 0,
             device: torch.device | str = "cpu", keep: int = 0) -> dict:
    """PSNR (dB) / SSIM of one prior sample per sequence over every frame after the context
    (n_future for windows, the whole clip for the dance validation split), through
    :func:`vidpred.evaluation.scoring.rollout_and_score` with ``seed``.

    Returns:
        ``{"val_psnr", "val_ssim"}``, and with ``keep`` the first sequences' ``truth`` and
        ``pred`` after the context as (keep, T, C, H, W) float CPU tensors (for TensorBoard).
    """
    metrics, kept = rollout_and_score(model, dataset_batches(dataset, 64), n_past, None, 1,
                                      seed=seed, device=device, keep=keep)
    out = {"val_psnr": metrics.best.psnr_mean, "val_ssim": metrics.best.ssim_mean}
    if keep:
        out["truth"] = torch.stack([f[n_past:] for f in kept.frames]).float() / 255
        out["pred"] = torch.stack([p[0] for p in kept.pred]).float() / 255
    return out


def train(cfg: Config, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True, log=print, device: str = "cpu") -> TrainResult:
    """Train the model ``cfg.model`` describes on the dataset ``cfg.data`` describes.

    The config is checked first (:func:`vidpred.config.check_config`): a bad value stops before
    any data is read or any file is written. Under ``torchrun`` with several processes the same
    call trains with DistributedDataParallel: ``train.batch_size`` is the global batch, split
    evenly over the ranks; rank 0 alone validates and writes the log, events and checkpoints.

    Args:
        cfg: the resolved configuration.
        run_dir: where logs and checkpoints go (see :mod:`vidpred.training.runs`).
        resume: continue from ``run_dir/last.ckpt``.
        overwrite: start from scratch in a run directory that already holds a run.
        device: ``cpu`` (default), ``cuda`` or ``auto`` (CUDA when present; bf16 autocast there).

    Returns:
        :class:`TrainResult` with the final iteration and best validation PSNR (dB).

    Raises:
        ConfigError: invalid config values (all listed), a run directory that exists (without
            resume/overwrite) or is unwritable, a training split too large for the frame memory.
        CheckpointError: ``resume`` with a missing or mismatching checkpoint.
        DataError: a dataset problem (names the file).
        TrainingError: a non-finite loss (names the iteration and the term).
    """
    dev = resolve_device(device)
    check_config(cfg, distributed.world_size())
    ctx = distributed.setup(dev)
    try:
        return _train(cfg, Path(run_dir), resume, overwrite, progress and ctx.is_main,
                      log if ctx.is_main else (lambda *a, **k: None), ctx)
    finally:
        distributed.teardown(ctx)


def _open_datasets(cfg: Config, ctx, progress: bool):
    """The training split and (rank 0 only) the first ``val_sequences`` of the validation one."""
    d = cfg.data

    def split(name: str, **kw):
        return make_dataset(d.root, d.layout, name, d.n_past + d.n_future, image_size=d.image_size,
                            image_width=d.image_width, progress=progress,
                            validate_files=d.validate_files, **kw)

    if not ctx.is_main:
        ctx.barrier()  # rank 0 first: it builds the decoded-frame cache the others then map
    train_set = split("train", train=True)
    val_set = split("validate", train=False, max_sequences=cfg.train.val_sequences) \
        if ctx.is_main else None
    return train_set, val_set


def _run_bytes(model: torch.nn.Module, cfg: Config) -> int:
    """Disk a run needs: ``last.ckpt`` (weights, saved buffers such as a frame memory, and
    Adam's two moments), the temporary file that replaces it and the kept epoch checkpoints
    (copies of it), ``best.ckpt`` (weights and buffers), and the log."""
    state = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    adam = 2 * 4 * sum(p.numel() for p in model.parameters())
    return (state + adam) * (cfg.train.keep_checkpoints + 2) + state + \
        200 * cfg.train.iterations + 2**20


@dataclass
class _LoopState:
    """What the loop carries from one iteration to the next.

    Attributes:
        iteration: steps done. point: the resume point (best validation PSNR, training seconds
            so far on this rank, validation excluded). clock: what the schedules and the time
            limit read, the same on every rank (the ranks' mean training seconds under
            torchrun); prepared: the part of it before the first step, likewise.
        tick: ``time.perf_counter()`` when the iteration's training time started counting.
        epoch_mse, epoch_start: the epoch's MSE per iteration and its start in training seconds.
        epoch_data: seconds of the epoch's steps spent reading, moving and augmenting batches.
    """

    iteration: int
    point: ResumePoint
    clock: float
    prepared: float
    tick: float = field(default_factory=lambda: time.perf_counter())
    epoch_mse: list[float] = field(default_factory=list)
    epoch_start: float = 0.0
    epoch_data: float = 0.0

    def new_epoch(self) -> None:
        self.tick, self.epoch_mse, self.epoch_start = time.perf_counter(), [], self.point.seconds
        self.epoch_data = 0.0


@dataclass
class _Parts:
    """One run's wiring: what every iteration uses."""

    cfg: Config
    ctx: distributed.Distributed
    run_dir: Path
    model: VideoModel
    trainer: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    train_set: object
    val_set: object
    schedules: Schedules
    sampler: IterationSampler
    augment: ClipAugmenter
    checkpoints: Checkpoints
    runlog: RunLog
    bar: object
    bf16: bool
    log: object


def _train(cfg: Config, run_dir: Path, resume: bool, overwrite: bool, progress: bool, log,
           ctx: distributed.Distributed) -> TrainResult:
    parts, state = _setup(cfg, run_dir, resume, overwrite, progress, log, ctx)
    with GracefulStop() as stop:
        try:
            while state.iteration < cfg.train.iterations:
                if _iteration(parts, state, stop):
                    break
        except _Stopped:
            raise KeyboardInterrupt from None
        except KeyboardInterrupt:  # a second Ctrl-C mid-iteration: the weights may be half-updated
            parts.bar.close()
            log(f"\ninterrupted at once; {run_dir / LAST_CHECKPOINT} from the last epoch end is "
                "kept; continue with --resume")
            raise
        finally:
            parts.runlog.close()
            parts.bar.close()
    if ctx.is_main:
        from ..viz import plot_psnr_vs_time, plot_training
        plot_training(run_dir / METRICS_FILE, run_dir / "training_curves.png")
        plot_psnr_vs_time(run_dir / METRICS_FILE, run_dir / "psnr_vs_time.png")
    return TrainResult(run_dir, state.iteration, state.point.best_psnr, state.point.seconds)


def _setup(cfg: Config, run_dir: Path, resume: bool, overwrite: bool, progress: bool, log,
           ctx: distributed.Distributed) -> tuple[_Parts, _LoopState]:
    """Data, model (filled with what it keeps of the training split), run directory, optimizer
    and resume point, schedules, sampler and log sinks."""
    t, dev = cfg.train, ctx.device
    train_set, val_set = _open_datasets(cfg, ctx, progress)
    torch.manual_seed(t.seed)
    model = build_model(cfg).to(dev)
    # e.g. a frame memory of the training split; what a checkpoint holds in full (the block
    # layer's fitted dynamics) is not refitted for a run that resumes from one
    start = time.perf_counter()
    kept = model.prepare(train_set, resuming=resumes(run_dir, resume))
    prepared = time.perf_counter() - start
    if kept and ctx.is_main:
        log(kept)
    if ctx.is_main:
        prepare_run_dir(run_dir, resume, overwrite, _run_bytes(model, cfg))
        ctx.barrier()
    optimizer = make_optimizer(model.parameters(), t.lr)
    point = resume_run(run_dir, cfg, model, optimizer, ctx, log) if resume \
        else start_fresh(run_dir, t.seed, ctx)
    if point.iteration == 0 and kept:
        # preparing the model is training too: it counts against train.max_minutes (on a slow
        # CPU the block layer's fit takes longer, and the steps get less of the budget)
        point.seconds = point.prepared = prepared
        if t.max_minutes and ctx.is_main:
            log(f"train.max_minutes={t.max_minutes:g}: preparing the model took {prepared:.0f} s "
                f"of it; {max(60 * t.max_minutes - prepared, 0):.0f} s remain for the steps")
    if ctx.is_main:
        cfg.save(run_dir / CONFIG_FILE)
    parts = _Parts(
        cfg, ctx, run_dir, model, ctx.wrap(model.train()), optimizer, train_set, val_set,
        Schedules(t), IterationSampler(len(train_set), t.batch_size, t.seed),
        ClipAugmenter(cfg.data.augment, t.batch_size, t.seed),
        Checkpoints(run_dir, cfg, model, optimizer, ctx),
        RunLog(run_dir, point.iteration, ctx.is_main, t.tensorboard, log),
        progress_bar(total=t.iterations, initial=point.iteration, desc="training", unit="it",
                     disable=not progress),
        _precision(t.precision, dev, log if ctx.is_main else lambda _: None), log)
    return parts, _LoopState(point.iteration, point, point.seconds, point.prepared,
                             epoch_start=point.seconds)


def _iteration(parts: _Parts, state: _LoopState, stop: GracefulStop) -> bool:
    """One training step, its log line, and at an epoch's end validation and checkpoints.
    Returns True when the time limit ended training."""
    cfg, ctx, t = parts.cfg, parts.ctx, parts.cfg.train
    it = state.iteration
    epoch = it // t.iters_per_epoch
    beta, tfr, lr = parts.schedules.at(schedule_step(it, state.clock, t, state.prepared))
    for group in parts.optimizer.param_groups:
        group["lr"] = lr
    indices, u = parts.sampler.draw(it)
    shard = ctx.shard(t.batch_size)
    # the data wait has its own clock: the training clock (perf_counter) is read once per step
    waited = time.monotonic()
    frames, cond = parts.augment(*to_device(parts.train_set.batch(indices[shard]), ctx.device),
                                 it, shard)
    state.epoch_data += time.monotonic() - waited
    try:
        # the figures are the global batch's; any rank's stop request stops all
        figs = train_step(parts.trainer, parts.optimizer, frames, cond, cfg.data.n_past, beta,
                          teacher_forcing=u < tfr, grad_clip=t.grad_clip, reduce=ctx.mean,
                          extra=[stop.requested is not None, state.point.seconds,
                                 state.point.prepared],
                          parameters=parts.model.parameters(), bf16=parts.bf16,
                          block_weight=t.block_weight)
    except NonFiniteLoss as e:
        raise _non_finite(e, it, parts.run_dir) from None
    it = state.iteration = it + 1
    synchronize(ctx.device)
    now = time.perf_counter()
    state.point.seconds, state.tick = state.point.seconds + now - state.tick, now
    state.clock, state.prepared = (figs.extra[1], figs.extra[2]) if ctx.world_size > 1 \
        else (state.point.seconds, state.point.prepared)  # ranks agree
    out_of_time = 0 < t.max_minutes * 60.0 <= state.clock
    _log_iteration(parts.runlog, parts.bar, it, epoch, figs, (beta, tfr, lr), u < tfr,
                   state.point.seconds)
    state.epoch_mse.append(figs.mse)
    final = it == t.iterations or out_of_time
    if final:  # before the last validation and checkpoint
        _finish(parts, it, out_of_time)
    if it % t.iters_per_epoch == 0 or final:
        _end_epoch(parts, state, epoch)
        state.new_epoch()
    if not out_of_time and figs.extra[0] and it < t.iterations:
        _stop(parts.checkpoints, it, state.point, parts.bar, parts.log,
              stop.requested or "stop on another rank")
    return out_of_time


class _Stopped(Exception):
    """A graceful stop: the checkpoint is written, the loop unwinds."""


def _stop(checkpoints: Checkpoints, it: int, point: ResumePoint, bar, log, why: str) -> None:
    """Save ``last.ckpt`` at iteration ``it`` and unwind the loop (raises :class:`_Stopped`)."""
    checkpoints.save(it, point)
    bar.close()
    log(f"\n{why}: saved {checkpoints.run_dir / 'last.ckpt'} at iteration {it}; continue with "
        "--resume")
    raise _Stopped


def _log_iteration(runlog: RunLog, bar, it: int, epoch: int, figs, schedule: tuple,
                   teacher_forced: bool, seconds: float) -> None:
    """One iteration's line in the log (``schedule`` = (beta, tfr, lr)) and the progress bar."""
    beta, tfr, lr = schedule
    runlog.iteration({"kind": "iter", "iteration": it, "epoch": epoch, "loss": figs.loss,
                      "mse": figs.mse, "kl": figs.kl, "beta": beta, "tfr": tfr, "lr": lr,
                      "teacher_forcing": bool(teacher_forced), "time": round(seconds, 3)})
    bar.update()
    if it % 10 == 0:
        bar.set_postfix(loss=f"{figs.loss:.4f}", beta=f"{beta:.2e}", tfr=f"{tfr:.2f}")


def _finish(parts: _Parts, it: int, out_of_time: bool) -> None:
    """The end of training: say why it stopped and, with ``train.precise_bn_batches``,
    recompute the BatchNorm statistics for the final weights (every rank, the same batches)."""
    cfg, ctx, t = parts.cfg, parts.ctx, parts.cfg.train
    if out_of_time and ctx.is_main:
        parts.bar.write(f"train.max_minutes={t.max_minutes:g} reached at iteration {it}")
    if t.precise_bn_batches:
        layers = recompute_batchnorm_stats(
            parts.model, parts.train_set, cfg.data.n_past, batches=t.precise_bn_batches,
            batch_size=t.batch_size, seed=t.seed, device=ctx.device, bf16=parts.bf16)
        if ctx.is_main and layers:
            parts.bar.write(f"BatchNorm statistics of {layers} layers recomputed over "
                            f"{t.precise_bn_batches} training batches (train.precise_bn_batches)")


def _precision(precision: str, device: torch.device, log) -> bool:
    """Whether the step runs under bf16 autocast; logs the choice ``auto`` made on a CPU with
    native bf16, or the fallback of ``bf16`` to float32 on one without, once."""
    bf16, note = use_bf16(precision, device)
    if note:
        log(note)
    return bf16


def _non_finite(e: NonFiniteLoss, it: int, run_dir: Path) -> TrainingError:
    kept = (f"the last good checkpoint is {run_dir / 'last.ckpt'}"
            if (run_dir / "last.ckpt").exists() else "no checkpoint was written yet")
    return TrainingError(f"non-finite {e.term} at iteration {it} (loss={e.loss}); {kept}. "
                         "Try a lower train.lr or train.grad_clip=1.0")


def _end_epoch(parts: _Parts, state: _LoopState, epoch: int) -> None:
    """Validate (rank 0), log the epoch line, write last/best/epoch checkpoints (all ranks)."""
    cfg, ctx, point, it = parts.cfg, parts.ctx, state.point, state.iteration
    improved = False
    if ctx.is_main:
        val = validate(parts.model, parts.val_set, cfg.data.n_past, seed=cfg.train.seed,
                       device=ctx.device, keep=4 if parts.runlog.board else 0)
        shown = (val.pop("truth", None), val.pop("pred", None))
        improved = val["val_psnr"] > point.best_psnr
        point.best_psnr = max(point.best_psnr, val["val_psnr"])
        n, secs = len(state.epoch_mse), max(point.seconds - state.epoch_start, 1e-9)
        parts.runlog.epoch({"kind": "epoch", "iteration": it, "epoch": epoch, **val,
                            "train_mse": sum(state.epoch_mse) / max(n, 1),
                            "time": round(point.seconds, 3), "iters_per_s": round(n / secs, 3),
                            "frames_per_s": round(n * cfg.train.batch_size * cfg.data.n_future
                                                  / secs, 1),
                            "data_wait": round(state.epoch_data / secs, 4)}, *shown)
    parts.checkpoints.save(it, point, best=improved, epoch=epoch)
    if ctx.is_main:
        parts.bar.write(f"epoch {epoch}: iteration {it}, val PSNR {val['val_psnr']:.2f} dB, "
                        f"SSIM {val['val_ssim']:.3f}{'  (best)' if improved else ''}")
