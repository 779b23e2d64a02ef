"""TensorBoard logging beside ``metrics.jsonl``: ``tensorboard --logdir runs`` shows every run.

The event files go into the run directory itself, so each run is one TensorBoard run named by
its folder. Scalars (tags as TensorBoard groups them)::

    train/loss  train/mse  train/kl          per iteration (MSE per frame, KL in nats per frame)
    schedule/beta  schedule/tfr  schedule/lr per iteration
    val/psnr (dB)  val/ssim                  per epoch, one prior sample per validation sequence
    speed/frames_per_s  speed/iters_per_s    per epoch (frames = batch x predicted frames)
    speed/data_wait                          per epoch, share of the training time spent
                                             reading batches (0 to 1)

and one image per epoch, ``val/prediction``: ground truth above the prediction for the first
validation sequences (rows), at evenly spaced time steps (columns).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..viz import frame_grid

ITER_TAGS = {"loss": "train/loss", "mse": "train/mse", "kl": "train/kl", "beta": "schedule/beta",
             "tfr": "schedule/tfr", "lr": "schedule/lr"}
EPOCH_TAGS = {"val_psnr": "val/psnr", "val_ssim": "val/ssim",
              "frames_per_s": "speed/frames_per_s", "iters_per_s": "speed/iters_per_s",
              "data_wait": "speed/data_wait"}


class TensorBoardLog:
    """Writes one run's scalars and prediction grids as TensorBoard event files.

    Args:
        run_dir: the run directory (event files ``events.out.tfevents.*`` go straight into it).
        start_iteration: when resuming, events a previous process logged after this iteration
            are discarded (TensorBoard's ``purge_step``), so the curves have no doubled tail.

    The ``tensorboard`` package is a dependency of vidpred; if it is missing anyway (a trimmed
    environment), :func:`open_tensorboard` returns None and training logs only to JSONL.
    """

    def __init__(self, run_dir: str | Path, start_iteration: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        # steps are completed iterations; the resumed process logs from start_iteration + 1
        self.writer = SummaryWriter(str(run_dir), purge_step=start_iteration + 1 if start_iteration
                                    else None, flush_secs=30)

    def iteration(self, record: dict) -> None:
        """One ``{"kind": "iter", ...}`` record of metrics.jsonl."""
        step = record["iteration"]
        for key, tag in ITER_TAGS.items():
            self.writer.add_scalar(tag, record[key], step)

    def epoch(self, record: dict, truth: torch.Tensor | None = None,
              pred: torch.Tensor | None = None) -> None:
        """One ``{"kind": "epoch", ...}`` record, and the validation predictions as an image.

        Args:
            truth, pred: (N, T, C, H, W) validation frames after the context and the model's
                prediction of them, in [0, 1].
        """
        step = record["iteration"]
        for key, tag in EPOCH_TAGS.items():
            if key in record:
                self.writer.add_scalar(tag, record[key], step)
        if truth is not None and pred is not None:
            rows = {}
            for i in range(len(truth)):
                rows[f"truth {i}"], rows[f"prediction {i}"] = truth[i], pred[i]
            self.writer.add_image("val/prediction", frame_grid(rows), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_tensorboard(run_dir: str | Path, start_iteration: int = 0, log=print) -> TensorBoardLog | None:
    """A :class:`TensorBoardLog`, or None (with one printed line) if tensorboard is not installed."""
    try:
        return TensorBoardLog(run_dir, start_iteration)
    except ImportError:
        log("tensorboard is not installed (pip install tensorboard); logging to metrics.jsonl only")
        return None
