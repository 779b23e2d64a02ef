"""The in-memory synthetic dataset: determinism, documented shapes, and cost."""
import time

import pytest
import torch

from vidpred.data import CONDITIONS, LAYOUTS, VideoDataset, make_dataset
from vidpred.data.synthetic import MAX_SPEED, SyntheticDataset
from vidpred.errors import DataError


def test_batches_have_documented_shapes_dtypes_and_ranges():
    ds = SyntheticDataset("train", seq_len=12, n_sequences=16)
    assert isinstance(ds, VideoDataset) and len(ds) == ds.n_sequences == 16 and ds.seq_len == 12
    frames, cond = ds.batch(range(16))
    assert frames.shape == (16, 12, 3, 64, 64) and frames.dtype == torch.float32
    assert cond.shape == (16, 12, 7) and cond.dtype == torch.float32
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0
    assert float(frames.max()) == 1.0  # every square has a saturated channel
    wide = SyntheticDataset("test", seq_len=5, n_sequences=3, image_size=32, image_width=48, cond_dim=0)
    f, c = wide.batch([2, 0, 2])
    assert f.shape == (3, 5, 3, 32, 48) and c.shape == (3, 5, 0) and c.dtype == torch.float32
    assert torch.equal(f[0], f[2])


def test_conditions_are_velocity_position_and_zero_padding():
    ds = SyntheticDataset("train", seq_len=30, n_sequences=8, cond_dim=7)
    _, cond = ds.batch(range(8))
    velocity, position, padding = cond[..., :2], cond[..., 2:4], cond[..., 4:]
    assert torch.equal(velocity, velocity[:, :1].expand_as(velocity))  # constant per sequence
    assert float(velocity.abs().max()) <= MAX_SPEED and float(velocity.abs().max()) > 0
    assert 0 <= float(position.min()) and float(position.max()) < 1
    step = torch.remainder(position[:, 1:] - position[:, :-1] - velocity[:, 1:] + 0.5, 1.0) - 0.5
    assert float(step.abs().max()) < 1e-5  # position moves by the velocity (wrapping at 1)
    assert not padding.any()
    short = SyntheticDataset("train", seq_len=30, n_sequences=8, cond_dim=3).batch(range(8))[1]
    assert torch.equal(short, cond[..., :3])


def test_squares_move():
    frames, _ = SyntheticDataset("validate", seq_len=6, n_sequences=4).batch(range(4))
    assert (frames[:, 1:] - frames[:, :-1]).abs().flatten(1).amax(1).min() > 0.1


def test_items_depend_only_on_seed_split_and_index():
    a = SyntheticDataset("train", seq_len=10, n_sequences=20, seed=3)
    b = SyntheticDataset("train", seq_len=10, n_sequences=5, seed=3)
    fa, ca = a.batch([4, 1])
    fb, cb = b.batch([4, 1])
    assert torch.equal(fa, fb) and torch.equal(ca, cb)
    longer = SyntheticDataset("train", seq_len=14, n_sequences=5, seed=3).batch([4, 1])
    assert torch.equal(longer[0][:, :10], fa) and torch.equal(longer[1][:, :10], ca)
    assert not torch.equal(fa[0], fa[1])
    assert not torch.equal(SyntheticDataset("train", 10, 5, seed=4).batch([4, 1])[0], fa)
    val = SyntheticDataset("validate", seq_len=10, n_sequences=5, seed=3).batch([4, 1])
    test = SyntheticDataset("test", seq_len=10, n_sequences=5, seed=3).batch([4, 1])
    assert not torch.equal(val[0], fa) and not torch.equal(test[0], val[0])
    assert torch.equal(SyntheticDataset("val", 10, 5, seed=3).batch([4, 1])[0], val[0])


def test_building_and_batching_takes_milliseconds():
    """Tens of milliseconds on a CPU core; the bound leaves room for a busy machine and still
    catches drawing with Python loops over pixels or frames (seconds)."""
    SyntheticDataset("train", seq_len=12, n_sequences=16).batch(range(16))  # warm-up
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        SyntheticDataset("train", seq_len=12, n_sequences=16).batch(range(16))
        best = min(best, time.perf_counter() - t0)
    assert best < 0.25, best


def test_make_dataset_registers_the_synthetic_layout(tmp_path):
    assert "synthetic" in LAYOUTS and CONDITIONS["synthetic"] == ("vector", 7)
    train = make_dataset(tmp_path / "ignored", "synthetic", "train", 8, train=True)
    val = make_dataset(None, "synthetic", "validate", 8, train=False, image_size=32, image_width=64)
    assert isinstance(train, VideoDataset) and len(train) > len(val)
    assert val.batch([0])[0].shape == (1, 8, 3, 32, 64) and val.batch([0])[1].shape == (1, 8, 7)
    few = make_dataset(None, "synthetic", "validate", 8, train=False, max_sequences=3)
    full = make_dataset(None, "synthetic", "validate", 8, train=False)
    assert len(few) == 3 and torch.equal(few.batch([2])[0], full.batch([2])[0])
    assert not (tmp_path / "ignored").exists()


def test_bad_arguments_are_clear_errors():
    with pytest.raises(DataError, match="unknown split 'dev'"):
        SyntheticDataset("dev", 4)
    with pytest.raises(DataError, match="sizes must be positive"):
        SyntheticDataset("train", 0)
