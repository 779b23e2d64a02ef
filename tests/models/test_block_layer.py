"""The block layer (vidpred.models.block_layer) on constructed frames where the answer is known."""
import pytest
import torch

from vidpred.camera import project
from vidpred.models import SVG
from vidpred.models.block_layer import GLIMPSE, BlockLayer, frame_features, render, translate
from vidpred.models.heads import ArmPasteHead, StepExtras
from vidpred.vision import MIN_BLOCK_PIXELS

RED = torch.tensor([0.8, 0.1, 0.1])


def _clips(N, L, seed, size=64, side=8):
    """Grey tables with a red block pushed along x by the action: the block's x velocity is
    the first condition entry (pixels per frame, constant per clip); the other entries are
    noise. Returns frames (N, L, 3, H, W) uint8, conditions (N, L, 4), centres (N, L, 2)."""
    g = torch.Generator().manual_seed(seed)
    speed = torch.rand(N, generator=g) * 3 - 1.5
    start = torch.rand(N, 2, generator=g) * 16 + 24
    t = torch.arange(L, dtype=torch.float32)
    centres = torch.stack([start[:, None, 0] + speed[:, None] * t,
                           start[:, None, 1].expand(N, L)], -1)
    frames = torch.full((N, L, 3, size, size), 0.5)
    xs = torch.arange(size) + 0.5
    cx, cy = centres[..., 0, None, None], centres[..., 1, None, None]       # (N, L, 1, 1)
    inside = ((xs[None, None, None, :] - cx).abs() <= side / 2) \
        & ((xs[None, None, :, None] - cy).abs() <= side / 2)               # (N, L, H, W)
    frames = torch.where(inside[:, :, None], RED[:, None, None], frames)
    cond = torch.cat([speed[:, None, None].expand(N, L, 1),
                      torch.randn(N, L, 3, generator=g)], -1)
    return frames.mul(255).round().to(torch.uint8), cond, centres


# a table-to-image homography that puts the table's 1.1-1.5 x 0.5-1.0 m inside 64 x 64 pixels
CAMERA = torch.tensor([[80.0, 10.0, -60.0], [5.0, 70.0, -20.0], [0.1, 0.05, 1.0]])


def _pushed(N, L, seed, contact=0.05, pushing=True, side=8):
    """Clips in which a gripper (condition entries 4:6, table metres; BAIR's layout: action 4,
    end effector 3) moves in a straight line and, with ``pushing``, pushes the block ahead of
    it, the block's centre ``contact`` metres ahead along its motion, seen through
    :data:`CAMERA`; without, the block rests. Returns frames (N, L, 3, 64, 64) uint8,
    conditions (N, L, 7), centres (N, L, 2) pixels."""
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(N, 2, generator=g) * torch.tensor([0.2, 0.25]) + torch.tensor([1.2, 0.62])
    angle = torch.rand(N, generator=g) * 2 * torch.pi
    u = torch.stack([angle.cos(), angle.sin()], -1)
    grip = start[:, None] + u[:, None] * 0.015 * torch.arange(L, dtype=torch.float32)[:, None]
    rest = (start + contact * u)[:, None].expand(N, L, 2)
    block = grip + contact * u[:, None] if pushing else rest
    centres = project(CAMERA, block)
    xs = torch.arange(64) + 0.5
    cx, cy = centres[..., 0, None, None], centres[..., 1, None, None]
    inside = ((xs[None, None, None, :] - cx).abs() <= side / 2) \
        & ((xs[None, None, :, None] - cy).abs() <= side / 2)
    frames = torch.where(inside[:, :, None], RED[:, None, None], torch.full((3, 64, 64), 0.5))
    step = torch.cat([grip[:, 1:] - grip[:, :-1], torch.zeros(N, 1, 2)], 1)
    cond = torch.cat([step, torch.zeros(N, L, 2), grip, torch.full((N, L, 1), 0.1)], -1)
    return frames.mul(255).round().to(torch.uint8), cond, centres


