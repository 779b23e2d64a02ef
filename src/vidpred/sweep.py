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
from .evaluation.evaluate import EvaluateSettings, evaluate_checkpoint
from .rundir import BEST_CHECKPOINT, EVAL_DIR, Outputs, claim_output


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


def sweep(base: Config, grid: list[str], out: str | Path,
          evaluation: EvaluateSettings = EvaluateSettings(samples=3, gifs=2),
          progress: bool = True, log=print) -> list[dict]:
    """Train and evaluate every combination, then compare them all.

    A sweep started again continues: finished runs are skipped, unfinished ones resumed (or
    started afresh when stopped before their first checkpoint), evaluations missing are made.

    Args:
        base: the config every run starts from.
        grid: ``--grid`` items (:func:`parse_grid`), checked before the first run trains.
        out: sweep directory (claimed: a folder of a user's files is refused).
        evaluation: each run's evaluation on the test split; its ``n_past``/``n_future`` None:
            each run's ``data.n_past``/``data.n_future`` (e.g. ``n_future=28`` for SVG's BAIR
            protocol, 2 -> 28, after training on 2 -> 10).

    Returns:
        The comparison rows (see :func:`vidpred.evaluation.compare.compare`).
    """
    from .training.loop import train
    from .training.runs import resumable

    out = Path(out)
    parsed = parse_grid(grid, base)
    keys = [k for k, _ in parsed]
    combos = list(itertools.product(*[v for _, v in parsed]))
    configs = []
    for values in combos:  # every combination is checked before the first one trains
        cfg = Config.from_dict(base.to_dict())
        for k, v in zip(keys, values):
            cfg.set(k, v, source="--grid")
        configs.append(check_config(cfg))
    names = [run_name(list(zip(keys, values))) for values in combos]
    claim_output(out, Outputs("sweep", (*names, "compare"), legacy=()), log=log).add(
        *names, "compare")
    e = evaluation
    for i, (name, cfg) in enumerate(zip(names, configs), 1):
        run_dir = out / name
        log(f"[{i}/{len(combos)}] {name}")
        train(cfg, run_dir, resume=resumable(run_dir), progress=progress, log=log)
        if not (run_dir / EVAL_DIR / "metrics.json").exists():
            evaluate_checkpoint(run_dir / BEST_CHECKPOINT, None, e.split, e.n_past or cfg.data.n_past,
                                e.n_future or cfg.data.n_future, e.samples, run_dir / EVAL_DIR,
                                gifs=e.gifs, max_sequences=e.max_sequences, progress=progress,
                                best_by=e.best_by)
    return compare([out / name for name in names], out / "compare")
