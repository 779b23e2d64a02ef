import csv
import json

import pytest

from vidpred.cli import main
from vidpred.errors import ConfigError
from vidpred.evaluation.compare import compare
from vidpred.sweep import parse_grid
from vidpred.viz import read_log

from .conftest import synthetic_config


def test_sweep_trains_evaluates_and_compares_every_combination(tmp_path, capsys):
    cfg = synthetic_config(iterations=6, iters_per_epoch=3)
    cfg.save(tmp_path / "tiny.yaml")
    args = ["sweep", "--config", str(tmp_path / "tiny.yaml"), "--grid",
            "kl_anneal=cyclical,none", "--out", str(tmp_path / "sweep"), "--samples", "2",
            "--n-future", "6", "--best-by", "ssim", "--quiet"]
    assert main(args) == 0
    runs = sorted(p.name for p in (tmp_path / "sweep").iterdir()
                  if p.is_dir() and p.name != "compare")
    assert runs == ["kl_anneal=cyclical", "kl_anneal=none"]
    betas = {name: [r["beta"] for r in read_log(tmp_path / "sweep" / name / "metrics.jsonl")[0]]
             for name in runs}
    assert betas["kl_anneal=none"] == [cfg.train.beta] * 6
    assert betas["kl_anneal=cyclical"][0] == 0.0
    rows = list(csv.DictReader((tmp_path / "sweep" / "compare" / "results.csv").open()))
    assert [r["label"] for r in rows] == ["kl_anneal=cyclical", "kl_anneal=none"]
    assert all(float(r["test_psnr"]) > 5 and float(r["baseline_psnr"]) > 5 for r in rows)
    for r in rows:  # best of 2 is at least the mean of 2; two samples differ somewhere
        assert float(r["test_ssim"]) >= float(r["test_ssim_sample_mean"])
        assert float(r["diversity"]) > 0 and float(r["kl_per_frame"]) > 0, r
    # evaluated on the asked protocol (trained 2 -> 4), not the config's
    metrics = json.loads((tmp_path / "sweep" / runs[0] / "eval" / "metrics.json").read_text())
    assert metrics["protocol"]["n_future"] == 6 and metrics["protocol"]["best_by"] == "ssim"
    assert len(metrics["psnr_per_frame"]) == 6
    for name in ("curves.png", "psnr_per_frame.png"):
        assert (tmp_path / "sweep" / "compare" / name).stat().st_size > 10_000
    table = (tmp_path / "sweep" / "compare" / "results.md").read_text()
    assert "| kl_anneal=cyclical |" in table and "| kl_anneal=none |" in table
    assert "kl_anneal=none" in capsys.readouterr().out
    # a second call finds the runs finished and does not train them again
    stamp = (tmp_path / "sweep" / runs[0] / "last.ckpt").stat().st_mtime_ns
    assert main(args) == 0
    assert (tmp_path / "sweep" / runs[0] / "last.ckpt").stat().st_mtime_ns == stamp


def test_grid_values_are_checked_before_anything_runs():
    base = synthetic_config()
    assert parse_grid(["tfr_start=1.0,0.5", "model.z_dim=4,8"], base) == [
        ("train.tfr_start", ["1.0", "0.5"]), ("model.z_dim", ["4", "8"])]
    with pytest.raises(ConfigError, match="expected int"):
        parse_grid(["z_dim=4,big"], base)
    with pytest.raises(ConfigError, match="unknown key"):
        parse_grid(["kl_anneel=none"], base)


def test_compare_labels_by_config_difference_and_rejects_non_runs(tmp_path):
    from vidpred.training.loop import train

    for lr in (1e-3, 2e-3):
        train(synthetic_config(iterations=3, iters_per_epoch=3, lr=lr), tmp_path / f"lr{lr}",
              progress=False)
    rows = compare([tmp_path / "lr0.001", tmp_path / "lr0.002"], tmp_path / "cmp")
    assert [r["label"] for r in rows] == ["lr=0.001", "lr=0.002"]
    assert rows[0]["test_psnr"] == ""          # not evaluated: left empty, not invented
    with pytest.raises(ConfigError, match="not a vidpred run directory"):
        compare([tmp_path], tmp_path / "cmp2")
