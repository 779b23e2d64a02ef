"""Generated and converted folders are never mixed or written into their source, and `data
check` flags exactly what training and prediction refuse (the same line)."""
from __future__ import annotations

import shutil

from PIL import Image

from vidpred.cli import main
from vidpred.data.dance import check_dance

from ..conftest import tiny_dance_config, tree_digest


def test_an_interrupted_push_is_continued_only_with_its_own_settings(tmp_path, capsys):
    out = tmp_path / "push"
    argv = ["data", "push", "--out", str(out), "--train", "2", "--val", "1", "--test", "1",
            "--seq-len", "4", "--workers", "1", "--quiet"]
    assert main(argv) == 0
    (out / "vidpred_dataset.json").unlink()          # as if killed before its last sequence
    shutil.rmtree(out / "train" / "traj_0_to_255.tfrecords" / "1")
    assert main(["data", "check", str(out), "--quiet"]) == 1
    assert f"{out}: generation was interrupted" in capsys.readouterr().out
    before = tree_digest(out)
    assert main(argv + ["--seed", "1"]) == 2
    assert main(argv[:-3] + ["--train", "4", "--seq-len", "6", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "started by `vidpred data push` with other settings (seed: 0 -> 1)" in err
    assert "seq_len: 4 -> 6" in err and "train: 2 -> 4" in err
    assert tree_digest(out) == before
    assert main(argv) == 0 and main(["data", "check", str(out), "--quiet"]) == 0


def test_data_check_flags_sequences_of_another_length_than_the_generator_wrote(push_root,
                                                                              tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(push_root, root)
    group = root / "train" / "traj_0_to_255.tfrecords"
    extra = group / "6"                                # a sequence of an earlier, shorter run
    shutil.copytree(group / "0", extra)
    for t in range(10, 14):
        (extra / f"{t}.png").unlink()
    for name in ("actions.csv", "endeffector_positions.csv"):
        rows = (extra / name).read_text().splitlines()[:10]
        (extra / name).write_text("\n".join(rows) + "\n")
    assert main(["data", "check", str(root), "--quiet"]) == 1
    assert f"{extra}: 10 frames, but the generator's record in {root} says 14" in \
        capsys.readouterr().out


def test_convert_bair_never_writes_into_its_download(tmp_path, capsys):
    from .bair_records import write_download

    src = tmp_path / "download"
    write_download(src, {"train/traj_0_to_1.tfrecords": 1, "train/traj_2_to_3.tfrecords": 1,
                         "test/traj_0_to_1.tfrecords": 1}, frames=3)
    before = tree_digest(src)
    for out in (src, src / "converted"):
        assert main(["data", "convert-bair", str(src), "--out", str(out), "--quiet"]) == 2
        assert f"--out {out}: lies in the download {src}" in capsys.readouterr().err
    assert tree_digest(src) == before


def _broken(dance_root, tmp_path, how):
    root = tmp_path / "dance"
    shutil.copytree(dance_root, root)
    how(root)
    problems = check_dance(root)
    assert problems, "data check must flag it"
    return root, problems


def _train_error(root, tmp_path, capsys) -> str:
    cfg = tiny_dance_config(root)
    cfg.save(tmp_path / "cfg.yaml")
    assert main(["train", "--config", str(tmp_path / "cfg.yaml"), "--out",
                 str(tmp_path / "run"), "--quiet"]) == 2
    return capsys.readouterr().err


def test_a_frame_of_another_size_is_flagged_and_refused_alike(dance_root, tmp_path, capsys):
    frame = "train/train_img/frame3.png"
    root, problems = _broken(dance_root, tmp_path,
                             lambda r: Image.new("RGB", (80, 40)).save(r / frame))
    assert problems == [f"{root / frame}: image is 80x40, but the first image in this split is "
                        "64x32"]
    assert problems[0] in _train_error(root, tmp_path, capsys)


def test_jpeg_bytes_named_png_are_flagged_and_refused_alike(dance_root, tmp_path, capsys):
    frame = "train/train_img/frame3.png"

    def jpeg(r):
        Image.open(r / frame).convert("RGB").save(r / frame, format="JPEG")
    root, problems = _broken(dance_root, tmp_path, jpeg)
    assert problems == [f"{root / frame}: holds JPEG data, not PNG (a renamed file?); save it "
                        "as a PNG"]
    assert problems[0] in _train_error(root, tmp_path, capsys)


def test_missing_test_labels_are_flagged_and_predict_names_the_same_file(dance_root, tiny_runs,
                                                                        tmp_path, capsys):
    def drop_labels(r):
        for f in (r / "test" / "test_label" / "0").glob("*.png"):
            if f.name != "frame0.png":
                f.unlink()
    root, problems = _broken(dance_root, tmp_path, drop_labels)
    gt = root / "test" / "test_gt" / "0"
    assert f"{gt / 'frame1.png'}: frame without a label (expected " \
           f"{root / 'test' / 'test_label' / '0' / 'frame1.png'})" in problems
    assert main(["predict", "--ckpt", str(tiny_runs["dance"] / "last.ckpt"), "--test-dir",
                 str(root / "test"), "--out", str(tmp_path / "pred"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert any(p in err for p in problems), (err, problems)
    assert not (tmp_path / "pred").exists()            # nothing half-written