def _fitted(frames: torch.Tensor, cond: torch.Tensor, centres: torch.Tensor,
            seed: int | None = 0) -> tuple[BlockLayer, str]:
    """A layer fitted to clips whose block is visible throughout (window: the whole clip);
    the global seed set first unless ``seed`` is None. Returns it and the fit's log line."""
    if seed is not None:
        torch.manual_seed(seed)
    layer = BlockLayer(cond.shape[-1], tuple(frames.shape[-2:]))
    seen = torch.ones(centres.shape[:2], dtype=torch.bool)
    return layer, layer.fit(frames, cond, (centres, seen), window=frames.shape[1])


def test_the_fit_learns_where_the_gripper_is_in_the_image_from_the_pushes():
    layer, line = _fitted(*_pushed(48, 8, seed=0))
    assert "camera map fitted to" in line and bool(layer.dynamics.mapped)
    # a visible block's brightest channel: RED's 0.8, what a glimpsed block is drawn at
    assert abs(float(layer.brightness) - 0.8) < 0.01
    xy = torch.rand(100, 2) * torch.tensor([0.4, 0.5]) + torch.tensor([1.1, 0.5])
    assert (project(layer.dynamics.table, xy) - project(CAMERA, xy)).abs().max() < 0.5
    # where the block never moves there is no push to learn the camera from: the gripper's
    # inputs stay zero
    frames, cond, centres = _pushed(48, 8, seed=0, pushing=False)
    layer, line = _fitted(frames, cond, centres, seed=None)
    assert "no camera map, the gripper not seen (0 pushes found" in line
    assert not bool(layer.dynamics.mapped)
    ref = torch.full((2, 2), 32.0)
    assert layer.dynamics._grip(cond[:2], ref, 8.0).eq(0).all()


def test_a_checkpoint_whose_dynamics_do_not_see_the_gripper_loads_and_predicts_as_before():
    from vidpred.models.block_layer import BlockDynamics

    def model():
        return SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, retrieval=3,
                   retrieval_paste="arm", block_layer=True)

    torch.manual_seed(0)
    old = model()
    assert old.block.dynamics.gripper                       # the dynamics see it by default
    old.block.dynamics = BlockDynamics(7, 2, (64, 64), gripper=False)
    old.block.dynamics.fitted.fill_(True)
    state = old.state_dict()
    assert not any(k.startswith("block.dynamics.table") for k in state)
    del state["block.dynamics.least"], state["block.brightness"]  # from before glimpses counted
    new = model()
    new.block.adopt(state, "block.")          # what SVG.prepare_load does for the layer
    new.block.load_state_dict({k[len("block."):]: v for k, v in state.items()
                               if k.startswith("block.")})
    assert not new.block.dynamics.gripper
    # such dynamics read only visible blocks, as they were fitted to
    assert float(new.block.dynamics.least) == MIN_BLOCK_PIXELS and float(new.block.brightness) == 0
    assert float(model().block.dynamics.least) == GLIMPSE
    assert not any(p.requires_grad for p in new.block.dynamics.parameters())
    frames, cond, _ = _pushed(2, 6, seed=1)
    feats, seen = frame_features(frames[:, :2, 0].float() / 255)
    # equal weights; a CPU's matrix kernels may sum in another order for another allocation
    # (seen on AVX2 CPUs), hence a tolerance far below a pixel
    for a, b in zip(old.block.dynamics(feats, seen, cond[:, :2], cond[:, 1:]),
                    new.block.dynamics(feats, seen, cond[:, :2], cond[:, 1:])):
        assert torch.allclose(a, b, rtol=0.0, atol=1e-4)


def test_frame_features_give_the_visible_pixels_centroid_weight_and_box():
    w = torch.zeros(2, 64, 64)
    w[0, 10:14, 20:26] = 1.0                       # 4 rows x 6 columns
    feats, seen = frame_features(w)
    assert seen.tolist() == [True, False]
    mass, cx, cy, x0, x1, y0, y1 = feats[0].tolist()
    assert (mass, cx, cy) == (24.0, 23.0, 12.0)
    assert (x0, x1, y0, y1) == (20.5, 25.5, 10.5, 13.5)
    assert torch.equal(feats[1], torch.zeros(7))   # no block: no features


