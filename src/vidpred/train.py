"""The training loop: schedules, logging, validation, checkpoints and exact resume.

Run directory::

    config.yaml        the resolved config
    metrics.jsonl      one line per iteration ({"kind": "iter", ...}) and per epoch ({"kind": "epoch", ...})
    last.ckpt          written at every epoch end and on Ctrl-C (resume point)
    best.ckpt          the epoch with the best validation PSNR
    epoch_<e>.ckpt     the last ``keep_checkpoints`` epochs
    training_curves.png

Batches are a pure function of (seed, iteration) and the checkpoint stores the torch RNG state,
so ``resume=True`` continues exactly where the last checkpoint stopped.
"""
from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, load_model_state, save_checkpoint
from .config import Config, config_differences, get_value
from .data import CONDITIONS, make_dataset
from .device import default_threads
from .errors import CheckpointError, ConfigError, TrainingError
from .metrics import psnr, ssim
from .models import SVG, PoseCVAE, VideoModel
from .schedules import KLAnnealing, LearningRate, TeacherForcing

METRICS_FILE = "metrics.jsonl"


MODELS = ("svg", "pose_cvae")


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
             seed: int = 0, use_cond: bool = True) -> dict[str, float]:
    """PSNR/SSIM (dB, -) of one prior sample per sequence over the frames after the context
    (all frames each validation item has: n_future for windows, 629 for the dance val clip).

    Runs under a forked RNG seeded with ``seed`` so it neither depends on nor disturbs the
    training RNG stream.
    """
    was_training = model.training
    model.eval()
    ps, ss = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(dataset), batch_size):
            frames, cond = dataset.batch(range(start, min(start + batch_size, len(dataset))))
            n_future = frames.shape[1] - n_past
            pred = model.rollout(frames[:, :n_past], cond if use_cond else None, n_future)[:, 0]
            ps.append(psnr(pred, frames[:, n_past:]))
            ss.append(ssim(pred, frames[:, n_past:]))
    model.train(was_training)
    return {"val_psnr": float(torch.cat(ps).mean()), "val_ssim": float(torch.cat(ss).mean())}


