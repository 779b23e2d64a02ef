"""A run directory after interruptions: temporary files of a killed save, a torn last log line,
a run killed before its first checkpoint (train --resume, sweep), and one file mode for every
checkpoint."""
from __future__ import annotations

import json
import os

from vidpred.cli import main
from vidpred.rundir import MARKER, RUN, claim_output
from vidpred.training.loop import train
from vidpred.training.runs import resumable
from vidpred.viz import read_log

from ..conftest import synthetic_config

QUIET = dict(progress=False, log=lambda *a: None)


def _killed_before_its_first_checkpoint(run, cfg):
    """What a run killed in its first epoch leaves: the marker, config.yaml, a log line."""
    claim_output(run, RUN, log=None).add("config.yaml", "metrics.jsonl", "last.ckpt")
    cfg.save(run / "config.yaml")
    (run / "metrics.jsonl").write_text('{"kind": "iter", "iteration": 1, "epoch": 0}\n')


def test_every_checkpoint_is_written_atomically_with_one_mode(tmp_path):
    run = tmp_path / "run"
    train(synthetic_config(iterations=8, iters_per_epoch=4), run, **QUIET)
    ckpts = sorted(p.name for p in run.glob("*.ckpt"))
    assert ckpts == ["best.ckpt", "epoch_0000.ckpt", "epoch_0001.ckpt", "last.ckpt"]
    umask = os.umask(0)
    os.umask(umask)
    assert {(run / n).stat().st_mode & 0o777 for n in ckpts} == {0o666 & ~umask}
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    listed = json.loads((run / MARKER).read_text())["files"]
    assert set(ckpts) | {"config.yaml", "metrics.jsonl"} <= set(listed)
    assert any(n.startswith("events.out.tfevents.") for n in listed)


def test_resume_removes_a_killed_saves_temporary_file_and_drops_a_torn_log_line(tmp_path):
    cfg = synthetic_config(iterations=8, iters_per_epoch=4)
    run = tmp_path / "run"
    train(cfg, run, **QUIET)
    (run / "epoch_0000.ckpt").replace(run / "last.ckpt")     # as if stopped at iteration 4
    (run / ".last.ckpt.0a1b2c3d.tmp").write_bytes(os.urandom(4096))  # a save killed mid-write
    log = run / "metrics.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:5]) + "\n" + lines[5][:17])  # a full disk mid-line
    notes = []
    assert train(cfg, run, resume=True, progress=False, log=notes.append).iteration == 8
    assert any("dropped a torn last line" in n for n in notes), notes
    assert not list(run.glob(".*.tmp"))
    iters, epochs = read_log(log)
    assert [r["iteration"] for r in iters] == list(range(1, 9))


def test_best_ckpt_holds_the_weights_alone_and_a_resume_from_it_is_refused_in_one_line(
        tmp_path, capsys):
    from vidpred.checkpoint import load_checkpoint

    cfg = synthetic_config(iterations=4, iters_per_epoch=2)
    run = tmp_path / "run"
    train(cfg, run, **QUIET)
    best, last = load_checkpoint(run / "best.ckpt"), load_checkpoint(run / "last.ckpt")
    assert best["optimizer"] is None and last["optimizer"] is not None
    assert (run / "best.ckpt").stat().st_size < 0.5 * (run / "last.ckpt").stat().st_size
    (run / "best.ckpt").replace(run / "last.ckpt")
    assert main(["train", "--config", str(run / "config.yaml"), "--out", str(run), "--resume",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vidpred: error:") and "without the optimizer's state" in err
    assert len(err.splitlines()) == 1


def test_a_run_killed_before_its_first_checkpoint_starts_afresh_on_resume(tmp_path, capsys):
    cfg = synthetic_config(iterations=4, iters_per_epoch=2)
    run = tmp_path / "run"
    _killed_before_its_first_checkpoint(run, cfg)
    assert resumable(run) and not resumable(tmp_path / "nothing")
    notes = []
    assert train(cfg, run, resume=True, progress=False, log=notes.append).iteration == 4
    assert any("holds no checkpoint" in n and "starting afresh" in n for n in notes), notes
    iters, _ = read_log(run / "metrics.jsonl")
    assert [r["iteration"] for r in iters] == [1, 2, 3, 4]     # the killed run's line is gone


def test_a_sweep_continues_a_run_killed_before_its_first_checkpoint(tmp_path, capsys):
    cfg = synthetic_config(iterations=2, iters_per_epoch=2)
    cfg.save(tmp_path / "tiny.yaml")
    killed = synthetic_config(iterations=2, iters_per_epoch=2)
    killed.train.kl_anneal = "none"
    _killed_before_its_first_checkpoint(tmp_path / "sweep" / "kl_anneal=none", killed)
    assert main(["sweep", "--config", str(tmp_path / "tiny.yaml"), "--grid", "kl_anneal=none",
                 "--out", str(tmp_path / "sweep"), "--samples", "1", "--max-sequences", "2",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "starting afresh" in out
    assert (tmp_path / "sweep" / "kl_anneal=none" / "eval" / "metrics.json").is_file()


def test_compare_drops_a_torn_last_line_with_a_note(tmp_path, capsys):
    run = tmp_path / "run"
    train(synthetic_config(iterations=2, iters_per_epoch=2), run, **QUIET)
    log = run / "metrics.jsonl"
    log.write_text(log.read_text() + '{"kind": "iter", "itera')
    assert main(["compare", str(run), "--out", str(tmp_path / "cmp")]) == 0
    assert "dropped a torn last line" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "results.csv").is_file()
