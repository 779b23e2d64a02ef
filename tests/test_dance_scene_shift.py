"""benchmarks/dance_scene_shift.py on an untrained tiny pose CVAE and two tiny generated test
sets: both sets scored through the prediction path, and the same figures from given roots."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from vidpred.checkpoint import save_checkpoint
from vidpred.models import build_model

from .conftest import tiny_dance_config

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "dance_scene_shift.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("dance_scene_shift", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    cfg = tiny_dance_config(Path("unused"))
    path = tmp_path_factory.mktemp("ckpt") / "untrained.ckpt"
    return save_checkpoint(path, config=cfg, model=build_model(cfg))


def test_scores_both_sets_against_copy_first(bench, ckpt, tmp_path, capsys):
    out = tmp_path / "check"
    results = bench.main(["--ckpt", str(ckpt), "--generate", "--test", "1", "--test-len", "5",
                          "--height", "32", "--width", "64", "--workers", "1", "--out", str(out),
                          "--quiet"])
    assert list(results) == ["in distribution", "held-out scenes"]
    for m in results.values():
        assert m.protocol.n_sequences == 1 and m.protocol.scored_frames == 4
        assert np.isfinite(m.best.psnr_mean) and 0 < m.best.ssim_mean <= 1
    # another scene, another copy-first baseline
    a, b = (m.baseline.psnr_mean for m in results.values())
    assert abs(a - b) > 0.1
    printed = capsys.readouterr().out
    assert "frames 1..4" in printed and "held-out scenes" in printed
    for scene in ("varied", "held-out"):
        saved = json.loads((out / "rollouts" / scene / "metrics.json").read_text())
        assert len(saved["psnr_per_frame"]) == 4
    # the generated roots given back as --in-dist / --shifted: the same figures
    again = bench.main(["--ckpt", str(ckpt), "--in-dist", str(out / "data" / "varied"),
                        "--shifted", str(out / "data" / "held-out" / "test"), "--quiet"])
    for label, m in results.items():
        assert again[label].best.psnr_mean == pytest.approx(m.best.psnr_mean)
        assert again[label].baseline.ssim_mean == pytest.approx(m.baseline.ssim_mean)


def test_needs_both_roots_or_generate(bench, ckpt, capsys):
    for argv in ([], ["--in-dist", "x"], ["--generate", "--shifted", "x"]):
        with pytest.raises(SystemExit) as e:
            bench.main(["--ckpt", str(ckpt), *argv])
        assert e.value.code == 2
    assert "--in-dist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    assert "PSNR in dB" in capsys.readouterr().out
