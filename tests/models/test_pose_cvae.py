"""The pose CVAE and pluggable conditions: shapes for both condition kinds, the batched
teacher-forced pass against a per-step reference, streamed rollouts."""
from __future__ import annotations

import copy

import pytest
import torch

from tests.reference import draw_noise, pose_cvae_reference_forward
from vidpred.models import SVG, PoseCVAE
from vidpred.models.base import memory_format_of

B, T, H, W = 2, 5, 32, 64


def _small(**kw) -> PoseCVAE:
    args = dict(frame_channels=8, label_channels=4, z_channels=2, fusion_channels=8,
                cond_kind="image", cond_dim=3, output="composite_first")
    args.update(kw)
    return PoseCVAE(**args)


@pytest.mark.parametrize("output", ["sigmoid", "composite", "composite_first"])
def test_pose_cvae_shapes_with_image_labels(output):
    torch.manual_seed(0)
    model = _small(output=output)
    frames, labels = torch.rand(B, T, 3, H, W), torch.rand(B, T, 3, H, W)
    out = model(frames, labels, n_past=1, beta=1.0)
    assert out.pred.shape == (B, T - 1, 3, H, W)
    assert out.mse.shape == out.kl.shape == (T - 1,)
    assert 0.0 <= float(out.pred.detach().min()) and float(out.pred.detach().max()) <= 1.0
    out.loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    roll = model.rollout(frames[:, :1], labels, T - 1, samples=3)
    assert roll.shape == (B, 3, T - 1, 3, H, W)
    assert not torch.equal(roll[:, 0], roll[:, 1]), "samples of z differ"


def test_pose_cvae_with_vector_conditions_and_svg_with_image_labels():
    torch.manual_seed(0)
    frames = torch.rand(B, T, 3, H, W)
    vec = torch.rand(B, T, 7)
    model = _small(cond_kind="vector", cond_dim=7)
    assert model(frames, vec, 1, 1e-3).pred.shape == (B, T - 1, 3, H, W)
    with pytest.raises(ValueError, match="vector conditions of shape"):
        model(frames, torch.rand(B, T, 3, H, W), 1, 1e-3)
    svg = SVG(backbone="dcgan64", width=4, g_dim=16, z_dim=4, rnn_size=16, cond_kind="image", cond_dim=3,
              cond_embed=8, output="composite", image_hw=(H, W))
    labels = torch.rand(B, T, 3, H, W)
    assert svg(frames, labels, 2, 1e-4).pred.shape == (B, T - 1, 3, H, W)
    svg.eval()
    assert svg.rollout(frames[:, :2], labels, 3, samples=2).shape == (B, 2, 3, 3, H, W)


@pytest.mark.parametrize("output,heads,first_label", [
    ("composite", 0, False), ("composite_first", 0, False), ("composite_first", 2, True)])
def test_batched_pass_equals_per_step_reference(output, heads, first_label):
    torch.manual_seed(1)
    model = _small(output=output, appearance_heads=heads, first_label=first_label).eval()
    with torch.no_grad():
        if heads:  # away from the zero initialisation, so the code changes the loss
            model.appearance_proj.weight.normal_(0, 0.5)
        for m in model.modules():  # running stats away from the identity
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    frames, labels = torch.rand(B, T, 3, H, W), torch.rand(B, T, 3, H, W)
    with torch.no_grad():
        torch.manual_seed(2)
        ours = float(model(frames, labels, 1, beta=0.5).loss)
        torch.manual_seed(2)
        ref = float(pose_cvae_reference_forward(model, frames, labels, 1, 0.5,
                                                draw_noise(model, frames)).loss)
    assert abs(ours - ref) < 1e-5 * max(1.0, abs(ref))


def test_time_chunk_one_gives_the_templates_train_mode_loss():
    """With one time step per call, BatchNorm sees the same batches as the template's loop."""
    torch.manual_seed(1)
    model = _small(output="composite_first", time_chunk=1).train()
    frames, labels = torch.rand(B, T, 3, H, W), torch.rand(B, T, 3, H, W)
    torch.manual_seed(2)
    ours = model(frames, labels, 1, beta=0.5).loss.item()
    torch.manual_seed(2)
    ref = pose_cvae_reference_forward(model, frames, labels, 1, 0.5, draw_noise(model, frames))
    assert ours == pytest.approx(ref.loss.item(), rel=1e-5)