def test_render_draws_a_square_of_the_side_with_antialiased_edges():
    alpha = render(torch.tensor([[[32.0, 20.0], [10.5, 40.5]]]), torch.tensor([6.0]), (64, 64))
    assert alpha.shape == (1, 2, 1, 64, 64)
    assert alpha[0, 0].sum().item() == pytest.approx(36.0)
    # edges on pixel borders: 6 x 6 whole pixels, nothing beside them
    assert alpha[0, 0, 0, 17:23, 29:35].min() == 1 and alpha[0, 0, 0, 16, 32] == 0
    # centred on a pixel: its edges cut the outer pixels in half
    assert alpha[0, 1].sum().item() == pytest.approx(36.0)
    row = alpha[0, 1, 0, 40]
    assert row[7] == 0.5 and row[8] == 1 and row[6] == 0


def test_translate_moves_whole_pixels_with_their_values_and_zeros_move_in():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5) + 1
    out = translate(x, torch.tensor([[[0.0, 0.0], [1.4, 0.0]], [[-2.0, 1.0], [0.6, -0.7]]]))
    assert out.shape == (2, 2, 3, 4, 5)
    assert torch.equal(out[0, 0], x[0])                                  # no move
    assert torch.equal(out[0, 1, :, :, 1:], x[0, :, :, :-1])             # 1.4 px right -> 1
    assert out[0, 1, :, :, 0].eq(0).all()
    assert torch.equal(out[1, 0, :, 1:, :-2], x[1, :, :-1, 2:])          # 2 left, 1 down
    assert out[1, 0, :, 0].eq(0).all() and out[1, 0, :, :, -2:].eq(0).all()
    assert torch.equal(out[1, 1, :, :-1, 1:], x[1, :, 1:, :-1])          # rounded: 1 right, 1 up


def test_the_fitted_layer_moves_the_block_where_the_actions_push_it():
    layer, line = _fitted(*_clips(64, 8, seed=0))
    assert "fitted to 64 training clips" in line and bool(layer.dynamics.fitted)
    test, tcond, tcentres = _clips(16, 8, seed=1)
    rgb, alpha, erase = layer(test[:, :2].float() / 255, tcond, 8, torch.full((3, 64, 64), 0.5))
    assert rgb.shape == (16, 7, 3, 64, 64) and alpha.shape == (16, 7, 1, 64, 64)
    last = alpha[:, -1, 0]
    got = (last.sum(-2) * (torch.arange(64) + 0.5)).sum(-1) / last.sum((-2, -1))
    err = (got - tcentres[:, -1, 0]).abs()
    static = (tcentres[:, 1, 0] - tcentres[:, -1, 0]).abs()
    assert err.median() < 1.5 and err.mean() < static.mean() / 3
    # the layer carries the block's own pixels (with a pixel of table around them), whole;
    # the context block is to be erased
    red = ((rgb[:, -1] - RED[:, None, None]).abs().amax(1) < 0.05) & (alpha[:, -1, 0] > 0.99)
    assert (red.sum((-2, -1)) >= 48).all()
    assert erase.shape == (16, 1, 1, 64, 64)
    assert (erase[:, 0, 0] >= (test[:, 1].float().div(255) - 0.5).abs().sum(1).gt(0.3)).all()


def test_one_context_repeated_over_the_batch_gives_the_layer_of_each_copy():
    """A planner's candidates share one context (an expanded view, read once) and differ in
    their actions: the layer equals that of the context copied out for every candidate."""
    layer, _ = _fitted(*_clips(32, 8, seed=0))
    test, tcond, _ = _clips(1, 8, seed=1)
    actions = tcond.expand(6, -1, -1).clone()
    actions[:, :, 0] = torch.linspace(-1.5, 1.5, 6)[:, None]
    context = (test[:, :2].float() / 255).expand(6, -1, -1, -1, -1)
    scene = torch.full((3, 64, 64), 0.5)
    shared = layer(context, actions, 8, scene)
    copied = layer(context.contiguous(), actions, 8, scene)
    for a, b in zip(shared, copied):
        assert torch.equal(a, b)
    assert not torch.equal(shared[1][0], shared[1][-1])      # pushed apart by the actions


