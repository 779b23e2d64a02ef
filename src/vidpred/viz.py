"""Pictures: prediction GIFs and plots of training curves and PSNR per frame.

Plots use matplotlib's Agg backend (no display needed); GIFs use Pillow.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .errors import DataError

CONTEXT_COLOUR = (0, 200, 0)    # green border: an observed (context) frame
PREDICTED_COLOUR = (220, 0, 0)  # red border: a frame the model predicted


def _to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(T, C, H, W) float in [0, 1] with C = 1 or 3 -> (T, H, W, 3) uint8."""
    arr = (frames.detach().float().clamp(0, 1) * 255).round().byte().cpu().numpy()
    if arr.shape[1] == 1:  # grayscale (Moving MNIST)
        arr = arr.repeat(3, axis=1)
    return arr.transpose(0, 2, 3, 1)


def _bordered(img: np.ndarray, colour, width: int) -> np.ndarray:
    out = np.empty((img.shape[0] + 2 * width, img.shape[1] + 2 * width, 3), np.uint8)
    out[:] = colour
    out[width:-width, width:-width] = img
    return out


def save_prediction_gif(path: str | Path, truth: torch.Tensor, panels: dict[str, torch.Tensor],
                        n_past: int, scale: int = 2, ms_per_frame: int = 200) -> Path:
    """Write a GIF with the ground truth and one or more predictions side by side.

    Args:
        path: output ``.gif``.
        truth: (T, C, H, W) ground-truth frames in [0, 1] (context + future).
        panels: name -> (T, C, H, W) frames shown beside the truth; their first ``n_past`` frames
            are the context (drawn with a green border), the rest predictions (red border).
        n_past: number of context frames.
        scale: nearest-neighbour upscaling factor.
    """
    from PIL import Image, ImageDraw

    columns = {"ground truth": _to_uint8(truth), **{k: _to_uint8(v) for k, v in panels.items()}}
    T = len(columns["ground truth"])
    border = max(1, scale)
    images = []
    for t in range(T):
        colour = CONTEXT_COLOUR if t < n_past else PREDICTED_COLOUR
        tiles = [_bordered(np.kron(col[t], np.ones((scale, scale, 1), np.uint8)),
                          CONTEXT_COLOUR if (t < n_past or name == "ground truth") else colour, border)
                 for name, col in columns.items()]
        strip = np.concatenate(tiles, axis=1)
        header = Image.new("RGB", (strip.shape[1], 14), (255, 255, 255))
        draw = ImageDraw.Draw(header)
        for i, name in enumerate(columns):
            draw.text((i * tiles[0].shape[1] + 3, 1), name if i == 0 else f"{name} t={t}",
                      fill=(0, 0, 0))
        frame = Image.new("RGB", (strip.shape[1], strip.shape[0] + 14))
        frame.paste(header, (0, 0))
        frame.paste(Image.fromarray(strip), (0, 14))
        images.append(frame)
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)
    return path


def save_panels_gif(path: str | Path, columns: dict[str, list], scale: int = 2,
                    ms_per_frame: int = 250) -> Path:
    """Write a GIF of named columns side by side, each titled with its name and the step.

    Args:
        columns: name -> T pictures, each (H, W, 3) uint8 or None (drawn grey: nothing to show
            at that step); all columns have T entries of one size.
        scale: nearest-neighbour upscaling factor.
    """
    from PIL import Image, ImageDraw

    size = next(p.shape for col in columns.values() for p in col if p is not None)
    blank = np.full(size, 128, np.uint8)
    T = len(next(iter(columns.values())))
    images = []
    for t in range(T):
        tiles = [np.kron(col[t] if col[t] is not None else blank, np.ones((scale, scale, 1), np.uint8))
                 for col in columns.values()]
        strip = np.concatenate([np.pad(x, ((0, 0), (1, 1), (0, 0)), constant_values=255)
                                for x in tiles], axis=1)
        frame = Image.new("RGB", (strip.shape[1], strip.shape[0] + 14), (255, 255, 255))
        draw = ImageDraw.Draw(frame)
        for i, name in enumerate(columns):
            draw.text((i * (tiles[0].shape[1] + 2) + 3, 1), f"{name} t={t}" if i == 0 else name,
                      fill=(0, 0, 0))
        frame.paste(Image.fromarray(strip), (0, 14))
        images.append(frame)
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)
    return path


