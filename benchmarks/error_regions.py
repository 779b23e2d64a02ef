"""Where a checkpoint's squared error lies: in the pixels that change, or in those that stay.

A pixel of predicted frame t "changes" when the ground truth there differs from the last context
frame by more than ``--threshold`` in some channel (pixels in [0, 1]): the arm, a pushed block
and what they uncover. Everything else is static scene, which a composite model can copy. For
each predicted frame it prints the share of pixels that change, the MSE inside and outside them,
and the share of the frame's squared error that lies inside; then how many dB the mean PSNR would
gain if either region were predicted exactly (the headroom each region holds).

Predictions come from the evaluation path (:func:`vidpred.scoring.rollout_and_score`, seed 0 for
each batch), one prior sample per sequence; on the push data the best and the mean of 10 samples differ
by a few hundredths of a dB, so one sample stands for both.

    python benchmarks/error_regions.py --ckpt runs/demo/best.ckpt [--data DIR] [--split test]
        [--n-future 10] [--threshold 0.05] [--batch 32]
"""
from __future__ import annotations

import argparse

import torch

from vidpred.checkpoint import load_trained_model
from vidpred.data import make_dataset
from vidpred.device import configure_process
from vidpred.scoring import dataset_batches, rollout_and_score


def squared_errors(model, dataset, n_past: int, n_future: int, batch: int):
    """One prior sample per sequence of ``dataset`` (in its order) -> (squared error, truth),
    each (N, n_future, C, H, W) float32, and the last context frame (N, 1, C, H, W)."""
    errors, truths, lasts = [], [], []
    for frames, cond in dataset_batches(dataset, batch, n_past + n_future):
        preds = {}
        rollout_and_score(model, [(frames, cond)], n_past, n_future, samples=1,
                          on_frame=lambda t, p: preds.__setitem__(t, p[:, 0]))
        pred = torch.stack([preds[t] for t in range(1, n_future + 1)], 1)
        truth = frames[:, n_past:n_past + n_future]
        errors.append((pred - truth).pow(2))
        truths.append(truth)
        lasts.append(frames[:, n_past - 1:n_past])
    return torch.cat(errors), torch.cat(truths), torch.cat(lasts)


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
    se, truth, last = squared_errors(model, dataset, n_past, args.n_future, args.batch)
    changed = (truth - last).abs().amax(2) > args.threshold  # (N, T, H, W)
    se = se.mean(2)  # per pixel, averaged over channels: (N, T, H, W)
    n_pixels = se.shape[-2] * se.shape[-1]

    def mean_psnr(frame_mse: torch.Tensor) -> float:  # (N, T) -> mean PSNR in dB
        return float((-10.0 * torch.log10(frame_mse.clamp_min(1e-10))).mean())

    print(f"{args.ckpt}: {len(dataset)} {args.split} sequences, {n_past} -> {args.n_future}, "
          f"changed = differs from the last context frame by > {args.threshold}")
    print("frame  changed px   MSE changed   MSE static   error share in changed")
    for t in range(args.n_future):
        c, e = changed[:, t], se[:, t]
        inside = float((e * c).sum())
        print(f"{t + 1:5d}  {float(c.float().mean()):10.1%}   {inside / max(int(c.sum()), 1):11.5f}"
              f"   {float((e * ~c).sum()) / max(int((~c).sum()), 1):10.5f}"
              f"   {inside / max(float(e.sum()), 1e-12):22.1%}")
    frame_mse = se.mean((2, 3))
    static_exact = (se * changed).sum((2, 3)) / n_pixels
    changed_exact = (se * ~changed).sum((2, 3)) / n_pixels
    inside = float((se * changed).sum()) / float(se.sum())
    print(f"all frames: {float(changed.float().mean()):.1%} of pixels change and hold "
          f"{inside:.1%} of the squared error")
    print(f"mean PSNR {mean_psnr(frame_mse):.2f} dB; with the static pixels exact "
          f"{mean_psnr(static_exact):.2f} dB, with the changing pixels exact "
          f"{mean_psnr(changed_exact):.2f} dB")


if __name__ == "__main__":
    main()
