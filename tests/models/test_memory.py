import pytest
import torch

from vidpred.checkpoint import load_model_state
from vidpred.models import SVG
from vidpred.models.memory import FrameMemory


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
    got = estimated.masks[:, 0].bool().unflatten(0, (N, L))
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
