import pytest
import torch

from tests.reference import draw_noise, svg_reference_forward
from vidpred.losses import gaussian_kl
from vidpred.models import SVG

B, T, N_PAST = 3, 7, 2


def _small(backbone="dcgan64", **kw):
    torch.manual_seed(0)
    args = dict(backbone=backbone, width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7,
                output="composite")
    args.update(kw)
    return SVG(**args)


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, T, 3, 64, 64, generator=g), torch.randn(B, T, 7, generator=g)


@pytest.mark.parametrize("backbone", ["dcgan64", "vgg64"])
def test_batched_forward_equals_the_per_step_reference(backbone):
    model = _small(backbone).eval()  # eval: BatchNorm statistics do not depend on batching
    frames, cond = _data()
    torch.manual_seed(1)
    out = model(frames, cond, N_PAST, beta=0.1)
    torch.manual_seed(1)
    ref = svg_reference_forward(model, frames, cond, N_PAST, 0.1, draw_noise(model, frames))
    assert out.loss.item() == pytest.approx(ref.loss.item(), rel=1e-5, abs=1e-7)
    assert torch.allclose(out.pred, ref.pred, atol=1e-5)
    assert out.pred.shape == (B, T - 1, 3, 64, 64)
    assert out.mse.shape == (T - 1,) and out.kl.shape == (T - 1,)


@pytest.mark.parametrize("name", ["bair_svg_lp", "course2022_svg_fp"])
def test_paper_configs_compute_svgs_first_step_loss(name):
    """The faithful settings stay SVG: at their full sizes, the first step's loss and frames
    equal those of SVG's per-step loop (options such as condition points stay off)."""
    from vidpred.config import named_config
    from vidpred.models import build_model

    cfg = named_config(name)
    assert cfg.model.cond_points == 0 and cfg.train.precision == "auto"
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    g = torch.Generator().manual_seed(3)
    T = cfg.data.n_past + 3
    frames = torch.rand(2, T, 3, 64, 64, generator=g)
    cond = torch.rand(2, T, cfg.model.cond_dim, generator=g) if cfg.model.cond_dim else None
    torch.manual_seed(1)
    out = model(frames, cond, cfg.data.n_past, beta=cfg.train.beta)
    torch.manual_seed(1)
    ref = svg_reference_forward(model, frames, cond, cfg.data.n_past, cfg.train.beta,
                                draw_noise(model, frames))
    assert out.loss.item() == pytest.approx(ref.loss.item(), rel=1e-5)
    assert torch.allclose(out.pred, ref.pred, atol=1e-5)


@pytest.mark.parametrize("backbone", ["dcgan64", "vgg64"])
def test_skip_terms_decoder_equals_the_concatenating_decoder(backbone):
    """Each step's skip enters as a precomputed term of the merge convolutions; step i reads skip
    frame min(i, S-1). The plain decoder concatenates that frame's skips instead."""
    model = _small(backbone).eval()
    frames, _ = _data()
    _, skips = model.encode(frames[:, :N_PAST])
    g = torch.randn(B, 5, 16)
    fast = model.decoder(g, model.decoder.skip_terms(skips))
    for i in range(5):
        src = min(i, N_PAST - 1)
        plain = model.decoder.forward_concat(g[:, i], [s[:, src] for s in skips])
        assert torch.allclose(fast[:, i], plain, atol=1e-5), i


@pytest.mark.parametrize("backbone", ["dcgan64", "vgg64"])
def test_time_chunk_one_reproduces_the_per_step_batchnorm_of_svg(backbone):
    """In training mode BatchNorm normalises each network call; with time_chunk=1 every call holds
    one time step, as in SVG's loop, so even the train-mode loss equals the reference loop's."""
    model = _small(backbone, time_chunk=1).train()
    frames, cond = _data()
    torch.manual_seed(1)
    out = model(frames, cond, N_PAST, beta=0.1)
    torch.manual_seed(1)
    ref = svg_reference_forward(model, frames, cond, N_PAST, 0.1, draw_noise(model, frames))
    assert out.loss.item() == pytest.approx(ref.loss.item(), rel=1e-5)
    model.time_chunk = 0  # one call over all steps: other statistics, another loss
    torch.manual_seed(1)
    assert abs(model(frames, cond, N_PAST, beta=0.1).loss.item() - ref.loss.item()) > 1e-6


@pytest.mark.parametrize("cond_points", [0, 3])
def test_time_chunk_does_not_change_the_eval_mode_pass(cond_points):
    model = _small(time_chunk=0, cond_points=cond_points).eval()
    frames, cond = _data()
    losses = []
    for k in (0, 1, 3):
        model.time_chunk = k
        torch.manual_seed(1)
        losses.append(model(frames, cond, N_PAST, beta=0.1).loss.item())
    assert losses == pytest.approx([losses[0]] * 3, rel=1e-6)


