"""How well the block locator (vidpred.vision) agrees with the simulator's segmentation.

On a push dataset written by ``vidpred data push`` (with ``objects.npz`` beside the frames), the
locator reads each sequence's block colour from its frames (or, with ``--context N``, from its
first N frames only) and is compared, frame by frame, with the simulator's block mask:
visibility agreement, the centroid error in pixels where both see the block, and the weight the
locator puts outside the true mask. Prints one block of figures; writes nothing.

    python benchmarks/block_locator.py --data DIR [--split train] [--sequences 200] [--context 2]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from vidpred.data.bair import find_sequences, read_sequence
from vidpred.data.objects import read_objects
from vidpred.vision import BlockLocator, centroid


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="push dataset root with objects.npz files")
    p.add_argument("--split", default="train")
    p.add_argument("--sequences", type=int, default=200)
    p.add_argument("--context", type=int, default=0,
                   help="read the colour from the first N frames only (default: all)")
    args = p.parse_args()
    agree = np.zeros((2, 2), int)  # rows: truth invisible / visible; columns: the locator's
    errors, outside = [], []
    folders = find_sequences(Path(args.data) / args.split)[:args.sequences]
    for folder in folders:
        truth = read_objects(folder)
        if truth is None:
            raise SystemExit(f"{folder}: no objects.npz (generate the data with vidpred data push)")
        frames = torch.from_numpy(read_sequence(folder)[0]).float() / 255
        locator = BlockLocator.read(frames[:args.context] if args.context else frames)
        found = locator.locate(frames)
        seen = torch.from_numpy(truth["block_visible"])
        np.add.at(agree, (seen.long().numpy(), found.visible.long().numpy()), 1)
        mask = torch.from_numpy(truth["block_mask"]).float()
        both = seen & found.visible
        errors += (found.xy - centroid(mask)[0])[both].norm(dim=-1).tolist()
        outside += (locator.weights(frames) * (1 - mask)).sum((-2, -1))[seen].tolist()
    errors = np.array(errors)
    print(f"{len(folders)} sequences, {agree.sum()} frames of {args.data}/{args.split}; colour "
          f"read from {f'the first {args.context} frames' if args.context else 'all frames'}")
    print(f"visibility agrees in {100 * np.trace(agree) / agree.sum():.2f} % of the frames "
          f"(truth visible, locator not: {agree[1, 0]}; locator visible, truth not: {agree[0, 1]})")
    print(f"centroid error where both see the block ({len(errors)} frames): median "
          f"{np.median(errors):.3f} px, 90th percentile {np.percentile(errors, 90):.3f}, "
          f"99th {np.percentile(errors, 99):.3f}, max {errors.max():.3f}")
    print(f"locator weight outside the true mask, per visible frame: mean {np.mean(outside):.3f} "
          f"px, max {np.max(outside):.3f}")


if __name__ == "__main__":
    main()
