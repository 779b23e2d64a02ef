import copy
import json

import pytest
import torch

from vidpred.checkpoint import load_checkpoint
from vidpred.cli import main
from vidpred.errors import CheckpointError, ConfigError
from vidpred.training.loop import train
from vidpred.training.step import IterationSampler, make_optimizer
from vidpred.viz import read_log

from ..conftest import synthetic_config


def test_resume_refuses_a_different_config(tmp_path):
    short = synthetic_config(iterations=4)
    train(short, tmp_path / "run", progress=False, log=lambda *a: None)
    assert load_checkpoint(tmp_path / "run" / "last.ckpt")["iteration"] == 4
    with pytest.raises(CheckpointError, match="train.iterations: 4 -> 8"):
        train(synthetic_config(), tmp_path / "run", resume=True, progress=False)
    notes = []  # nothing to resume: a new run, said in a note
    assert train(short, tmp_path / "fresh", resume=True, progress=False,
                 log=notes.append).iteration == 4
    assert any("holds no checkpoint" in n for n in notes)


def test_resume_continues_iteration_count_schedule_and_weights_exactly(tmp_path):
    cfg = synthetic_config(tfr_start=1.0, tfr_decay_start=1, tfr_decay_step=0.5)
    straight = train(cfg, tmp_path / "a", progress=False, log=lambda *a: None)
    # roll the run back to its first-epoch checkpoint, as if it had stopped there
    run = tmp_path / "b"
    train(cfg, run, progress=False, log=lambda *a: None)
    first_epoch = load_checkpoint(run / "epoch_0000.ckpt")
    assert first_epoch["iteration"] == 4
    (run / "epoch_0000.ckpt").replace(run / "last.ckpt")
    resumed = train(cfg, run, resume=True, progress=False, log=lambda *a: None)
    assert resumed.iteration == straight.iteration == 8
    a = load_checkpoint(tmp_path / "a" / "last.ckpt")["model"]
    b = load_checkpoint(run / "last.ckpt")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    iters, epochs = read_log(run / "metrics.jsonl")
    assert [r["iteration"] for r in iters] == list(range(1, 9))   # no gap, no duplicate
    assert [r["tfr"] for r in iters] == [1.0] * 4 + [0.5] * 4
    assert [r["epoch"] for r in epochs] == [0, 1]


def test_run_directory_is_never_silently_overwritten(tmp_path):
    cfg = synthetic_config(iterations=4)
    train(cfg, tmp_path / "run", progress=False)
    with pytest.raises(ConfigError, match="--resume .* or --overwrite"):
        train(cfg, tmp_path / "run", progress=False)
    assert train(cfg, tmp_path / "run", overwrite=True, progress=False).iteration == 4


def test_sampler_is_a_pure_function_of_the_iteration():
    s = IterationSampler(100, 8, seed=3)
    a, b = s.draw(17), s.draw(17)
    assert torch.equal(a[0], b[0]) and a[1] == b[1]
    assert not torch.equal(s.draw(18)[0], a[0])


