"""No command deletes or overwrites a file it did not write, and results are replaced only by
results: a user's folder, a run with the user's files beside it, an evaluation's metrics.json
and a planning run's results.json, through the command line."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from vidpred.cli import main


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _commands(tiny_runs, dance_root, out: Path) -> list[list[str]]:
    """train --overwrite, evaluate, plan and predict, each into ``out``."""
    return [
        ["train", "--config", str(out / "config.yaml"), "--out", str(out), "--overwrite", "--quiet"],
        ["evaluate", "--ckpt", str(tiny_runs["push"] / "last.ckpt"), "--samples", "1", "--out",
         str(out), "--quiet"],
        ["plan", "--planner", "random", "--episodes", "1", "--steps", "2", "--no-gifs", "--out",
         str(out), "--quiet"],
        ["predict", "--ckpt", str(tiny_runs["dance"] / "last.ckpt"), "--test-dir",
         str(dance_root / "test"), "--out", str(out), "--quiet"],
    ]


def test_a_users_folder_keeps_every_byte_through_train_evaluate_plan_and_predict(
        tiny_runs, dance_root, tmp_path, capsys, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.yaml").write_text("# my settings\n" +
                                      (tiny_runs["push"] / "config.yaml").read_text())
    (mine / "my_precious.ckpt").write_bytes(os.urandom(4096))
    (mine / "metrics.json").write_text('{"mine": true}\n')
    (mine / "results.json").write_text('{"mine": true}\n')
    (mine / "photos").mkdir()
    (mine / "photos" / "0.png").write_bytes(os.urandom(100))
    before = _files(mine)
    for argv in _commands(tiny_runs, dance_root, mine):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"{mine} holds files vidpred did not write" in err and "Traceback" not in err
        assert _files(mine) == before, argv
    monkeypatch.chdir(mine)  # --out . is the same folder
    assert main(_commands(tiny_runs, dance_root, Path("."))[0]) == 2
    assert _files(mine) == before


def test_in_a_run_directory_only_vidpreds_own_files_are_replaced(tiny_runs, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_runs["push"], run)
    (run / "notes.txt").write_text("the user's\n")
    (run / "keep.ckpt").write_bytes(os.urandom(64))
    theirs = {k: v for k, v in _files(run).items() if k in ("notes.txt", "keep.ckpt")}
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(run),
                 "--overwrite", "--quiet"]) == 0
    assert {k: v for k, v in _files(run).items() if k in theirs} == theirs
    marker = json.loads((run / "vidpred_run.json").read_text())["files"]
    assert "last.ckpt" in marker and "notes.txt" not in marker and "keep.ckpt" not in marker


def test_an_evaluation_is_replaced_only_with_overwrite(tiny_runs, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--ckpt", str(tiny_runs["push"] / "last.ckpt"), "--samples", "1",
            "--gifs", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    first = (out / "metrics.json").read_bytes()
    protocol = json.loads(first)["protocol"]  # the checkpoint's own 2 -> 4, not 2 -> 10
    assert (protocol["n_past"], protocol["n_future"]) == (2, 4)
    assert main(argv + ["--samples", "2"]) == 2
    assert "already holds evaluate results (metrics.json); pass --overwrite" in \
        capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == first
    assert main(argv + ["--samples", "2", "--overwrite"]) == 0
    assert json.loads((out / "metrics.json").read_text())["protocol"]["n_samples"] == 2


def test_planning_results_survive_a_refused_or_failing_second_run(tmp_path, capsys):
    out = tmp_path / "plan"
    argv = ["plan", "--planner", "random", "--episodes", "1", "--steps", "2", "--no-gifs",
            "--quiet", "--out", str(out)]
    assert main(argv) == 0
    first = (out / "results.json").read_bytes()
    assert main(argv + ["--planner", "random,oracle", "--oracle-samples", "-5"]) == 2
    assert main(argv + ["--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "--oracle-samples=-5: must be >= 0" in err
    assert "already holds plan results (results.json); pass --resume to continue them or " \
           "--overwrite" in err
    assert (out / "results.json").read_bytes() == first
    assert main(argv + ["--episodes", "2", "--resume"]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["episodes"][0] == json.loads(first)["episodes"][0] and len(r["episodes"]) == 2
    assert main(argv + ["--seed", "1", "--overwrite"]) == 0
    assert json.loads((out / "results.json").read_text())["settings"]["seed"] == 1
