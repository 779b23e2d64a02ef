"""Grid sweeps: train one run per combination of config values, evaluate each, compare them.

``vidpred sweep --config FILE --grid kl_anneal=cyclical,monotonic,none --out DIR`` writes
``DIR/<key>=<value>[,...]/`` run directories (each as ``vidpred train`` leaves it, plus ``eval/``)
and ``DIR/compare/`` (see :mod:`vidpred.evaluation.compare`). Runs go one after another; a sweep started
again resumes unfinished runs and skips finished ones.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from .config import Config, check_config, resolve_key
from .errors import ConfigError
from .evaluation.compare import compare


def parse_grid(items: list[str], base: Config) -> list[tuple[str, list[str]]]:
    """``["kl_anneal=cyclical,none", ...]`` -> ``[("train.kl_anneal", ["cyclical", "none"]), ...]``.

    Every value is type-checked against the config now, before any run starts.

    Raises:
        ConfigError: malformed item, unknown key or a value of the wrong type.
    """
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ConfigError(f"--grid expects key=v1,v2,..., got {item!r}")
        key = resolve_key(key.strip())
        vals = [v.strip() for v in values.split(",") if v.strip()]
        for v in vals:
            Config.from_dict(base.to_dict()).set(key, v, source="--grid")
        grid.append((key, vals))
    return grid


def run_name(assignment: list[tuple[str, str]]) -> str:
    return ",".join(f"{k.split('.', 1)[1]}={v}" for k, v in assignment).replace("/", "_")


def sweep(base: Config, grid: list[tuple[str, list[str]]], out: str | Path, samples: int = 3,
          eval_sequences: int | None = None, progress: bool = True, log=print,
          n_future: int | None = None, best_by: str = "each") -> list[dict]:
    """Train and evaluate every combination, then compare them all.

    Args:
        base: the config every run starts from.
        grid: from :func:`parse_grid`.
        out: sweep directory.
        samples: prior samples per test sequence in each run's evaluation.
        eval_sequences: evaluate only the first test sequences (None: all).
        n_future: predicted frames in each evaluation (None: each run's ``data.n_future``), e.g.
            28 for SVG's BAIR protocol (2 -> 28) after training on 2 -> 10.
        best_by: how the best of ``samples`` is chosen (see
            :func:`vidpred.evaluation.evaluate.evaluate`): ``each``, ``psnr`` or ``ssim``.

    Returns:
        The comparison rows (see :func:`vidpred.evaluation.compare.compare`).
    """
    from .evaluation.evaluate import evaluate_checkpoint
    from .training.loop import train

    out = Path(out)
    keys = [k for k, _ in grid]
    run_dirs = []
    combos = list(itertools.product(*[v for _, v in grid]))
    configs = []
    for values in combos:  # every combination is checked before the first one trains
        cfg = Config.from_dict(base.to_dict())
        for k, v in zip(keys, values):
            cfg.set(k, v, source="--grid")
        configs.append(check_config(cfg))
    for i, (values, cfg) in enumerate(zip(combos, configs), 1):
        assignment = list(zip(keys, values))
        run_dir = out / run_name(assignment)
        run_dirs.append(run_dir)
        log(f"[{i}/{len(combos)}] {run_name(assignment)}")
        resume = (run_dir / "last.ckpt").exists()
        train(cfg, run_dir, resume=resume, progress=progress, log=log)
        if not (run_dir / "eval" / "metrics.json").exists():
            evaluate_checkpoint(run_dir / "best.ckpt", None, "test", cfg.data.n_past,
                                n_future or cfg.data.n_future, samples, run_dir / "eval", gifs=2,
                                max_sequences=eval_sequences, progress=progress, best_by=best_by)
    return compare(run_dirs, out / "compare")
