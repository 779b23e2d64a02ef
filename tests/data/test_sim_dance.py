"""The dancing-humanoid generator: real MuJoCo rendering into the documented dance layout."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidpred.data.dance import check_dance
from vidpred.data.sim_dance import DanceSpec, generate_dance_dataset
from vidpred.errors import DataError

from ..conftest import SMALL_DANCE

# frames 0-3 (top row) and labels 0-3 (bottom row) of training dance 0, seed 3, at 32 x 64,
# rendered by the generator before scenes were varied
FIXED_SCENE_PNG = Path(__file__).parent / "dance_fixed_scene.png"


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(int)


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
    record = json.loads((dance_root / "vidpred_dataset.json").read_text())
    assert record["seed"] == spec.seed and record["scene"] == "varied"


def test_dances_move_and_differ(dance_root):
    a = np.asarray(Image.open(dance_root / "train" / "train_label" / "frame0.png")).astype(int)
    b = np.asarray(Image.open(dance_root / "train" / "train_label" / "frame10.png")).astype(int)
    assert np.abs(a - b).sum() > 0, "the pose changes over time"
    # two training dances are different videos (own pose, turn and body colour)
    f0 = np.asarray(Image.open(dance_root / "train" / "train_img" / "frame0.png")).astype(int)
    f1 = np.asarray(Image.open(dance_root / "train" / "train_img" / "frame32.png")).astype(int)
    assert np.abs(f0 - f1).max() > 30


def test_generation_with_varied_scenes_is_deterministic_and_refuses_other_settings(tmp_path,
                                                                                  dance_root):
    spec = DanceSpec(**{**SMALL_DANCE, "train": 1, "test": 1})
    root = generate_dance_dataset(tmp_path / "d", spec, workers=1, progress=False)
    for rel in ("train/train_img/frame7.png", "train/train_label/frame7.png",
                "test/test_gt/0/frame20.png"):
        assert (root / rel).read_bytes() == (dance_root / rel).read_bytes(), rel
    with pytest.raises(DataError, match="other settings"):
        generate_dance_dataset(root, DanceSpec(**{**SMALL_DANCE, "seed": 4}), progress=False)


def test_the_fixed_scene_reproduces_the_images_from_before_scenes_were_varied(tmp_path):
    spec = DanceSpec(**{**SMALL_DANCE, "train": 1, "train_len": 4, "val_len": 2, "test": 0,
                        "scene": "fixed"})
    root = generate_dance_dataset(tmp_path / "fixed", spec, workers=1, progress=False)
    reference = _png(FIXED_SCENE_PNG)
    h, w = spec.height, spec.width
    for t in range(4):
        frame = _png(root / "train" / "train_img" / f"frame{t}.png")
        label = _png(root / "train" / "train_label" / f"frame{t}.png")
        # a tolerance for another OpenGL backend's rounding (a GPU driver's EGL differs by a level
        # or two on average); a changed floor, light, camera or body is tens of levels off
        assert np.abs(frame - reference[:h, t * w:(t + 1) * w]).mean() < 3.0, t
        assert np.abs(label - reference[h:, t * w:(t + 1) * w]).mean() < 3.0, t
    # the record of a fixed-scene dataset is the one written before scenes were varied, so such
    # a dataset is reused; varied scenes never take it for theirs
    assert "scene" not in json.loads((root / "vidpred_dataset.json").read_text())
    with pytest.raises(DataError, match="other settings"):
        generate_dance_dataset(root, DanceSpec(**{**asdict(spec), "scene": "varied"}),
                               progress=False)


def test_held_out_scenes_change_only_the_test_dances(tmp_path, dance_root):
    spec = DanceSpec(**{**SMALL_DANCE, "train": 1, "test": 1, "scene": "held-out"})
    root = generate_dance_dataset(tmp_path / "held_out", spec, workers=1, progress=False)
    for rel in ("train/train_img/frame7.png", "val/val_img/frame3.png"):
        assert (root / rel).read_bytes() == (dance_root / rel).read_bytes(), rel
    varied, held = (_png(r / "test" / "test_gt" / "0" / "frame0.png") for r in (dance_root, root))
    assert np.abs(varied - held).mean() > 10
    # the body is smaller and further away: its skeleton covers fewer pixels
    lit = [(_png(r / "test" / "test_label" / "0" / "frame0.png").max(-1) > 0).sum()
           for r in (dance_root, root)]
    assert lit[1] < 0.8 * lit[0]
    assert check_dance(root) == []


def test_an_unknown_scene_is_refused(tmp_path):
    with pytest.raises(DataError, match="'indoor' is not one of varied, fixed, held-out"):
        generate_dance_dataset(tmp_path / "x", DanceSpec(scene="indoor"), progress=False)


def test_data_dance_command(tmp_path, capsys):
    from vidpred.cli import main

    out = tmp_path / "cli"
    assert main(["data", "dance", "--out", str(out), "--train", "1", "--train-len", "16",
                 "--val-len", "8", "--test", "1", "--test-len", "8", "--height", "32",
                 "--width", "64", "--workers", "1", "--quiet"]) == 0
    assert "wrote 32 frames" in capsys.readouterr().out
    assert check_dance(out) == []
    held = tmp_path / "held"
    assert main(["data", "dance", "--out", str(held), "--train", "1", "--train-len", "2",
                 "--val-len", "2", "--test", "1", "--test-len", "4", "--height", "32",
                 "--width", "64", "--workers", "1", "--quiet", "--scene", "held-out"]) == 0
    assert "test dances in held-out scenes" in capsys.readouterr().out
    assert json.loads((held / "vidpred_dataset.json").read_text())["scene"] == "held-out"
    assert main(["demo", "--fixed-scene", "--out", str(tmp_path / "demo")]) == 2
    assert "--fixed-scene is an option of the dance demo" in capsys.readouterr().err


def test_test_dances_carry_the_dancers_mask_and_the_scene_without_it(dance_root):
    spec = DanceSpec(**SMALL_DANCE)
    gt = dance_root / "test" / "test_gt" / "1"
    with np.load(gt / "objects.npz") as z:
        mask, background = z["dancer_mask"], z["background"]
    assert mask.shape == (spec.test_len, spec.height, spec.width) and mask.dtype == bool
    assert background.shape == (spec.height, spec.width, 3) and background.dtype == np.uint8
    assert not (dance_root / "train" / "train_img" / "objects.npz").exists()
    for t in (0, spec.test_len - 1):
        frame = _png(gt / f"frame{t}.png")
        differs = np.abs(frame - background).max(-1) > 0
        # outside the dancer the frame is the scene without it, pixel for pixel
        assert not (differs & ~mask[t]).any()
        assert (differs & mask[t]).sum() > 0.9 * mask[t].sum() > 0
    assert (mask[0] != mask[-1]).any()  # the dancer moves