def frame_grid(rows: dict[str, torch.Tensor], max_columns: int = 12, gap: int = 2) -> np.ndarray:
    """Tile sequences into one image: one row per sequence, one column per (sampled) time step.

    Args:
        rows: name -> (T, C, H, W) frames in [0, 1] (C = 1 or 3); all the same T, H, W.
        max_columns: long sequences show ``max_columns`` evenly spaced steps (first and last
            included), so a 629-frame rollout fits on a screen.
        gap: white pixels between tiles.

    Returns:
        (H_grid, W_grid, 3) uint8 — what TensorBoard's ``add_image(..., dataformats="HWC")`` takes.
    """
    seqs = [_to_uint8(v) for v in rows.values()]
    T, H, W, _ = seqs[0].shape
    steps = np.unique(np.linspace(0, T - 1, min(T, max_columns)).round().astype(int))
    grid = np.full((len(seqs) * (H + gap) - gap, len(steps) * (W + gap) - gap, 3), 255, np.uint8)
    for r, seq in enumerate(seqs):
        for c, t in enumerate(steps):
            grid[r * (H + gap):r * (H + gap) + H, c * (W + gap):c * (W + gap) + W] = seq[t]
    return grid


def read_log(path: str | Path, log=None) -> tuple[list[dict], list[dict]]:
    """metrics.jsonl -> (iteration records, epoch records).

    A torn last line (a run killed mid-write) is dropped, with a note to ``log`` if given.

    Raises:
        DataError: a line before the last that is not a training record (another program's
            file, or a damaged one): file and line named.
    """
    path = Path(path)
    iters, epochs = [], []
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            kind = rec["kind"] if isinstance(rec.get("iteration"), int) else None
        except (ValueError, KeyError, AttributeError, TypeError):
            kind = None
        if kind not in ("iter", "epoch"):
            if n == len(lines) and not line.rstrip().endswith("}"):
                if log is not None:
                    log(f"note: {path}: dropped a torn last line (an interrupted write)")
                break
            raise DataError(f"{path}: line {n} is not a training record of vidpred (expected "
                            "JSON with kind iter or epoch and an iteration); is this a run "
                            "directory written by vidpred train?")
        (iters if kind == "iter" else epochs).append(rec)
    return iters, epochs


