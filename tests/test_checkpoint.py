
from pathlib import Path

import pytest
import torch

from vidpred.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from vidpred.config import Config
from vidpred.errors import CheckpointError
from vidpred.models import SVG


def _model(width=4):
    return SVG(width=width, g_dim=16, z_dim=4, rnn_size=32, cond_dim=7)


def test_round_trip_restores_weights_config_and_position(tmp_path):
    cfg = Config().apply_overrides(["model.width=4"])
    model = _model()
    save_checkpoint(tmp_path / "a.ckpt", config=cfg, model=model, iteration=42, best_psnr=21.5,
                    extra={"train_seconds": 3.0})
    state = load_checkpoint(tmp_path / "a.ckpt")
    assert state["iteration"] == 42 and state["best_psnr"] == 21.5
    assert state["config"] == cfg and state["extra"]["train_seconds"] == 3.0
    fresh = _model()
    load_model_state(fresh, state["model"], tmp_path / "a.ckpt")
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k
    assert not list(tmp_path.glob(".*tmp"))   # the temporary file was renamed away


class _Payload:
    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickled_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    payload = _Payload()
    payload.marker = str(marker)
    with open(tmp_path / "evil.ckpt", "wb") as f:
        torch.save({"format": "vidpred-checkpoint", "model": payload}, f)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists()


def test_corrupt_foreign_and_mismatched_checkpoints(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a vidpred checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.ckpt")
    save_checkpoint(tmp_path / "w8.ckpt", config=Config(), model=_model(width=8))
    state = load_checkpoint(tmp_path / "w8.ckpt")
    with pytest.raises(CheckpointError, match=r"(?s)do not fit this model.*encoder\.stages\.0\.0\.weight"):
        load_model_state(_model(width=4), state["model"], tmp_path / "w8.ckpt")


LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy"


@pytest.mark.parametrize("name", ["memory", "action_free", "pose"])
def test_checkpoints_written_before_the_model_families_owned_their_configs_score_the_same(name):
    """Checkpoints written by vidpred before its model families had config sections of their
    own (a flat model section of 25 keys; the frame memory's logits as ``retrieval_logits``):
    a tiny SVG with condition points and a frame memory, a tiny action-free SVG and a tiny pose
    CVAE (vector conditions), each evaluated then on the fixture's test split. They load and
    score the same today (expected.json holds the figures the old code wrote)."""
    import json

    from vidpred.checkpoint import load_trained_model
    from vidpred.data import make_dataset
    from vidpred.evaluation.evaluate import evaluate

    want = json.loads((LEGACY / "expected.json").read_text())["expected"][name]
    model, cfg, _ = load_trained_model(LEGACY / f"{name}.ckpt")
    data = make_dataset(LEGACY / "data", cfg.data.layout, "test", 6, train=False,
                        image_size=cfg.data.image_size, progress=False)
    m = evaluate(model, data, 2, 4, samples=3, gifs=0, progress=False)
    assert m.best.psnr_per_frame == pytest.approx(want["psnr_per_frame"], abs=2e-4)
    assert m.best.ssim_per_frame == pytest.approx(want["ssim_per_frame"], abs=2e-5)
    assert m.sample_mean.psnr_per_frame == pytest.approx(want["sample_mean_psnr"], abs=2e-4)
