import numpy as np
import pytest
import torch

from vidpred.cli import main
from vidpred.config import Config
from vidpred.data.smmnist import (
    CANVAS,
    DIGIT,
    SMMNISTDataset,
    SMMNISTSpec,
    generate_smmnist,
    load_digits,
    render_sequence,
)
from vidpred.errors import DataError
from vidpred.training.loop import train


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    return generate_smmnist(tmp_path_factory.mktemp("mnist"), SMMNISTSpec(test=6, test_len=12, seed=3))


def test_digits_are_real_mnist_resized_to_32():
    digits = load_digits()
    assert digits.shape == (5000, DIGIT, DIGIT) and digits.dtype == np.uint8
    assert digits.max() == 255 and 0.05 < (digits > 128).mean() < 0.4   # strokes on black


def test_motion_stays_in_the_canvas_within_the_speed_limit():
    digits = load_digits()[:10]
    rng = np.random.default_rng(0)
    seq = render_sequence(rng, digits, 40, n_digits=1)
    assert seq.shape == (40, CANVAS, CANVAS)
    ys, xs = [], []
    for frame in seq:
        rows, cols = np.nonzero(frame)
        ys.append(rows.mean())
        xs.append(cols.mean())
    steps = np.abs(np.diff(xs)).max(), np.abs(np.diff(ys)).max()
    assert max(steps) <= 4.0 + 1e-6 and max(steps) > 0.5


def test_test_set_is_deterministic_per_seed_and_disjoint_from_training_digits(mnist_root, tmp_path):
    again = generate_smmnist(tmp_path / "again", SMMNISTSpec(test=6, test_len=12, seed=3))
    a, b = (np.load(r / "test.npz")["frames"] for r in (mnist_root, again))
    assert a.shape == (6, 12, 64, 64) and np.array_equal(a, b)
    other = np.load(generate_smmnist(tmp_path / "s4", SMMNISTSpec(test=6, test_len=12, seed=4))
                    / "test.npz")["frames"]
    assert not np.array_equal(a, other)
    test = SMMNISTDataset(mnist_root, "test", 10, train=False)
    frames, cond = test.batch([0, 5])
    assert frames.shape == (2, 10, 1, 64, 64) and cond.shape == (2, 10, 0)
    train_set = SMMNISTDataset(mnist_root, "train", 10)
    f1, _ = train_set.batch([7, 8])
    f2, _ = train_set.batch([7])
    assert torch.equal(f1[:1], f2) and not torch.equal(f1[0], f1[1])
    with pytest.raises(DataError, match="12 frames per sequence, but windows of 30"):
        SMMNISTDataset(mnist_root, "test", 30, train=False)


def test_unconditional_grayscale_svg_trains_and_evaluates(mnist_root, tmp_path):
    cfg = Config().apply_overrides([
        f"data.root={mnist_root}", "data.layout=smmnist", "data.n_past=3", "data.n_future=4",
        "model.channels=1", "model.cond_dim=0", "model.output=sigmoid", "model.width=4",
        "model.g_dim=16", "model.z_dim=4", "model.rnn_size=32", "train.iterations=4",
        "train.iters_per_epoch=2", "train.batch_size=3", "train.val_sequences=3"])
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.iteration == 4 and 3 < result.best_psnr < 40
    assert main(["evaluate", "--ckpt", str(tmp_path / "run" / "best.ckpt"), "--split", "test",
                 "--n-past", "3", "--n-future", "9", "--samples", "2", "--gifs", "1",
                 "--out", str(tmp_path / "eval"), "--quiet"]) == 0
    assert (tmp_path / "eval" / "seq_000.gif").exists()
