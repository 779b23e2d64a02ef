"""630-frame rollout speed of the pose CVAE, CPU-sized vs template-sized (issue: long rollouts).

Prints frames/s of one 1 -> 629 rollout (1 sample, z from the prior, inference mode) and the
peak resident memory, for configs/dance_cpu.yaml and configs/dance_template.yaml. Weights are
freshly initialised: speed does not depend on them.

    python benchmarks/dance_rollout_speed.py [--frames 630] [--threads 0]
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from vidpred.config import Config
from vidpred.train import build_model, default_threads

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=630, help="frames per rollout, frame 0 given")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = physical cores)")
    args = p.parse_args()
    torch.set_num_threads(args.threads or default_threads())
    for name in ("dance_cpu", "dance_template"):
        cfg = Config.load(CONFIGS / f"{name}.yaml")
        model = build_model(cfg).eval()
        H, W = cfg.data.frame_size
        first, labels = torch.rand(1, 1, 3, H, W), torch.rand(1, args.frames, 3, H, W)
        list(model.rollout_steps(first, labels, 5))  # warm-up
        t0 = time.perf_counter()
        n = sum(1 for _ in model.rollout_steps(first, labels, args.frames - 1))
        dt = time.perf_counter() - t0
        params = sum(q.numel() for q in model.parameters())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:15s} params={params:>9,d}  {n} frames in {dt:6.1f} s = {n / dt:7.1f} frames/s "
              f"({H}x{W}, {torch.get_num_threads()} threads, peak RSS so far {rss:.0f} MiB)")


if __name__ == "__main__":
    main()