RUN_FILES = ("*.ckpt", METRICS_FILE, "config.yaml", "training_curves.png", "psnr_vs_time.png")


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
          progress: bool = True, log=print) -> TrainResult:
    """Train SVG on the dataset ``cfg.data`` describes (root and layout).

    Args:
        cfg: the resolved configuration.
        run_dir: where logs and checkpoints go (see module doc).
        resume: continue from ``run_dir/last.ckpt``.
        overwrite: start from scratch in a run directory that already holds a run.

    Returns:
        :class:`TrainResult` with the final iteration and best validation PSNR.

    Raises:
        ConfigError: run directory exists (without resume/overwrite) or is unwritable; config
            does not match the data.
        CheckpointError: ``resume`` with a missing or mismatching checkpoint.
        DataError: a dataset problem (names the file).
        TrainingError: a non-finite loss (names the iteration and the term).
    """
    from tqdm import tqdm

    run_dir = Path(run_dir)
    t = cfg.train
    torch.set_num_threads(t.threads or default_threads())
    torch.use_deterministic_algorithms(t.deterministic)
    n_past, n_future = cfg.data.n_past, cfg.data.n_future
    if n_past < 1 or n_future < 1:
        raise ConfigError("data.n_past and data.n_future must be >= 1")
    check_conditions_match(cfg)
    seq_len = n_past + n_future
    train_set = make_dataset(cfg.data.root, cfg.data.layout, "train", seq_len, train=True,
                             image_size=cfg.data.image_size, image_width=cfg.data.image_width,
                             progress=progress)
    val_set = make_dataset(cfg.data.root, cfg.data.layout, "validate", seq_len, train=False,
                           image_size=cfg.data.image_size, image_width=cfg.data.image_width,
                           max_sequences=t.val_sequences, progress=progress)

    torch.manual_seed(t.seed)
    model = build_model(cfg)
    # weights + two Adam moments per checkpoint; last, best and the kept epochs; logs
    ckpt_bytes = 3 * 4 * sum(p.numel() for p in model.parameters())
    _check_run_dir(run_dir, resume, overwrite,
                   ckpt_bytes * (t.keep_checkpoints + 3) + 200 * t.iterations + 2**20)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, betas=(0.9, 0.999))
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
        torch.set_rng_state(state["rng"])
        start_it, best_psnr = state["iteration"], state["best_psnr"]
        elapsed = state["extra"].get("train_seconds", 0.0)
        _trim_log(log_path, start_it)
        log(f"resuming {run_dir} at iteration {start_it}")
    elif resume:
        raise CheckpointError(f"--resume: {run_dir / 'last.ckpt'} does not exist")
    elif log_path.exists():
        log_path.unlink()
    cfg.save(run_dir / "config.yaml")

    kl_beta, tfr_of_epoch, lr_at = kl_schedule(cfg), tf_schedule(cfg), lr_schedule(cfg)
    sampler = IterationSampler(len(train_set), t.batch_size, t.seed)
    model.train()

    def checkpoint(name: str, iteration: int) -> None:
        save_checkpoint(run_dir / name, config=cfg, model=model, optimizer=optimizer,
                        iteration=iteration, best_psnr=best_psnr,
                        extra={"train_seconds": elapsed})

    it = start_it
    bar = tqdm(total=t.iterations, initial=start_it, desc="training", unit="it",
               disable=not progress, dynamic_ncols=True)
    log_file = log_path.open("a")
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
                frames, cond = train_set.batch(indices)
                out = model(frames, cond if cfg.model.cond_dim else None, n_past, beta,
                            teacher_forcing=u < tfr)
                if not torch.isfinite(out.loss):
                    term = "MSE" if not torch.isfinite(out.mse).all() else "KL"
                    kept = (f"the last good checkpoint is {run_dir / 'last.ckpt'}"
                            if (run_dir / "last.ckpt").exists() else "no checkpoint was written yet")
                    raise TrainingError(f"non-finite {term} at iteration {it} (loss={out.loss.item()}); "
                                        f"{kept}. Try a lower train.lr or train.grad_clip=1.0")
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                if t.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                optimizer.step()
                it += 1
                now = time.perf_counter()
                elapsed += now - tick
                tick = now
                record = {"kind": "iter", "iteration": it, "epoch": epoch, "loss": out.loss.item(),
                          "mse": out.mse.mean().item(), "kl": out.kl.mean().item(), "beta": beta,
                          "tfr": tfr, "lr": lr, "teacher_forcing": bool(u < tfr), "time": round(elapsed, 3)}
                log_file.write(json.dumps(record) + "\n")
                epoch_stats.append(record["mse"])
                bar.update()
                if it % 10 == 0:
                    bar.set_postfix(loss=f"{record['loss']:.4f}", beta=f"{beta:.2e}", tfr=f"{tfr:.2f}")
                if it % t.iters_per_epoch == 0 or it == t.iterations:
                    val = validate(model, val_set, n_past, seed=t.seed,
                                   use_cond=cfg.model.cond_dim > 0)
                    tick = time.perf_counter()  # validation time is not training time
                    improved = val["val_psnr"] > best_psnr
                    best_psnr = max(best_psnr, val["val_psnr"])
                    n_its, secs = len(epoch_stats), max(elapsed - epoch_start, 1e-9)
                    log_file.write(json.dumps({
                        "kind": "epoch", "iteration": it, "epoch": epoch, **val,
                        "train_mse": sum(epoch_stats) / max(n_its, 1), "time": round(elapsed, 3),
                        "iters_per_s": round(n_its / secs, 3),
                        "frames_per_s": round(n_its * t.batch_size * n_future / secs, 1)}) + "\n")
                    log_file.flush()
                    epoch_stats, epoch_start = [], elapsed
                    checkpoint("last.ckpt", it)
                    if improved:
                        checkpoint("best.ckpt", it)
                    _rotate(run_dir, epoch, t.keep_checkpoints)
                    bar.write(f"epoch {epoch}: iteration {it}, val PSNR {val['val_psnr']:.2f} dB, "
                              f"SSIM {val['val_ssim']:.3f}{'  (best)' if improved else ''}")
                if stop.requested and it < t.iterations:
                    log_file.flush()
                    checkpoint("last.ckpt", it)
                    bar.close()
                    log(f"\n{stop.requested}: saved {run_dir / 'last.ckpt'} at iteration {it}; "
                        "continue with --resume")
                    saved = True
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if not saved:  # a second Ctrl-C mid-iteration: the weights may be half-updated
                bar.close()
                log(f"\ninterrupted at once; {run_dir / 'last.ckpt'} from the last epoch end is kept; "
                    "continue with --resume")
            raise
        finally:
            log_file.close()
            bar.close()
    from .viz import plot_psnr_vs_time, plot_training
    plot_training(log_path, run_dir / "training_curves.png")
    plot_psnr_vs_time(log_path, run_dir / "psnr_vs_time.png")
    return TrainResult(run_dir, it, best_psnr, elapsed)


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


def load_trained_model(ckpt: str | Path) -> tuple[VideoModel, Config, dict]:
    """Rebuild the model a checkpoint was trained with and load its weights (eval mode)."""
    state = load_checkpoint(ckpt)
    cfg = state["config"]
    model = build_model(cfg)
    load_model_state(model, state["model"], ckpt)
    model.eval()
    return model, cfg, state