def test_the_head_lays_the_block_over_the_drawn_frame_under_the_pasted_arm():
    head = ArmPasteHead(3)
    source = torch.full((1, 1, 3, 8, 8), 0.5)
    source[..., 0:2, 0:2] = 0.9                     # the context block, which has moved away
    retrieved = torch.full((1, 1, 3, 8, 8), 0.1)    # the memory frame; its arm at 4:6, 4:6
    arm = torch.zeros(1, 1, 1, 8, 8)
    arm[..., 4:6, 4:6] = 1
    block_alpha = torch.zeros(1, 1, 1, 8, 8)
    block_alpha[..., 3:5, 3:5] = 1                  # the block's layer, partly under the arm
    block_rgb = torch.full((1, 1, 3, 8, 8), 0.7)
    erase = torch.zeros(1, 1, 1, 8, 8)
    erase[..., 0:2, 0:2] = 1
    extras = StepExtras(None, retrieved, arm, torch.zeros(1, 1, 1, 8, 8),
                        torch.full((3, 8, 8), 0.5), block_rgb, block_alpha, erase)
    raw = torch.zeros(1, 1, 4, 8, 8)
    raw[:, :, 3] = -30.0                            # the decoder's mask: copy everywhere
    out = head(raw, source, extras)
    want = torch.full((1, 1, 3, 8, 8), 0.5)         # the old block erased to the scene
    want[..., 3:5, 3:5] = 0.7                       # the block where the layer puts it
    want[..., 4:6, 4:6] = 0.1                       # the arm over it
    assert torch.allclose(out, want, atol=1e-6)
    raw[:, :, 3] = 30.0                             # the decoder draws grey over everything
    out = head(raw, source, extras)
    assert torch.allclose(out[..., 3, 3], torch.full((1, 1, 3), 0.7), atol=1e-6)


def test_a_block_layer_needs_the_pasted_arm_and_is_off_without_a_memory():
    with pytest.raises(ValueError, match="model.block_layer=true"):
        SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, retrieval=3,
            retrieval_paste="blend", block_layer=True)
    # it erases to the memory's empty scene: --set model.retrieval=0 turns it off too
    assert SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, retrieval=0,
               block_layer=True).block is None


def test_training_fits_the_layer_to_the_simulators_centres_and_the_checkpoint_carries_it(
        push_root, tmp_path):
    from vidpred.checkpoint import load_trained_model
    from vidpred.data import make_dataset
    from vidpred.training.loop import train

    from ..conftest import tiny_config

    split = make_dataset(push_root, "bair", "train", 6, train=True)
    centres, seen = split.block_centres()
    assert centres.shape == (6, split.seqs.frames.shape[1], 2) and seen.dtype == torch.bool
    assert ((centres >= 0) & (centres <= 64)).all()
    cfg = tiny_config(push_root, iterations=2, iters_per_epoch=2, precise_bn_batches=0)
    cfg.model.retrieval, cfg.model.retrieval_paste, cfg.model.block_layer = 3, "arm", True
    lines = []
    train(cfg, tmp_path / "run", progress=False, log=lines.append)
    assert any("block layer: its dynamics fitted to 6 training clips" in x for x in lines)
    model, _, _ = load_trained_model(tmp_path / "run" / "best.ckpt")
    assert bool(model.block.dynamics.fitted)
    test = make_dataset(push_root, "bair", "test", 6, train=False)
    frames, cond = test.batch([0, 1])
    out = model.eval().rollout(frames[:, :2], cond, 4, samples=2)
    assert out.shape == (2, 2, 4, 3, 64, 64) and torch.isfinite(out).all()


