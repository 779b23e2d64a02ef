"""Interrupted training, numerical faults and unusable output directories, with real processes."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from vidpred.checkpoint import load_checkpoint
from vidpred.device import process_settings
from vidpred.errors import ConfigError, TrainingError
from vidpred.training.loop import train

from .conftest import synthetic_config


def _config(tmp_path, **train_kw):
    cfg = synthetic_config(iterations=24, iters_per_epoch=4, threads=1, deterministic=True,
                      tfr_decay_start=2, tfr_decay_step=0.25, **train_kw)
    path = tmp_path / "cfg.yaml"
    cfg.save(path)
    return cfg, path


def _start(config_path, run_dir, *extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "vidpred", "train", "--config", str(config_path),
                             "--out", str(run_dir), "--quiet", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_iterations(run_dir, n, proc, timeout=120):
    log = run_dir / "metrics.jsonl"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and sum(1 for _ in log.open()) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stdout.read()}")
        time.sleep(0.02)
    raise AssertionError("training did not reach the iteration in time")


def _weights(run_dir):
    return load_checkpoint(run_dir / "last.ckpt")["model"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _interrupted_run(tmp_path, sig, after_iterations):
    """An uninterrupted reference run (in process) and a `vidpred train` subprocess sent `sig`."""
    cfg, path = _config(tmp_path)
    reference = tmp_path / "reference"
    with process_settings(cfg.train.threads, cfg.train.deterministic):  # as the CLI runs it
        train(cfg, reference, progress=False, log=lambda *a: None)
    run = tmp_path / "run"
    proc = _start(path, run)
    _wait_for_iterations(run, after_iterations, proc)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    return path, reference, run, proc.returncode, out


def _resume_to_the_reference(path, reference, run):
    resumed = _start(path, run, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()
    assert load_checkpoint(run / "last.ckpt")["iteration"] == 24
    _assert_same_weights(_weights(reference), _weights(run))


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    path, reference, run, code, _ = _interrupted_run(tmp_path, signal.SIGKILL, 14)
    assert code == -signal.SIGKILL
    killed_at = load_checkpoint(run / "last.ckpt")["iteration"]
    assert 0 < killed_at < 24
    _resume_to_the_reference(path, reference, run)
    iterations = [json.loads(line)["iteration"] for line in (run / "metrics.jsonl").open()
                  if '"iter"' in line]
    assert iterations == list(range(1, 25))
    # the last keep_checkpoints (2) epochs are kept besides last and best
    assert sorted(p.name for p in run.glob("*.ckpt")) == [
        "best.ckpt", "epoch_0004.ckpt", "epoch_0005.ckpt", "last.ckpt"]


def test_ctrl_c_saves_at_an_iteration_boundary_and_resume_is_exact(tmp_path):
    path, reference, run, code, out = _interrupted_run(tmp_path, signal.SIGINT, 10)
    assert code == 130, out
    state = load_checkpoint(run / "last.ckpt")
    assert f"SIGINT: saved {run / 'last.ckpt'} at iteration {state['iteration']}" in out
    assert "Traceback" not in out
    _resume_to_the_reference(path, reference, run)


@pytest.mark.parametrize("term", ["MSE", "KL"])
def test_non_finite_loss_stops_naming_the_iteration_and_term_and_keeps_the_last_good_checkpoint(
        tmp_path, monkeypatch, term):
    import vidpred.training.loop as vt

    build = vt.build_model

    def faulty_model(cfg):  # a model whose `term` turns NaN on its 7th training step
        model = build(cfg)
        forward, calls = model.forward, [0]

        def forward_with_fault(*args, **kwargs):
            out = forward(*args, **kwargs)
            calls[0] += 1
            if calls[0] == 7:
                bad = out.mse if term == "MSE" else out.kl
                bad[-1] = float("nan")
                out.loss = out.loss + bad.sum()
            return out
        model.forward = forward_with_fault
        return model

    monkeypatch.setattr(vt, "build_model", faulty_model)
    cfg = synthetic_config(iterations=12, iters_per_epoch=4)
    with pytest.raises(TrainingError, match=f"non-finite {term} at iteration 6 "):
        train(cfg, tmp_path / "run", progress=False, log=lambda *a: None)
    state = load_checkpoint(tmp_path / "run" / "last.ckpt")
    assert state["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_unwritable_or_full_output_is_detected_before_training(tmp_path, monkeypatch):
    cfg = synthetic_config(iterations=4)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ConfigError, match="is not writable"):
        train(cfg, tmp_path / "a_file" / "run", progress=False)
    import shutil

    import vidpred.training.runs as runs
    monkeypatch.setattr(runs.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 1024))
    with pytest.raises(ConfigError, match=r"has 0 MiB free, but this run's checkpoints"):
        train(cfg, tmp_path / "full", progress=False)
    assert not (tmp_path / "full" / "metrics.jsonl").exists()
