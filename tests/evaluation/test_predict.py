"""Pose CVAE end to end on generated dance data: a few training iterations, then `vidpred
predict` (one sequence with ground truth, a whole test split, the Kaggle CSV)."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from vidpred.cli import main
from vidpred.training.loop import train

from ..conftest import tiny_dance_config


@pytest.fixture(scope="module")
def dance_run(dance_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("dance_run")
    cfg = tiny_dance_config(dance_root)
    result = train(cfg, run, progress=False, log=lambda *a: None)
    assert result.iteration == 4
    return run


def test_training_logs_finite_losses_and_validates_the_whole_val_clip(dance_run):
    lines = [json.loads(x) for x in (dance_run / "metrics.jsonl").read_text().splitlines()]
    iters = [x for x in lines if x["kind"] == "iter"]
    epochs = [x for x in lines if x["kind"] == "epoch"]
    assert len(iters) == 4 and len(epochs) == 2
    assert all(np.isfinite(x["loss"]) and x["kl"] >= 0 for x in iters)
    assert all(5.0 < e["val_psnr"] < 60.0 for e in epochs)
    assert (dance_run / "best.ckpt").exists()


def test_predict_one_sequence_with_ground_truth(dance_run, dance_root, tmp_path):
    seq = dance_root / "test"
    out = tmp_path / "pred"
    assert main(["predict", "--ckpt", str(dance_run / "best.ckpt"),
                 "--first-frame", str(seq / "test_img" / "0" / "frame0.png"),
                 "--labels", str(seq / "test_label" / "0"), "--gt", str(seq / "test_gt" / "0"),
                 "--out", str(out), "--samples", "2", "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["psnr_per_frame"]) == 23  # frames 1..23 of 24 labels
    p = m["protocol"]
    assert p["scored_frames"] == 23 and p["n_samples"] == 2 and p["n_past"] == 1
    assert p["baseline"] == "copy last context frame" and p["data_range"] == 1.0
    assert np.isfinite(m["psnr_mean"]) and 0 < m["ssim_mean"] <= 1
    assert m["psnr_mean"] >= m["sample_mean"]["psnr_mean"] - 1e-6  # best of N >= mean
    base = m["baseline"]["psnr_mean"]
    assert 10 < base < 60
    for k in range(2):
        files = sorted((out / f"sample_{k}").glob("*.png"))
        assert len(files) == 24
        assert np.asarray(Image.open(out / f"sample_{k}" / "frame23.png")).shape == (32, 64, 3)
    gif = Image.open(out / "rollout.gif")
    assert gif.n_frames == 24


def test_predict_test_split_writes_the_kaggle_submission(dance_run, dance_root, tmp_path):
    sub = tmp_path / "submission.csv"
    out = tmp_path / "eval"
    assert main(["predict", "--ckpt", str(dance_run / "best.ckpt"), "--test-dir",
                 str(dance_root / "test"), "--submission", str(sub), "--out", str(out),
                 "--no-frames", "--quiet"]) == 0
    with sub.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id"] + [str(i) for i in range(3 * 32 * 64)]
    body = np.array(rows[1:], dtype=np.int64)
    assert body.shape == (2 * 24, 1 + 6144)  # 2 test sequences x 24 frames
    assert body[:, 0].tolist() == list(range(48))
    assert body[:, 1:].min() >= 0 and body[:, 1:].max() <= 255
    # row 0 of each sequence is its given first frame, flattened C, H, W
    first = np.asarray(Image.open(dance_root / "test" / "test_img" / "1" / "frame0.png"))
    assert np.array_equal(body[24, 1:], first.transpose(2, 0, 1).reshape(-1))
    m = json.loads((out / "metrics.json").read_text())
    assert m["protocol"]["n_sequences"] == 2 and len(m["per_sequence"]) == 2
    per = [x["psnr_mean"] for x in m["per_sequence"]]
    assert m["psnr_mean"] == pytest.approx(sum(per) / 2, abs=1e-3)  # curves averaged over sequences
    assert (out / "psnr_per_frame.png").exists()
    assert not sub.with_name(sub.name + ".partial").exists()


def test_predict_names_a_missing_label_folder(dance_run, tmp_path, capsys):
    assert main(["predict", "--ckpt", str(dance_run / "best.ckpt"), "--first-frame",
                 str(tmp_path / "none.png"), "--labels", str(tmp_path / "labels"),
                 "--out", str(tmp_path / "o")]) == 2
    assert str(tmp_path / "labels") in capsys.readouterr().err


def test_svg_trains_on_dance_labels(dance_root, tmp_path):
    """One code path for both condition kinds: SVG with image conditions on the dance layout."""
    cfg = tiny_dance_config(dance_root)
    cfg.apply_overrides(["model.name=svg", "model.cond_kind=image", "model.cond_dim=3", "model.output=composite", "model.width=4",
                         "model.g_dim=16", "model.z_dim=4", "model.rnn_size=16",
                         "model.cond_embed=8", "data.n_past=2", "data.n_future=6"])
    result = train(cfg, tmp_path / "svg", progress=False, log=lambda *a: None)
    assert result.iteration == 4 and np.isfinite(result.best_psnr)


def test_evaluate_reads_the_dance_frame_size_from_the_checkpoint(dance_run, tmp_path):
    from vidpred.evaluation.evaluate import evaluate_checkpoint

    m = evaluate_checkpoint(dance_run / "best.ckpt", None, "test", 1, 7, samples=2,
                            out=tmp_path / "ev", gifs=1, progress=False)
    assert m.protocol.n_sequences == 2 and len(m.best.psnr_per_frame) == 7
    assert Image.open(tmp_path / "ev" / "seq_000.gif").size[0] > 64 * 3  # 64-wide tiles


def test_predict_scores_the_dancer_where_the_generator_recorded_it(dance_run, dance_root,
                                                                   tmp_path):
    from vidpred.checkpoint import load_trained_model
    from vidpred.data.dance import DanceDataset
    from vidpred.evaluation.predict import predict_test_split

    test = DanceDataset(dance_root, "test", frame_size=(32, 64)).tests[0]
    assert test.dancer_mask.shape == (24, 32, 64) and test.background.shape == (3, 32, 64)
    # the resized mask covers the pixels where the frame differs from the scene without dancer
    differs = (test.truth.float() - test.background.float()).abs().amax(1) > 25
    assert (differs & ~test.dancer_mask).float().mean() < 0.01
    assert 0.05 < test.dancer_mask.float().mean() < 0.5
    model, _, _ = load_trained_model(dance_run / "best.ckpt")
    m = predict_test_split(model, dance_root / "test", (32, 64), tmp_path / "p", progress=False,
                           log=lambda *a: None, dancer_frames=(5, 20), write_frames=False,
                           gifs=0)
    dancer = m.extra["dancer"]
    assert list(dancer) == ["5", "20"] and dancer["5"]["sequences"] == 2
    for f in dancer.values():
        assert 0 <= f["kept_share"] <= 1 and f["sharpness"] >= 0
        # copying the first frame draws the dancer where it started: partly right at best
        assert 0 <= f["copy_first"]["kept_share"] < 1
    assert m.extra["per_sequence"][0]["dancer"]["5"]["kept_share"] is not None
