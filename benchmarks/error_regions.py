"""Where a checkpoint's squared error lies: in the pixels that change, or in those that stay.

A pixel of predicted frame t "changes" when the ground truth there differs from the last context
frame by more than ``--threshold`` in some channel (pixels in [0, 1]): the arm, a pushed block
and what they uncover. Everything else is static scene, which a composite model can copy. For
each predicted frame it prints the share of pixels that change, the MSE inside and outside them,
and the share of the frame's squared error that lies inside; then how many dB the mean PSNR would
gain if either region were predicted exactly (the headroom each region holds).

Predictions come from the evaluation path (:func:`vidpred.evaluation.scoring.rollout_and_score`, seed 0),
one prior sample per sequence; on the push data the best and the mean of 10 samples differ by a
few hundredths of a dB, so one sample stands for both. PSNR is :func:`vidpred.evaluation.metrics.psnr`.

    python benchmarks/error_regions.py --ckpt runs/demo/best.ckpt [--data DIR] [--split test]
        [--n-future 10] [--threshold 0.05] [--batch 32]
"""
from __future__ import annotations

import argparse

import torch

from vidpred.checkpoint import load_trained_model
from vidpred.data import make_dataset
from vidpred.device import configure_process
from vidpred.evaluation.metrics import psnr
from vidpred.evaluation.scoring import dataset_batches, rollout_and_score


def rollouts(model, dataset, n_past: int, n_future: int, batch: int):
    """One prior sample per sequence of ``dataset`` (in its order), through one evaluation call
    (seed 0) -> (pred, truth), each (N, n_future, C, H, W) float32, and the last context frame
    (N, 1, C, H, W)."""
    window = n_past + n_future
    steps: list[torch.Tensor] = []  # on_frame runs for t = 1..n_future of each batch in turn
    rollout_and_score(model, dataset_batches(dataset, batch, window), n_past, n_future,
                      samples=1, on_frame=lambda t, p: steps.append(p[:, 0]))
    pred = torch.cat([torch.stack(steps[i:i + n_future], 1)
                      for i in range(0, len(steps), n_future)])
    frames = torch.cat([f for f, _ in dataset_batches(dataset, batch, window)])
    return pred, frames[:, n_past:], frames[:, n_past - 1:n_past]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt", required=True, help="checkpoint written by vidpred train")
    p.add_argument("--data", help="dataset root (default: the one the checkpoint trained on)")
    p.add_argument("--split", default="test", help="train, validate or test (default test)")
    p.add_argument("--n-future", type=int, default=10, help="predicted frames (default 10)")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="a pixel changes when some channel differs from the last context frame "
                        "by more than this (pixels in [0, 1]; default 0.05)")
    p.add_argument("--batch", type=int, default=32, help="sequences per rollout batch")
    args = p.parse_args()

    configure_process()
    model, cfg, _ = load_trained_model(args.ckpt)
    d = cfg.data
    n_past = d.n_past
    dataset = make_dataset(args.data or d.root, d.layout, args.split, n_past + args.n_future,
                           train=False, image_size=d.image_size, image_width=d.image_width)
    pred, truth, last = rollouts(model, dataset, n_past, args.n_future, args.batch)
    changed = (truth - last).abs().amax(2) > args.threshold  # (N, T, H, W)
    se = (pred - truth).pow(2).mean(2)  # per pixel, averaged over channels: (N, T, H, W)

    print(f"{args.ckpt}: {len(dataset)} {args.split} sequences, {n_past} -> {args.n_future}, "
          f"changed = differs from the last context frame by > {args.threshold}")
    print("frame  changed px   MSE changed   MSE static   error share in changed")
    for t in range(args.n_future):
        c, e = changed[:, t], se[:, t]
        inside = float((e * c).sum())
        print(f"{t + 1:5d}  {float(c.float().mean()):10.1%}   {inside / max(int(c.sum()), 1):11.5f}"
              f"   {float((e * ~c).sum()) / max(int((~c).sum()), 1):10.5f}"
              f"   {inside / max(float(e.sum()), 1e-12):22.1%}")
    inside = float((se * changed).sum()) / float(se.sum())
    mask = changed[:, :, None]  # over the channels
    static_exact = torch.where(mask, pred, truth)
    changing_exact = torch.where(mask, truth, pred)
    print(f"all frames: {float(changed.float().mean()):.1%} of pixels change and hold "
          f"{inside:.1%} of the squared error")
    print(f"mean PSNR {float(psnr(pred, truth).mean()):.2f} dB; with the static pixels exact "
          f"{float(psnr(static_exact, truth).mean()):.2f} dB, with the changing pixels exact "
          f"{float(psnr(changing_exact, truth).mean()):.2f} dB")


if __name__ == "__main__":
    main()