def test_a_resumed_run_loads_the_fitted_layer_instead_of_refitting_it_and_continues_exactly(
        push_root, tmp_path):
    from vidpred.checkpoint import load_checkpoint, load_trained_model
    from vidpred.training.loop import train

    from ..conftest import tiny_config

    cfg = tiny_config(push_root, iterations=4, iters_per_epoch=2, precise_bn_batches=0)
    cfg.model.retrieval, cfg.model.retrieval_paste, cfg.model.block_layer = 3, "arm", True
    train(cfg, tmp_path / "a", progress=False, log=lambda *a: None)
    run = tmp_path / "b"
    train(cfg, run, progress=False, log=lambda *a: None)
    (run / "epoch_0000.ckpt").replace(run / "last.ckpt")    # as if it had stopped there
    lines = []
    train(cfg, run, resume=True, progress=False, log=lines.append)
    assert not any("dynamics fitted" in x for x in lines)    # loaded, not fitted again
    assert any("fitted dynamics come from the checkpoint" in x for x in lines)
    assert any("frame memory" in x for x in lines)           # the memory's index is rebuilt
    a = load_checkpoint(tmp_path / "a" / "last.ckpt")["model"]
    b = load_checkpoint(run / "last.ckpt")["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    model, _, _ = load_trained_model(run / "last.ckpt")
    assert bool(model.block.dynamics.fitted)
    assert not any(p.requires_grad for p in model.block.dynamics.parameters())




class _Known(torch.nn.Module):
    """Block dynamics that answer with given centres (B, S, 2) and sides (B,), pixels."""

    def __init__(self, centres: torch.Tensor, side: torch.Tensor, least: float = GLIMPSE):
        super().__init__()
        self.centres, self.side = centres, side
        self.register_buffer("least", torch.tensor(least))

    def forward(self, feats, seen, cond_ctx, cond):
        return self.centres[:, :cond.shape[1]], self.side


def test_the_part_of_the_block_under_an_arm_that_looks_like_the_table_is_filled_given_its_mask():
    """The gripper's light grey over a white table differs from the empty scene by less than
    the layer's threshold: only the context's arm mask tells that it hides the block there.
    The dynamics are given the true centres, so the layer's drawing alone is tested."""
    test, tcond, tcentres = _clips(4, 8, seed=1)
    context = test[:, :2].float() / 255
    scene = torch.full((3, 64, 64), 0.5)
    block = (context - 0.5).abs().amax(2, keepdim=True) > 0.2          # (4, 2, 1, H, W)
    layer = BlockLayer(4, (64, 64))
    layer.dynamics = _Known(tcentres[:, 1:], block[:, 1].sum((-3, -2, -1)).float().sqrt())
    arm = torch.zeros(4, 2, 1, 64, 64)
    for i in range(4):                      # the block's right three columns, in both frames
        for t in range(2):
            x1 = int(block[i, t, 0].any(0).nonzero().max())
            arm[i, t, 0, :, x1 - 2:x1 + 6] = 1
    context = torch.where(arm.bool(), torch.full_like(context, 0.52), context)
    hidden = (block & arm.bool())[:, 1, 0]                             # (4, H, W)
    without = layer(context, tcond, 8, scene)
    given = layer(context, tcond, 8, scene, arm)

    # the step whose target is the last context frame: the layer where the block stood; the
    # hidden pixels it shows in the block's colour (the square's edge pixels in part: the
    # centres are not on pixel borders)
    def red(layer):
        rgb, alpha = layer[0][:, 0], layer[1][:, 0, 0]
        return ((rgb - RED[:, None, None]).abs().amax(1) < 0.05) & (alpha > 0.4) & hidden

    assert red(without).sum() == 0                           # a notch (its edge the arm's grey)
    assert (red(given).sum((-2, -1)) >= hidden.sum((-2, -1)) * 2 / 3).all()
    # what the context shows of the block is the same either way
    shown = block[:, 1, 0] & ~arm[:, 1, 0].bool()
    assert torch.equal(without[0][:, 0].mul(shown[:, None]), given[0][:, 0].mul(shown[:, None]))


def test_the_layer_says_where_it_puts_the_block_also_where_it_is_hidden():
    """centres() is the drawn block's place: the predicted centre of the last context frame
    moved as the layer moves the block (whole pixels, none below STAY); NaN with no block."""
    test, tcond, tcentres = _clips(4, 8, seed=1)
    context = test[:, :2].float() / 255
    block = (context - 0.5).abs().amax(2) > 0.2                        # (4, 2, H, W)
    layer = BlockLayer(4, (64, 64))
    layer.dynamics = _Known(tcentres[:, 1:], block[:, 1].sum((-2, -1)).float().sqrt())
    placed = layer.centres(context, tcond, 8)
    assert placed.shape == (4, 6, 2)
    moved = tcentres[:, 2:] - tcentres[:, 1:2]
    want = tcentres[:, 1:2] + torch.where(moved.norm(dim=-1, keepdim=True) < 2.0,
                                          torch.zeros_like(moved), moved).round()
    assert torch.allclose(placed, want)
    # the drawn layer's square sits there: its centroid within half a pixel of it
    _, alpha, _ = layer(context, tcond, 8, torch.full((3, 64, 64), 0.5))
    a = alpha[:, 1:, 0]                                                # frames 2 .. 7
    xs = torch.arange(64) + 0.5
    cx = (a.sum(-2) * xs).sum(-1) / a.sum((-2, -1))
    cy = (a.sum(-1) * xs).sum(-1) / a.sum((-2, -1))
    assert (torch.stack([cx, cy], -1) - placed).abs().max() < 0.75
    empty = torch.full_like(context, 0.5)
    assert layer.centres(empty, tcond, 8).isnan().all()


def test_a_block_the_arm_hides_but_for_a_glimpse_is_drawn_whole_in_its_colour():
    """The arm covers all of the block but two pixels in both context frames, and those are in
    its shade (half as bright): the layer reads the colour from them and draws the whole square
    where the dynamics put it, at a visible block's brightness. Without that brightness (0) the
    hidden part takes the glimpse's own; dynamics fitted before glimpses counted (``least`` a
    visible block's weight) draw nothing there."""
    test, tcond, tcentres = _clips(4, 8, seed=1)
    context = test[:, :2].float() / 255
    block = (context - 0.5).abs().amax(2, keepdim=True) > 0.2          # (4, 2, 1, H, W)
    side = block[:, 1].sum((-3, -2, -1)).float().sqrt()
    arm = block.clone()
    for i in range(4):                      # the block's top-left pixel and its right neighbour
        y, x = (int(v) for v in block[i, 1, 0].nonzero()[0])
        arm[i, :, 0, y, x:x + 2] = False
    context = torch.where(arm, torch.full_like(context, 0.52),
                          torch.where(block, context / 2, context))
    arm = arm.float()
    scene = torch.full((3, 64, 64), 0.5)

    def drawn(least, brightness, colour):
        layer = BlockLayer(4, (64, 64))
        layer.dynamics = _Known(tcentres[:, 1:], side, least)
        layer.brightness.fill_(brightness)
        rgb, alpha, _ = layer(context, tcond, 8, scene, arm)
        # the step whose target is the last context frame: the block where it stood
        return ((rgb[:, 0] - colour[:, None, None]).abs().amax(1) < 0.05) & (alpha[:, 0, 0] > 0.4)

    whole = block[:, 1, 0]
    for brightness, colour in ((0.8, RED), (0.0, RED / 2)):
        assert ((drawn(GLIMPSE, brightness, colour) & whole).sum((-2, -1))
                >= whole.sum((-2, -1)) * 0.9).all()
    assert drawn(MIN_BLOCK_PIXELS, 0.8, RED).sum() == 0


def test_a_checkpoint_without_the_glimpse_buffers_loads_and_draws_its_layer_as_before():
    """A fitted layer whose checkpoint lacks ``dynamics.least`` and ``brightness`` (the camera
    map among its weights) reads visible blocks only: on a context whose block shows 16 pixels,
    its layer equals that of the same weights with those values, and is empty."""
    frames, cond, centres = _pushed(4, 8, seed=2)
    context = frames[:, :2].float() / 255
    block = (context - 0.5).abs().amax(2, keepdim=True) > 0.2          # (4, 2, 1, H, W)
    left = block.any(-2, keepdim=True).int().cumsum(-1) <= 2           # its first two columns
    context = torch.where(block & ~left, torch.full_like(context, 0.5), context)
    assert (block & left).sum((-3, -2, -1)).max() < MIN_BLOCK_PIXELS
    torch.manual_seed(0)
    old = BlockLayer(7, (64, 64))
    old.dynamics.fitted.fill_(True)
    old.dynamics.least.fill_(MIN_BLOCK_PIXELS)
    state = old.state_dict()
    assert "dynamics.table" in state
    del state["dynamics.least"], state["brightness"]
    new = BlockLayer(7, (64, 64))
    new.adopt(state, "")
    new.load_state_dict(state)
    assert float(new.dynamics.least) == MIN_BLOCK_PIXELS and float(new.brightness) == 0
    scene = torch.full((3, 64, 64), 0.5)
    for a, b in zip(old(context, cond, 8, scene), new(context, cond, 8, scene)):
        assert torch.equal(a, b)
    assert float(new(context, cond, 8, scene)[1].sum()) == 0
    new.dynamics.least.fill_(GLIMPSE)                  # the same weights reading glimpses
    assert float(new(context, cond, 8, scene)[1].sum()) > 0