def test_cli_train_then_evaluate_writes_metrics_plots_and_gifs(tmp_path, capsys):
    cfg = synthetic_config()
    cfg.save(tmp_path / "tiny.yaml")
    run = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "tiny.yaml"), "--out", str(run), "--quiet",
                 "--set", "train.iterations=6", "--set", "train.iters_per_epoch=3"]) == 0
    assert (run / "best.ckpt").exists() and (run / "training_curves.png").stat().st_size > 10_000
    iters, epochs = read_log(run / "metrics.jsonl")
    assert len(iters) == 6 and len(epochs) == 2
    assert {"loss", "mse", "kl", "beta", "tfr", "time"} <= set(iters[0])
    assert epochs[0]["frames_per_s"] > 0 and 5 < epochs[0]["val_psnr"] < 60
    assert 0 < epochs[0]["data_wait"] < 1
    out = tmp_path / "eval"
    assert main(["evaluate", "--ckpt", str(run / "best.ckpt"), "--max-sequences", "3",
                 "--split", "test", "--n-past", "2", "--n-future", "4", "--samples", "3",
                 "--gifs", "2", "--out", str(out), "--quiet"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["psnr_per_frame"]) == 4 and len(m["ssim_per_frame"]) == 4
    p = m["protocol"]
    assert p["n_sequences"] == 3 and p["n_samples"] == 3 and (p["n_past"], p["n_future"]) == (2, 4)
    assert p["split"] == "test" and p["checkpoint"] == str(run / "best.ckpt")
    assert m["psnr_mean"] >= m["sample_mean"]["psnr_mean"] - 1e-6   # best of N >= mean
    assert set(m["baseline"]) >= {"psnr_mean", "ssim_mean"}
    assert sorted(p.name for p in out.glob("*.gif")) == ["seq_000.gif", "seq_001.gif"]
    assert (out / "psnr_per_frame.png").exists()
    assert "copy last context frame" in capsys.readouterr().out


def test_cli_reports_data_and_config_problems_without_a_traceback(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vidpred: error:") and "does not exist" in err and "Traceback" not in err
    assert main(["train", "--out", str(tmp_path / "r2"), "--set", "train.lrate=1"]) == 2
    assert "did you mean 'train.lr'" in capsys.readouterr().err
    assert main(["evaluate", "--ckpt", str(tmp_path / "none.ckpt"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fused_optimizer_makes_the_plain_adam_update():
    """make_optimizer's fused Adam: same parameters as torch.optim.Adam(0.9, 0.999) after a few
    steps (to float rounding), and it takes plain Adam's state dict."""
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))]
    nets.append(copy.deepcopy(nets[0]))
    opts = [make_optimizer(nets[0].parameters(), 0.01),
            torch.optim.Adam(nets[1].parameters(), lr=0.01, betas=(0.9, 0.999))]
    x, y = torch.randn(32, 8), torch.randn(32, 1)

    def steps_agree(n: int) -> bool:
        for _ in range(n):
            for net, opt in zip(nets, opts):
                opt.zero_grad()
                torch.nn.functional.mse_loss(net(x), y).backward()
                opt.step()
        return all(torch.allclose(a, b, atol=1e-6)
                   for a, b in zip(nets[0].parameters(), nets[1].parameters()))

    assert opts[0].defaults["fused"] is True
    assert steps_agree(5)
    # a checkpoint written by plain Adam (earlier releases) resumes in the fused one
    opts[0].load_state_dict(copy.deepcopy(opts[1].state_dict()))  # as read from a file
    assert steps_agree(1)


def test_bad_config_values_stop_before_data_or_files_are_touched(tmp_path, capsys):
    """All problems listed, one `vidpred: error:` line each, exit 2, no run directory — checked
    before the (here missing) dataset is opened."""
    run = tmp_path / "run"
    assert main(["train", "--config", "push_cpu", "--data", str(tmp_path / "no_data"),
                 "--out", str(run), "--set", "train.lr=-1", "--set", "model.backbone=resnet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("vidpred: error:") for line in err)
    assert "train.lr=-1.0" in err[0] + err[1] and "model.backbone='resnet'" in err[0] + err[1]
    assert not run.exists()


def test_train_leaves_the_process_settings_alone(tmp_path):
    """Threads and deterministic algorithms are the caller's (the CLI sets them), not a side
    effect of the library call."""
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    cfg = synthetic_config(iterations=2, iters_per_epoch=2, threads=1, deterministic=True)
    train(cfg, tmp_path / "run", progress=False, log=lambda *a: None)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before


def test_train_step_is_one_optimisation_step_and_refuses_a_non_finite_loss():
    from vidpred.models import SVG
    from vidpred.training.step import NonFiniteLoss, train_step

    torch.manual_seed(0)
    model = SVG(width=4, g_dim=16, z_dim=4, rnn_size=16, cond_dim=7)
    opt = make_optimizer(model.parameters(), 1e-3)
    frames, cond = torch.rand(2, 5, 3, 64, 64), torch.randn(2, 5, 7)
    before = [p.detach().clone() for p in model.parameters()]
    figs = train_step(model, opt, frames, cond, 2, 1e-4, extra=[1.0])
    assert figs.loss == pytest.approx(figs.mse + 1e-4 * figs.kl, rel=1e-4) and figs.extra == [1.0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    frames[0, 3] = float("nan")
    after = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(NonFiniteLoss, match="non-finite MSE"):
        train_step(model, opt, frames, cond, 2, 1e-4)
    assert all(torch.equal(a, b) for a, b in zip(after, model.parameters()))  # untouched


def test_a_time_limit_stops_training_validated_and_checkpointed(tmp_path, monkeypatch):
    import itertools

    import vidpred.training.loop

    clock = itertools.count(step=1.0)  # every reading of the training clock: one more second
    monkeypatch.setattr(vidpred.training.loop.time, "perf_counter", lambda: next(clock))
    cfg = synthetic_config(iterations=1000, iters_per_epoch=100, max_minutes=0.2,
                           tfr_decay_start=1, tfr_decay_step=0.5, tfr_floor=0.0)
    result = train(cfg, tmp_path / "run", progress=False)
    assert 5 <= result.iteration <= 12 and result.seconds >= 12.0
    log = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    iters = [r for r in log if r["kind"] == "iter"]
    assert [r["iteration"] for r in log if r["kind"] == "epoch"] == [result.iteration]
    assert load_checkpoint(tmp_path / "run" / "last.ckpt")["iteration"] == result.iteration
    # the cosine learning rate ran on the time's share (1,000 iterations would leave it near lr)
    assert iters[0]["lr"] == cfg.train.lr and iters[-1]["lr"] < 0.1 * cfg.train.lr
    # and so did teacher forcing: its epochs are the schedule's, not the iteration's (all 0)
    assert {r["epoch"] for r in iters} == {0}
    assert iters[0]["tfr"] == 1.0 and iters[-1]["tfr"] == 0.0


def test_the_models_preparation_counts_against_the_time_limit(tmp_path, monkeypatch):
    """A model that prepares before its first step (a frame memory, a block layer's fit) spends
    part of train.max_minutes on it: the steps get the rest, the schedules still start at
    their beginnings and end on time, and the checkpoint records it for a resumed run."""
    import vidpred.training.loop
    from vidpred.models.factory import build_model

    now = [0.0]

    def clock():  # every reading of the training clock: one more second
        now[0] += 1.0
        return now[0]

    def slow(cfg):
        model = build_model(cfg)

        def prepare(train_set, resuming=False):
            now[0] += 6.0
            return "prepared in 6 s"
        model.prepare = prepare
        return model

    monkeypatch.setattr(vidpred.training.loop.time, "perf_counter", clock)
    monkeypatch.setattr(vidpred.training.loop, "build_model", slow)
    lines = []
    cfg = synthetic_config(iterations=1000, iters_per_epoch=100, max_minutes=0.2)
    result = train(cfg, tmp_path / "run", progress=False, log=lines.append)
    assert any("took 7 s of it; 5 s remain for the steps" in line for line in lines)
    assert 2 <= result.iteration <= 6 and result.seconds >= 12.0
    iters, _ = read_log(tmp_path / "run" / "metrics.jsonl")
    assert iters[0]["time"] >= 7.0
    # the cosine learning rate starts at lr and is near its end at the last of the few steps
    assert iters[0]["lr"] == cfg.train.lr and iters[-1]["lr"] < 0.2 * cfg.train.lr
    extra = load_checkpoint(tmp_path / "run" / "last.ckpt")["extra"]
    assert extra["prepare_seconds"] == 7.0 and extra["train_seconds"] == result.seconds


def test_block_weight_changes_the_step_loss_not_the_logged_mse():
    """With a red block in the clip, ``train.block_weight`` raises the step's loss by weighing
    the block's pixels, while the MSE the step logs (and validation reads) stays the plain one."""
    from vidpred.models import SVG
    from vidpred.training.step import make_optimizer, train_step

    g = torch.Generator().manual_seed(0)
    x, c = torch.rand(3, 7, 3, 64, 64, generator=g), torch.randn(3, 7, 7, generator=g)
    x[:, :, 0, 4:10, 4:10], x[:, :, 1:, 4:10, 4:10] = 1.0, 0.1  # a red block in every frame
    figs = []
    for weight in (0.0, 20.0):
        torch.manual_seed(0)
        model = SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7).eval()
        torch.manual_seed(1)
        figs.append(train_step(model, make_optimizer(model.parameters(), 1e-3), x, c, 2, 0.0,
                               block_weight=weight))
    plain, weighted = figs
    assert plain.mse == weighted.mse
    assert weighted.loss > plain.loss * 1.01
