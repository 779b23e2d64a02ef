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
from dataclasses import dataclass
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
from ..schedules import KLAnnealing, LearningRate, TeacherForcing
from . import distributed
from .precise_bn import recompute_batchnorm_stats
from .runs import (
    METRICS_FILE,
    Checkpoints,
    GracefulStop,
    ResumePoint,
    RunLog,
    prepare_run_dir,
    resume_run,
    start_fresh,
)
from .step import IterationSampler, NonFiniteLoss, make_optimizer, train_step

__all__ = ["TrainResult", "train", "validate", "Schedules", "METRICS_FILE"]


@dataclass
class TrainResult:
    run_dir: Path
    iteration: int
    best_psnr: float
    seconds: float


class Schedules:
    """beta (KL annealing, per iteration), teacher-forcing ratio (per epoch of
    ``train.iters_per_epoch`` steps) and learning rate (per iteration) of a config; all pure
    functions of the schedule step (:func:`schedule_step`)."""

    def __init__(self, cfg: Config):
        t = cfg.train
        self.beta = KLAnnealing(t.kl_anneal, t.iterations, t.kl_anneal_cycles, t.kl_anneal_ratio,
                                t.beta)
        self.tfr = TeacherForcing(t.tfr_start, t.tfr_decay_start, t.tfr_decay_step, t.tfr_floor)
        self.lr = LearningRate(t.lr_schedule, t.lr, t.iterations)
        self.iters_per_epoch = t.iters_per_epoch

    def at(self, step: int) -> tuple[float, float, float]:
        """(beta, teacher-forcing ratio, learning rate) at a schedule step."""
        return self.beta(step), self.tfr(step // self.iters_per_epoch), self.lr(step)


def schedule_step(iteration: int, seconds: float, cfg: Config) -> int:
    """The step the schedules (KL annealing, learning rate, and the teacher-forcing ratio at
    epoch ``step // train.iters_per_epoch``) are read at.

    Without a time limit it is the iteration. With ``train.max_minutes`` it is the larger of the
    iteration and the same fraction of ``train.iterations`` as ``seconds`` is of the limit, so a
    run that stops on time has still annealed its learning rate, beta and teacher forcing to
    their ends; on a faster machine the same run trains more iterations.
    """
    t = cfg.train
    if t.max_minutes <= 0:
        return iteration
    return max(iteration, min(t.iterations, int(seconds / (60.0 * t.max_minutes) * t.iterations)))


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
    """Disk a run needs: weights + two Adam moments + buffers (a frame memory) per checkpoint
    (last, best and the kept epochs) and the log."""
    ckpt = 3 * 4 * sum(p.numel() for p in model.parameters()) + \
        sum(b.numel() * b.element_size() for b in model.buffers())
    return ckpt * (cfg.train.keep_checkpoints + 3) + 200 * cfg.train.iterations + 2**20


def _train(cfg: Config, run_dir: Path, resume: bool, overwrite: bool, progress: bool, log,
           ctx: distributed.Distributed) -> TrainResult:
    t, dev, n_past = cfg.train, ctx.device, cfg.data.n_past
    train_set, val_set = _open_datasets(cfg, ctx, progress)
    torch.manual_seed(t.seed)
    model = build_model(cfg).to(dev)
    model.prepare(train_set)  # e.g. a frame memory of the training split
    if ctx.is_main:
        prepare_run_dir(run_dir, resume, overwrite, _run_bytes(model, cfg))
        ctx.barrier()
    optimizer = make_optimizer(model.parameters(), t.lr)
    point = resume_run(run_dir, cfg, model, optimizer, ctx, log) if resume \
        else start_fresh(run_dir, t.seed, ctx)
    if ctx.is_main:
        cfg.save(run_dir / "config.yaml")
    schedules, sampler = Schedules(cfg), IterationSampler(len(train_set), t.batch_size, t.seed)
    augment = ClipAugmenter(cfg.data.augment, t.batch_size, t.seed)
    shard, trainer = ctx.shard(t.batch_size), ctx.wrap(model.train())
    bf16 = _precision(t.precision, dev, log if ctx.is_main else lambda _: None)
    checkpoints = Checkpoints(run_dir, cfg, model, optimizer, ctx)
    runlog = RunLog(run_dir, point.iteration, ctx.is_main, t.tensorboard, log)
    bar = progress_bar(total=t.iterations, initial=point.iteration, desc="training", unit="it",
                       disable=not progress)
    it, epoch_mse, epoch_start, tick = point.iteration, [], point.seconds, time.perf_counter()
    seconds = point.seconds  # what the schedules and the time limit read: the same on every rank
    with GracefulStop() as stop:
        try:
            while it < t.iterations:
                epoch = it // t.iters_per_epoch
                beta, tfr, lr = schedules.at(schedule_step(it, seconds, cfg))
                for group in optimizer.param_groups:
                    group["lr"] = lr
                indices, u = sampler.draw(it)
                frames, cond = augment(*to_device(train_set.batch(indices[shard]), dev), it, shard)
                try:
                    # the figures are the global batch's; any rank's stop request stops all
                    figs = train_step(trainer, optimizer, frames, cond, n_past,
                                      beta, teacher_forcing=u < tfr, grad_clip=t.grad_clip,
                                      reduce=ctx.mean,
                                      extra=[stop.requested is not None, point.seconds],
                                      parameters=model.parameters(), bf16=bf16)
                except NonFiniteLoss as e:
                    raise _non_finite(e, it, run_dir) from None
                it += 1
                synchronize(dev)
                now = time.perf_counter()
                point.seconds, tick = point.seconds + now - tick, now
                seconds = figs.extra[1] if ctx.world_size > 1 else point.seconds  # ranks agree
                out_of_time = 0 < t.max_minutes * 60.0 <= seconds
                _log_iteration(runlog, bar, it, epoch, figs, (beta, tfr, lr), u < tfr, point.seconds)
                epoch_mse.append(figs.mse)
                final = it == t.iterations or out_of_time
                if final:  # before the last validation and checkpoint
                    _finish(cfg, ctx, model, train_set, it, out_of_time, bf16, bar)
                if it % t.iters_per_epoch == 0 or final:
                    _end_epoch(cfg, ctx, model, val_set, it, epoch, point, epoch_mse, epoch_start,
                               runlog, checkpoints, bar)
                    tick, epoch_mse, epoch_start = time.perf_counter(), [], point.seconds
                if out_of_time:
                    break
                if figs.extra[0] and it < t.iterations:
                    _stop(checkpoints, it, point, bar, log, stop.requested or "stop on another rank")
        except _Stopped:
            raise KeyboardInterrupt from None
        except KeyboardInterrupt:  # a second Ctrl-C mid-iteration: the weights may be half-updated
            bar.close()
            log(f"\ninterrupted at once; {run_dir / 'last.ckpt'} from the last epoch end is kept; "
                "continue with --resume")
            raise
        finally:
            runlog.close()
            bar.close()
    if ctx.is_main:
        from ..viz import plot_psnr_vs_time, plot_training
        plot_training(run_dir / METRICS_FILE, run_dir / "training_curves.png")
        plot_psnr_vs_time(run_dir / METRICS_FILE, run_dir / "psnr_vs_time.png")
    return TrainResult(run_dir, it, point.best_psnr, point.seconds)


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


def _finish(cfg: Config, ctx, model, train_set, it: int, out_of_time: bool, bf16: bool,
            bar) -> None:
    """The end of training: say why it stopped and, with ``train.precise_bn_batches``,
    recompute the BatchNorm statistics for the final weights (every rank, the same batches)."""
    t = cfg.train
    if out_of_time and ctx.is_main:
        bar.write(f"train.max_minutes={t.max_minutes:g} reached at iteration {it}")
    if t.precise_bn_batches:
        layers = recompute_batchnorm_stats(
            model, train_set, cfg.data.n_past, batches=t.precise_bn_batches,
            batch_size=t.batch_size, seed=t.seed,
            device=ctx.device, bf16=bf16)
        if ctx.is_main and layers:
            bar.write(f"BatchNorm statistics of {layers} layers recomputed over "
                      f"{t.precise_bn_batches} training batches (train.precise_bn_batches)")


def _precision(precision: str, device: torch.device, log) -> bool:
    """Whether the step runs under bf16 autocast; logs the note of a fallback to float32."""
    bf16, note = use_bf16(precision, device)
    if note:
        log(note)
    return bf16


def _non_finite(e: NonFiniteLoss, it: int, run_dir: Path) -> TrainingError:
    kept = (f"the last good checkpoint is {run_dir / 'last.ckpt'}"
            if (run_dir / "last.ckpt").exists() else "no checkpoint was written yet")
    return TrainingError(f"non-finite {e.term} at iteration {it} (loss={e.loss}); {kept}. "
                         "Try a lower train.lr or train.grad_clip=1.0")


def _end_epoch(cfg: Config, ctx, model, val_set, it: int, epoch: int, point: ResumePoint,
               epoch_mse: list[float], epoch_start: float, runlog: RunLog,
               checkpoints: Checkpoints, bar) -> None:
    """Validate (rank 0), log the epoch line, write last/best/epoch checkpoints (all ranks)."""
    improved = False
    if ctx.is_main:
        val = validate(model, val_set, cfg.data.n_past, seed=cfg.train.seed,
                       device=ctx.device, keep=4 if runlog.board else 0)
        shown = (val.pop("truth", None), val.pop("pred", None))
        improved = val["val_psnr"] > point.best_psnr
        point.best_psnr = max(point.best_psnr, val["val_psnr"])
        n, secs = len(epoch_mse), max(point.seconds - epoch_start, 1e-9)
        runlog.epoch({"kind": "epoch", "iteration": it, "epoch": epoch, **val,
                      "train_mse": sum(epoch_mse) / max(n, 1), "time": round(point.seconds, 3),
                      "iters_per_s": round(n / secs, 3),
                      "frames_per_s": round(n * cfg.train.batch_size * cfg.data.n_future / secs, 1)},
                     *shown)
    checkpoints.save(it, point, best=improved, epoch=epoch)
    if ctx.is_main:
        bar.write(f"epoch {epoch}: iteration {it}, val PSNR {val['val_psnr']:.2f} dB, "
                  f"SSIM {val['val_ssim']:.3f}{'  (best)' if improved else ''}")
