"""Side-by-side picture of several checkpoints' predictions of the same test sequences.

For each chosen test sequence: a row of ground truth, then one row per checkpoint with its best
of ``--samples`` prior samples (by PSNR over the predicted frames), all from the same context
frames and conditions, through the evaluation path (:func:`vidpred.evaluation.scoring.rollout_and_score`,
same seed). The context frames are shown too (columns before the first prediction are the
truth's). Prints each row's PSNR in dB.

    python benchmarks/prediction_strip.py --ckpt old=runs/a/best.ckpt --ckpt new=runs/b/best.ckpt \
        --data ~/.cache/vidpred/push-v2-seed0 --sequences 0,5 --out docs/push_strip.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vidpred.checkpoint import load_trained_model
from vidpred.data import make_dataset
from vidpred.evaluation.metrics import psnr
from vidpred.evaluation.scoring import rollout_and_score
from vidpred.viz import frame_grid


def most_moved(ds, n_past: int, seq_len: int, n: int) -> list[int]:
    """The ``n`` test sequences whose block centroid (simulator ground truth) moves the most
    pixels from the last context frame to the last predicted frame; the block must be visible
    in both."""
    truth = ds.objects(list(range(len(ds))))
    if truth is None:
        raise SystemExit("the test split has no objects.npz ground truth: give --sequences")
    xy, vis = truth.block_xy, truth.block_visible
    moved = (xy[:, seq_len - 1] - xy[:, n_past - 1]).norm(dim=-1)
    moved[~(vis[:, seq_len - 1] & vis[:, n_past - 1])] = -1
    return moved.argsort(descending=True)[:n].tolist()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt", action="append", required=True, metavar="NAME=PATH",
                   help="a checkpoint and the row label it gets (repeatable)")
    p.add_argument("--data", required=True, help="dataset root with a test split")
    p.add_argument("--sequences", default="0,1", help="test sequence indices (comma list)")
    p.add_argument("--most-moved", type=int, default=0, metavar="N",
                   help="instead of --sequences: the N test sequences whose block moves most "
                        "(pixels, block centroid from objects.npz, last context frame to last "
                        "predicted frame), most first")
    p.add_argument("--samples", type=int, default=10, help="prior samples; the best is shown")
    p.add_argument("--out", required=True, help="PNG to write")
    args = p.parse_args()

    picks = [int(i) for i in args.sequences.split(",")]
    rows: dict[str, torch.Tensor] = {}
    for spec in args.ckpt:
        name, path = spec.split("=", 1)
        model, cfg, _ = load_trained_model(path)
        n_past, n_future = cfg.data.n_past, cfg.data.n_future
        ds = make_dataset(cfg.data.root if not args.data else args.data, cfg.data.layout, "test",
                          n_past + n_future, train=False, image_size=cfg.data.image_size)
        if args.most_moved and not rows:
            picks = most_moved(ds, n_past, n_past + n_future, args.most_moved)
            print(f"sequences where the block moves most: {picks}")
        frames, cond = ds.batch(picks)
        frames, cond = frames[:, :n_past + n_future], cond[:, :n_past + n_future]
        _, kept = rollout_and_score(model, [(frames, cond)], n_past, n_future, args.samples,
                                    keep=len(picks), best_by="psnr")
        for k, i in enumerate(picks):
            truth = frames[k]
            best = kept.pred[k][kept.best[k]].float() / 255
            rows.setdefault(f"{i} truth", truth)
            row = torch.cat([truth[:n_past], best])
            rows[f"{i} {name}"] = row
            print(f"sequence {i} {name:12s} PSNR {psnr(best[None], truth[None, n_past:]).mean().item():.2f} dB")
    # group rows by sequence: truth, then each checkpoint
    order = sorted(rows, key=lambda key: (int(key.split()[0]), key.split()[1] != "truth"))
    grid = frame_grid({k: rows[k] for k in order}, max_columns=n_past + n_future)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(grid)).save(args.out)
    print(f"wrote {args.out}: rows {', '.join(order)}")


if __name__ == "__main__":
    main()
