"""How well a bounded frame memory retrieves the arm, by how its frames are chosen and how many.

For each budget M and each way of choosing M of the training split's frames, the test split's
frames are looked up by end-effector position (as :class:`vidpred.models.memory.FrameMemory`
does) and the retrieved frame is compared with the test frame:

- key distance: from a test frame's end-effector position to the nearest kept one (mean and 95th
  percentile, in the condition's unit, multiplied by 1,000: mm for metres);
- arm IoU: intersection over union of the retrieved frame's arm mask and the test frame's own
  (the simulator's segmentation in ``objects.npz``): what the pasted arm gets right;
- lookup: milliseconds for one demo training step's lookups (16 clips: 11 frames to predict
  and 2 context frames each) on this machine.

Ways of choosing: ``grid`` (:func:`vidpred.models.memory.coverage`, what the model uses),
``farthest`` (farthest-point sampling from a random start: each next frame is the one farthest
from those chosen) and ``random`` (a uniform sample of the frames).

    python benchmarks/memory_coverage.py [--data ~/.cache/vidpred/push-v2-seed0] [--budgets 1024,4096,16384,0]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vidpred.data import make_dataset
from vidpred.models.memory import coverage


def farthest(keys: torch.Tensor, budget: int, seed: int = 0) -> torch.Tensor:
    """Farthest-point sampling: (K, m) -> (budget,) indices."""
    g = torch.Generator().manual_seed(seed)
    chosen = [int(torch.randint(len(keys), (1,), generator=g))]
    near = (keys - keys[chosen[0]]).norm(dim=1)
    for _ in range(budget - 1):
        i = int(near.argmax())
        chosen.append(i)
        near = torch.minimum(near, (keys - keys[i]).norm(dim=1))
    return torch.tensor(sorted(chosen))


def choose(method: str, keys: torch.Tensor, budget: int) -> torch.Tensor:
    if budget == 0 or budget >= len(keys):
        return torch.arange(len(keys))
    if method == "grid":
        return coverage(keys, budget)
    if method == "farthest":
        return farthest(keys, budget)
    return torch.randperm(len(keys), generator=torch.Generator().manual_seed(0))[:budget].sort().values


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(Path.home() / ".cache/vidpred/push-v2-seed0"))
    ap.add_argument("--budgets", default="1024,4096,16384,0",
                    help="frames kept, comma-separated (0 = every frame)")
    ap.add_argument("--methods", default="grid,farthest,random")
    args = ap.parse_args()
    train = make_dataset(args.data, "bair", "train", 30, train=True, progress=False)
    test = make_dataset(args.data, "bair", "test", 30, train=False, progress=False)
    N, L = train.seqs.frames.shape[:2]
    keys = train.seqs.cond[..., -3:].reshape(-1, 3).double()
    center = keys.mean(0)
    keys = (keys - center).float()
    q = (test.seqs.cond[..., -3:].reshape(-1, 3).double() - center).float()
    train_masks = train.arm_masks(range(N))
    test_masks = test.arm_masks(range(len(test.seqs.paths)))
    if train_masks is None or test_masks is None:
        raise SystemExit(f"{args.data}: no objects.npz arm masks (needed for the arm IoU)")
    train_masks, test_masks = train_masks.flatten(0, 1), test_masks.flatten(0, 1)
    print(f"{N * L:,} training frames, {len(q):,} test frames")
    print(f"{'M':>7} {'method':>9} {'kept':>7} {'choose s':>9} {'key mean':>9} {'key p95':>8} "
          f"{'arm IoU':>8} {'lookup ms':>10}")
    for budget in [int(b) for b in args.budgets.split(",")]:
        for method in args.methods.split(","):
            if budget == 0 and method != args.methods.split(",")[0]:
                continue  # every frame: one row
            t0 = time.perf_counter()
            kept = choose(method, keys, budget)
            seconds = time.perf_counter() - t0
            d, nearest = torch.cdist(q, keys[kept]).min(1)
            arm = iou(train_masks[kept[nearest]], test_masks)
            step = torch.randn(16 * (11 + 2), 3) * keys.std(0)  # 16 clips: targets + context
            t0 = time.perf_counter()
            for _ in range(20):
                torch.cdist(step, keys[kept]).argmin(1)
            lookup = (time.perf_counter() - t0) / 20 * 1000
            print(f"{budget or N * L:>7} {method:>9} {len(kept):>7,} {seconds:>9.2f} "
                  f"{d.mean() * 1000:>9.2f} {d.quantile(0.95) * 1000:>8.2f} "
                  f"{arm.mean():>8.3f} {lookup:>10.2f}")


if __name__ == "__main__":
    main()
