import pytest
import torch

from vidpred.checkpoint import load_model_state
from vidpred.models import SVG
from vidpred.models.memory import FrameMemory, coverage, pack_masks, unpack_masks


def _sequences(N=4, L=5, D=7, seed=0):
    """N sequences of L frames, each frame a constant image; conditions with distinct keys."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.randint(0, 256, (N, L, 3, 1, 1), generator=g, dtype=torch.uint8)
    frames = frames.expand(N, L, 3, 8, 8).contiguous()
    cond = torch.randn(N, L, D, generator=g)
    return frames, cond


def test_lookup_returns_the_frame_with_the_nearest_key():
    frames, cond = _sequences()
    mem = FrameMemory(3, 3, (8, 8))
    mem.fill(frames, cond)
    assert len(mem) == 20
    # queries near (not at) stored keys, with other entries (actions) that must not matter
    q = cond[[2, 0]].clone()
    q[..., -3:] += 1e-3
    q[..., :4] = torch.randn(2, 5, 4)
    got = mem.lookup(q)
    assert got.shape == (2, 5, 3, 8, 8) and got.dtype == torch.float32
    assert torch.equal(got, frames[[2, 0]].float() / 255)


def test_lookup_in_training_skips_the_clips_own_sequence():
    frames, cond = _sequences()
    mem = FrameMemory(3, 3, (8, 8))
    mem.fill(frames, cond)
    clip = cond[1:2, 1:4]  # a window of sequence 1
    got = mem.lookup(clip, exclude_own=True)
    keys = cond[..., -3:].reshape(-1, 3)
    others = torch.arange(20) // 5 != 1
    for t in range(3):
        d = (keys - clip[0, t, -3:]).norm(dim=1)
        d[~others] = float("inf")
        assert torch.equal(got[0, t], frames.flatten(0, 1)[d.argmin()].float() / 255)
    # a clip from elsewhere (no exact key in the memory) excludes nothing
    assert torch.equal(mem.lookup(clip + 1e-3, exclude_own=True), frames[1:2, 1:4].float() / 255)


def test_the_own_sequence_is_excluded_when_other_sequences_share_its_keys():
    """Every sequence ends at the same place (an arm at rest): the clip's last keys are in all
    of them, yet only its own sequence holds its whole window."""
    frames, cond = _sequences(N=4, L=6)
    cond[:, 3:, -3:] = cond[0, 3:, -3:]  # frames 3-5 share keys across the sequences
    mem = FrameMemory(3, 3, (8, 8))
    mem.fill(frames, cond)
    for n in range(4):
        got = mem.lookup(cond[n:n + 1, 1:5], exclude_own=True)
        own = frames[n].float() / 255
        assert not (got[0, :, None] == own[None]).flatten(2).all(-1).any(), n
        # the shared keys still find the other sequences' frames
        others = torch.cat([frames[m, 3:5] for m in range(4) if m != n]).float() / 255
        assert (got[0, 2:, None] == others[None]).flatten(2).all(-1).any(-1).all(), n


def test_empty_memory_and_bad_fills_raise():
    mem = FrameMemory(3, 3, (8, 8))
    with pytest.raises(RuntimeError, match="model.retrieval: the frame memory is empty"):
        mem.lookup(torch.zeros(1, 2, 7))
    frames, cond = _sequences()
    with pytest.raises(ValueError, match="uint8"):
        mem.fill(frames.float(), cond)
    with pytest.raises(ValueError, match="conditions"):
        mem.fill(frames, cond[..., :2])


def _svg(**kw):
    torch.manual_seed(0)
    return SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, image_hw=(64, 64),
               cond_points=2, retrieval=3, **kw)


def test_svg_with_a_memory_trains_rolls_out_and_round_trips_through_a_state_dict():
    model = _svg()
    frames = torch.randint(0, 256, (3, 6, 3, 64, 64), dtype=torch.uint8)
    cond = torch.randn(3, 6, 7)
    model.memory.fill(frames, cond)
    x = frames.float() / 255
    out = model(x[:2], cond[:2], 2, 1e-4)
    out.loss.backward()
    assert out.pred.shape == (2, 5, 3, 64, 64)
    assert model.head.logits.weight.grad.abs().sum() > 0  # the memory frames are read
    model.eval()
    fresh = _svg()  # an empty memory: the checkpoint's frames size it
    load_model_state(fresh, model.state_dict(), "ckpt")
    fresh.eval()
    assert torch.equal(fresh.memory.frames, model.memory.frames)
    torch.manual_seed(1)
    a = torch.stack(list(model.rollout_steps(x[:2, :2], cond[:2], 4, samples=2)), 1)
    torch.manual_seed(1)
    b = torch.stack(list(fresh.rollout_steps(x[:2, :2], cond[:2], 4, samples=2)), 1)
    assert a.shape == (2, 4, 2, 3, 64, 64) and torch.allclose(a, b)


def test_a_checkpoint_without_memory_frames_is_refused():
    from vidpred.errors import CheckpointError

    empty = _svg().state_dict()
    with pytest.raises(CheckpointError, match="ckpt: the model has a frame memory"):
        load_model_state(_svg(), empty, "ckpt")


def test_svg_memory_needs_composite_and_enough_condition_entries():
    with pytest.raises(ValueError, match="retrieval=3"):
        SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=2, retrieval=3)
    with pytest.raises(ValueError, match="retrieval=3"):
        SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, output="warp", retrieval=3)


def test_training_fills_the_memory_from_the_training_split_and_the_checkpoint_carries_it(
        push_root, tmp_path):
    from vidpred.checkpoint import load_trained_model
    from vidpred.data import make_dataset
    from vidpred.training.loop import train

    from ..conftest import tiny_config

    cfg = tiny_config(push_root, iterations=2, iters_per_epoch=2, precise_bn_batches=0)
    cfg.model.retrieval = 3
    train(cfg, tmp_path / "run", progress=False, log=lambda *a: None)
    model, _, _ = load_trained_model(tmp_path / "run" / "best.ckpt")
    split = make_dataset(push_root, "bair", "train", 6, train=True)
    assert torch.equal(model.memory.frames, split.seqs.frames.flatten(0, 1))
    # a test clip's frames come from the training split, found by end-effector position
    test = make_dataset(push_root, "bair", "test", 6, train=False)
    _, cond = test.batch([0])
    got = model.retrieve(cond, 6, 2).retrieved  # frames 1..5, the ones a step predicts
    keys = split.seqs.cond[..., 4:].reshape(-1, 3)
    nearest = (keys[None] - cond[0, 1:, None, 4:]).norm(dim=-1).argmin(1)
    assert got.shape == (1, 5, 3, 64, 64)
    assert torch.equal(got[0], split.seqs.frames.flatten(0, 1)[nearest].float() / 255)
    # best.ckpt is for evaluating: the weights without Adam's moments; last.ckpt resumes
    from vidpred.checkpoint import load_checkpoint
    from vidpred.errors import ConfigError
    from vidpred.evaluation.evaluate import evaluate_checkpoint

    assert load_checkpoint(tmp_path / "run" / "best.ckpt")["optimizer"] is None
    assert load_checkpoint(tmp_path / "run" / "last.ckpt")["optimizer"] is not None
    # the memory holds the training split: figures there would copy the answers
    with pytest.raises(ConfigError, match="--split train: .*frame memory"):
        evaluate_checkpoint(tmp_path / "run" / "best.ckpt", None, "train", None, None, 1,
                            tmp_path / "ev", progress=False)
    assert not (tmp_path / "ev").exists()


def test_a_masked_memory_keeps_arm_masks_and_the_empty_scene():
    """The scene is the per-pixel median of the frames where no arm covers the pixel; without a
    segmentation the masks are estimated as what differs from the scene."""
    N, L = 6, 4
    frames = torch.full((N, L, 3, 8, 8), 200, dtype=torch.uint8)   # a grey table
    masks = torch.zeros(N, L, 8, 8, dtype=torch.bool)
    for n in range(N):
        for t in range(L):
            c = (n + t) % 6
            frames[n, t, :, 2:4, c:c + 2] = 30                       # a dark arm that moves
            masks[n, t, 2:4, c:c + 2] = True
    cond = torch.randn(N, L, 7)
    mem = FrameMemory(3, 3, (8, 8), masked=True)
    mem.fill(frames, cond, masks)
    assert torch.allclose(mem.scene, torch.full((3, 8, 8), 200 / 255))
    idx = mem.index(cond[:2, :2])
    assert torch.equal(mem.arm_masks(idx)[:, :, 0].bool(), masks[:2, :2])
    estimated = FrameMemory(3, 3, (8, 8), masked=True)
    estimated.fill(frames, cond)   # no segmentation: what differs from the scene, grown by 1 px
    got = unpack_masks(estimated.masks, (8, 8)).unflatten(0, (N, L))
    assert (got >= masks).all() and got.sum() < 4 * masks.sum()


def test_the_arm_paste_composite_takes_only_the_arm_from_the_memory_frame():
    """With the decoder's own mask shut, the frame is the source with its arm erased (the scene
    there) and the retrieved frame's arm pasted: another sequence's block never shows."""
    from vidpred.models.heads import ArmPasteHead, StepExtras

    head = ArmPasteHead(3)
    source = torch.full((1, 1, 3, 8, 8), 0.5)
    source[..., 0:2, 0:2] = 0.1                       # the context frame's arm
    source[..., 6:8, 6:8] = 0.9                       # its block
    retrieved = torch.full((1, 1, 3, 8, 8), 0.5)
    retrieved[..., 3:5, 3:5] = 0.1                    # the memory frame's arm, elsewhere
    retrieved[..., 6:8, 0:2] = 0.7                    # and another sequence's block
    arm, old_arm = torch.zeros(1, 1, 1, 8, 8), torch.zeros(1, 1, 1, 8, 8)
    arm[..., 3:5, 3:5], old_arm[..., 0:2, 0:2] = 1, 1
    scene = torch.full((3, 8, 8), 0.5)
    raw = torch.zeros(1, 1, 4, 8, 8)
    raw[:, :, 3] = -30.0                              # the decoder's mask: copy everywhere
    out = head(raw, source, StepExtras(None, retrieved, arm, old_arm, scene))
    want = torch.full((1, 1, 3, 8, 8), 0.5)
    want[..., 3:5, 3:5], want[..., 6:8, 6:8] = 0.1, 0.9
    assert torch.allclose(out, want, atol=1e-6)


@pytest.mark.parametrize("output", ["composite", "warp"])
def test_the_arm_over_head_keeps_the_pasted_arm_whatever_the_decoder_draws(output):
    """With the decoder's mask open everywhere (it draws a flat grey), ``arm_over`` shows the
    retrieved arm unchanged where its mask is, the drawn frame elsewhere; ``arm`` lets the
    drawn frame cover the arm."""
    from vidpred.models.heads import StepExtras, head_class

    source = torch.full((1, 1, 3, 8, 8), 0.5)
    retrieved = torch.full((1, 1, 3, 8, 8), 0.5)
    retrieved[..., 3:5, 3:5] = 0.1                    # the memory frame's arm
    arm, old_arm = torch.zeros(1, 1, 1, 8, 8), torch.zeros(1, 1, 1, 8, 8)
    arm[..., 3:5, 3:5] = 1
    extras = StepExtras(None, retrieved, arm, old_arm, torch.full((3, 8, 8), 0.5))
    over, under = head_class(output, True, "arm_over")(3), head_class(output, True, "arm")(3)
    raw = torch.zeros(1, 1, over.raw_channels(3), 8, 8)
    raw[:, :, 3] = 30.0                               # the decoder's mask: draw everywhere
    out = over(raw, source, extras)
    assert torch.equal(out[..., 3:5, 3:5], retrieved[..., 3:5, 3:5])
    assert torch.allclose(out[..., 0:3, :], torch.full_like(out[..., 0:3, :], 0.5), atol=1e-6)
    assert torch.allclose(under(raw, source, extras)[..., 3:5, 3:5],
                          torch.full((1, 1, 3, 2, 2), 0.5), atol=1e-6)


def test_svg_with_a_masked_memory_trains_and_round_trips():
    _, cond = _sequences(N=3, L=6)
    torch.manual_seed(0)
    model = SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, retrieval=3,
                retrieval_paste="arm")
    x = torch.rand(3, 6, 3, 64, 64)
    model.memory.fill(x.mul(255).to(torch.uint8), cond)
    out = model(x, cond, 2, beta=1e-4)
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.pred.shape == (3, 5, 3, 64, 64)
    fresh = SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, retrieval=3,
                retrieval_paste="arm")
    load_model_state(fresh, model.state_dict(), "x.ckpt")
    assert torch.equal(fresh.memory.masks, model.memory.masks)
    assert torch.equal(fresh.memory.scene, model.memory.scene)
    assert model.eval().rollout(x[:, :2], cond, 4, samples=2).shape == (3, 2, 4, 3, 64, 64)


def test_coverage_keeps_at_most_the_budget_and_covers_sparse_places_that_sampling_misses():
    g = torch.Generator().manual_seed(0)
    dense = torch.randn(9500, 3, generator=g) * 0.01             # where the data dwells
    sparse = torch.rand(500, 3, generator=g) * 2 - 1              # the rest of the workspace
    keys = torch.cat([dense, sparse])
    keep = coverage(keys, 200)
    assert 100 <= len(keep) <= 200 and torch.equal(keep, keep.unique())

    def worst(kept):  # the farthest any key is from its nearest kept key
        return torch.cdist(keys, keys[kept]).amin(1).max()

    sampled = torch.randperm(len(keys), generator=g)[:200]
    assert worst(keep) < 0.5 * worst(sampled)
    assert torch.equal(coverage(keys[:150], 200), torch.arange(150))   # under budget: all


def test_masks_pack_eight_pixels_a_byte_and_unpack_exactly():
    masks = torch.rand(5, 7, 9) > 0.5                               # 63 pixels: a partial byte
    packed = pack_masks(masks)
    assert packed.shape == (5, 8) and packed.dtype == torch.uint8
    assert torch.equal(unpack_masks(packed, (7, 9)), masks)
    assert torch.equal(unpack_masks(packed[[3, 1]], (7, 9)), masks[[3, 1]])


def test_a_bounded_memory_keeps_sequence_ids_and_never_gives_a_clip_its_own_sequence():
    frames, cond = _sequences(N=30, L=8)
    mem = FrameMemory(3, 3, (8, 8), budget=40)
    mem.fill(frames, cond)
    assert len(mem) <= 40 and mem.keys.shape == (len(mem), 3)
    flat = frames.flatten(0, 1)
    # each kept frame is the frame of its sequence whose key it holds
    for i in range(len(mem)):
        n = int(mem.sequence[i])
        t = int(((cond[n, :, -3:] - mem.center - mem.keys[i]).abs().amax(1) < 1e-5).nonzero()[0])
        assert torch.equal(mem.frames[i], flat[n * 8 + t])
    for n in range(30):
        idx = mem.index(cond[n:n + 1, 2:6], exclude_own=True)
        assert not (mem.sequence[idx] == n).any(), n
    # outside training the nearest kept frame is returned, whoever's it is
    kept = mem.sequence[0]
    t = int(((cond[kept, :, -3:] - mem.center - mem.keys[0]).abs().amax(1) < 1e-5).nonzero()[0])
    assert mem.index(cond[kept:kept + 1, t:t + 1])[0, 0] == 0


def test_a_checkpoint_with_every_frame_in_the_old_layout_still_loads():
    """Memories saved before the budget held every frame: keys (N, L, match), masks unpacked
    (N L, 1, H, W), whole frames, no sequence ids."""
    N, L = 3, 6
    _, cond = _sequences(N=N, L=L)
    torch.manual_seed(0)
    x = torch.rand(N, L, 3, 64, 64)
    kw = dict(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, retrieval=3,
              retrieval_paste="arm")
    model = SVG(**kw)
    model.memory.fill(x.mul(255).to(torch.uint8), cond)
    new = model.state_dict()
    assert "memory.frames" not in new    # a masked memory saves its arms' pixels alone
    arm = unpack_masks(new["memory.masks"], (64, 64))
    assert new["memory.arm_pixels"].shape == (int(arm.sum()), 3)
    old = {k: v for k, v in new.items() if k not in ("memory.sequence", "memory.arm_pixels")}
    old["memory.keys"] = new["memory.keys"].view(N, L, 3)
    old["memory.masks"] = arm[:, None].to(torch.uint8)
    old["memory.frames"] = x.mul(255).to(torch.uint8).flatten(0, 1)   # whole frames
    fresh = SVG(**kw)
    load_model_state(fresh, old, "old.ckpt")
    for name in ("frames", "keys", "sequence", "masks", "scene"):
        assert torch.equal(getattr(fresh.memory, name), getattr(model.memory, name)), name
    model.eval(), fresh.eval()
    assert torch.equal(fresh.memory.index(cond[:2]), model.memory.index(cond[:2]))


def test_a_masked_memory_gives_back_its_frames_arms_alone_whatever_the_chunk():
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (5, 7, 3, 16, 16), dtype=torch.uint8, generator=g)
    masks = torch.rand(5, 7, 16, 16, generator=g) > 0.7
    cond = torch.randn(5, 7, 7, generator=g)
    mem = FrameMemory(3, 3, (16, 16), masked=True)
    mem.fill(frames, cond, masks)
    arms = frames.flatten(0, 1) * masks.flatten(0, 1)[:, None]
    assert torch.equal(mem.frames, arms)          # what training reads is what a checkpoint keeps
    state = mem.state_dict()
    assert "frames" not in state and state["arm_pixels"].shape == (int(masks.sum()), 3)
    loaded = FrameMemory(3, 3, (16, 16), masked=True)
    loaded.adopt(state, "")
    loaded.load_state_dict(state)
    assert torch.equal(loaded.frames, arms)
    loaded._unpack_frames(chunk=3)                # chunks that split the frames unevenly
    assert torch.equal(loaded.frames, arms)


@pytest.mark.parametrize("paste,layer", [("blend", False), ("arm", False), ("arm", True),
                                         ("arm_over", True)])
def test_batched_pass_with_points_and_a_memory_equals_the_per_step_reference(paste, layer):
    """The demo's heads (condition points, a frame memory blended or its arm pasted, the block
    layer) in SVG's per-step loop give the batched pass's loss: what benchmarks/train_speed.py
    times (b) against."""
    from tests.reference import draw_noise, svg_reference_forward

    _, cond = _sequences(N=3, L=6)
    torch.manual_seed(0)
    model = SVG(width=4, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7, cond_points=2,
                retrieval=3, retrieval_paste=paste, time_chunk=2, block_layer=layer)
    x = torch.rand(3, 6, 3, 64, 64)
    x[:, :, :, 20:28, 30:38] = torch.tensor([0.8, 0.1, 0.1])[:, None, None]  # a red block
    model.memory.fill(x.mul(255).to(torch.uint8), cond)
    model.eval()
    if layer:  # the block is found and laid over every step
        assert model.step_extras(cond, 6, 2, x[:, :2]).block_alpha.amax((-2, -1)).min() == 1
    torch.manual_seed(1)
    out = model(x, cond, 2, beta=0.1)
    torch.manual_seed(1)
    ref = svg_reference_forward(model, x, cond, 2, 0.1, draw_noise(model, x))
    assert out.loss.item() == pytest.approx(ref.loss.item(), rel=1e-5)
    assert torch.allclose(out.pred, ref.pred, atol=1e-5)
    model.points.proj[0].data.zero_()  # the points reach the reference's decoder too
    torch.manual_seed(1)
    other = svg_reference_forward(model, x, cond, 2, 0.1, draw_noise(model, x))
    assert not torch.allclose(other.pred, ref.pred, atol=1e-5)
