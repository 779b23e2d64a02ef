import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from vidpred.data.bair import BairDataset
from vidpred.evaluation.metrics import best_of_n, psnr, sample_diversity, ssim


def _skimage_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    return structural_similarity(a.double().numpy(), b.double().numpy(), data_range=1.0,
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 channel_axis=0)


def test_psnr_is_ten_log10_of_one_over_mse_per_frame():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 3, 16, 16, generator=g), torch.rand(2, 3, 3, 16, 16, generator=g)
    p = psnr(a, b)
    assert p.shape == (2, 3)
    mse = ((a - b) ** 2)[1, 2].mean().item()
    assert p[1, 2].item() == pytest.approx(10 * np.log10(1 / mse), abs=1e-4)
    assert psnr(a, a).min() >= 99.0   # identical frames are capped, not infinite


def test_ssim_agrees_with_scikit_image_on_random_frames():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 2, 3, 64, 64, generator=g)
    b = (a + 0.2 * torch.randn(2, 2, 3, 64, 64, generator=g)).clamp(0, 1)
    ours = ssim(a, b)
    assert ours.shape == (2, 2)
    for i in range(2):
        for t in range(2):
            assert abs(ours[i, t].item() - _skimage_ssim(a[i, t], b[i, t])) < 1e-4


def test_ssim_agrees_with_scikit_image_on_real_frames(push_root):
    frames, _ = BairDataset(push_root, "test", seq_len=10, train=False).batch([0, 1])
    a, b = frames[:, :-1], frames[:, 1:]    # consecutive real frames
    ours = ssim(a, b)
    for i in range(2):
        for t in (0, 4, 8):
            assert abs(ours[i, t].item() - _skimage_ssim(a[i, t], b[i, t])) < 1e-4
    assert 0.3 < ours.mean() < 1.0


def test_best_of_n_picks_the_sample_with_the_best_time_average():
    per_frame = torch.tensor([[[20.0, 20.0, 20.0], [30.0, 10.0, 25.0], [19.0, 22.0, 21.0]]])
    assert torch.equal(best_of_n(per_frame), torch.tensor([[30.0, 10.0, 25.0]]))


def test_sample_diversity_is_zero_for_identical_samples():
    x = torch.rand(2, 1, 4, 3, 8, 8).expand(2, 3, 4, 3, 8, 8)
    assert torch.allclose(sample_diversity(x), torch.zeros(2))
    assert (sample_diversity(torch.rand(2, 3, 4, 3, 8, 8)) > 0.1).all()
