"""Compare runs: overlaid curves and a table of final PSNR/SSIM, labelled by what differs.

A run directory is what ``vidpred train`` writes (``config.yaml``, ``metrics.jsonl``) plus, when
it was evaluated, ``eval/metrics.json``. ``compare`` writes into its output folder::

    curves.png            total / MSE / KL loss, beta, teacher-forcing ratio, validation PSNR
    psnr_per_frame.png    test PSNR and SSIM per predicted frame (runs that have eval/metrics.json)
    results.md, results.csv   one row per run
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, config_differences, get_value
from ..errors import ConfigError
from ..rundir import (
    CONFIG_FILE,
    EVAL_DIR,
    METRICS_FILE,
    Outputs,
    claim_output,
    write_atomic,
)
from ..viz import plot_run_curves, plot_runs_psnr_per_frame, read_log
from .scoring import EvalMetrics

OUTPUTS = Outputs("compare", ("curves.png", "psnr_per_frame.png", "results.md", "results.csv"),
                  legacy=("results.md", "results.csv"))
COLUMNS = ("run", "label", "iterations", "train_minutes", "best_val_psnr", "final_val_psnr",
           "final_val_ssim", "kl_per_frame", "test_psnr", "test_ssim", "test_psnr_sample_mean",
           "test_ssim_sample_mean", "baseline_psnr", "diversity", "block_kept_pct",
           "block_kept_last_pct", "block_kept_seen_pct", "block_error_last_px",
           "block_missing_last_pct", "block_psnr", "baseline_block_psnr", "block_psnr_pushed",
           "baseline_block_psnr_pushed", "arm_sharpness", "arm_ghost", "protocol")
# the object figures (:mod:`vidpred.evaluation.objects`) in COLUMNS: column -> (the summary's
# key, percent?), of the sample best-of-N picks by PSNR (baseline_block_psnr: copy-last's)
OBJECT_COLUMNS = {"block_kept_pct": ("kept", True), "block_kept_last_pct": ("kept_last", True),
                  "block_kept_seen_pct": ("kept_seen", True),
                  "block_error_last_px": ("position_error_last_median", False),
                  "block_missing_last_pct": ("missing_last", True),
                  "block_psnr": ("window_psnr", False),
                  "block_psnr_pushed": ("window_psnr_pushed", False),
                  "arm_sharpness": ("arm_sharpness", False),
                  "arm_ghost": ("arm_ghost", False)}


@dataclass
class Run:
    path: Path
    config: Config
    iters: list[dict]
    epochs: list[dict]
    eval: EvalMetrics | None
    label: str = ""


def load_run(path: str | Path, log=print) -> Run:
    """Read a run directory (a torn last line of its log is dropped, with a note to ``log``).

    Raises:
        ConfigError: not a run directory. DataError: a log that is not vidpred's (line named).
    """
    path = Path(path)
    if not (path / METRICS_FILE).is_file() or not (path / CONFIG_FILE).is_file():
        raise ConfigError(f"{path} is not a vidpred run directory (expected {CONFIG_FILE} and "
                          f"{METRICS_FILE})")
    iters, epochs = read_log(path / METRICS_FILE, log)
    ev = path / EVAL_DIR / "metrics.json"
    return Run(path, Config.load(path / CONFIG_FILE), iters, epochs,
               _read_metrics(ev) if ev.is_file() else None)


def _read_metrics(path: Path) -> EvalMetrics:
    try:
        return EvalMetrics.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: not a metrics.json written by this version of vidpred "
                          f"({type(e).__name__}: {e}); evaluate the run again") from None


def label_runs(runs: list[Run]) -> None:
    """Label each run by the config values that differ between the runs (at most three; else,
    and for a single run, its folder name)."""
    keys = [k for k in config_differences([r.config for r in runs]) if k != "data.root"] \
        if len(runs) > 1 else []
    if len(keys) > 3:  # different setups, not a sweep: the folder names say more
        keys = []
    for r in runs:
        r.label = ", ".join(f"{k.split('.', 1)[1]}={get_value(r.config, k)}" for k in keys) or r.path.name
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            r.label = f"{r.label} ({r.path.name})"


def protocol_text(p) -> str:
    """A :class:`vidpred.evaluation.scoring.Protocol` in a few words: split and sequences, context ->
    predicted frames, samples and the metric that picks the best one
    (``test x128, 2 -> 28, best of 100 by ssim``)."""
    by = "per metric" if p.best_by == "each" else f"by {p.best_by}"
    best = f"best of {p.n_samples} {by}" if p.n_samples > 1 else "1 sample"
    return f"{p.split or '?'} x{p.n_sequences}, {p.n_past} -> {p.n_future}, {best}"


def final_kl(iters: list[dict]) -> float | None:
    """KL in nats per predicted frame at the end of training: the mean over the last tenth of
    the logged iterations (one iteration's KL is noisy); None for a run without any."""
    kls = [it["kl"] for it in iters if "kl" in it]
    if not kls:
        return None
    tail = kls[-max(len(kls) // 10, 1):]
    return sum(tail) / len(tail)


def summary_row(r: Run) -> dict:
    """The run's figures in ``COLUMNS`` (PSNR in dB, rounded; "" where the run has none):
    ``kl_per_frame`` from :func:`final_kl`, ``diversity`` the mean per-pixel standard deviation
    across the test samples (:func:`vidpred.evaluation.metrics.sample_diversity`)."""
    last = r.epochs[-1] if r.epochs else {}
    ev = r.eval
    fmt = lambda v, n=2: "" if v is None else round(float(v), n)  # noqa: E731
    return {
        "run": str(r.path), "label": r.label,
        "iterations": r.iters[-1]["iteration"] if r.iters else 0,
        "train_minutes": fmt(r.iters[-1]["time"] / 60 if r.iters else None, 1),
        "best_val_psnr": fmt(max((e["val_psnr"] for e in r.epochs), default=None)),
        "final_val_psnr": fmt(last.get("val_psnr")),
        "final_val_ssim": fmt(last.get("val_ssim"), 4),
        "kl_per_frame": fmt(final_kl(r.iters), 6),
        "test_psnr": fmt(ev and ev.best.psnr_mean),
        "test_ssim": fmt(ev and ev.best.ssim_mean, 4),
        "test_psnr_sample_mean": fmt(ev and ev.sample_mean.psnr_mean),
        "test_ssim_sample_mean": fmt(ev and ev.sample_mean.ssim_mean, 4),
        "baseline_psnr": fmt(ev and ev.baseline.psnr_mean),
        "diversity": fmt(ev and ev.diversity, 6),
        **object_columns(ev.objects if ev else None),
        "protocol": protocol_text(ev.protocol) if ev else "",
    }


def object_columns(objects: dict | None) -> dict:
    """:data:`OBJECT_COLUMNS`, ``baseline_block_psnr`` and ``baseline_block_psnr_pushed`` of an
    evaluation's ``objects`` section ("" where there is none or a figure has no frame to
    score)."""
    baseline = {"baseline_block_psnr": "window_psnr",
                "baseline_block_psnr_pushed": "window_psnr_pushed"}
    out = {c: "" for c in (*OBJECT_COLUMNS, *baseline)}
    if objects:
        for column, (key, percent) in OBJECT_COLUMNS.items():
            v = objects["best"].get(key)  # evaluations before a figure existed lack it
            out[column] = "" if v is None else round(100 * v, 1) if percent else round(v, 2)
        for column, key in baseline.items():
            v = objects["baseline"].get(key)
            out[column] = "" if v is None else round(v, 2)
    return out


def compare(run_dirs: list[str | Path], out: str | Path, log=print) -> list[dict]:
    """Overlay the runs' curves and tabulate their final figures (PSNR in dB) in ``out``
    (claimed: a folder of a user's files is refused; a comparison's own files are replaced).

    Returns:
        One dict per run with the keys in ``COLUMNS``.

    Raises:
        ConfigError: no run given, a folder that is not a run directory, an unusable ``out``.
        DataError: a run's log that is not vidpred's.
    """
    if not run_dirs:
        raise ConfigError("compare needs at least one run directory")
    runs = [load_run(p, log) for p in run_dirs]
    label_runs(runs)
    out = Path(out)
    claim_output(out, OUTPUTS, log=log).add(*OUTPUTS.patterns)
    plot_run_curves([(r.label, r.iters, r.epochs) for r in runs], out / "curves.png")
    evaluated = [(r.label, r.eval) for r in runs if r.eval]
    if evaluated:
        plot_runs_psnr_per_frame(evaluated, out / "psnr_per_frame.png")
    rows = [summary_row(r) for r in runs]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "results.csv", table.getvalue())
    shown = [c for c in COLUMNS if c != "run"]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(str(r[c]) for c in shown) + " |" for r in rows]
    write_atomic(out / "results.md", "PSNR in dB (data range 1); test figures are best of N "
                 "samples (SVG protocol) unless marked sample_mean; `protocol` says which split, "
                 "how many sequences, context -> predicted frames, N and the metric that picks "
                 "the best sample. The block_* and arm_* figures (push data) are those of the "
                 "sample best of N by PSNR, defined in docs/protocols.md.\n\n"
                 + "\n".join(lines) + "\n")
    return rows
