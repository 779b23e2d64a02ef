"""Quality parity of bf16 autocast against float32 training, at equal iterations.

For each config (``--configs``, keys as in ``train_speed.py``) it trains ``--seeds`` runs in
float32 and as many in bf16 (``vidpred train --set train.precision=...``, the training loop as a
user runs it, one run after the other), every run for the same number of iterations, then scores
each run's ``last.ckpt`` on the same held-out clips with the same prior samples:

- push layouts (``bair_svg_lp``): the first ``--sequences`` test sequences, n_past -> n_future
  of the config;
- the dance layout: ``--sequences`` windows of n_past + n_future frames cut at evenly spaced
  starts from the test sequences (each 630 frames long), so the long test videos give many
  clips.

Printed per run: wall time of the training run (seconds), test PSNR (dB) and SSIM, mean over
``--samples`` prior samples; per config: the float32 seeds' mean and range (the seed spread),
bf16's, and whether bf16's mean lies within that range and within 0.2 dB of float32's mean
(the parity rule ``train.precision: auto`` was decided by: docs/speed.md).

    python benchmarks/precision_parity.py --configs a,c,d --out runs/parity [--seeds 3]
        [--iterations a=60,c=100,d=300] [--sequences 40] [--samples 3]

Run directories already holding a finished run (``OUT/<key>-<precision>-s<seed>/last.ckpt``
and its ``done`` marker) are scored without training again, so an interrupted sweep resumes.
Needs a CPU with native bf16 (AVX512-BF16 or AMX): elsewhere the bf16 runs would train in
float32 and the comparison would say nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from vidpred.checkpoint import load_trained_model
from vidpred.data import make_dataset
from vidpred.device import cpu_has_bf16
from vidpred.evaluation.evaluate import evaluate

NAMES = {"a": "bair_svg_lp", "b": "push_cpu", "c": "dance_template", "d": "dance_cpu"}
PRECISIONS = ("float32", "bf16")
PARITY_DB = 0.2


class DanceWindows:
    """``count`` clips of ``length`` frames from the dance test sequences, starts evenly spaced
    over each sequence: a dataset ``evaluate`` can batch (frames, labels (B, T, 3, H, W) in
    [0, 1])."""

    def __init__(self, test_split, length: int, count: int):
        seqs = len(test_split)
        per = -(-count // seqs)
        span = test_split.seq_len - length
        starts = [round(i * span / max(per - 1, 1)) for i in range(per)]
        frames, labels = test_split.batch(range(seqs))
        clips = [(s, t) for t in starts for s in range(seqs)][:count]
        self.frames = torch.stack([frames[s, t:t + length] for s, t in clips])
        self.labels = torch.stack([labels[s, t:t + length] for s, t in clips])

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, indices):
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        return self.frames[idx], self.labels[idx]


def train(key: str, seed: int, precision: str, iterations: int, out: Path) -> float:
    """One ``vidpred train`` run; returns its wall time in seconds (read back if it exists)."""
    run = out / f"{key}-{precision}-s{seed}"
    done = run / "done"
    if done.is_file() and (run / "last.ckpt").is_file():
        return float(done.read_text() or "nan")
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "vidpred", "train", "--config", NAMES[key], "--out", str(run),
           "--overwrite", "--quiet", "--set", f"train.iterations={iterations}",
           "--set", f"train.seed={seed}", "--set", f"train.precision={precision}"]
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    done.write_text(f"{wall:.1f}")
    return wall


def score(ckpt: Path, sequences: int, samples: int) -> tuple[float, float]:
    """Mean-over-samples test PSNR (dB) and SSIM of one checkpoint."""
    model, cfg, _ = load_trained_model(ckpt)
    n_past, n_future = cfg.data.n_past, cfg.data.n_future
    if cfg.data.layout == "dance":
        test = make_dataset(cfg.data.root, "dance", "test", n_past + n_future, train=False,
                            image_size=cfg.data.image_size, image_width=cfg.data.image_width)
        data = DanceWindows(test, n_past + n_future, sequences)
    else:
        data = make_dataset(cfg.data.root, cfg.data.layout, "test", n_past + n_future, train=False,
                            image_size=cfg.data.image_size, image_width=cfg.data.image_width,
                            max_sequences=sequences)
    m = evaluate(model, data, n_past, n_future, samples=samples, gifs=0, progress=False, seed=0)
    return m.sample_mean.psnr_mean, m.sample_mean.ssim_mean


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="a,c,d", help="comma-separated keys among a,b,c,d")
    p.add_argument("--out", required=True, help="folder of the training runs")
    p.add_argument("--seeds", type=int, default=3, help="seeds per precision")
    p.add_argument("--iterations", default="a=60,b=500,c=100,d=300",
                   help="training iterations per config, KEY=N pairs")
    p.add_argument("--sequences", type=int, default=40,
                   help="test sequences (push) or windows (dance) scored, >= 32")
    p.add_argument("--samples", type=int, default=3, help="prior samples per sequence")
    args = p.parse_args()
    if not cpu_has_bf16():
        raise SystemExit("this CPU has no native bf16 (AVX512-BF16 or AMX): the bf16 runs would "
                         "train in float32; run the comparison on a CPU that has it")
    iterations = {k: int(v) for k, v in (kv.split("=") for kv in args.iterations.split(","))}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    for key in args.configs.split(","):
        rows = {prec: [] for prec in PRECISIONS}
        for seed in range(args.seeds):
            for prec in PRECISIONS:  # alternate, so a slow spell of the VM hits both
                wall = train(key, seed, prec, iterations[key], out)
                psnr, ssim = score(out / f"{key}-{prec}-s{seed}" / "last.ckpt",
                                   args.sequences, args.samples)
                rows[prec].append({"seed": seed, "wall_s": wall, "psnr": psnr, "ssim": ssim})
                print(f"({key}) {NAMES[key]:15s} {prec:7s} seed {seed}: {iterations[key]} it in "
                      f"{wall:6.0f} s  PSNR {psnr:6.3f} dB  SSIM {ssim:.4f}", flush=True)
        f32 = [r["psnr"] for r in rows["float32"]]
        b16 = [r["psnr"] for r in rows["bf16"]]
        within = min(f32) <= statistics.mean(b16) <= max(f32)
        close = abs(statistics.mean(b16) - statistics.mean(f32)) <= PARITY_DB
        summary = {
            "float32": {"psnr_mean": statistics.mean(f32), "psnr_range": [min(f32), max(f32)],
                        "ssim_mean": statistics.mean(r["ssim"] for r in rows["float32"]),
                        "wall_s_mean": statistics.mean(r["wall_s"] for r in rows["float32"])},
            "bf16": {"psnr_mean": statistics.mean(b16), "psnr_range": [min(b16), max(b16)],
                     "ssim_mean": statistics.mean(r["ssim"] for r in rows["bf16"]),
                     "wall_s_mean": statistics.mean(r["wall_s"] for r in rows["bf16"])},
            "within_spread": within, "within_0.2dB": close, "runs": rows,
            "iterations": iterations[key]}
        table[key] = summary
        s = summary
        print(f"({key}) {NAMES[key]}: float32 {s['float32']['psnr_mean']:.3f} dB "
              f"({min(f32):.3f}-{max(f32):.3f}) SSIM {s['float32']['ssim_mean']:.4f}; "
              f"bf16 {s['bf16']['psnr_mean']:.3f} dB ({min(b16):.3f}-{max(b16):.3f}) SSIM "
              f"{s['bf16']['ssim_mean']:.4f}; difference "
              f"{s['bf16']['psnr_mean'] - s['float32']['psnr_mean']:+.3f} dB; within the float32 "
              f"spread: {within}; within {PARITY_DB} dB: {close}; training wall "
              f"{s['float32']['wall_s_mean']:.0f} vs {s['bf16']['wall_s_mean']:.0f} s", flush=True)
    (out / "parity.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
