"""GIF of several prior samples of one test sequence side by side with the truth.

Where the future is uncertain (an action-free model), the samples should differ: one pushes the
block, another moves the arm elsewhere. The samples come from the evaluation path
(:func:`vidpred.evaluation.scoring.rollout_and_score`, seed 0), ordered by mean SSIM over the predicted
frames, best first (SVG's ``--best-by ssim`` choice); each panel is titled with its PSNR (dB)
and SSIM. Prints the same figures.

    python benchmarks/samples_gif.py --ckpt runs/af/best.ckpt --sequence 0 --samples 20 \
        --show 4 --n-future 28 --out docs/action_free_samples.gif
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vidpred.checkpoint import load_trained_model
from vidpred.data import make_dataset
from vidpred.evaluation.metrics import psnr, ssim
from vidpred.evaluation.scoring import rollout_and_score
from vidpred.viz import save_prediction_gif


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt", required=True, help="checkpoint written by vidpred train")
    p.add_argument("--data", help="dataset root with a test split (default: the checkpoint's)")
    p.add_argument("--sequence", type=int, default=0, help="test sequence index (default 0)")
    p.add_argument("--samples", type=int, default=20, help="prior samples drawn (default 20)")
    p.add_argument("--show", type=int, default=4, help="samples shown, best SSIM first, the "
                   "last panel the worst (default 4)")
    p.add_argument("--n-future", type=int, help="predicted frames (default: the config's)")
    p.add_argument("--out", required=True, help="GIF to write")
    args = p.parse_args()

    model, cfg, _ = load_trained_model(args.ckpt)
    n_past = cfg.data.n_past
    n_future = args.n_future or cfg.data.n_future
    ds = make_dataset(args.data or cfg.data.root, cfg.data.layout, "test", n_past + n_future,
                      train=False, image_size=cfg.data.image_size)
    frames, cond = ds.batch([args.sequence])
    frames = frames[:, :n_past + n_future]
    cond = None if cond is None else cond[:, :n_past + n_future]
    _, kept = rollout_and_score(model, [(frames, cond)], n_past, n_future, args.samples, keep=1)
    truth = frames[0]
    preds = kept.pred[0].float() / 255  # (S, n_future, C, H, W)
    target = truth[None, n_past:].expand_as(preds)
    p_db = psnr(preds, target).mean(1)
    s = ssim(preds, target).mean(1)
    order = torch.argsort(s, descending=True).tolist()
    shown = order[:max(args.show - 1, 1)] + ([order[-1]] if args.show > 1 else [])
    panels = {}
    for rank, k in enumerate(shown):
        label = "worst" if rank == len(shown) - 1 and args.show > 1 else f"#{rank + 1}"
        panels[f"{label} {p_db[k]:.1f} dB {s[k]:.2f}"] = torch.cat([truth[:n_past], preds[k]])
    print(f"sequence {args.sequence}: {args.samples} samples, PSNR {p_db.min():.2f}..{p_db.max():.2f}"
          f" dB (mean {p_db.mean():.2f}), SSIM {s.min():.3f}..{s.max():.3f} (mean {s.mean():.3f})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_prediction_gif(args.out, truth, panels, n_past)
    print(f"wrote {args.out}: ground truth | {' | '.join(panels)}")


if __name__ == "__main__":
    main()
