import torch
from torch.nn.modules.batchnorm import _BatchNorm

from vidpred.checkpoint import load_checkpoint, load_trained_model
from vidpred.data import make_dataset
from vidpred.device import use_bf16
from vidpred.models import build_model
from vidpred.training.loop import train
from vidpred.training.precise_bn import recompute_batchnorm_stats

from ..conftest import synthetic_config


def _batchnorms(model):
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


def test_the_statistics_become_the_average_over_the_batches_and_nothing_else_changes():
    cfg = synthetic_config()
    torch.manual_seed(0)
    model = build_model(cfg).train()
    data = make_dataset("", "synthetic", "train", 6, train=True)
    layers = _batchnorms(model)
    seen = {m: [] for m in layers}  # every call's input: its batch mean and unbiased variance
    for m in layers:
        m.register_forward_pre_hook(lambda m, args: seen[m].append(
            (args[0].float().mean((0, 2, 3)), args[0].float().var((0, 2, 3)))))
    weights = {k: v.clone() for k, v in model.named_parameters()}
    rng = torch.get_rng_state()

    n = recompute_batchnorm_stats(model, data, 2, batches=3, batch_size=4, seed=5)

    assert n == len(layers) > 0
    for m in layers:
        # a cumulative average over every call (a layer runs once per frame chunk and batch),
        # not a moving average, and none of the statistics from before
        assert len(seen[m]) >= 3 and int(m.num_batches_tracked) == len(seen[m])
        torch.testing.assert_close(m.running_mean, torch.stack([s[0] for s in seen[m]]).mean(0),
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(m.running_var, torch.stack([s[1] for s in seen[m]]).mean(0),
                                   rtol=1e-4, atol=1e-5)
        assert m.momentum == 0.1
    assert all(torch.equal(weights[k], v) for k, v in model.named_parameters())
    assert torch.equal(rng, torch.get_rng_state()) and model.training
    # the same batches and posterior noise on a rerun
    again = build_model(cfg)
    again.load_state_dict(model.state_dict())
    recompute_batchnorm_stats(again, data, 2, batches=3, batch_size=4, seed=5)
    assert all(torch.equal(a.running_mean, b.running_mean)
               for a, b in zip(_batchnorms(again), layers))


def test_training_recomputes_them_for_the_final_weights_only(tmp_path, capsys):
    plain = train(synthetic_config(), tmp_path / "plain", progress=False, log=lambda *a: None)
    train(synthetic_config(precise_bn_batches=2), tmp_path / "precise", progress=False,
          log=lambda *a: None)
    assert "recomputed over 2 training batches (train.precise_bn_batches)" in \
        capsys.readouterr().out
    a = load_checkpoint(tmp_path / "plain" / "last.ckpt")["model"]
    b = load_checkpoint(tmp_path / "precise" / "last.ckpt")["model"]
    stats = [k for k in a if k.endswith("running_mean")]
    assert stats and all(torch.equal(a[k], b[k]) for k in a if k not in stats and "running" not in
                         k and "num_batches" not in k)  # the same training, step for step
    assert not any(torch.equal(a[k], b[k]) for k in stats)
    # what the run saved is what recomputing on the plain run's final weights gives
    model, cfg, _ = load_trained_model(tmp_path / "plain" / "last.ckpt")
    data = make_dataset("", "synthetic", "train", 6, train=True)
    bf16 = use_bf16(cfg.train.precision, torch.device("cpu"))[0]  # as the run's precision
    recompute_batchnorm_stats(model, data, 2, batches=2, batch_size=cfg.train.batch_size,
                              seed=cfg.train.seed, bf16=bf16)
    for k, v in model.state_dict().items():
        if k in stats:
            torch.testing.assert_close(v, b[k])
    # the epoch-0 checkpoint of the same run keeps the running averages of training
    e0 = load_checkpoint(tmp_path / "precise" / "epoch_0000.ckpt")["model"]
    e0_plain = load_checkpoint(tmp_path / "plain" / "epoch_0000.ckpt")["model"]
    assert all(torch.equal(e0[k], e0_plain[k]) for k in stats)
    assert plain.iteration == 8