def test_both_memory_layouts_train_alike():
    """train.channels_last must change the speed only: the train-mode loss and the gradients of
    every weight agree in both layouts. The networks run in float64, so that rounding, which
    train-mode BatchNorm amplifies in float32, cannot hide a real difference (the model returns
    its frames and KL in float32 by design, which both layouts share; the sigmoid output,
    because the composites mix those float32 frames with the float64 input)."""
    torch.manual_seed(1)
    nchw = _small(output="sigmoid").double()
    nhwc = copy.deepcopy(nchw).to(memory_format=torch.channels_last)
    assert memory_format_of(nhwc) == torch.channels_last
    assert memory_format_of(nchw) == torch.contiguous_format
    frames = torch.rand(B, T, 3, H, W, dtype=torch.float64)
    labels = torch.rand(B, T, 3, H, W, dtype=torch.float64)
    losses, grads = [], []
    for model in (nchw, nhwc):
        torch.manual_seed(2)
        out = model(frames, labels, 1, beta=0.5)
        out.loss.backward()
        losses.append(out.loss.item())
        grads.append(torch.cat([q.grad.flatten() for q in model.parameters()]))
    assert losses[0] == pytest.approx(losses[1], rel=1e-10)
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-9


def test_rollout_steps_stream_frames_without_graph():
    model = _small().eval()
    frames, labels = torch.rand(1, 40, 3, H, W), torch.rand(1, 40, 3, H, W)
    steps = model.rollout_steps(frames[:, :1], labels, 39, samples=2)
    first = next(steps)
    assert first.shape == (1, 2, 3, H, W) and not first.requires_grad
    assert sum(1 for _ in steps) == 38


@pytest.mark.parametrize("output", ["sigmoid", "composite", "composite_first"])
def test_bf16_autocast_trains_and_returns_float32_frames(output):
    torch.manual_seed(0)
    model = _small(output=output)
    frames, labels = torch.rand(B, T, 3, H, W), torch.rand(B, T, 3, H, W)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(frames, labels, n_past=1, beta=1.0)
    assert out.pred.dtype == torch.float32 and torch.isfinite(out.loss)
    out.loss.backward()


def test_appearance_code_carries_the_first_frame_to_every_pixel():
    """Stride-1 networks see a few pixels around each place; with appearance heads a change in
    the left half of the first frame reaches the prediction at the right edge."""
    torch.manual_seed(3)
    frames, labels = torch.rand(B, T, 3, H, W), torch.rand(B, T, 3, H, W)
    other = frames.clone()
    other[:, 0, :, :, :W // 2] = 0.0   # left half of frame 0 black
    far = (slice(None), slice(None), slice(None), slice(None), slice(-4, None))  # right edge
    for heads, reaches in ((0, False), (2, True)):
        model = _small(output="composite_first", appearance_heads=heads).eval()
        if heads:  # zero-initialised: with the same other weights, the model without the code
            plain = _small(output="composite_first").eval()
            model.load_state_dict(plain.state_dict(), strict=False)
            with torch.no_grad():
                torch.manual_seed(4)
                with_code = model(frames, labels, 1, 0.5).pred
                torch.manual_seed(4)
                assert torch.equal(with_code, plain(frames, labels, 1, 0.5).pred)
            with torch.no_grad():
                model.appearance_proj.weight.normal_(0, 0.5)
        with torch.no_grad():
            torch.manual_seed(4)
            a = model(frames, labels, 1, 0.5).pred
            torch.manual_seed(4)
            b = model(other, labels, 1, 0.5).pred
        assert (a[far] - b[far]).abs().max().item() > 1e-6 if reaches else torch.equal(a[far], b[far])
        roll = model.rollout(frames[:, :1], labels, 2, samples=2)
        assert roll.shape == (B, 2, 2, 3, H, W)
    with pytest.raises(ValueError, match=r"model.appearance_heads=-1: must be >= 0"):
        _small(appearance_heads=-1)
    with pytest.raises(ValueError, match=r"model.first_label=true: only the pose CVAE's composite over the first frame"):
        _small(output="composite", first_label=True)


def test_first_label_tells_the_decoder_where_the_body_stood():
    """With first_label, changing only frame 0's label changes later predictions (without it,
    frame 0's label is never read)."""
    torch.manual_seed(5)
    frames, labels = torch.rand(B, T, 3, H, W), torch.rand(B, T, 3, H, W)
    other = labels.clone()
    other[:, 0] = 0.0
    for first_label in (False, True):
        model = _small(output="composite_first", first_label=first_label).eval()
        with torch.no_grad():
            torch.manual_seed(6)
            a = model(frames, labels, 1, 0.5).pred
            torch.manual_seed(6)
            b = model(frames, other, 1, 0.5).pred
            assert torch.equal(a, b) != first_label
            vec = _small(output="composite_first", first_label=first_label, cond_kind="vector",
                         cond_dim=7).eval()
            assert vec.rollout(frames[:, :1], torch.rand(B, T, 7), 2).shape == (B, 1, 2, 3, H, W)
