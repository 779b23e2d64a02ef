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


def simulator_args(p: argparse.ArgumentParser) -> None:
    """The options every simulator-backed generator shares."""
    p.add_argument("--seed", type=int, default=0, help="same seed, same dataset")
    p.add_argument("--workers", type=int, default=2, help="simulator processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", metavar="auto|cpu|cuda",
                   help="where to compute: cpu (default), cuda (bf16 autocast, float32 weights) or "
                   "auto (cuda when present, else cpu). Under torchrun each process takes GPU "
                   "LOCAL_RANK")


def best_by_arg(p) -> None:
    """``--best-by``, shared by ``evaluate`` and ``sweep``."""
    p.add_argument("--best-by", default="each", choices=["each", "psnr", "ssim"],
                   help="how best-of-N picks a sample per sequence: each metric its own best "
                   "sample (default), or one sample by mean PSNR, or by mean SSIM (SVG's "
                   "generate_svg_lp.py); recorded in metrics.json's protocol")


def summary_table(m) -> str:
    """The figures of an :class:`vidpred.evaluation.scoring.EvalMetrics` as a small table."""
    p = m.protocol
    by = "" if p.best_by == "each" else f" by {p.best_by.upper()}"
    rows = [(f"model, best of {p.n_samples}{by}", m.best.psnr_mean, m.best.ssim_mean),
            (f"model, mean of {p.n_samples}", m.sample_mean.psnr_mean, m.sample_mean.ssim_mean),
            (p.baseline, m.baseline.psnr_mean, m.baseline.ssim_mean)]
    if p.n_samples == 1:
        rows = [("model (1 sample)", m.best.psnr_mean, m.best.ssim_mean), rows[2]]
    scored = "" if p.scored_frames == p.n_future else f", scored over frames 1..{p.scored_frames}"
    lines = [f"{p.n_sequences} {p.split or ''} sequences, {p.n_past} -> {p.n_future} frames{scored}",
             f"{'':28s}{'PSNR (dB)':>10s}{'SSIM':>8s}"]
    lines += [f"{name:28s}{p:10.2f}{s:8.3f}" for name, p, s in rows]
    if m.objects:
        from ..evaluation.objects import objects_table

        lines.append(objects_table(m.objects, m.protocol.n_samples, m.protocol.baseline))
    if m.extra.get("dancer"):
        from ..evaluation.objects import dancer_table

        lines.append(dancer_table(m.extra["dancer"]))
    return "\n".join(lines)


def print_rows(rows: list[dict], out: Path) -> None:
    print(f"{'run':40s}{'best val PSNR':>14s}{'test PSNR':>11s}{'test SSIM':>11s}  protocol")
    for r in rows:
        print(f"{r['label'][:39]:40s}{r['best_val_psnr']!s:>14s}{r['test_psnr']!s:>11s}"
              f"{r['test_ssim']!s:>11s}  {r['protocol']}")
    print(f"wrote {out / 'curves.png'}, {out / 'results.md'}, {out / 'results.csv'}")
