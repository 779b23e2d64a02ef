"""The warp output: resampling by a flow field, and SVG's ``output: warp``."""
import pytest
import torch

from vidpred.config import ConfigError, check_config, named_config
from vidpred.models.svg import SVG
from vidpred.models.warp import warp


def test_zero_flow_returns_the_source_and_a_one_pixel_flow_shifts_it():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 10)
    torch.testing.assert_close(warp(x, torch.zeros(2, 2, 8, 10)), x)
    flow = torch.zeros(2, 2, 8, 10)
    flow[:, 0] = 2 / 10  # x: read one pixel to the right
    torch.testing.assert_close(warp(x, flow)[..., :-1], x[..., 1:])
    torch.testing.assert_close(warp(x, flow)[..., -1], x[..., -1])  # edge repeated
    flow = torch.zeros(2, 2, 8, 10)
    flow[:, 1] = -2 / 8  # y: read one pixel up
    torch.testing.assert_close(warp(x, flow)[..., 1:, :], x[..., :-1, :])


def _model(**kw):
    torch.manual_seed(0)
    return SVG(width=8, g_dim=16, z_dim=4, rnn_size=16, cond_dim=7, cond_points=4, **kw)


def test_a_warp_model_starts_with_zero_flow_and_learns_it():
    model = _model(output="warp")
    frames, cond = torch.rand(2, 6, 3, 64, 64), torch.rand(2, 6, 7)
    raw = []
    model.decoder.register_forward_hook(lambda m, i, o: raw.append(o))
    out = model(frames, cond, 2, 1e-4)
    assert torch.equal(raw[0][:, :, 4:], torch.zeros_like(raw[0][:, :, 4:]))
    out.loss.backward()
    last = model.decoder.merge[-1]
    assert last.weight.grad[:, 4:].abs().sum() > 0  # ConvTranspose2d: (in, out, k, k)
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    raw.clear()
    model(frames, cond, 2, 1e-4)
    assert raw[0][:, :, 4:].abs().max() > 0


def test_a_trained_flow_moves_the_source_pixels():
    """With the mask closed and a flow of one pixel, the prediction is the context frame shifted
    by one pixel: the frame comes from the warped source, not from drawing."""
    model = _model(output="warp").eval()
    last = model.decoder.merge[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[3] = -30.0   # mask -> 0: the source everywhere
        last.bias[4] = 10.0    # tanh -> 1 in x: read half the image to the right
        model.points.proj[-1].zero_()
    frames, cond = torch.rand(1, 3, 3, 64, 64), torch.rand(1, 3, 7)
    pred = next(model.rollout_steps(frames[:, :2], cond, 1))[:, 0]
    torch.testing.assert_close(pred[..., :32], frames[:, 1, :, :, 32:], atol=1e-4, rtol=0)


def test_warp_is_an_svg_output_and_not_a_pose_cvae_one():
    cfg = named_config("push_cpu")
    cfg.model.output, cfg.model.retrieval = "warp", 0  # the frame memory composites only
    check_config(cfg)
    cfg = named_config("dance_cpu")
    cfg.model.output = "warp"
    with pytest.raises(ConfigError, match="model.output"):
        check_config(cfg)
