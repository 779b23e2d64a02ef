"""Rollout (inference) speed: the SVG evaluation protocol on BAIR-sized frames, and 630-frame dance
rollouts.

- SVG, 2 -> 28 frames with 100 prior samples of one sequence (Denton & Fergus's BAIR evaluation),
  for configs/push_cpu.yaml (the demo) and configs/bair_svg_lp.yaml (the paper's size): seconds
  per sequence and predicted frames/s, with all samples in one batch (``rollout(...,
  samples=100)``) and, for comparison, one sample at a time (the loop SVG's evaluation code runs).
- Pose CVAE, one 630-frame rollout (frame 0 given, 629 predicted, labels streamed) for
  configs/dance_cpu.yaml and configs/dance_template.yaml.

Weights are freshly initialised (speed does not depend on them); inputs are random frames of the
right size; the models are in eval mode under ``torch.inference_mode``.

    python benchmarks/rollout_speed.py [--samples 100] [--frames 630] [--threads 0] [--device cpu]
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from vidpred.config import Config
from vidpred.device import configure_process, resolve_device, synchronize
from vidpred.models import build_model

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def timed(fn, device) -> float:
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0


def svg_protocol(name: str, samples: int, device, per_sample: bool) -> None:
    cfg = Config.load(CONFIGS / f"{name}.yaml")
    model = build_model(cfg).to(device).eval()
    n_past, n_future = 2, 28
    H, W = cfg.data.frame_size
    if getattr(model, "memory", None) is not None:  # a frame memory of the demo's size
        model.memory.fill(torch.randint(0, 256, (1000, 30, 3, H, W), dtype=torch.uint8, device=device),
                          torch.randn(1000, 30, cfg.model.cond_dim, device=device))
    context = torch.rand(1, n_past, 3, H, W, device=device)
    cond = torch.randn(1, n_past + n_future, cfg.model.cond_dim, device=device) \
        if cfg.model.cond_dim else None
    model.rollout(context, cond, 3, samples=2)  # warm-up
    batched = timed(lambda: model.rollout(context, cond, n_future, samples=samples), device)
    line = (f"{name:15s} SVG protocol 2 -> 28, {samples} samples of one sequence: "
            f"{batched:6.2f} s ({samples * n_future / batched:7.1f} frames/s) as one batch")
    if per_sample:
        loop = timed(lambda: [model.rollout(context, cond, n_future, samples=1)
                              for _ in range(samples)], device)
        line += f"; one sample at a time {loop:6.2f} s (batching x{loop / batched:.1f})"
    print(line, flush=True)


def dance_rollout(name: str, frames: int, device) -> None:
    cfg = Config.load(CONFIGS / f"{name}.yaml")
    model = build_model(cfg).to(device).eval()
    H, W = cfg.data.frame_size
    first = torch.rand(1, 1, 3, H, W, device=device)
    labels = torch.rand(1, frames, 3, H, W, device=device)
    list(model.rollout_steps(first, labels, 5))  # warm-up
    secs = timed(lambda: sum(1 for _ in model.rollout_steps(first, labels, frames - 1)), device)
    params = sum(q.numel() for q in model.parameters())
    print(f"{name:15s} pose CVAE, {frames - 1} frames from 1 ({H}x{W}, {params:,} params): "
          f"{secs:6.1f} s = {(frames - 1) / secs:7.1f} frames/s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=100, help="prior samples per BAIR sequence")
    p.add_argument("--frames", type=int, default=630, help="frames per dance rollout, frame 0 given")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = physical cores)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--no-loop", action="store_true", help="skip the one-sample-at-a-time timing")
    args = p.parse_args()
    device = resolve_device(args.device)
    configure_process(args.threads)
    print(f"{device}, {torch.get_num_threads()} threads")
    svg_protocol("push_cpu", args.samples, device, per_sample=not args.no_loop)
    svg_protocol("bair_svg_lp", args.samples, device, per_sample=False)
    for name in ("dance_cpu", "dance_template"):
        dance_rollout(name, args.frames, device)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
