"""Every bad argument through ``vidpred.cli.main``: exit status 2 (usage, config, data,
checkpoint and output-folder problems alike; see :mod:`vidpred.cli`), one ``vidpred: error:``
line naming the option, key or file, no traceback, and no file outside the output folder
changed or created."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from vidpred.cli import main

TRAIN = ["--set", "train.iterations=2", "--set", "train.iters_per_epoch=2"]
CASES = [  # (argv with {placeholders}, what the message must name)
    (["train", "--config", "{binary}", "--out", "{out}"], "{binary}: not a text file"),
    (["train", "--data", "{push}", "--set", "train.iterations=0", "--out", "{out}"],
     "train.iterations"),
    (["train", "--config", "{user}/config.yaml", "--out", "{user}", "--overwrite", *TRAIN],
     "{user} holds files vidpred did not write"),
    (["train", "--config", "{run}/config.yaml", "--out", "{user}", *TRAIN],
     "{user} holds files vidpred did not write"),
    (["train", "--config", "{run}/config.yaml", "--out", "{corrupt_run}", "--overwrite"],
     "{corrupt_run}/vidpred_run.json: unreadable"),
    (["train", "--config", "{run}/config.yaml", "--out", "{run}"], "--resume"),
    (["train", "--config", "{run}/config.yaml", "--out", "{no_last}", "--resume"],
     "{no_last} holds no last.ckpt but other checkpoints"),
    *[(["evaluate", "--ckpt", "{ckpt}", "--out", "{out}", flag, value], f"{flag}={value}")
      for flag, value in (("--samples", "0"), ("--samples", "-1"), ("--n-future", "0"),
                          ("--n-past", "0"), ("--max-sequences", "0"),
                          ("--max-sequences", "-1"), ("--gifs", "-1"))],
    (["evaluate", "--ckpt", "{ckpt}", "--out", "{out}", "--best-by", "x"], "--best-by"),
    (["evaluate", "--ckpt", "{ckpt}", "--out", "{out}", "--split", "tset"], "--split 'tset'"),
    (["evaluate", "--ckpt", "{run}", "--out", "{out}"], "checkpoint {run} is a folder"),
    (["evaluate", "--ckpt", "{dckpt}", "--data", "{push}", "--out", "{out}"],
     "pose_cvae model trained on the dance layout; {push} is a bair-layout folder"),
    (["evaluate", "--ckpt", "{ckpt}", "--data", "{dance}", "--out", "{out}"],
     "svg model trained on the bair layout; {dance} is a dance-layout folder"),
    (["evaluate", "--ckpt", "{ckpt}", "--out", "{file}/out"], "--out {file}/out is not writable"),
    (["evaluate", "--ckpt", "{ckpt}", "--out", "{file}"], "--out {file}: is a file"),
    (["evaluate", "--ckpt", "{ckpt}", "--out", "{user}"], "{user} holds files vidpred did not"),
    *[(["predict", "--ckpt", "{dckpt}", "--test-dir", "{dance}/test", "--out", "{out}", flag,
        value], f"{flag}={value}")
      for flag, value in (("--samples", "0"), ("--gifs", "-1"), ("--seed", "-1"))],
    (["predict", "--ckpt", "{ckpt}", "--test-dir", "{dance}/test", "--out", "{out}"],
     "svg model trained on the bair layout; {dance} is a dance-layout folder"),
    (["predict", "--ckpt", "{ckpt}", "--first-frame", "{dance}/test/test_img/0/frame0.png",
      "--labels", "{dance}/test/test_label/0", "--out", "{out}"],
     "svg model trained on the bair layout; predict rolls out models conditioned on label"),
    (["predict", "--ckpt", "{dckpt}", "--test-dir", "{dance}/test"], "--test-dir needs --out"),
    (["predict", "--ckpt", "{dckpt}", "--test-dir", "{dance}/test", "--out", "{file}/out"],
     "--out {file}/out is not writable"),
    (["predict", "--ckpt", "{dckpt}", "--test-dir", "{dance}/test", "--submission", "{file}"],
     "--submission {file}: exists and is not a submission"),
    *[(["plan", "--planner", "random", "--out", "{out}", flag, value], f"{flag}={value}")
      for flag, value in (("--oracle-samples", "-5"), ("--episodes", "0"), ("--steps", "0"),
                          ("--horizon", "0"), ("--iterations", "0"), ("--elites", "0"),
                          ("--samples", "0"), ("--reach", "-1"), ("--behind", "-1"),
                          ("--seed", "-1"))],
    (["plan", "--planner", "cem", "--out", "{out}", "--reach", "nan", "--ckpt", "{ckpt}"],
     "--reach=nan"),
    (["plan", "--planner", "random", "--out", "{out}", "--samples", "5"],
     "--samples=5: must be >= --elites=10"),
    (["plan", "--planner", "random,frobnicate", "--out", "{out}"], "--planner 'frobnicate'"),
    (["plan", "--planner", "random", "--reach", "300", "--out", "{out}"], "--reach 300"),
    (["plan", "--planner", "cem", "--out", "{out}"], "--ckpt"),
    (["plan", "--planner", "cem", "--ckpt", "{dckpt}", "--out", "{out}"],
     "{dckpt}: planning needs an SVG model"),
    (["plan", "--planner", "random", "--out", "{file}/out"], "--out {file}/out is not writable"),
    (["plan", "--planner", "random", "--out", "{user}"], "{user} holds files vidpred did not"),
    *[(["sweep", "--config", "{run}/config.yaml", "--grid", "kl_anneal=none", "--out", "{out}",
        flag, value], f"{flag}={value}")
      for flag, value in (("--samples", "0"), ("--max-sequences", "0"), ("--n-future", "0"),
                          ("--n-past", "0"))],
    (["sweep", "--config", "{run}/config.yaml", "--grid", "kl_anneal", "--out", "{out}"],
     "--grid expects key=v1,v2"),
    (["sweep", "--config", "{run}/config.yaml", "--grid", "kl_anneal=none", "--out", "{user}"],
     "{user} holds files vidpred did not write"),
    *[(["data", "push", "--out", "{out}", flag, value], f"{flag}={value}")
      for flag, value in (("--train", "-1"), ("--val", "-1"), ("--test", "-1"),
                          ("--seq-len", "1"), ("--seed", "-1"))],
    (["data", "push", "--out", "{out}", "--workers", "0"], "--workers"),
    (["data", "push", "--out", "{user}", "--train", "1", "--val", "1", "--test", "1"],
     "{user} holds files vidpred did not write"),
    (["data", "push", "--out", "{corrupt_data}"], "{corrupt_data}/vidpred_dataset.json: unreadable"),
    *[(["data", "dance", "--out", "{out}", flag, value], f"{flag}={value}")
      for flag, value in (("--train", "0"), ("--train-len", "1"), ("--test-len", "1"),
                          ("--height", "0"), ("--width", "-2"), ("--test", "-1"))],
    (["data", "smmnist", "--out", "{out}", "--digits", "0"], "--digits=0"),
    (["data", "smmnist", "--out", "{out}", "--test", "0"], "--test=0"),
    (["data", "convert-bair", "{bair}", "--out", "{bair}"], "--out {bair}: lies in the download"),
    (["data", "convert-bair", "{bair}", "--out", "{bair}/train/x"], "lies in the download"),
    (["data", "convert-bair", "{bair}", "--out", "{out}", "--validate-files", "-1"],
     "--validate-files"),
    (["data", "convert-bair", "{bair}", "--out", "{corrupt_convert}"],
     "{corrupt_convert}/vidpred_convert.json: unreadable"),
    (["data", "check", "{push}", "--image-size", "0"], "--image-size"),
    (["compare", "{foreign_run}", "--out", "{out}"], "{foreign_run}/metrics.jsonl: line 1"),
    (["compare", "{user}", "--out", "{out}"], "{user} is not a vidpred run directory"),
    (["compare", "{run}", "--out", "{user}"], "{user} holds files vidpred did not write"),
    (["report", "{run}", "--out", "{file}"], "--out {file}: exists and is not a report"),
    (["report", "{run}", "--out", "{user}"], "--out {user}: is a folder"),
    (["report", "{run}", "--out", "{out}/r.html", "--gifs", "-1"], "--gifs=-1"),
]


@pytest.fixture(scope="module")
def world(push_root, dance_root, tiny_runs, tmp_path_factory) -> dict:
    """The inputs every case reads: data, checkpoints, a user's folder, broken files."""
    from .data.bair_records import write_download

    w = tmp_path_factory.mktemp("inputs")
    shutil.copytree(tiny_runs["push"], w / "run")
    shutil.copytree(tiny_runs["dance"], w / "dance_run")
    user = w / "user"
    user.mkdir()
    (user / "config.yaml").write_text("# my own\n" + (w / "run" / "config.yaml").read_text())
    (user / "my_precious.ckpt").write_bytes(os.urandom(256))
    (w / "file").write_text("a user's file\n")
    (w / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    shutil.copytree(w / "run", w / "corrupt_run")
    (w / "corrupt_run" / "vidpred_run.json").write_text('{"format": "vidpred-out')
    shutil.copytree(w / "run", w / "no_last")
    (w / "no_last" / "last.ckpt").unlink()
    shutil.copytree(w / "run", w / "foreign_run")
    (w / "foreign_run" / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n')
    for name, marker in (("corrupt_data", "vidpred_dataset.json"),
                         ("corrupt_convert", "vidpred_convert.json")):
        (w / name).mkdir()
        (w / name / marker).write_text("{not json")
    write_download(w / "bair", {"train/traj_0_to_1.tfrecords": 2, "test/traj_0_to_1.tfrecords": 1},
                   frames=4)
    return {"w": w, "push": push_root, "dance": dance_root, "run": w / "run",
            "ckpt": w / "run" / "last.ckpt", "dckpt": w / "dance_run" / "last.ckpt",
            "user": user, "file": w / "file", "binary": w / "binary.yaml",
            **{k: w / k for k in ("corrupt_run", "foreign_run", "no_last", "corrupt_data",
                                  "corrupt_convert", "bair")}}


def _digest(*roots: Path, skip: Path) -> str:
    """Every path and file's bytes under the roots, except under ``skip``."""
    h = hashlib.sha256()
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p == skip or skip in p.parents:
                continue
            h.update(str(p).encode())
            if p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("argv, named", CASES, ids=[" ".join(c[0][:2] + c[0][-2:]) for c in CASES])
def test_a_bad_argument_is_one_line_naming_it_exit_2_and_changes_nothing(world, argv, named,
                                                                         tmp_path, capsys):
    paths = {**world, "out": tmp_path / "out"}
    roots = (world["w"], world["push"], world["dance"])
    before = _digest(*roots, skip=paths["out"])
    code = main([a.format(**paths) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("vidpred: error:")]
    assert lines and named.format(**paths) in err, err
    assert "Traceback" not in err
    assert _digest(*roots, skip=paths["out"]) == before