def _smooth(values: list[float], window: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if window <= 1 or len(v) < window:
        return v
    kernel = np.ones(window) / window
    return np.convolve(v, kernel, mode="valid")


def plot_training(log_path: str | Path, out: str | Path) -> Path:
    """Total, MSE and KL loss, beta, teacher-forcing ratio and validation PSNR over iterations."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iters, epochs = read_log(log_path)
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    x = np.array([r["iteration"] for r in iters])
    w = max(1, len(iters) // 100)
    for ax, key, title in zip(axes[0], ("loss", "mse", "kl"),
                              ("total loss (MSE + beta KL)", "MSE per frame", "KL per frame (nats)")):
        y = [r[key] for r in iters]
        ax.plot(x, y, alpha=0.25, color="C0", lw=0.8)
        ax.plot(x[w - 1:], _smooth(y, w), color="C0", lw=1.5)
        ax.set_title(title)
        ax.set_yscale("log")
    axes[1, 0].plot(x, [r["beta"] for r in iters], color="C1")
    axes[1, 0].set_title("KL weight beta")
    axes[1, 1].plot(x, [r["tfr"] for r in iters], color="C2")
    axes[1, 1].set_ylim(-0.05, 1.05)
    axes[1, 1].set_title("teacher-forcing ratio")
    if epochs:
        axes[1, 2].plot([r["iteration"] for r in epochs], [r["val_psnr"] for r in epochs], "o-", color="C3")
    axes[1, 2].set_title("validation PSNR (dB)")
    for ax in axes.flat:
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5, integer=True))
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)


def plot_psnr_vs_time(log_path: str | Path, out: str | Path, target_db: float | None = None) -> Path:
    """Validation PSNR against training wall-clock minutes; ``target_db`` draws a target line
    (e.g. a course's pass mark)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, epochs = read_log(log_path)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["time"] / 60 for r in epochs], [r["val_psnr"] for r in epochs], "o-", color="C3",
            label="validation PSNR (1 prior sample)")
    if target_db is not None:
        ax.axhline(target_db, color="k", ls=":", label=f"{target_db:g} dB")
    ax.set_xlabel("training wall-clock (minutes, validation excluded)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)


def plot_psnr_per_frame(metrics, out: str | Path, title: str = "") -> Path:
    """PSNR and SSIM per predicted frame of a :class:`vidpred.evaluation.scoring.EvalMetrics`: the model
    (best of N and mean over samples, when there are several) vs the baseline."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    proto = metrics.protocol
    x = np.arange(proto.n_past, proto.n_past + len(metrics.best.psnr_per_frame))
    long = len(x) > 60
    several = proto.n_samples > 1
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, unit in zip(axes, ("psnr", "ssim"), ("PSNR (dB)", "SSIM")):
        ax.plot(x, getattr(metrics.best, f"{key}_per_frame"), "-" if long else "o-",
                label=f"model, best of {proto.n_samples}" if several else "model")
        if several:
            ax.plot(x, getattr(metrics.sample_mean, f"{key}_per_frame"), "--" if long else "s--",
                    label="model, mean over samples")
        ax.plot(x, getattr(metrics.baseline, f"{key}_per_frame"), "k:", label=proto.baseline)
        ax.set_xlabel("frame index (0-based; context frames are 0..%d)" % (proto.n_past - 1))
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title or f"{proto.n_sequences} sequences, {proto.n_past} -> {len(x)} frames")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)


def plot_run_curves(runs: list[tuple[str, list[dict], list[dict]]], out: str | Path) -> Path:
    """Overlay several runs: (label, iteration records, epoch records) each."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    panels = [("loss", "total loss (MSE + beta KL)", True), ("mse", "MSE per frame", True),
              ("kl", "KL per frame (nats)", True), ("beta", "KL weight beta", False),
              ("tfr", "teacher-forcing ratio", False)]
    for i, (label, iters, epochs) in enumerate(runs):
        colour = f"C{i % 10}"
        x = np.array([r["iteration"] for r in iters])
        w = max(1, len(iters) // 100)
        for ax, (key, title, log) in zip(axes.flat, panels):
            y = [r[key] for r in iters]
            if key in ("loss", "mse", "kl"):  # noisy: a moving average (shorter by w - 1)
                ax.plot(x[w - 1:], _smooth(y, w), color=colour, label=label, lw=1.3)
            else:
                ax.plot(x, y, color=colour, label=label, lw=1.3)
            ax.set_title(title)
            if log:
                ax.set_yscale("log")
        if epochs:
            axes[1, 2].plot([r["iteration"] for r in epochs], [r["val_psnr"] for r in epochs], "o-",
                            color=colour, label=label, ms=3)
    axes[1, 2].set_title("validation PSNR (dB)")
    for ax in axes.flat:
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5, integer=True))
        ax.grid(alpha=0.3)
    axes[1, 2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)


def plot_runs_psnr_per_frame(runs: list[tuple[str, dict]], out: str | Path) -> Path:
    """Overlay test PSNR and SSIM per predicted frame of several evaluated runs: (label,
    :class:`vidpred.evaluation.scoring.EvalMetrics`) each."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for i, (label, m) in enumerate(runs):
        p = m.protocol
        x = np.arange(p.n_past, p.n_past + len(m.best.psnr_per_frame))
        for ax, key in zip(axes, ("psnr", "ssim")):
            ax.plot(x, getattr(m.best, f"{key}_per_frame"), "-" if len(x) > 60 else "o-",
                    color=f"C{i % 10}", ms=3, label=f"{label} (best of {p.n_samples})")
            ax.plot(x, getattr(m.baseline, f"{key}_per_frame"), ":", color=f"C{i % 10}",
                    alpha=0.8, label=f"{label}: {p.baseline}")
    for ax, unit in zip(axes, ("PSNR (dB)", "SSIM")):
        ax.set_xlabel("frame index")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)
