"""What the command groups share: loading a config with overrides, the process settings,
the options several commands take, and printing result tables."""
from __future__ import annotations

import argparse
from pathlib import Path


def load_config(args):
    from ..config import Config, named_config

    if not args.config:
        cfg = Config()
    elif Path(args.config).suffix in (".yaml", ".yml") or Path(args.config).exists():
        cfg = Config.load(args.config)
    else:
        cfg = named_config(args.config)
    if getattr(args, "data", None):
        cfg.data.root = str(args.data)
    return cfg.apply_overrides(args.set or [])


def configure(threads: int = 0, deterministic: bool = False) -> None:
    """The process-wide settings every command computes with (see
    :func:`vidpred.device.configure_process`)."""
    from ..device import configure_process
    from ..training.distributed import local_world_size

    configure_process(threads, deterministic, local_world_size())


def at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, for options whose only check is that."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value}: must be >= {minimum}")
        return value
    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in its message
    return parse


def simulator_args(p: argparse.ArgumentParser) -> None:
    """The options every simulator-backed generator shares."""
    p.add_argument("--seed", type=int, default=0, help="same seed, same dataset")
    p.add_argument("--workers", type=at_least(1), default=2,
                   help="simulator processes (default 2; 1: in this process)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", metavar="auto|cpu|cuda",
                   help="where to compute: cpu (default), cuda (bf16 autocast, float32 weights) or "
                   "auto (cuda when present, else cpu). Under torchrun each process takes GPU "
                   "LOCAL_RANK")


def best_by_arg(p) -> None:
    """``--best-by``, shared by ``evaluate`` and ``sweep``."""
    from ..evaluation.scoring import BEST_BY

    p.add_argument("--best-by", default="each", choices=BEST_BY,
                   help="how best-of-N picks a sample per sequence: each metric its own best "
                   "sample (default), or one sample by mean PSNR, or by mean SSIM (SVG's "
                   "generate_svg_lp.py); recorded in metrics.json's protocol")


def summary_table(m) -> str:
    """:func:`vidpred.evaluation.scoring.summary_table` (the demos print it)."""
    from ..evaluation.scoring import summary_table as table

    return table(m)


def print_rows(rows: list[dict], out: Path) -> None:
    print(f"{'run':40s}{'best val PSNR':>14s}{'test PSNR':>11s}{'test SSIM':>11s}  protocol")
    for r in rows:
        print(f"{r['label'][:39]:40s}{r['best_val_psnr']!s:>14s}{r['test_psnr']!s:>11s}"
              f"{r['test_ssim']!s:>11s}  {r['protocol']}")
    print(f"wrote {out / 'curves.png'}, {out / 'results.md'}, {out / 'results.csv'}")
