"""``vidpred demo --video``: your footage converted (cached), trained, evaluated and reported end
to end on a tiny clip; a second demo into the same folder continues; bad combinations stop first."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidpred.cli import main

from .data.video_clips import write_cut_clip

pytest.importorskip("av")
pytest.importorskip("scenedetect")
TINY = ["--set", "train.iterations=4", "--set", "train.iters_per_epoch=2", "--set",
        "train.batch_size=4", "--set", "train.precise_bn_batches=1", "--set", "model.width=4",
        "--set", "train.val_sequences=2", "--samples", "2", "--gifs", "1", "--quiet"]


def test_demo_video_runs_end_to_end_and_again_into_the_same_folder(tmp_path, capsys):
    clip = write_cut_clip(tmp_path / "clip.mp4", (40, 36), width=96, height=64)
    out = tmp_path / "run"
    argv = ["demo", "--video", str(clip), "--out", str(out), "--n-past", "1", "--n-future", "3",
            *TINY]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2 shots, 76 frames kept" in printed and "split by-time" in printed
    m = json.loads((out / "eval" / "metrics.json").read_text())
    assert (m["protocol"]["n_past"], m["protocol"]["n_future"]) == (1, 3)
    assert len(m["psnr_per_frame"]) == 3 and len(m["baseline"]["psnr_per_frame"]) == 3
    assert (out / "report.html").stat().st_size > 1000 and (out / "eval" / "seq_000.gif").exists()
    assert "report.html" in json.loads((out / "vidpred_run.json").read_text())["files"]
    cached = [p for p in Path(__import__("os").environ["VIDPRED_CACHE"]).glob("video-*")]
    assert cached, "the conversion is cached under the cache root"
    # a second demo into the same folder: the finished run is kept, its eval is replaced
    assert main(argv) == 0
    assert "resuming" in capsys.readouterr().out
    assert (out / "eval" / "metrics.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--task", "push", "--video", "{clip}"], "--task push with --video"),
    (["--task", "video"], "--task video needs --video FILE"),
    (["--video", "{clip}", "--samples", "0"], "--samples=0: must be >= 1"),
    (["--video", "{clip}", "--n-future", "0"], "--n-future=0: must be >= 1"),
    (["--video", "{missing}"], "{missing}: no such file"),
    (["--video", "{clip}", "--fixed-scene"], "--fixed-scene is an option of the dance demo"),
])
def test_demo_video_refuses_bad_combinations_before_any_work(tmp_path, capsys, argv, message):
    names = {"clip": str(tmp_path / "c.mp4"), "missing": str(tmp_path / "missing.mp4")}
    (tmp_path / "c.mp4").write_bytes(b"")
    status = main(["demo", *[a.format(**names) for a in argv], "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2 and message.format(**names) in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
