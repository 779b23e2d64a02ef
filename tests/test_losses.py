import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vidpred.losses import gaussian_kl, reparameterize


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(5, 3, 8, generator=g) for _ in range(4))
    ours = gaussian_kl(mu_q, lv_q, mu_p, lv_p)
    ref = kl_divergence(Normal(mu_q, (0.5 * lv_q).exp()), Normal(mu_p, (0.5 * lv_p).exp())).sum(-1)
    assert ours.shape == (5, 3)
    assert torch.allclose(ours, ref, atol=1e-5, rtol=1e-5)


def test_kl_to_the_standard_normal_prior():
    mu, lv = torch.randn(4, 6), torch.randn(4, 6)
    ref = kl_divergence(Normal(mu, (0.5 * lv).exp()), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(gaussian_kl(mu, lv), ref, atol=1e-5)
    assert torch.allclose(gaussian_kl(mu, lv), gaussian_kl(mu, lv, torch.zeros(4, 6), torch.zeros(4, 6)))
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0


def test_reparameterization_has_the_right_moments_and_gradients():
    torch.manual_seed(0)
    mu = torch.full((200000,), 2.0, requires_grad=True)
    lv = torch.full((200000,), 2 * torch.log(torch.tensor(0.5)).item(), requires_grad=True)
    z = reparameterize(mu, lv)
    assert abs(z.mean().item() - 2.0) < 0.01 and abs(z.std().item() - 0.5) < 0.01
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))


def test_kl_of_bf16_statistics_is_computed_in_float32():
    """A spatial latent's posterior near the prior, as bf16 autocast hands it over: the KL is
    the float64 value of the same numbers, not a sum of 8-bit-rounded terms."""
    g = torch.Generator().manual_seed(0)
    mu = (0.02 * torch.randn(2, 4 * 32 * 64, generator=g)).bfloat16()
    logvar = (0.05 * torch.randn(2, 4 * 32 * 64, generator=g)).bfloat16()
    exact = 0.5 * (mu.double() ** 2 + logvar.double().exp() - 1 - logvar.double()).sum(-1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        kl = gaussian_kl(mu, logvar)
        kl_p = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))
    assert kl.dtype == torch.float32 and (kl > 0).all()
    torch.testing.assert_close(kl.double(), exact, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(kl_p.double(), exact, rtol=1e-4, atol=1e-3)


def _scene_with_block(rgb=(1.0, 0.25, 0.1)) -> tuple[torch.Tensor, torch.Tensor]:
    """A (3, 16, 16) frame in the push scene's colours: white table, green background strip,
    blue arm, a shaded block of colour ``rgb`` at rows/cols 4..7; and the block's mask."""
    frame = torch.ones(3, 16, 16) * 0.9
    frame[:, 12:] = torch.tensor([115, 220, 146])[:, None, None] / 255  # background
    frame[:, :3, 10:] = 0.8 * torch.tensor([0.086, 0.506, 0.767])[:, None, None]  # arm
    frame[:, 4:8, 4:8] = 0.6 * torch.tensor(rgb)[:, None, None]  # block in shade
    block = torch.zeros(16, 16)
    block[4:8, 4:8] = 1
    return frame, block


@pytest.mark.parametrize("rgb", [(1.0, 0.25, 0.1), (1.0, 0.9, 0.1), (0.6, 0.1, 1.0)])
def test_block_weighted_mse_weighs_where_the_block_is_and_was(rgb):
    from vidpred.losses import block_weighted_mse, frame_mse

    frame, block = _scene_with_block(rgb)
    moved = torch.roll(frame, 6, dims=-1)  # the block at cols 10..13 in the second frame
    clip = torch.stack([frame, moved])[None]  # (1, 2, 3, 16, 16)
    pred = clip[:, 1:].clone()
    assert block_weighted_mse(pred, clip, 20.0)[1] == 0
    # the same error costs 1 + w times more where the block was than on the table
    off_block, on_old_block = pred.clone(), pred.clone()
    off_block[..., 14, 0] += 0.1
    on_old_block[..., 5, 5] += 0.1
    plain, weighted = block_weighted_mse(off_block, clip, 0.0)
    assert torch.equal(plain, frame_mse(off_block, clip[:, 1:]))
    assert torch.isclose(weighted, plain.mean())
    plain_on, weighted_on = block_weighted_mse(on_old_block, clip, 20.0)
    assert torch.equal(plain_on, frame_mse(on_old_block, clip[:, 1:]))  # the logged MSE: unweighted
    ratio = weighted_on / block_weighted_mse(off_block, clip, 20.0)[1]
    assert torch.isclose(ratio, torch.tensor(21.0))
