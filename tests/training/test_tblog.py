"""TensorBoard events beside metrics.jsonl: the same figures, read back with TensorBoard's reader."""
from __future__ import annotations

import pytest

from vidpred.checkpoint import load_checkpoint
from vidpred.training.loop import train
from vidpred.viz import read_log

from ..conftest import synthetic_config

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
QUIET = dict(progress=False, log=lambda *a: None)


def _events(run):
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_scalars_and_prediction_grids_match_the_jsonl_log(tmp_path):
    cfg = synthetic_config()
    train(cfg, tmp_path / "run", **QUIET)
    iters, epochs = read_log(tmp_path / "run" / "metrics.jsonl")
    acc = _events(tmp_path / "run")
    tags = acc.Tags()
    for tag, key in [("train/loss", "loss"), ("train/kl", "kl"), ("schedule/beta", "beta"),
                     ("schedule/tfr", "tfr"), ("schedule/lr", "lr")]:
        got = [(e.step, e.value) for e in acc.Scalars(tag)]
        assert [s for s, _ in got] == [r["iteration"] for r in iters], tag
        assert [v for _, v in got] == pytest.approx([r[key] for r in iters], rel=1e-6), tag
    for tag, key in [("val/psnr", "val_psnr"), ("val/ssim", "val_ssim"),
                     ("speed/frames_per_s", "frames_per_s")]:
        assert [e.value for e in acc.Scalars(tag)] == pytest.approx([r[key] for r in epochs], rel=1e-6)
    assert "val/prediction" in tags["images"]
    images = acc.Images("val/prediction")
    assert [im.step for im in images] == [r["iteration"] for r in epochs]
    # 3 validation sequences x (truth, prediction) rows of 64-pixel frames with 2-pixel gaps
    assert images[0].height == 6 * 64 + 5 * 2 and images[0].width > 64


def test_resumed_run_has_no_doubled_tail(tmp_path):
    cfg = synthetic_config()
    run = tmp_path / "run"
    train(cfg, run, **QUIET)
    assert load_checkpoint(run / "epoch_0000.ckpt")["iteration"] == 4
    (run / "epoch_0000.ckpt").replace(run / "last.ckpt")
    train(cfg, run, resume=True, **QUIET)
    steps = [e.step for e in _events(run).Scalars("train/loss")]
    assert steps == list(range(1, 9))   # iterations 5..8 of the first process were purged


def test_tensorboard_can_be_switched_off(tmp_path):
    train(synthetic_config(tensorboard=False, iterations=2, iters_per_epoch=2), tmp_path / "r", **QUIET)
    assert not list((tmp_path / "r").glob("events.out.tfevents.*"))