@pytest.mark.parametrize("cond_points", [0, 3])
def test_channels_last_gives_the_same_loss(cond_points):
    model = _small(cond_points=cond_points).eval()
    frames, cond = _data()
    torch.manual_seed(1)
    a = model(frames, cond, N_PAST, beta=0.1).loss
    model = model.to(memory_format=torch.channels_last)
    torch.manual_seed(1)
    b = model(frames, cond, N_PAST, beta=0.1).loss
    assert a.item() == pytest.approx(b.item(), rel=1e-5)


def _calibrated(model, frames, cond):
    """Fill BatchNorm running statistics from batches, so that in eval mode the encoder responds
    to its input as in a trained model (at init the running stats shrink activations)."""
    model.train()
    with torch.no_grad():
        for _ in range(30):
            model(frames, cond, N_PAST, beta=1e-4)
    return model.eval()


@pytest.mark.parametrize("cond_points", [0, 3])
def test_free_running_matches_teacher_forcing_only_on_context_fed_steps(cond_points):
    frames, cond = _data()
    model = _calibrated(_small(cond_points=cond_points), frames, cond)
    torch.manual_seed(2)
    tf = model(frames, cond, N_PAST, beta=1e-4, teacher_forcing=True)
    torch.manual_seed(2)
    free = model(frames, cond, N_PAST, beta=1e-4, teacher_forcing=False)
    # steps 1..n_past read ground truth in both modes; later steps read predictions when free
    assert torch.allclose(tf.pred[:, :N_PAST], free.pred[:, :N_PAST], atol=1e-6)
    assert torch.allclose(tf.mse[:N_PAST], free.mse[:N_PAST], rtol=1e-5)
    gap = (tf.pred[:, N_PAST:] - free.pred[:, N_PAST:]).abs().max()
    assert gap > 1e-4, gap


def test_training_steps_reduce_the_loss_on_a_fixed_real_batch(push_root):
    from vidpred.data.bair import BairDataset

    model = _small().train()
    frames, cond = BairDataset(push_root, "train", seq_len=T).batch([0, 5, 10])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        torch.manual_seed(0)
        out = model(frames, cond, N_PAST, beta=1e-4)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("prior", ["learned", "fixed"])
def test_rollout_shapes_range_and_sample_diversity(prior):
    frames, cond = _data()
    model = _calibrated(_small(prior=prior), frames, cond)
    torch.manual_seed(0)
    out = model.rollout(frames[:, :N_PAST], cond, n_future=5, samples=4)
    assert out.shape == (B, 4, 5, 3, 64, 64)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not out.requires_grad
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-4    # z from the prior differs per sample
    torch.manual_seed(0)
    assert torch.equal(out, model.rollout(frames[:, :N_PAST], cond, n_future=5, samples=4))


def test_state_is_not_kept_on_the_module_between_batch_sizes():
    model = _small().eval()
    frames, cond = _data()
    a = model.rollout(frames[:1, :N_PAST], cond[:1], 3)
    b = model.rollout(frames[:, :N_PAST], cond, 3)          # another batch size right after
    assert a.shape[0] == 1 and b.shape[0] == B
    assert not any(isinstance(v, torch.Tensor) and v.dim() > 0 for v in vars(model).values())


def test_unconditional_model_and_condition_checks():
    model = _small(cond_dim=0, output="sigmoid").eval()
    frames, _ = _data()
    assert model(frames, None, N_PAST, beta=1e-4).pred.shape == (B, T - 1, 3, 64, 64)
    assert model.rollout(frames[:, :1], None, 4).shape == (B, 1, 4, 3, 64, 64)
    conditional = _small()
    with pytest.raises(ValueError, match=r"vector conditions of shape \(B, T, 7\)"):
        conditional(frames, torch.zeros(B, T, 3), N_PAST, beta=1e-4)
    with pytest.raises(ValueError, match="backbone"):
        _small(backbone="resnet")


def test_logvar_is_bounded_so_the_kl_cannot_overflow():
    from vidpred.models.recurrent import GaussianLSTM

    net = GaussianLSTM(8, 4, 16, 1)
    with torch.no_grad():
        net.logvar.weight.fill_(1e4)   # a diverged head
    mu, logvar, _ = net(torch.full((2, 3, 8), 50.0))
    assert logvar.abs().max() <= net.logvar_bound
    assert torch.isfinite(gaussian_kl(mu, logvar, mu, -logvar)).all()


@pytest.mark.parametrize("output", ["sigmoid", "composite"])
def test_bf16_autocast_trains_and_returns_float32_frames(output):
    """Under bf16 autocast (what --device cuda uses) the composite mixes the bf16 decoder output
    with float32 frames; the output and its loss must come back in float32."""
    model = _small(output=output)
    frames, cond = _data()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(frames, cond, N_PAST, beta=0.1)
    assert out.pred.dtype == torch.float32 and torch.isfinite(out.loss)
    out.loss.backward()
