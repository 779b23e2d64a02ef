import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidpred.models import SVG
from vidpred.models.backbones import UPSAMPLE_CONV_MIN_HW, VGGDecoder, _upsample_conv


@pytest.mark.parametrize("hw,channels_last", [((8, 8), False), ((8, 16), True), ((5, 3), False)])
def test_upsample_conv_is_nearest_upsampling_then_the_3x3_conv(hw, channels_last):
    """The transposed-convolution form computes the same function: exact in float64."""
    torch.manual_seed(0)
    layer = nn.Conv2d(10, 6, 3, 1, 1, bias=True).double()  # reads cat(x: 7 channels, skip: 3)
    x = torch.randn(2, 7, *hw, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    plain = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), layer.weight[:, :7],
                     layer.bias, padding=1)
    fast = _upsample_conv(layer, x)
    assert fast.shape == (2, 6, 2 * hw[0], 2 * hw[1])
    assert torch.allclose(fast, plain, rtol=0, atol=1e-12)


def test_vgg_decoder_gradients_match_the_concatenating_form():
    """Forward and weight gradients of the skip-term decoder (which uses the transposed form from
    8 x 8 inputs on) equal those of the plain upsample + concatenate decoder."""
    assert UPSAMPLE_CONV_MIN_HW == 8
    torch.manual_seed(0)
    dec = VGGDecoder(16, width=4).double().eval()
    g = torch.randn(2, 1, 16, dtype=torch.float64)
    skips = [torch.randn(2, 1, c, s, s, dtype=torch.float64)
             for c, s in [(4, 64), (8, 32), (16, 16), (32, 8)]]
    fast = dec(g, dec.skip_terms(skips))[:, 0]
    grads_fast = torch.autograd.grad(fast.square().sum(), list(dec.parameters()))
    plain = dec.forward_concat(g[:, 0], [s[:, 0] for s in skips])
    grads_plain = torch.autograd.grad(plain.square().sum(), list(dec.parameters()))
    assert torch.allclose(fast, plain, atol=1e-10)
    for a, b in zip(grads_fast, grads_plain):
        assert torch.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("time_chunk,skip_frames", [(3, 2), (3, 4), (0, 2), (3, 0)])
def test_encode_keeps_only_the_skips_asked_for(time_chunk, skip_frames):
    torch.manual_seed(0)
    model = SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, time_chunk=time_chunk).eval()
    frames = torch.rand(2, 7, 3, 64, 64)
    h_all, skips_all = model.encode(frames)
    h, skips = model.encode(frames, skip_frames)
    assert torch.allclose(h, h_all, atol=1e-6)
    assert [s.shape[1] for s in skips] == [skip_frames] * 4
    for s, s_all in zip(skips, skips_all):
        assert torch.allclose(s, s_all[:, :skip_frames], atol=1e-6)
