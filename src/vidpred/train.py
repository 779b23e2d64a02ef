"""The training loop: schedules, logging, validation, checkpoints and exact resume.

Run directory::

    config.yaml        the resolved config
    metrics.jsonl      one line per iteration ({"kind": "iter", ...}) and per epoch ({"kind": "epoch", ...})
    last.ckpt          written at every epoch end and on Ctrl-C (resume point)
    best.ckpt          the epoch with the best validation PSNR
    epoch_<e>.ckpt     the last ``keep_checkpoints`` epochs
    training_curves.png
    events.out.tfevents.*   TensorBoard scalars and prediction grids (:mod:`vidpred.tblog`)

Batches are a pure function of (seed, iteration) and the checkpoint stores the torch RNG state
(every rank's, under torchrun), so ``resume=True`` continues exactly where the last checkpoint
stopped. Under ``torchrun`` the same loop trains with DistributedDataParallel
(:mod:`vidpred.distributed`).
"""
from __future__ import annotations

import json
import math
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import distributed
from .checkpoint import load_checkpoint, load_model_state, save_checkpoint
from .config import Config, config_differences, get_value
from .data import CONDITIONS, make_dataset
from .device import (autocast, default_threads, keep_freed_memory, resolve_device, synchronize,
                     to_device)
from .errors import CheckpointError, ConfigError, TrainingError
from .metrics import psnr, ssim
from .models import SVG, PoseCVAE, VideoModel
from .schedules import KLAnnealing, LearningRate, TeacherForcing
from .tblog import open_tensorboard

METRICS_FILE = "metrics.jsonl"


MODELS = ("svg", "pose_cvae")


def make_optimizer(parameters, lr: float) -> torch.optim.Adam:
    """Adam with betas (0.9, 0.999), as in SVG (Denton & Fergus 2018), using PyTorch's fused
    kernel: one multi-tensor update per step instead of a Python loop over the parameters (the
    same update up to float rounding; the state dict has the same format)."""
    return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), fused=True)


def build_model(cfg: Config) -> VideoModel:
    """The model a config describes (``model.name``), for frames of ``data.frame_size``, in the
    configured memory layout.

    Raises:
        ConfigError: unknown model name or an invalid setting (named).
    """
    try:
        if cfg.model.name == "svg":
            model = SVG.from_config(cfg.model, cfg.data.frame_size)
        elif cfg.model.name == "pose_cvae":
            model = PoseCVAE.from_config(cfg.model)
        else:
            raise ConfigError(f"model.name: unknown model {cfg.model.name!r}; available: "
                              f"{', '.join(MODELS)}")
    except ValueError as e:
        raise ConfigError(f"model: {e}") from None
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def check_conditions_match(cfg: Config) -> None:
    """Raise ConfigError when the model's condition kind/size cannot read the layout's."""
    kind, dim = CONDITIONS.get(cfg.data.layout, (None, None))
    m = cfg.model
    if kind is None or m.cond_dim == 0:
        return
    if m.cond_kind != kind or m.cond_dim != dim:
        raise ConfigError(f"model.cond_kind={m.cond_kind!r}, model.cond_dim={m.cond_dim}, but the "
                          f"{cfg.data.layout} layout gives {kind} conditions of size {dim}; set "
                          f"model.cond_kind={kind} model.cond_dim={dim} (or cond_dim=0 for none)")


def kl_schedule(cfg: Config) -> KLAnnealing:
    t = cfg.train
    return KLAnnealing(t.kl_anneal, t.iterations, t.kl_anneal_cycles, t.kl_anneal_ratio, t.beta)


def lr_schedule(cfg: Config) -> LearningRate:
    return LearningRate(cfg.train.lr_schedule, cfg.train.lr, cfg.train.iterations)


def tf_schedule(cfg: Config) -> TeacherForcing:
    t = cfg.train
    return TeacherForcing(t.tfr_start, t.tfr_decay_start, t.tfr_decay_step, t.tfr_floor)


