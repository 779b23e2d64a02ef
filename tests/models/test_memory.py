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
    got = model.retrieve(cond, 6)  # frames 1..5, the ones a step predicts
    keys = split.seqs.cond[..., 4:].reshape(-1, 3)
    nearest = (keys[None] - cond[0, 1:, None, 4:]).norm(dim=-1).argmin(1)
    assert got.shape == (1, 5, 3, 64, 64)
    assert torch.equal(got[0], split.seqs.frames.flatten(0, 1)[nearest].float() / 255)
