"""``vidpred evaluate``: N futures per test sequence with z from the prior, scored per frame
(best of N, mean over samples, copy-last-frame baseline; the SVG protocol of Denton & Fergus
2018) through :func:`vidpred.evaluation.scoring.rollout_and_score`, written as ``metrics.json`` (the
:class:`vidpred.evaluation.scoring.EvalMetrics` record), ``psnr_per_frame.png`` and GIFs.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import load_trained_model
from ..data import detect_layout, make_dataset
from ..device import resolve_device
from ..errors import CheckpointError, ConfigError, check_ranges
from ..models import VideoModel
from ..rundir import Outputs, claim_output, write_atomic
from ..viz import plot_psnr_per_frame, save_prediction_gif
from .scoring import BEST_BY, EvalMetrics, Rollouts, dataset_batches, rollout_and_score

OUTPUTS = Outputs("evaluate", ("metrics.json", "psnr_per_frame.png", "seq_*.gif"),
                  results=("metrics.json",), legacy=("metrics.json",))
SPLITS = ("train", "validate", "val", "test")


@dataclass(frozen=True)
class EvaluateSettings:
    """What ``vidpred evaluate`` scores, checked when made (before any work).

    Attributes:
        split: ``train``, ``validate`` (``val``) or ``test``.
        n_past, n_future: context and predicted frames; None: the checkpoint's
            ``data.n_past`` / ``data.n_future``.
        samples: prior samples per sequence (N of best-of-N). gifs: sequences that get a GIF.
        max_sequences: score only the first sequences (None: all).
        best_by: which metric picks the best sample (:data:`vidpred.evaluation.scoring.BEST_BY`).

    Raises:
        ConfigError: a value out of range or an unknown choice (all named, one per line).
    """

    split: str = "test"
    n_past: int | None = None
    n_future: int | None = None
    samples: int = 10
    gifs: int = 8
    max_sequences: int | None = None
    best_by: str = "each"

    def __post_init__(self):
        check_ranges(self, n_past=(1, None), n_future=(1, None), samples=(1, None),
                     gifs=(0, None), max_sequences=(1, None))
        if self.split not in SPLITS:
            raise ConfigError(f"--split {self.split!r}: choose one of {', '.join(SPLITS)}")
        if self.best_by not in BEST_BY:
            raise ConfigError(f"--best-by {self.best_by!r}: choose one of {', '.join(BEST_BY)}")


def check_data_layout(cfg, root: str | Path, ckpt: str | Path) -> None:
    """A checkpoint's model reads the layout it was trained on.

    Raises:
        CheckpointError: ``root`` looks like another layout (both named).
    """
    found = detect_layout(root)
    if found is not None and found != cfg.data.layout and cfg.data.layout != "synthetic":
        raise CheckpointError(f"{ckpt}: checkpoint holds a {cfg.model.name} model trained on the "
                              f"{cfg.data.layout} layout; {root} is a {found}-layout folder "
                              "(give data of the checkpoint's layout, or a checkpoint trained "
                              "on this data)")


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
    write_atomic(out / "metrics.json", json.dumps(metrics.to_dict(), indent=1))
    plot_psnr_per_frame(metrics, out / "psnr_per_frame.png")
    n_past = metrics.protocol.n_past
    for i, (frames, pred, best) in enumerate(zip(kept.frames, kept.pred, kept.best)):
        frames = frames.float() / 255
        context = frames[:n_past]
        copy = frames[n_past - 1:n_past].expand(pred.shape[1], -1, -1, -1)
        save_prediction_gif(out / f"seq_{i:03d}.gif", frames[:n_past + pred.shape[1]],
                            {"prediction": torch.cat([context, pred[best].float() / 255]),
                             "copy last": torch.cat([context, copy])}, n_past)


def evaluate_checkpoint(ckpt: str | Path, data: str | Path | None, split: str,
                        n_past: int | None, n_future: int | None, samples: int,
                        out: str | Path, gifs: int = 8,
                        max_sequences: int | None = None, progress: bool = True,
                        device: str = "cpu", best_by: str = "each",
                        overwrite: bool = False) -> EvalMetrics:
    """Load a checkpoint, evaluate it on a split and write ``out/metrics.json`` (with the split,
    checkpoint and data root recorded), the PSNR plot and GIFs.

    The settings are :class:`EvaluateSettings` (checked first; ``n_past``/``n_future`` None: the
    checkpoint's own); ``data`` None means the dataset the checkpoint was trained on;
    ``device``: ``cpu``, ``cuda`` or ``auto``. ``out`` is claimed before the data is read
    (:func:`vidpred.rundir.claim_output`): a folder of a user's files is refused, and one that
    holds an evaluation's ``metrics.json`` needs ``overwrite``.

    Raises:
        ConfigError: a setting out of range, an unusable ``out``, the training split for a
        model whose frame memory holds it. CheckpointError: an unreadable
        checkpoint, or data of another layout than the model's. DataError: a problem with the
        data (named).
    """
    settings = EvaluateSettings(split, n_past, n_future, samples, gifs, max_sequences, best_by)
    dev = resolve_device(device)
    model, cfg, _ = load_trained_model(ckpt, dev)
    if settings.split == "train" and model.keeps_training_frames:
        raise ConfigError(f"--split train: {ckpt} keeps training frames in its frame memory "
                          "(model.retrieval), so on the training split it copies the answers; "
                          "evaluate on validate or test")
    n_past, n_future = settings.n_past or cfg.data.n_past, settings.n_future or cfg.data.n_future
    data = data or cfg.data.root
    check_data_layout(cfg, data, ckpt)
    with claim_output(out, OUTPUTS, overwrite=overwrite) as record:
        record.add("metrics.json", "psnr_per_frame.png", *(f"seq_{i:03d}.gif" for i in range(gifs)))
        dataset = make_dataset(data, cfg.data.layout, split, n_past + n_future, train=False,
                               image_size=cfg.data.image_size, image_width=cfg.data.image_width,
                               max_sequences=max_sequences, progress=progress,
                               validate_files=cfg.data.validate_files)
        return evaluate(model, dataset, n_past, n_future, samples, out, gifs,
                        progress=progress, device=dev, split=split,
                        checkpoint=str(ckpt), data=str(data), best_by=settings.best_by)