class IterationSampler:
    """Batch indices and the teacher-forcing coin as a pure function of the iteration.

    ``draw(it)`` returns (indices (B,) long, u in [0, 1)); the same (seed, it) always gives the
    same draw, which is what makes resume exact without saving a sampler state.
    """

    def __init__(self, n_items: int, batch_size: int, seed: int):
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed

    def draw(self, iteration: int) -> tuple[torch.Tensor, float]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + iteration)
        return torch.randint(self.n_items, (self.batch_size,), generator=g), float(torch.rand((), generator=g))


@dataclass
class TrainResult:
    run_dir: Path
    iteration: int
    best_psnr: float
    seconds: float


def validate(model: VideoModel, dataset, n_past: int, batch_size: int = 64,
             seed: int = 0, use_cond: bool = True, device: torch.device | str = "cpu",
             keep: int = 0) -> dict:
    """PSNR/SSIM (dB, -) of one prior sample per sequence over the frames after the context
    (all frames each validation item has: n_future for windows, 629 for the dance val clip).

    Runs under a forked RNG seeded with ``seed`` so it neither depends on nor disturbs the
    training RNG stream.

    Args:
        device: where the model lives; batches are moved there.
        keep: also return the first ``keep`` sequences' ground truth and prediction after the
            context, as ``"truth"`` and ``"pred"`` (N, T, C, H, W) CPU tensors (for TensorBoard).

    Returns:
        ``{"val_psnr": float, "val_ssim": float}`` (+ ``truth``/``pred`` with ``keep``).
    """
    was_training = model.training
    model.eval()
    ps, ss, shown = [], [], {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(dataset), batch_size):
            frames, cond = to_device(dataset.batch(range(start, min(start + batch_size, len(dataset)))), device)
            n_future = frames.shape[1] - n_past
            pred = model.rollout(frames[:, :n_past], cond if use_cond else None, n_future)[:, 0]
            ps.append(psnr(pred, frames[:, n_past:]).cpu())
            ss.append(ssim(pred.float(), frames[:, n_past:]).cpu())
            if keep and not shown:
                shown = {"truth": frames[:keep, n_past:].cpu(), "pred": pred[:keep].float().cpu()}
    model.train(was_training)
    return {"val_psnr": float(torch.cat(ps).mean()), "val_ssim": float(torch.cat(ss).mean()), **shown}


RUN_FILES = ("*.ckpt", METRICS_FILE, "config.yaml", "training_curves.png", "psnr_vs_time.png",
             "events.out.tfevents.*")


def _check_run_dir(run_dir: Path, resume: bool, overwrite: bool, bytes_needed: int) -> None:
    """Refuse to clobber a run, and find an unwritable or full directory before training."""
    if run_dir.exists() and any(run_dir.iterdir()) and not (resume or overwrite):
        raise ConfigError(f"run directory {run_dir} already holds a run; pass --resume to continue "
                          "it or --overwrite to start again")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write_test"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"run directory {run_dir} is not writable: {e.strerror}") from None
    free = shutil.disk_usage(run_dir).free
    if free < bytes_needed:
        raise ConfigError(f"run directory {run_dir} has {free / 2**20:.0f} MiB free, but this run's "
                          f"checkpoints and logs need about {bytes_needed / 2**20:.0f} MiB; free some "
                          "space or choose another --out")
    if overwrite and not resume:
        for pattern in RUN_FILES:
            for old in run_dir.glob(pattern):
                old.unlink()


class _GracefulStop:
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


