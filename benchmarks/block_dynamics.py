"""Does the block layer's dynamics predict the pushes? Fitted with and without the gripper seen.

Fits :class:`vidpred.models.block_layer.BlockDynamics` to the training split of a push dataset
written by ``vidpred data push`` (the simulator's block centres in ``objects.npz``), as
``vidpred train`` does before training, once reading the gripper's pixel through the camera
map it fits (the default) and once without it (the inputs of checkpoints written before the
option; the same number of fitting steps). Then, on
the test split's first window of each clip (the true context frames and conditions), compares
the displacement it predicts since the last context frame with the true one, at every predicted
frame where the block is visible there and in the last context frame:

- *pushed*: frames where the true block has moved ``PUSHED_PX`` px or more (as the evaluation's
  pushed figures); how many of them the dynamics moves (a predicted displacement of at least
  the layer's ``STAY`` px; shorter ones the layer does not draw) and the median distance
  between the moved and the true centre, and how far along the true displacement the drawn
  one goes (its projection on it, as a share; median);
- *resting*: the others; how many of them the dynamics moves (a resting block moved is a
  sharp block in the wrong place);
- frames whose predicted centre is more than 2 px off;
- *glimpsed*: clips whose context shows the block only in part (at least the layer's
  ``GLIMPSE``, less than a visible block): the predicted centre against the true one at every
  predicted frame where the block is visible. Prints one block of figures; writes nothing.

    python benchmarks/block_dynamics.py [--data DIR] [--test-data DIR] [--seeds 0,1]
        [--fit-steps N] [--fit-epochs N] [--n-past 2 --n-future 10]
"""
from __future__ import annotations

import argparse
import torch

from vidpred.data.bair import BairDataset
from vidpred.data import cache_root
from vidpred.evaluation.objects import PUSHED_PX
from vidpred.models import block_layer
from vidpred.models.block_layer import CONTEXT, STAY, BlockDynamics, BlockLayer, frame_features
from vidpred.vision import BlockLocator, visible


