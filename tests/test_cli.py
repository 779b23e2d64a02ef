import shutil

from PIL import Image

from vidpred.cli import main

from .conftest import tree_digest


def test_data_check_lists_every_problem_and_sets_the_exit_status(push_root, tmp_path, capsys):
    assert main(["data", "check", str(push_root), "--quiet"]) == 0
    assert "no problems found" in capsys.readouterr().out

    root = tmp_path / "data"
    shutil.copytree(push_root, root)
    seq = root / "train" / "traj_0_to_255.tfrecords"
    (seq / "0" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")                 # corrupt
    Image.new("L", (64, 64)).save(seq / "1" / "2.png")                               # wrong mode
    Image.new("RGB", (48, 64)).save(seq / "1" / "4.png")                             # wrong size
    (seq / "2" / "7.png").unlink()                                                   # gap
    (seq / "3" / "actions.csv").write_text("1,2,3,4\n" * 13)                         # 13 rows
    (seq / "4" / "endeffector_positions.csv").write_text("1,2,x\n" + "1,2,3\n" * 13)  # not numeric
    (seq / "5" / "endeffector_positions.csv").unlink()                               # missing
    for folder in (root / "test" / "traj_0_to_255.tfrecords").iterdir():             # empty split
        shutil.rmtree(folder)
    digest = tree_digest(root)

    assert main(["data", "check", str(root), "--quiet"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    expected = [(seq / "0" / "3.png", "unreadable or truncated PNG"),
                (seq / "1" / "2.png", "image mode is L, expected 8-bit RGB"),
                (seq / "1" / "4.png", "image is 48x64, expected 64x64"),
                (seq / "2" / "7.png", "missing frame"),
                (seq / "3" / "actions.csv", "13 rows, expected 14"),
                (seq / "4" / "endeffector_positions.csv", "line 1 is not numeric"),
                (seq / "5" / "endeffector_positions.csv", "missing"),
                (root / "test", "empty split")]
    assert len(lines) == len(expected), lines
    for path, message in expected:
        assert any(line.startswith(f"{path}:") and message in line for line in lines), (path, lines)
    assert tree_digest(root) == digest


def test_training_fails_with_the_same_message_as_data_check(push_root, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(push_root, root)
    bad = root / "train" / "traj_0_to_255.tfrecords" / "2" / "actions.csv"
    bad.write_text("0,0,0,0\n" * 3)
    assert main(["data", "check", str(root), "--quiet"]) == 1
    check_line = capsys.readouterr().out.strip()
    assert main(["train", "--data", str(root), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert check_line in err and "Traceback" not in err
