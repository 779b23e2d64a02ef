"""The dancing-humanoid generator: real MuJoCo rendering into the documented dance layout."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vidpred.data.dance import check_dance
from vidpred.data.sim_dance import DanceSpec, generate_dance_dataset
from vidpred.errors import DataError

from ..conftest import SMALL_DANCE


def test_generator_writes_the_documented_layout(dance_root):
    spec = DanceSpec(**SMALL_DANCE)
    n_train = spec.train * spec.train_len
    assert sorted(p.name for p in (dance_root / "train" / "train_img").glob("*.png")) == \
        sorted(f"frame{k}.png" for k in range(n_train))
    assert len(list((dance_root / "train" / "train_label").glob("*.png"))) == n_train
    assert len(list((dance_root / "val" / "val_img").glob("*.png"))) == spec.val_len
    for i in range(spec.test):
        assert [p.name for p in (dance_root / "test" / "test_img" / str(i)).iterdir()] == ["frame0.png"]
        assert len(list((dance_root / "test" / "test_label" / str(i)).glob("*.png"))) == spec.test_len
        assert len(list((dance_root / "test" / "test_gt" / str(i)).glob("*.png"))) == spec.test_len
    frame = np.asarray(Image.open(dance_root / "train" / "train_img" / "frame5.png"))
    label = np.asarray(Image.open(dance_root / "train" / "train_label" / "frame5.png"))
    assert frame.shape == label.shape == (spec.height, spec.width, 3)
    # the label is a skeleton on black: mostly black, with coloured limbs
    black = (label.max(-1) == 0).mean()
    assert 0.6 < black < 0.99
    # the given first frame of a test dance is its ground-truth frame 0
    gt0 = np.asarray(Image.open(dance_root / "test" / "test_gt" / "0" / "frame0.png")).astype(float)
    given0 = np.asarray(Image.open(dance_root / "test" / "test_img" / "0" / "frame0.png")).astype(float)
    assert np.array_equal(gt0, given0)
    assert check_dance(dance_root) == []
    assert json.loads((dance_root / "vidpred_dataset.json").read_text())["seed"] == spec.seed


def test_dances_move_and_differ(dance_root):
    a = np.asarray(Image.open(dance_root / "train" / "train_label" / "frame0.png")).astype(int)
    b = np.asarray(Image.open(dance_root / "train" / "train_label" / "frame10.png")).astype(int)
    assert np.abs(a - b).sum() > 0, "the pose changes over time"
    # two training dances are different videos (own pose, turn and body colour)
    f0 = np.asarray(Image.open(dance_root / "train" / "train_img" / "frame0.png")).astype(int)
    f1 = np.asarray(Image.open(dance_root / "train" / "train_img" / "frame32.png")).astype(int)
    assert np.abs(f0 - f1).max() > 30


def test_generation_is_deterministic_and_refuses_other_settings(tmp_path, dance_root):
    spec = DanceSpec(**{**SMALL_DANCE, "train": 1, "test": 1})
    root = generate_dance_dataset(tmp_path / "d", spec, workers=1, progress=False)
    for rel in ("train/train_img/frame7.png", "train/train_label/frame7.png",
                "test/test_gt/0/frame20.png"):
        assert (root / rel).read_bytes() == (dance_root / rel).read_bytes(), rel
    with pytest.raises(DataError, match="other settings"):
        generate_dance_dataset(root, DanceSpec(**{**SMALL_DANCE, "seed": 4}), progress=False)


def test_data_dance_command(tmp_path, capsys):
    from vidpred.cli import main

    out = tmp_path / "cli"
    assert main(["data", "dance", "--out", str(out), "--train", "1", "--train-len", "16",
                 "--val-len", "8", "--test", "1", "--test-len", "8", "--height", "32",
                 "--width", "64", "--workers", "1", "--quiet"]) == 0
    assert "wrote 32 frames" in capsys.readouterr().out
    assert check_dance(out) == []