def centres(split: BairDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's true block centres (S, L, 2) pixels and visibility (S, L); exits naming the
    split where it has none."""
    truth = split.block_centres()
    if truth is None:
        raise SystemExit(f"{split.split_dir}: no block centres (generate with vidpred data push)")
    return truth


def fit(train: BairDataset, gripper: bool, seed: int) -> tuple[BlockLayer, str]:
    truth = centres(train)
    H, W = train.seqs.frames.shape[-2:]
    torch.manual_seed(seed)
    layer = BlockLayer(train.seqs.cond.shape[-1], (H, W))
    layer.dynamics = BlockDynamics(train.seqs.cond.shape[-1], CONTEXT, (H, W), gripper=gripper)
    return layer, layer.fit(train.seqs.frames, train.seqs.cond, truth, train.seq_len, seed)


@torch.no_grad()
def score(layer: BlockLayer, test: BairDataset, n_past: int) -> dict:
    frames = test.seqs.frames[:, :test.seq_len].float() / 255
    cond = test.seqs.cond[:, :test.seq_len].float()
    true_xy, seen = centres(test)
    true_xy, seen = true_xy[:, :test.seq_len], seen[:, :test.seq_len]
    context = frames[:, n_past - CONTEXT:n_past]
    least = float(layer.dynamics.least)
    feats, vis = frame_features(BlockLocator.read(context, least=least).weights(context), least)
    pred, _ = layer.dynamics(feats, vis, cond[:, n_past - CONTEXT:n_past], cond[:, n_past - 1:])
    shift = pred[:, 1:] - pred[:, :1]                               # (S, n_future, 2)
    moves = shift.norm(dim=-1) >= STAY                             # as the layer draws them
    ref = true_xy[:, n_past - 1:n_past]
    true_shift = true_xy[:, n_past:] - ref
    scored = seen[:, n_past:] & seen[:, n_past - 1:n_past]
    pushed = (true_shift.norm(dim=-1) >= PUSHED_PX * frames.shape[-2] / 64) & scored
    resting = scored & ~pushed
    drawn = torch.where(moves[..., None], shift, torch.zeros_like(shift))
    error = (drawn - true_shift).norm(dim=-1)
    # how far along the true push the drawn block goes, as a share of it (1 = all the way)
    along = (drawn * true_shift).sum(-1) / true_shift.norm(dim=-1).square().clamp_min(1e-6)
    # clips whose context glimpses the block but never shows it whole: the predicted centre
    # against the true one wherever the block is visible
    glimpsed = vis.any(1) & ~visible(feats[..., 0], *frames.shape[-2:]).any(1)
    where = glimpsed[:, None] & seen[:, n_past:]
    off = (pred[:, 1:] - true_xy[:, n_past:]).norm(dim=-1)[where]
    return {"glimpsed": int(glimpsed.sum()), "glimpsed_frames": int(where.sum()),
            "glimpsed_error": float(off.median()) if len(off) else float("nan"),
            "glimpsed_off": int((off > 3.0).sum()),
            "frames": int(scored.sum()), "pushed": int(pushed.sum()),
            "pushed_moved": int((moves & pushed).sum()),
            "pushed_error": float(error[pushed].median()) if pushed.any() else float("nan"),
            "pushed_along": float(along[pushed].median()) if pushed.any() else float("nan"),
            "resting": int(resting.sum()),
            "resting_moved": int((moves & resting).sum()),
            "off": int(((error > 2.0) & scored).sum())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None,
                   help="push dataset root with objects.npz files (default: the demo's "
                        "cached data)")
    p.add_argument("--test-data", default=None,
                   help="score on this dataset's test split instead (e.g. another seed's scenes)")
    p.add_argument("--seeds", default="0", help="fit seeds, comma-separated (default 0)")
    p.add_argument("--fit-steps", type=int, default=block_layer.FIT_STEPS,
                   help=f"at most this many fitting steps (default {block_layer.FIT_STEPS}, "
                        "the layer's)")
    p.add_argument("--fit-epochs", type=int, default=block_layer.FIT_EPOCHS,
                   help=f"passes over the training windows, within the step cap (default "
                        f"{block_layer.FIT_EPOCHS}, the layer's)")
    p.add_argument("--n-past", type=int, default=2, help="context frames (default 2)")
    p.add_argument("--n-future", type=int, default=10, help="predicted frames (default 10)")
    args = p.parse_args()
    if args.n_past < CONTEXT:
        p.error(f"--n-past must be at least {CONTEXT}: the dynamics read that many context frames")
    block_layer.FIT_STEPS, block_layer.FIT_EPOCHS = args.fit_steps, args.fit_epochs
    args.data = args.data or str(cache_root() / "push-v2-seed0")
    seq_len = args.n_past + args.n_future
    train = BairDataset(args.data, "train", seq_len)
    test = BairDataset(args.test_data or args.data, "test", seq_len, train=False)
    print(f"dynamics fitted to the {train.n_sequences} training clips of {args.data}, scored on "
          f"the first window of the {test.n_sequences} test clips of {args.test_data or args.data}"
          f" ({args.n_past} -> {args.n_future})")
    for seed in (int(s) for s in args.seeds.split(",")):
        for gripper in (False, True):
            layer, line = fit(train, gripper, seed)
            s = score(layer, test, args.n_past)
            name = "gripper seen" if gripper else "without the gripper"
            print(f"{name}, seed {seed}: {line}")
            print(f"  pushed {s['pushed']} frames: moved in {s['pushed_moved']}, median "
                  f"{s['pushed_error']:.2f} px off, {s['pushed_along']:.0%} of the way; "
                  f"resting {s['resting']}: moved in {s['resting_moved']}; more than 2 px off: "
                  f"{s['off']} of {s['frames']}")
            print(f"  context glimpses the block in {s['glimpsed']} clips: centre median "
                  f"{s['glimpsed_error']:.2f} px off over their {s['glimpsed_frames']} frames "
                  f"that show it, more than 3 px off in {s['glimpsed_off']}")


if __name__ == "__main__":
    main()
