import numpy as np
import pytest
import torch
from PIL import Image

from vidpred.cli import main
from vidpred.data.dance import DanceDataset, check_dance
from vidpred.errors import DataError

from ..conftest import tree_digest


def _png(path, size=(64, 32), mode="RGB", value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def _clean_dance(root, n=12):
    for split in ("train", "val"):
        for i in range(n):
            _png(root / split / f"{split}_img" / f"frame{i}.png", value=(i, 0, 0))
            _png(root / split / f"{split}_label" / f"frame{i}.png")
    for s in range(2):
        _png(root / "test" / "test_img" / str(s) / "frame0.png")
        for i in range(n):
            _png(root / "test" / "test_label" / str(s) / f"frame{i}.png")
    return root


def test_clean_dance_layout_has_no_problems(tmp_path, capsys):
    root = _clean_dance(tmp_path / "d")
    assert check_dance(root) == []
    assert main(["data", "check", str(root), "--layout", "dance", "--quiet"]) == 0


def test_dance_problems_are_all_listed_naming_the_files(tmp_path, capsys):
    root = _clean_dance(tmp_path / "d")
    train_img, train_label = root / "train" / "train_img", root / "train" / "train_label"
    (train_label / "frame3.png").unlink()                                # frame without label
    _png(train_label / "frame20.png")                                    # label without frame
    (train_img / "frame5.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")  # unreadable
    _png(root / "val" / "val_img" / "frame7.png", size=(32, 16))        # wrong size in its split
    _png(root / "val" / "val_label" / "frame2.png", mode="L")            # wrong mode
    (root / "test" / "test_label" / "1" / "frame4.png").unlink()         # gap in test labels
    _png(root / "test" / "test_img" / "1" / "frame30.png")               # test frame, no label
    digest = tree_digest(root)

    assert main(["data", "check", str(root), "--layout", "dance", "--quiet"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    expected = [(train_img / "frame3.png", "frame without a label"),
                (train_label / "frame20.png", "label without a frame"),
                (train_img / "frame5.png", "unreadable or truncated PNG"),
                (root / "val" / "val_img" / "frame7.png", "image is 32x16, but the first image"),
                (root / "val" / "val_label" / "frame2.png", "image mode is L"),
                (root / "test" / "test_label" / "1", "frame number 4 missing"),
                (root / "test" / "test_img" / "1" / "frame30.png", "frame without a label")]
    for path, message in expected:
        assert any(line.startswith(f"{path}:") and message in line for line in lines), (path, lines)
    assert len(lines) == len(expected), lines
    assert tree_digest(root) == digest


def test_empty_and_missing_dance_splits(tmp_path):
    (tmp_path / "d" / "train" / "train_img").mkdir(parents=True)
    (tmp_path / "d" / "train" / "train_label").mkdir(parents=True)
    (tmp_path / "d" / "test").mkdir()
    problems = check_dance(tmp_path / "d")
    assert f"{tmp_path / 'd' / 'train' / 'train_img'}: no PNG files (empty folder)" in problems
    assert any(p.startswith(f"{tmp_path / 'd' / 'test'}: empty split") for p in problems)
    assert check_dance(tmp_path / "nothing") == [f"{tmp_path / 'nothing'}: dataset root does not exist"]


# ---- the loader ----------------------------------------------------------------------------
def _write_pair_folder(root, split, numbers, size=(16, 32)):
    from PIL import Image

    for kind in ("img", "label"):
        d = root / split / f"{split}_{kind}"
        d.mkdir(parents=True, exist_ok=True)
        for n in numbers:
            arr = np.full((*size, 3), n % 256, np.uint8)
            Image.fromarray(arr).save(d / f"frame{n}.png")


def test_loader_pairs_and_sorts_numerically(tmp_path):
    _write_pair_folder(tmp_path, "train", range(12))
    ds = DanceDataset(tmp_path, "train", seq_len=4, frame_size=(16, 32))
    assert len(ds) == 3  # 12 frames -> 3 non-overlapping clips of 4
    frames, labels = ds.batch([2])
    assert frames.shape == labels.shape == (1, 4, 3, 16, 32)
    # frame10 comes after frame9 (numeric, not lexicographic order): clip 2 = frames 8..11
    assert [round(float(v) * 255) for v in frames[0, :, 0, 0, 0]] == [8, 9, 10, 11]
    assert frames.dtype == torch.float32 and float(frames.max()) <= 1.0
    ds5 = DanceDataset(tmp_path, "train", seq_len=5, frame_size=(8, 16))
    assert len(ds5) == 2 and ds5.batch([0])[0].shape == (1, 5, 3, 8, 16)  # resized


def test_loader_names_both_paths_of_an_unpaired_frame(tmp_path):
    _write_pair_folder(tmp_path, "train", range(8))
    (tmp_path / "train" / "train_label" / "frame3.png").unlink()
    with pytest.raises(DataError) as e:
        DanceDataset(tmp_path, "train", seq_len=4, frame_size=(16, 32))
    msg = str(e.value)
    assert str(tmp_path / "train" / "train_img" / "frame3.png") in msg
    assert str(tmp_path / "train" / "train_label" / "frame3.png") in msg


def test_loader_serves_val_clip_and_test_sequences(dance_root):
    val = DanceDataset(dance_root, "validate", frame_size=(32, 64))
    assert len(val) == 1 and val.batch([0])[0].shape == (1, 40, 3, 32, 64)
    test = DanceDataset(dance_root, "test", frame_size=(32, 64))
    assert len(test) == 2
    seq = test.tests[1]
    assert seq.first_frame.shape == (3, 32, 64) and seq.labels.shape == (24, 3, 32, 64)
    assert torch.equal(seq.truth[0], seq.first_frame)
    assert test.seq_len == 24 and test.n_sequences == 2
    frames, labels = test.batch([1, 0])
    assert frames.shape == labels.shape == (2, 24, 3, 32, 64) and frames.dtype == torch.float32
    assert torch.equal(frames[0], seq.truth.float() / 255)
    assert torch.equal(labels[0], seq.labels.float() / 255)


def test_test_sequences_without_ground_truth_are_refused_as_a_batch(tmp_path):
    root = _clean_dance(tmp_path / "d")
    test = DanceDataset(root, "test", frame_size=(16, 32))
    assert len(test) == 2 and test.tests[0].truth is None and test.tests[0].labels.shape[0] == 12
    with pytest.raises(DataError, match=r"no ground truth .* for sequence\(s\) 1; score them"):
        test.batch([1])


def test_badly_named_and_duplicate_files_are_problems_naming_them(tmp_path):
    root = _clean_dance(tmp_path / "d")
    train_img = root / "train" / "train_img"
    _png(train_img / "img_3.png")                                         # not a frame name
    _png(train_img / "3.png")                                             # frame3.png's number
    lines = check_dance(root)
    assert lines == [f"{train_img / 'frame3.png'}: frame number 3 also used by 3.png",
                     f"{train_img / 'img_3.png'}: not a frame file name (expected <n>.png or "
                     "frame<n>.png, n an integer)"], lines
    with pytest.raises(DataError, match=r"frame3\.png: frame number 3 also used by 3\.png \(and 1 more"):
        DanceDataset(root, "train", seq_len=4, frame_size=(16, 32))
