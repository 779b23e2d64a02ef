"""Training-clip augmentation: one transform per clip, labels paired with their frames, draws a
pure function of (seed, iteration) cut to a process's rows, and the config's checks."""
from __future__ import annotations

import pytest
import torch

from vidpred.config import Config, config_problems
from vidpred.data.augment import ClipAugmenter

B, T, H, W = 8, 3, 6, 10


def _clips():
    torch.manual_seed(0)
    frames = torch.rand(B, T, 3, H, W)
    return frames, frames.clone()  # labels equal to their frames: pairing is visible


def test_flip_mirrors_frames_with_their_labels_per_clip():
    frames, labels = _clips()
    out, out_labels = ClipAugmenter("flip", B, seed=0)(frames, labels, iteration=5)
    assert torch.equal(out, out_labels), "every label still lies on its own pixel"
    flipped = [torch.equal(out[i], frames[i].flip(-1)) for i in range(B)]
    kept = [torch.equal(out[i], frames[i]) for i in range(B)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    assert torch.equal(frames, labels), "inputs untouched"


def test_colour_changes_frames_alike_within_a_clip_and_leaves_labels():
    frames, labels = _clips()
    frames[:, 1] = frames[:, 0]  # two equal frames of a clip stay equal: one transform per clip
    out, out_labels = ClipAugmenter("colour", B, seed=0)(frames, labels, iteration=5)
    assert torch.equal(out_labels, labels)
    assert torch.equal(out[:, 0], out[:, 1])
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert (out - frames).abs().amax((1, 2, 3, 4)).min() > 0.01, "every clip changed"
    grey = torch.full((B, T, 3, H, W), 0.5)   # grey stays grey: only brightness moves it
    g, _ = ClipAugmenter("colour", B, seed=0)(grey, None, iteration=5)
    assert torch.allclose(g, g[:, :, :1].expand_as(g), atol=1e-6)


def test_draws_are_a_function_of_seed_and_iteration_cut_to_the_rows():
    frames, labels = _clips()
    aug = ClipAugmenter("flip+colour", B, seed=3)
    full, full_labels = aug(frames, labels, iteration=7)
    again, _ = aug(frames, labels, iteration=7)
    assert torch.equal(full, again)
    assert not torch.equal(full, aug(frames, labels, iteration=8)[0])
    part, part_labels = aug(frames[2:6], labels[2:6], iteration=7, rows=slice(2, 6))
    assert torch.equal(part, full[2:6]) and torch.equal(part_labels, full_labels[2:6])
    same = ClipAugmenter("none", B, seed=3)(frames, labels, iteration=7)
    assert same[0] is frames and same[1] is labels


def test_bad_kinds_and_conditions_are_refused():
    frames, _ = _clips()
    with pytest.raises(ValueError, match="data.augment must be one of"):
        ClipAugmenter("mirror", B, 0)
    with pytest.raises(ValueError, match="vector conditions"):
        ClipAugmenter("flip", B, 0)(frames, torch.rand(B, T, 7), 0)
    cfg = Config()  # the BAIR layout: 7-d action/position vectors
    cfg.data.augment = "flip+colour"
    assert any(p.startswith("data.augment='flip+colour'") and "vectors" in p
               for p in config_problems(cfg))
    cfg.data.augment = "colour"
    assert config_problems(cfg) == []
    cfg.data.augment = "hue"
    assert any(p.startswith("data.augment='hue': choose one of") for p in config_problems(cfg))


def test_flip_takes_empty_condition_vectors_of_action_free_data():
    frames, _ = _clips()
    empty = torch.zeros(B, T, 0)
    out, cond = ClipAugmenter("flip", B, seed=0)(frames, empty, iteration=5)
    assert cond.shape == (B, T, 0) and any(torch.equal(out[i], frames[i].flip(-1)) for i in range(B))
