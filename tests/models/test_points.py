import pytest
import torch

from vidpred.models import SVG
from vidpred.models.points import ConditionPoints


def _explicit_maps(cp: ConditionPoints, stage: int, points: torch.Tensor, H: int, W: int):
    """The blobs built as a (N, 2K, H, W) tensor and projected with an einsum: the plain form."""
    u = (torch.arange(W) + 0.5) / W * 2 - 1
    v = (torch.arange(H) + 0.5) / H * 2 - 1
    x, y, sx, sy = (points[..., i, None, None] for i in range(4))
    blobs = torch.exp(-0.5 * ((u - x) / sx) ** 2 - 0.5 * ((v[:, None] - y) / sy) ** 2)
    return torch.einsum("ck,nkhw->nchw", cp.proj[stage], blobs)


def test_separable_maps_equal_the_projected_blob_images():
    torch.manual_seed(0)
    cp = ConditionPoints(7, 3, [5, 4])
    p = cp.locate(torch.randn(6, 7))
    p = torch.cat([p, p.flip(0)], 1)  # (N, 2K, 4): target and source points
    for stage, (H, W) in enumerate([(8, 16), (16, 8)]):
        fast = cp.maps(stage, p, (H, W))
        assert fast.shape == (6, cp.proj[stage].shape[0], H, W)
        assert torch.allclose(fast, _explicit_maps(cp, stage, p, H, W), atol=1e-6)


def test_points_learn_where_a_position_is_drawn_without_calibration():
    """A blob whose place is an unknown affine function of a 3-D position (a camera) is learned
    from images alone: after training, the map's peak sits on the drawn blob's pixel."""
    torch.manual_seed(0)
    H = W = 16
    camera = torch.tensor([[0.9, -0.4, 0.2], [0.3, 0.8, -0.5]])
    cp = ConditionPoints(3, 1, [1], hidden=32)
    opt = torch.optim.Adam(cp.parameters(), lr=1e-2)

    def batch(n):
        pos = torch.rand(n, 3) * 2 - 1
        centre = (pos @ camera.T).clamp(-0.8, 0.8)
        target = torch.cat([centre, torch.full((n, 2), 0.15)], 1)[:, None]  # (n, 1, 4)
        one = torch.ones(1, 1)  # a unit projection draws the blob itself
        image = _explicit_maps(type("P", (), {"proj": [one]})(), 0, target, H, W)
        return pos, image

    for _ in range(300):
        pos, image = batch(64)
        p = cp.locate(pos)
        pred = cp.maps(0, torch.cat([p, p], 1), (H, W))
        loss = (pred - image).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    cp.eval()
    pos, image = batch(32)
    with torch.no_grad():
        p = cp.locate(pos)
        pred = cp.maps(0, torch.cat([p, p], 1), (H, W))
    peak = lambda m: torch.stack([m.flatten(1).argmax(1) // W, m.flatten(1).argmax(1) % W], 1)  # noqa: E731
    err = (peak(pred[:, 0].abs()) - peak(image[:, 0])).abs().max()
    assert err <= 1, err


def _svg(**kw):
    torch.manual_seed(0)
    return SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, cond_points=3, **kw)


def test_svg_steps_read_the_points_of_their_target_and_source_frames():
    """Training step i (predicting frame i+1) and rollout step i read the points of frame i+1
    (where to draw) and of frame min(i, n_past-1) (the frame the composite copies)."""
    model = _svg().eval()
    B, T, n_past = 2, 6, 2
    g = torch.Generator().manual_seed(1)
    frames, cond = torch.rand(B, T, 3, 64, 64, generator=g), torch.randn(B, T, 7, generator=g)
    own = model.points.locate(cond)  # (B, T, K, 4)
    steps = model.step_points(cond, T, n_past)
    for i in range(T - 1):
        assert torch.equal(steps[:, i, :3], own[:, i + 1])
        assert torch.equal(steps[:, i, 3:], own[:, min(i, n_past - 1)])

    seen = []
    maps = model.points.maps
    model.points.maps = lambda stage, p, hw: (seen.append(p) if stage == 0 else None) or maps(stage, p, hw)
    list(model.rollout_steps(frames[:, :n_past], cond, T - n_past, samples=2))
    assert len(seen) == T - n_past
    for j, p in enumerate(seen):  # rollout step j predicts frame n_past + j
        want = torch.cat([own[:, n_past + j], own[:, n_past - 1]], 1).repeat_interleave(2, 0)
        assert torch.allclose(p, want, atol=1e-6)


def test_the_loss_reaches_the_points_mlp_and_every_projection():
    model = _svg().train()
    g = torch.Generator().manual_seed(2)
    frames, cond = torch.rand(2, 5, 3, 64, 64, generator=g), torch.randn(2, 5, 7, generator=g)
    out = model(frames, cond, 2, beta=1e-4)
    out.loss.backward()
    assert model.points.mlp[0].weight.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in model.points.proj)


@pytest.mark.parametrize("kw", [dict(cond_kind="image", cond_dim=3), dict(cond_dim=0)])
def test_points_need_vector_conditions(kw):
    with pytest.raises(ValueError, match=r"model.cond_points=3: condition points need .*vector conditions"):
        SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_points=3, **kw)
