"""Validation PSNR against training time for several runs, in one plot, with each run's test
PSNR (best of N, from ``RUN/eval/metrics.json`` when present) marked at its end.

PSNR per CPU-minute is what decides whether a configuration is usable on a laptop; runs to be
compared should be trained one after the other on the same machine (training time excludes
validation, see ``metrics.jsonl``'s ``time``). Prints each run's curve as a table too.

    python benchmarks/psnr_vs_time.py --run "today=runs/old" --run "new=runs/demo" --out docs/push_psnr_vs_time.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vidpred.viz import read_log  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", required=True, metavar="LABEL=DIR",
                   help="a run directory and its label (repeatable)")
    p.add_argument("--target", type=float, default=None, help="a horizontal line at this PSNR (dB)")
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args()

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, spec in enumerate(args.run):
        label, run = spec.split("=", 1)
        _, epochs = read_log(Path(run) / "metrics.jsonl")
        minutes = [r["time"] / 60 for r in epochs]
        psnr = [r["val_psnr"] for r in epochs]
        ax.plot(minutes, psnr, "o-", ms=3, color=f"C{i}", label=f"{label}: validation")
        print(f"{label}: " + ", ".join(f"{m:.1f} min {v:.2f} dB (it {r['iteration']})"
                                       for m, v, r in zip(minutes, psnr, epochs)))
        metrics = Path(run) / "eval" / "metrics.json"
        if metrics.is_file():
            test = json.loads(metrics.read_text())["psnr_mean"]
            ax.plot([minutes[-1]], [test], "*", ms=12, color=f"C{i}", label=f"{label}: test {test:.2f} dB")
            print(f"{label}: test {test:.2f} dB")
    if args.target is not None:
        ax.axhline(args.target, color="k", ls=":", lw=1, label=f"{args.target:g} dB")
    ax.set_xlabel("training time (minutes, validation excluded)")
    ax.set_ylabel("PSNR (dB), 2 -> 10 frames")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
