"""The run directory's layout: the files ``vidpred train`` writes, by name, in one place.

Training writes them (:mod:`vidpred.training.runs`); evaluation, ``compare``, ``report``,
``sweep`` and the demos read them::

    config.yaml        the resolved config
    metrics.jsonl      one line per iteration ({"kind": "iter", ...}) and per epoch ({"kind": "epoch", ...})
    last.ckpt          written at every epoch end and on Ctrl-C (resume point)
    best.ckpt          the epoch with the best validation PSNR
    epoch_<e>.ckpt     the last ``keep_checkpoints`` epochs
    training_curves.png, psnr_vs_time.png
    events.out.tfevents.*   TensorBoard scalars and prediction grids
    eval/              what ``vidpred evaluate`` (or the demo) writes for the run
"""
from __future__ import annotations

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
LAST_CHECKPOINT = "last.ckpt"
BEST_CHECKPOINT = "best.ckpt"
EVAL_DIR = "eval"
RUN_FILES = ("*.ckpt", METRICS_FILE, CONFIG_FILE, "training_curves.png", "psnr_vs_time.png",
             "events.out.tfevents.*")
