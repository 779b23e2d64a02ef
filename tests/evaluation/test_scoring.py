"""Best of N by one metric (``--best-by``): which sample is picked, and where the choice is
recorded and shown."""
import csv
import json

import pytest
import torch

from vidpred.cli import main
from vidpred.data import make_dataset
from vidpred.evaluation.metrics import psnr, ssim
from vidpred.evaluation.scoring import EvalMetrics, dataset_batches, rollout_and_score
from vidpred.models import build_model

from ..conftest import synthetic_config

T = 3


class TwoKindsOfError(torch.nn.Module):
    """Predicts the last context frame with one of two errors: ``shift`` (+0.1 everywhere:
    20 dB, but the structure is intact, SSIM near 1) or ``noise`` (std 0.05: about 26 dB, but
    the smooth image's structure is lost, SSIM far below). ``order[b]`` lists sequence b's
    samples."""

    def __init__(self, order):
        super().__init__()
        self.order = order

    def rollout_steps(self, context, cond, horizon, samples):
        last = context[:, -1]
        noise = torch.randn(last.shape, generator=torch.Generator().manual_seed(0)) * 0.05
        for _ in range(horizon):
            yield torch.stack([torch.stack([last[b] + 0.1 if kind == "shift" else last[b] + noise[b]
                                            for kind in kinds]) for b, kinds in enumerate(self.order)])


def _smooth_frames(B=2):
    ramp = torch.linspace(0.3, 0.6, 64)
    img = (ramp[None, :, None] + ramp[None, None, :]) / 2        # (1, 64, 64)
    return img.expand(3, 64, 64)[None, None].repeat(B, 2 + T, 1, 1, 1)


def test_best_by_picks_each_sequences_argmax_of_the_chosen_metric():
    frames = _smooth_frames()
    model = TwoKindsOfError([("shift", "noise"), ("noise", "shift")])
    preds = torch.stack(list(model.rollout_steps(frames[:, :2], None, T, 2)), 2)  # (B, S, T, ...)
    truth = frames[:, 2:, None].transpose(1, 2).expand_as(preds)
    p = torch.stack([psnr(preds[:, s], truth[:, s]) for s in range(2)], 1)   # (B, S, T)
    s = torch.stack([ssim(preds[:, s], truth[:, s]) for s in range(2)], 1)
    # the case that matters: PSNR prefers the noisy sample, SSIM the shifted one
    assert p[0, 1].mean() > p[0, 0].mean() + 3 and s[0, 0].mean() > s[0, 1].mean() + 0.3
    by_psnr, by_ssim = torch.tensor([1, 0]), torch.tensor([0, 1])
    rows = torch.arange(2)

    def curve(metric, pick):
        return metric[rows, pick].mean(0)

    for best_by, psnr_pick, ssim_pick in [("psnr", by_psnr, by_psnr), ("ssim", by_ssim, by_ssim),
                                          ("each", by_psnr, by_ssim)]:
        m, kept = rollout_and_score(model, [(frames, None)], 2, T, samples=2, keep=2,
                                    best_by=best_by)
        assert m.protocol.best_by == best_by
        assert torch.allclose(torch.tensor(m.best.psnr_per_frame), curve(p, psnr_pick), atol=1e-3)
        assert torch.allclose(torch.tensor(m.best.ssim_per_frame), curve(s, ssim_pick), atol=1e-4)
        assert kept.best == (ssim_pick if best_by == "ssim" else psnr_pick).tolist()
    with pytest.raises(ValueError, match="best_by='lpips'"):
        rollout_and_score(model, [(frames, None)], 2, T, samples=2, best_by="lpips")


def test_best_by_ssim_on_a_small_model_matches_the_samples_scored_one_by_one():
    cfg = synthetic_config()
    torch.manual_seed(0)
    model = build_model(cfg)
    data = make_dataset("", "synthetic", "test", 6, train=False, max_sequences=4)
    seen = []
    m, kept = rollout_and_score(model, dataset_batches(data, 4, 6), 2, 4, samples=5, keep=4,
                                best_by="ssim", on_frame=lambda t, pred: seen.append(pred.clone()))
    frames, _ = data.batch(range(4))
    preds = torch.stack(seen, 2)                                    # (B, S, 4, C, H, W)
    truth = frames[:, None, 2:6].expand_as(preds)
    s = torch.stack([ssim(preds[:, k], truth[:, k]) for k in range(5)], 1).mean(2)  # (B, S)
    p = torch.stack([psnr(preds[:, k], truth[:, k]) for k in range(5)], 1).mean(2)
    assert kept.best == s.argmax(1).tolist()
    assert m.best.ssim_mean == pytest.approx(float(s.max(1).values.mean()), abs=1e-4)
    assert m.best.psnr_mean == pytest.approx(float(p[torch.arange(4), s.argmax(1)].mean()), abs=1e-3)


def test_cli_records_best_by_and_compare_shows_the_protocol(tmp_path, capsys):
    cfg = synthetic_config(iterations=2, iters_per_epoch=2, tensorboard=False)
    cfg.save(tmp_path / "tiny.yaml")
    run = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "tiny.yaml"), "--out", str(run), "--quiet"]) == 0
    assert main(["evaluate", "--ckpt", str(run / "best.ckpt"), "--max-sequences", "3",
                 "--n-future", "4", "--samples", "3", "--gifs", "0", "--best-by", "ssim",
                 "--out", str(run / "eval"), "--quiet"]) == 0
    assert "model, best of 3 by SSIM" in capsys.readouterr().out
    m = json.loads((run / "eval" / "metrics.json").read_text())
    assert m["protocol"]["best_by"] == "ssim" and "SSIM" in m["protocol"]["best_of_n"]
    assert main(["compare", str(run), "--out", str(tmp_path / "cmp")]) == 0
    assert "test x3, 2 -> 4, best of 3 by ssim" in capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "cmp" / "results.csv").open()))
    assert rows[0]["protocol"] == "test x3, 2 -> 4, best of 3 by ssim"
    # a metrics.json written before best_by existed reads as each metric's own best sample
    del m["protocol"]["best_by"]
    assert EvalMetrics.from_dict(m).protocol.best_by == "each"
