"""Evaluation: roll out N prior samples per test sequence and score them against the truth
and against the copy-last-context-frame baseline (the SVG protocol; ANCHORS.md).

``metrics.json`` keys (PSNR in dB with data range 1, SSIM unitless, per predicted frame)::

    psnr_per_frame, psnr_mean, ssim_per_frame, ssim_mean     best of N samples (per metric)
    sample_mean: {psnr_per_frame, psnr_mean, ssim_per_frame, ssim_mean}   averaged over samples
    baseline_copy_last: {psnr_per_frame, psnr_mean, ssim_per_frame, ssim_mean}
    diversity      mean per-pixel std across samples
    n_sequences, n_samples, n_past, n_future, split, checkpoint, seconds, frames_per_s
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from .data import make_dataset
from .device import default_threads, keep_freed_memory, resolve_device, to_device
from .metrics import best_of_n, psnr, sample_diversity, ssim
from .models import VideoModel
from .viz import plot_psnr_per_frame, save_prediction_gif


def _summary(psnr_frames: torch.Tensor, ssim_frames: torch.Tensor) -> dict:
    """(N, T) per-sequence, per-frame metrics -> per-frame means and overall means."""
    p, s = psnr_frames.mean(0), ssim_frames.mean(0)
    return {"psnr_per_frame": [round(float(v), 4) for v in p], "psnr_mean": round(float(p.mean()), 4),
            "ssim_per_frame": [round(float(v), 5) for v in s], "ssim_mean": round(float(s.mean()), 5)}


def evaluate(model: VideoModel, dataset, n_past: int, n_future: int, samples: int = 10,
             out_dir: str | Path | None = None, gifs: int = 8, batch_size: int = 16,
             seed: int = 0, use_cond: bool = True, progress: bool = True,
             device: torch.device | str = "cpu") -> dict:
    """Score ``samples`` futures per sequence of ``dataset`` (in its fixed order).

    Args:
        model: a trained model (switched to eval mode here).
        dataset: an evaluation dataset (``train=False``) with windows of n_past + n_future.
        samples: prior samples per sequence (N of best-of-N).
        out_dir: if given, writes ``metrics.json``, ``psnr_per_frame.png`` and GIFs there.
        gifs: how many sequences get a GIF (ground truth | best sample | baseline).
        batch_size: sequences per rollout batch (each is expanded by ``samples``).
        seed: RNG seed of the prior samples (the global RNG is restored afterwards).
        device: where the model lives; batches go there, figures come back to the CPU.

    Returns:
        The metrics dict described in the module doc.
    """
    from tqdm import tqdm

    model.eval()
    model_p, model_s, base_p, base_s, div = [], [], [], [], []
    gif_items = []
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in tqdm(range(0, len(dataset), batch_size), desc="evaluating", unit="batch",
                          disable=not progress, leave=False):
            frames, cond = to_device(dataset.batch(range(start, min(start + batch_size, len(dataset)))),
                                     device)
            # datasets of whole sequences (dance test split) give more frames than the window
            frames, cond = frames[:, :n_past + n_future], cond[:, :n_past + n_future]
            truth = frames[:, n_past:]
            pred = model.rollout(frames[:, :n_past], cond if use_cond else None, n_future,
                                 samples).float()
            B, S = pred.shape[:2]
            truth_s = truth[:, None].expand_as(pred).flatten(0, 1)
            p = psnr(pred.flatten(0, 1), truth_s).view(B, S, -1).cpu()
            s = ssim(pred.flatten(0, 1), truth_s).view(B, S, -1).cpu()
            model_p.append(p)
            model_s.append(s)
            copy = frames[:, n_past - 1:n_past].expand_as(truth)
            base_p.append(psnr(copy, truth).cpu())
            base_s.append(ssim(copy, truth).cpu())
            div.append(sample_diversity(pred).cpu())
            for b in range(B):
                if start + b < gifs:
                    best = int(p[b].mean(1).argmax())
                    gif_items.append((start + b, frames[b].cpu(), pred[b, best].cpu(), copy[b].cpu()))
    seconds = time.perf_counter() - t0
    model_p, model_s = torch.cat(model_p), torch.cat(model_s)
    n_seq = model_p.shape[0]
    metrics = {
        **_summary(best_of_n(model_p), best_of_n(model_s)),
        "sample_mean": _summary(model_p.mean(1), model_s.mean(1)),
        "baseline_copy_last": _summary(torch.cat(base_p), torch.cat(base_s)),
        "diversity": round(float(torch.cat(div).mean()), 6),
        "protocol": "best of N prior samples per sequence, chosen per metric by its mean over time "
                    "(Denton & Fergus 2018); PSNR data range 1",
        "n_sequences": n_seq, "n_samples": samples, "n_past": n_past, "n_future": n_future,
        "seconds": round(seconds, 2),
        "frames_per_s": round(n_seq * samples * n_future / seconds, 1),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
        plot_psnr_per_frame(metrics, out / "psnr_per_frame.png")
        for index, frames, best, copy in gif_items:
            context = frames[:n_past]
            save_prediction_gif(out / f"seq_{index:03d}.gif", frames,
                                {"prediction": torch.cat([context, best]),
                                 "copy last": torch.cat([context, copy])}, n_past)
    return metrics


def evaluate_checkpoint(ckpt: str | Path, data: str | Path | None, split: str, n_past: int,
                        n_future: int, samples: int, out: str | Path, gifs: int = 8,
                        max_sequences: int | None = None, progress: bool = True,
                        device: str = "cpu") -> dict:
    """Load a checkpoint, evaluate it on a split and write ``out/metrics.json`` (with the
    split, checkpoint and data root recorded), the PSNR plot and GIFs.

    ``data`` None means the dataset the checkpoint was trained on; ``device``: ``cpu``, ``cuda``
    or ``auto``.
    """
    from .train import load_trained_model

    torch.set_num_threads(default_threads())
    keep_freed_memory()
    dev = resolve_device(device)
    model, cfg, _ = load_trained_model(ckpt, dev)
    data = data or cfg.data.root
    dataset = make_dataset(data, cfg.data.layout, split, n_past + n_future, train=False,
                           image_size=cfg.data.image_size, image_width=cfg.data.image_width,
                           max_sequences=max_sequences, progress=progress)
    metrics = evaluate(model, dataset, n_past, n_future, samples=samples, out_dir=out, gifs=gifs,
                       use_cond=cfg.model.cond_dim > 0, progress=progress, device=dev)
    metrics.update(split=split, checkpoint=str(ckpt), data=str(data))
    (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics
