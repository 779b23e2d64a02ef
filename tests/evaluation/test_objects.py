"""The object figures: on constructed frames where the answer is known (a block erased, moved,
blurred; an arm doubled or blurred), and end to end on the simulated push set."""
import csv
import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from vidpred.data.objects import ObjectTruth
from vidpred.evaluation.objects import ObjectScores, dancer_figures, frame_figures
from vidpred.vision import BlockLocator

from ..conftest import tiny_config
from ..test_vision import ARM, scene

RED = (1.0, 0.2, 0.1)


def _arm(frame: torch.Tensor, dx: int = 0, alpha: float = 1.0) -> torch.Tensor:
    """``frame`` with a sharp two-tone arm (blue with a grey stripe) at columns 44+dx..51+dx,
    rows 10..34, blended in with weight ``alpha``."""
    out = frame.clone()
    arm = 0.7 * ARM[:, None, None].repeat(1, 25, 8)
    arm[:, :, 3:5] = 0.4
    out[:, 10:35, 44 + dx:52 + dx] = alpha * arm + (1 - alpha) * out[:, 10:35, 44 + dx:52 + dx]
    return out


def _truth():
    """A true frame (3, 64, 64), its ObjectTruth of one clip of one frame, and its locator."""
    frame = _arm(scene(RED))
    block = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    block[..., 20:28, 30:38] = True
    arm = torch.zeros_like(block)
    arm[..., 10:35, 44:52] = True
    return frame, ObjectTruth(block, torch.tensor([[True]]), arm, "simulator"), \
        BlockLocator.of_rgb(torch.tensor([RED]))


def _figures(*preds):
    frame, truth, loc = _truth()
    fig = frame_figures(torch.stack(preds)[None], frame[None], loc, truth, 0, 1)
    return {k: v[0].tolist() for k, v in fig.items()}


def test_a_perfect_prediction_keeps_the_block_in_place_with_a_single_sharp_arm():
    frame = _truth()[0]
    f = _figures(frame)
    assert f["kept"] == [1.0] and f["missing"] == [0.0] and f["position_error"] == [0.0]
    assert f["window_psnr"] == [100.0] and f["window_ssim"][0] == pytest.approx(1.0)
    assert f["arm_sharpness"] == [1.0] and f["arm_ghost"] == [0.0]


def test_an_erased_block_is_missing_and_a_moved_one_is_measured():
    erased = _arm(scene(None))
    near = _arm(scene(RED, cols=slice(33, 41)))   # 3 px right: 5 of 8 columns still covered
    far = _arm(scene(RED, cols=slice(36, 44)))    # 6 px right: 2 of 8
    f = _figures(erased, near, far)
    assert f["kept"] == [0.0, 1.0, 0.0] and f["missing"] == [1.0, 0.0, 0.0]
    assert math.isnan(f["position_error"][0])  # missing: no error, neither 0 nor infinity
    assert f["position_error"][1:] == pytest.approx([3.0, 6.0], abs=1e-5)
    assert f["window_psnr"][0] < f["window_psnr"][1] < 100.0


def test_a_blurred_block_is_not_kept_and_costs_window_psnr():
    frame = _truth()[0]
    blurred = frame.clone()
    region = (slice(None), slice(16, 32), slice(26, 42))
    blurred[region] = F.avg_pool2d(frame[None], 5, 1, 2)[0][region]
    f = _figures(blurred)
    assert f["kept"] == [0.0]
    assert f["window_psnr"][0] < 25.0 and f["window_ssim"][0] < 0.8
    assert f["arm_sharpness"] == [pytest.approx(1.0)]  # the arm untouched


def test_a_doubled_arm_is_caught_and_a_blurred_one_is_not_sharp():
    frame = _truth()[0]
    ghost = _arm(frame, dx=10, alpha=0.5)              # a translucent second arm beside it
    faded = _arm(scene(RED), alpha=0.5)                # the arm itself half see-through
    blurred = frame.clone()
    blurred[:, 8:37, 42:54] = F.avg_pool2d(frame[None], 5, 1, 2)[0][:, 8:37, 42:54]
    f = _figures(ghost, faded, blurred)
    assert f["arm_ghost"][0] > 0.15 and f["arm_ghost"][1] == pytest.approx(0.0, abs=1e-6)
    assert f["arm_sharpness"][0] == pytest.approx(1.0, abs=1e-6)
    assert f["arm_sharpness"][1] < 0.5 and f["arm_sharpness"][2] < 0.5
    assert f["kept"] == [1.0, 1.0, 1.0]


def test_summary_scores_best_of_n_by_psnr_and_the_mean_over_samples():
    frame, truth, loc = _truth()
    erased = _arm(scene(None))
    hidden = ObjectTruth(truth.block_mask, torch.tensor([[False]]), truth.arm_mask, "simulator")
    scores = ObjectScores()
    for t in (truth, hidden):  # two sequences, the second one's block not seen in its truth
        fig = frame_figures(torch.stack([erased, frame])[None], frame[None], loc, t, 0, 1)
        base = frame_figures(frame[None, None], frame[None], loc, t, 0, 1)
        scores.add([fig], [base], "simulator")
    s = scores.summary(torch.tensor([1, 1]))
    assert s["visible_frames"] == 1 and s["excluded_frames"] == 1
    assert s["best"]["kept"] == 1.0 and s["best"]["missing_last"] == 0.0
    assert s["sample_mean"]["kept"] == 0.5 and s["sample_mean"]["missing_last"] == 0.5
    assert s["sample_mean"]["position_error_last_median"] == 0.0  # the missing one left out
    assert s["baseline"]["window_psnr"] == 100.0 and s["best"]["per_frame"]["kept"] == [1.0]


def test_dancer_figures_tell_a_faded_dancer_from_a_drawn_one():
    background = torch.full((3, 16, 32), 0.3)
    truth = background.clone()
    truth[:, 4:12, 10:16] = torch.tensor([0.9, 0.5, 0.2])[:, None, None]
    mask = torch.zeros(16, 32, dtype=torch.bool)
    mask[4:12, 10:16] = True
    faded = 0.3 * truth + 0.7 * background
    f = dancer_figures(torch.stack([truth, faded]), truth, mask, background)
    assert f["kept_share"] == 0.5 and f["kept"] == 0.5  # the mean over the two samples
    alone = dancer_figures(faded[None], truth, mask, background)
    assert alone["kept_share"] == 0.0 and alone["sharpness"] < 0.2


def test_evaluate_scores_the_objects_with_the_simulators_truth_and_without_it(
        push_root, tmp_path, capsys):
    from vidpred.cli import main
    from vidpred.training.loop import train

    run = tmp_path / "run"
    train(tiny_config(push_root, iterations=4, iters_per_epoch=2), run, progress=False,
          log=lambda *a: None)
    assert main(["evaluate", "--ckpt", str(run / "best.ckpt"), "--out", str(run / "eval"),
                 "--n-future", "4", "--samples", "2", "--gifs", "0", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "objects (simulator ground truth" in printed and "model, best of 2 by PSNR" in printed
    m = json.loads((run / "eval" / "metrics.json").read_text())
    o = m["objects"]
    assert o["source"] == "simulator" and o["visible_frames"] + o["excluded_frames"] == 3 * 4
    for who in ("best", "sample_mean", "baseline"):
        assert len(o[who]["per_frame"]["kept"]) == 4 and 0 <= o[who]["kept"] <= 1
    # whether a frame is a push depends on the truth alone: the same frames for every sample
    pushed = o["baseline"]["pushed_frames"]
    assert o["best"]["pushed_frames"] == pushed and o["sample_mean"]["pushed_frames"] == 2 * pushed
    assert pushed <= o["visible_frames"]
    assert main(["compare", str(run), "--out", str(tmp_path / "cmp")]) == 0
    row = next(csv.DictReader((tmp_path / "cmp" / "results.csv").open()))
    assert float(row["baseline_block_psnr"]) == pytest.approx(o["baseline"]["window_psnr"], abs=0.01)
    # the same clips without the simulator's files: the locator on the true frames, no arm
    bare = tmp_path / "bare"
    shutil.copytree(push_root, bare)
    for f in bare.rglob("objects.npz"):
        f.unlink()
    assert main(["evaluate", "--ckpt", str(run / "best.ckpt"), "--data", str(bare), "--out",
                 str(tmp_path / "eval_bare"), "--n-future", "4", "--samples", "2", "--gifs", "0",
                 "--quiet"]) == 0
    bare_objects = json.loads((tmp_path / "eval_bare" / "metrics.json").read_text())["objects"]
    assert bare_objects["source"] == "locator" and bare_objects["best"]["arm_sharpness"] is None
    assert abs(bare_objects["visible_frames"] - o["visible_frames"]) <= 1


def test_kept_where_the_context_shows_the_block_leaves_out_clips_that_hide_it_there():
    """Two clips of two frames (one context, one predicted): the block is hidden in the first
    clip's context frame and shown in the second's; both show it in the predicted frame."""
    frame, truth, loc = _truth()
    block = truth.block_mask.expand(2, 2, 64, 64).clone()
    visible = torch.tensor([[False, True], [True, True]])
    two = ObjectTruth(block, visible, truth.arm_mask.expand(2, 2, 64, 64), "simulator")
    loc2 = BlockLocator.of_rgb(torch.tensor([RED, RED]))
    pred = frame.expand(2, 1, 3, 64, 64)
    fig = frame_figures(pred, frame.expand(2, 3, 64, 64), loc2, two, 1, 1)
    assert fig["kept"][:, 0].tolist() == [1.0, 1.0]
    assert math.isnan(fig["kept_seen"][0, 0]) and fig["kept_seen"][1, 0] == 1.0


def test_the_pushed_figures_score_only_the_frames_where_the_block_has_left_its_context_place():
    """Two clips of two frames (one context, one predicted), both predicted by copying the
    context frame: the first clip's block rests, the second's is pushed 6 px right."""
    rest, pushed = _arm(scene(RED)), _arm(scene(RED, cols=slice(36, 44)))
    block = torch.zeros(2, 2, 64, 64, dtype=torch.bool)
    block[:, :, 20:28, 30:38] = True
    block[1, 1] = False
    block[1, 1, 20:28, 36:44] = True
    arm = torch.zeros_like(block)
    arm[..., 10:35, 44:52] = True
    truth = ObjectTruth(block, torch.ones(2, 2, dtype=torch.bool), arm, "simulator")
    loc = BlockLocator.of_rgb(torch.tensor([RED, RED]))
    fig = frame_figures(rest.expand(2, 1, 3, 64, 64), torch.stack([rest, pushed]), loc, truth, 1, 1)
    assert math.isnan(fig["kept_pushed"][0, 0]) and math.isnan(fig["window_psnr_pushed"][0, 0])
    assert fig["kept"][0, 0] == 1.0 and fig["kept_pushed"][1, 0] == 0.0
    assert fig["window_psnr_pushed"][1, 0] == fig["window_psnr"][1, 0] < 30
    scores = ObjectScores()
    scores.add([fig], [fig], "simulator")
    summary = scores.summary(torch.zeros(2, dtype=torch.long))
    assert summary["best"]["pushed_frames"] == 1 and summary["best"]["kept_pushed"] == 0.0
