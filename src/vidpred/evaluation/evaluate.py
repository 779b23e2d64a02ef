"""``vidpred evaluate``: N futures per test sequence with z from the prior, scored per frame
(best of N, mean over samples, copy-last-frame baseline; the SVG protocol of Denton & Fergus
2018) through :func:`vidpred.evaluation.scoring.rollout_and_score`, written as ``metrics.json`` (the
:class:`vidpred.evaluation.scoring.EvalMetrics` record), ``psnr_per_frame.png`` and GIFs.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..checkpoint import load_trained_model
from ..data import make_dataset
from ..device import resolve_device
from ..models import VideoModel
from ..viz import plot_psnr_per_frame, save_prediction_gif
from .scoring import EvalMetrics, Rollouts, dataset_batches, rollout_and_score


def evaluate(model: VideoModel, dataset, n_past: int, n_future: int, samples: int = 10,
             out_dir: str | Path | None = None, gifs: int = 8, batch_size: int = 16,
             seed: int = 0, progress: bool = True,
             device: torch.device | str = "cpu", split: str | None = None,
             checkpoint: str | None = None, data: str | None = None,
             best_by: str = "each") -> EvalMetrics:
    """Score ``samples`` futures per sequence of ``dataset`` (in its fixed order).

    Args:
        model: a trained model (evaluated in eval mode).
        dataset: an evaluation dataset (``train=False``) whose items hold at least
            n_past + n_future frames.
        samples: prior samples per sequence (N of best-of-N).
        out_dir: if given, writes ``metrics.json``, ``psnr_per_frame.png`` and GIFs there.
        gifs: how many sequences get a GIF (ground truth | best sample | baseline).
        batch_size: sequences per rollout batch (each is expanded by ``samples``).
        seed: RNG seed of the prior samples (the caller's RNG is left as it was).
        device: where the model lives; batches go there, figures come back to the CPU.
        split, checkpoint, data: recorded in the metrics (protocol and ``data``).
        best_by: which metric picks the best of N samples (:data:`vidpred.evaluation.scoring.BEST_BY`).

    Returns:
        The :class:`EvalMetrics` of the split.
    """
    metrics, kept = rollout_and_score(
        model, dataset_batches(dataset, batch_size, n_past + n_future, objects=True), n_past,
        n_future, samples,
        seed=seed, device=device, keep=gifs, progress=progress,
        total=math.ceil(len(dataset) / batch_size), best_by=best_by)
    metrics.protocol.split, metrics.protocol.checkpoint = split, checkpoint
    if data is not None:
        metrics.extra["data"] = data
    if out_dir is not None:
        write_evaluation(metrics, kept, out_dir)
    return metrics


def write_evaluation(metrics: EvalMetrics, kept: Rollouts, out_dir: str | Path) -> None:
    """``metrics.json``, ``psnr_per_frame.png`` and ``seq_<i>.gif`` (ground truth | best sample
    | copy last context frame) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics.to_dict(), indent=1))
    plot_psnr_per_frame(metrics, out / "psnr_per_frame.png")
    n_past = metrics.protocol.n_past
    for i, (frames, pred, best) in enumerate(zip(kept.frames, kept.pred, kept.best)):
        frames = frames.float() / 255
        context = frames[:n_past]
        copy = frames[n_past - 1:n_past].expand(pred.shape[1], -1, -1, -1)
        save_prediction_gif(out / f"seq_{i:03d}.gif", frames[:n_past + pred.shape[1]],
                            {"prediction": torch.cat([context, pred[best].float() / 255]),
                             "copy last": torch.cat([context, copy])}, n_past)


def evaluate_checkpoint(ckpt: str | Path, data: str | Path | None, split: str, n_past: int,
                        n_future: int, samples: int, out: str | Path, gifs: int = 8,
                        max_sequences: int | None = None, progress: bool = True,
                        device: str = "cpu", best_by: str = "each") -> EvalMetrics:
    """Load a checkpoint, evaluate it on a split and write ``out/metrics.json`` (with the split,
    checkpoint and data root recorded), the PSNR plot and GIFs.

    ``data`` None means the dataset the checkpoint was trained on; ``device``: ``cpu``, ``cuda``
    or ``auto``.

    Raises:
        CheckpointError: an unreadable checkpoint. DataError: a problem with the data (named).
    """
    dev = resolve_device(device)
    model, cfg, _ = load_trained_model(ckpt, dev)
    data = data or cfg.data.root
    dataset = make_dataset(data, cfg.data.layout, split, n_past + n_future, train=False,
                           image_size=cfg.data.image_size, image_width=cfg.data.image_width,
                           max_sequences=max_sequences, progress=progress,
                           validate_files=cfg.data.validate_files)
    return evaluate(model, dataset, n_past, n_future, samples, out, gifs,
                    progress=progress, device=dev, split=split,
                    checkpoint=str(ckpt), data=str(data), best_by=best_by)