def _trim_log(path: Path, iteration: int) -> None:
    """Drop log lines written after the checkpoint we resume from (they will be redone)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["iteration"] <= iteration]
    path.write_text("".join(line + "\n" for line in keep))


def train(cfg: Config, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True, log=print, device: str = "cpu") -> TrainResult:
    """Train the model ``cfg.model`` describes on the dataset ``cfg.data`` describes.

    Under ``torchrun`` with several processes the same call trains with DistributedDataParallel
    (see :mod:`vidpred.distributed`): ``train.batch_size`` is the global batch, split evenly over
    the ranks; rank 0 alone validates and writes the log, TensorBoard events and checkpoints.

    Args:
        cfg: the resolved configuration.
        run_dir: where logs and checkpoints go (see module doc).
        resume: continue from ``run_dir/last.ckpt``.
        overwrite: start from scratch in a run directory that already holds a run.
        device: ``cpu`` (default), ``cuda`` or ``auto`` (CUDA when present; bf16 autocast there).

    Returns:
        :class:`TrainResult` with the final iteration and best validation PSNR.

    Raises:
        ConfigError: run directory exists (without resume/overwrite) or is unwritable; config
            does not match the data; a global batch that does not split over the processes.
        CheckpointError: ``resume`` with a missing or mismatching checkpoint.
        DataError: a dataset problem (names the file).
        TrainingError: a non-finite loss (names the iteration and the term).
    """
    ctx = distributed.setup(resolve_device(device))
    try:
        return _train(cfg, Path(run_dir), resume, overwrite, progress and ctx.is_main,
                      log if ctx.is_main else (lambda *a, **k: None), ctx)
    finally:
        distributed.teardown(ctx)


def _train(cfg: Config, run_dir: Path, resume: bool, overwrite: bool, progress: bool, log,
           ctx: distributed.Distributed) -> TrainResult:
    from tqdm import tqdm

    t = cfg.train
    dev = ctx.device
    torch.set_num_threads(t.threads or max(1, default_threads() // ctx.local_world_size))
    keep_freed_memory()
    torch.use_deterministic_algorithms(t.deterministic)
    n_past, n_future = cfg.data.n_past, cfg.data.n_future
    if n_past < 1 or n_future < 1:
        raise ConfigError("data.n_past and data.n_future must be >= 1")
    check_conditions_match(cfg)
    shard = ctx.shard(t.batch_size)
    seq_len = n_past + n_future

    def open_split(split: str, **kw):
        return make_dataset(cfg.data.root, cfg.data.layout, split, seq_len, image_size=cfg.data.image_size,
                            image_width=cfg.data.image_width, progress=progress, **kw)

    if not ctx.is_main:
        ctx.barrier()  # rank 0 first: it builds the decoded-frame cache the others then map
    train_set = open_split("train", train=True)
    val_set = open_split("validate", train=False, max_sequences=t.val_sequences) if ctx.is_main else None

    torch.manual_seed(t.seed)
    model = build_model(cfg).to(dev)
    # weights + two Adam moments per checkpoint; last, best and the kept epochs; logs
    ckpt_bytes = 3 * 4 * sum(p.numel() for p in model.parameters())
    if ctx.is_main:
        _check_run_dir(run_dir, resume, overwrite,
                       ckpt_bytes * (t.keep_checkpoints + 3) + 200 * t.iterations + 2**20)
        ctx.barrier()
    optimizer = make_optimizer(model.parameters(), t.lr)
    start_it, best_psnr, elapsed = 0, float("-inf"), 0.0
    log_path = run_dir / METRICS_FILE
    if resume and (run_dir / "last.ckpt").exists():
        state = load_checkpoint(run_dir / "last.ckpt")
        if state["config"].to_dict() != cfg.to_dict():
            diff = _config_diff(state["config"], cfg)
            raise CheckpointError(f"{run_dir / 'last.ckpt'} was trained with another config "
                                  f"({diff}); resume with the same config or use --overwrite")
        load_model_state(model, state["model"], run_dir / "last.ckpt")
        optimizer.load_state_dict(state["optimizer"])
        start_it, best_psnr = state["iteration"], state["best_psnr"]
        elapsed = state["extra"].get("train_seconds", 0.0)
        _restore_rng(state, ctx, t.seed, log)
        if ctx.is_main:
            _trim_log(log_path, start_it)
        log(f"resuming {run_dir} at iteration {start_it}")
    elif resume:
        raise CheckpointError(f"--resume: {run_dir / 'last.ckpt'} does not exist")
    else:
        if ctx.is_main and log_path.exists():
            log_path.unlink()
        if ctx.rank:  # each rank its own reparameterization noise, one stream per (seed, rank)
            torch.manual_seed(_rank_seed(t.seed, ctx.rank))
    if ctx.is_main:
        cfg.save(run_dir / "config.yaml")

    kl_beta, tfr_of_epoch, lr_at = kl_schedule(cfg), tf_schedule(cfg), lr_schedule(cfg)
    sampler = IterationSampler(len(train_set), t.batch_size, t.seed)
    model.train()
    trainer = ctx.wrap(model)
    use_cond = cfg.model.cond_dim > 0

    def checkpoint(names: list[str], iteration: int) -> None:
        rng_ranks = ctx.gather_rng_states()  # a collective: every rank takes part
        if ctx.is_main:
            first = run_dir / names[0]
            save_checkpoint(first, config=cfg, model=model, optimizer=optimizer,
                            iteration=iteration, best_psnr=best_psnr,
                            extra={"train_seconds": elapsed}, rng_ranks=rng_ranks)
            for name in names[1:]:
                shutil.copyfile(first, run_dir / name)

    it = start_it
    bar = tqdm(total=t.iterations, initial=start_it, desc="training", unit="it",
               disable=not progress, dynamic_ncols=True)
    log_file = log_path.open("a") if ctx.is_main else None
    board = open_tensorboard(run_dir, start_it, log) if ctx.is_main and t.tensorboard else None
    epoch_stats: list[float] = []
    epoch_start = elapsed
    tick = time.perf_counter()
    saved = False
    with _GracefulStop() as stop:
        try:
            while it < t.iterations:
                epoch = it // t.iters_per_epoch
                beta, tfr, lr = kl_beta(it), tfr_of_epoch(epoch), lr_at(it)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                indices, u = sampler.draw(it)
                frames, cond = to_device(train_set.batch(indices[shard]), dev)
                with autocast(dev):
                    out = trainer(frames, cond if use_cond else None, n_past, beta,
                                  teacher_forcing=u < tfr)
                # the logged figures are the global batch's; any rank's NaN or Ctrl-C stops all
                loss, mse, kl, stopping = ctx.mean(torch.stack([
                    out.loss.detach().float(), out.mse.detach().float().mean(),
                    out.kl.detach().float().mean(), torch.tensor(float(stop.requested is not None),
                                                                 device=out.loss.device)])).tolist()
                if not math.isfinite(loss):
                    term = "MSE" if not math.isfinite(mse) else "KL"
                    kept = (f"the last good checkpoint is {run_dir / 'last.ckpt'}"
                            if (run_dir / "last.ckpt").exists() else "no checkpoint was written yet")
                    raise TrainingError(f"non-finite {term} at iteration {it} (loss={loss}); "
                                        f"{kept}. Try a lower train.lr or train.grad_clip=1.0")
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                if t.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                optimizer.step()
                it += 1
                synchronize(dev)
                now = time.perf_counter()
                elapsed += now - tick
                tick = now
                record = {"kind": "iter", "iteration": it, "epoch": epoch, "loss": loss,
                          "mse": mse, "kl": kl, "beta": beta, "tfr": tfr, "lr": lr,
                          "teacher_forcing": bool(u < tfr), "time": round(elapsed, 3)}
                if ctx.is_main:
                    log_file.write(json.dumps(record) + "\n")
                    if board:
                        board.iteration(record)
                epoch_stats.append(mse)
                bar.update()
                if it % 10 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}", beta=f"{beta:.2e}", tfr=f"{tfr:.2f}")
                if it % t.iters_per_epoch == 0 or it == t.iterations:
                    improved = False
                    if ctx.is_main:
                        val = validate(model, val_set, n_past, seed=t.seed, use_cond=use_cond,
                                       device=dev, keep=4 if board else 0)
                        shown = (val.pop("truth", None), val.pop("pred", None))
                        improved = val["val_psnr"] > best_psnr
                        best_psnr = max(best_psnr, val["val_psnr"])
                        n_its, secs = len(epoch_stats), max(elapsed - epoch_start, 1e-9)
                        record = {"kind": "epoch", "iteration": it, "epoch": epoch, **val,
                                  "train_mse": sum(epoch_stats) / max(n_its, 1),
                                  "time": round(elapsed, 3), "iters_per_s": round(n_its / secs, 3),
                                  "frames_per_s": round(n_its * t.batch_size * n_future / secs, 1)}
                        log_file.write(json.dumps(record) + "\n")
                        log_file.flush()
                        if board:
                            board.epoch(record, *shown)
                    tick = time.perf_counter()  # validation time is not training time
                    epoch_stats, epoch_start = [], elapsed
                    checkpoint(["last.ckpt"] + ["best.ckpt"] * improved, it)
                    if ctx.is_main:
                        _rotate(run_dir, epoch, t.keep_checkpoints)
                        bar.write(f"epoch {epoch}: iteration {it}, val PSNR {val['val_psnr']:.2f} dB, "
                                  f"SSIM {val['val_ssim']:.3f}{'  (best)' if improved else ''}")
                if stopping and it < t.iterations:
                    if ctx.is_main:
                        log_file.flush()
                    checkpoint(["last.ckpt"], it)
                    bar.close()
                    log(f"\n{stop.requested or 'stop on another rank'}: saved "
                        f"{run_dir / 'last.ckpt'} at iteration {it}; continue with --resume")
                    saved = True
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if not saved:  # a second Ctrl-C mid-iteration: the weights may be half-updated
                bar.close()
                log(f"\ninterrupted at once; {run_dir / 'last.ckpt'} from the last epoch end is kept; "
                    "continue with --resume")
            raise
        finally:
            if log_file:
                log_file.close()
            if board:
                board.close()
            bar.close()
    if ctx.is_main:
        from .viz import plot_psnr_vs_time, plot_training
        plot_training(log_path, run_dir / "training_curves.png")
        plot_psnr_vs_time(log_path, run_dir / "psnr_vs_time.png")
    return TrainResult(run_dir, it, best_psnr, elapsed)


def _restore_rng(state: dict, ctx: distributed.Distributed, seed: int, log) -> None:
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
        torch.manual_seed(_rank_seed(seed, ctx.rank))


def _rank_seed(seed: int, rank: int) -> int:
    """The noise seed of rank >= 1 (rank 0 uses ``seed`` itself, like a single process)."""
    return seed * 1_000_003 + rank


def _rotate(run_dir: Path, epoch: int, keep: int) -> None:
    if keep <= 0:
        return
    save_name = run_dir / f"epoch_{epoch:04d}.ckpt"
    shutil.copyfile(run_dir / "last.ckpt", save_name)
    old = sorted(run_dir.glob("epoch_*.ckpt"))[:-keep]
    for p in old:
        p.unlink(missing_ok=True)


def _config_diff(a: Config, b: Config) -> str:
    keys = config_differences([a, b])
    return "; ".join(f"{k}: {get_value(a, k)!r} -> {get_value(b, k)!r}" for k in keys[:6]) \
        or "no difference"


def load_trained_model(ckpt: str | Path, device: torch.device | str = "cpu"
                       ) -> tuple[VideoModel, Config, dict]:
    """Rebuild the model a checkpoint was trained with, load its weights and move it to
    ``device`` (eval mode)."""
    state = load_checkpoint(ckpt)
    cfg = state["config"]
    model = build_model(cfg)
    load_model_state(model, state["model"], ckpt)
    model.to(device)
    model.eval()
    return model, cfg, state

