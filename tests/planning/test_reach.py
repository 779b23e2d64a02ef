"""The reach cost: the block's centroid, the pushes found in clips, the table-to-image map
fitted to them, and the term the model planner adds to its block cost."""
import numpy as np
import pytest
import torch

from vidpred.camera import apply_homography
from vidpred.errors import ConfigError, DataError
from vidpred.planning.goals import to_float
from vidpred.planning.reach import ReachCost, TableMap, pushes

from ..conftest import tiny_config
from ..test_camera import CAMERA, noisy_pushes


@pytest.mark.parametrize("colours", ["red", "any"])
def test_the_episode_locator_finds_the_block_where_the_simulator_draws_it(scene, colours):
    from vidpred.planning.goals import reset_to, sample_task

    task = sample_task(scene, np.random.default_rng(4), block_colours=colours)
    reset_to(scene, task)
    _, truth = scene.render_objects()
    ys, xs = np.nonzero(truth["block_mask"])
    block = task.locator().locate(to_float(task.start_image))
    assert abs(float(block.mass) - len(xs)) < 0.1 * len(xs) and bool(block.visible)
    assert np.allclose(block.xy.numpy(), [xs.mean() + 0.5, ys.mean() + 0.5], atol=0.3)
    none = task.locator().locate(to_float(task.background))
    assert float(none.mass) == 0.0 and not bool(none.visible)


def test_the_table_map_recovers_camera_and_contact_distance_from_noisy_pushes():
    rng = np.random.default_rng(1)
    n = 300
    grip, direction, block = noisy_pushes(rng, n)
    block[:30] += rng.uniform(-6, 6, (30, 2))  # pushes at the block's corner: off the line
    table = TableMap.fit(grip, direction, block)
    assert table.contact == pytest.approx(0.05, abs=0.005) and table.pushes == n
    xy = rng.uniform([1.1, 0.5], [1.5, 1.0], (50, 2))
    assert np.abs(table.pixels(xy) - apply_homography(CAMERA, xy)).max() < 0.5
    assert np.abs(table.table_position(table.pixels(xy)) - xy).max() < 1e-9
    with pytest.raises(DataError, match="at least 8"):
        TableMap.fit(grip[:5], direction[:5], block[:5])
    line = np.c_[np.linspace(1.1, 1.5, 20), np.full(20, 0.75)]  # all pushes along one line
    with pytest.raises(DataError, match="along one line"):
        TableMap.fit(line, np.tile([1.0, 0.0], (20, 1)), apply_homography(CAMERA, line))


@pytest.fixture(scope="module")
def clips_root(tmp_path_factory):
    """8 clips of 30 frames with blocks of the data's default colours and scripted pushes."""
    from vidpred.data.sim_push import PushSpec, generate_push_dataset

    root = tmp_path_factory.mktemp("clips") / "data"
    generate_push_dataset(root, PushSpec(train=8, validate=1, test=1, seq_len=30, seed=1),
                          workers=1, progress=False)
    return root


def test_pushes_are_frames_where_the_gripper_moves_the_block(clips_root, tmp_path):
    grip, direction, block = pushes(clips_root / "train")
    assert len(grip) >= 3
    assert np.allclose(np.linalg.norm(direction, axis=1), 1.0)
    assert ((block >= 0) & (block <= 64)).all()
    assert ((grip >= [1.05, 0.45]) & (grip <= [1.55, 1.05])).all()  # metres, in the workspace
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty split"):
        pushes(tmp_path / "empty")


def test_the_reach_cost_pulls_behind_the_block_around_it_and_is_flat_once_there():
    table = TableMap(CAMERA, 0.05, 0.0, 0)
    goal, block = np.array([1.20, 0.75]), np.array([1.35, 0.75])
    reach = ReachCost(table, table.pixels(goal), behind=0.08, height=0.42)
    here = np.array([1.25, 0.75, 0.42])  # between block and goal
    reach.update(table.pixels(block), here)
    assert np.allclose(reach.target, [1.43, 0.75, 0.42])  # 8 cm beyond the block, off the goal
    assert not reach.pushing
    through = here + np.linspace(0, 1, 4)[:, None] * (reach.target - here)
    side = np.array([[1.25, 0.75, 0.42], [1.30, 0.85, 0.42], [1.42, 0.83, 0.42], reach.target])
    over = through.copy()
    over[1:3, 2] += 0.1
    away = here - np.linspace(0, 0.1, 4)[:, None] * (reach.target - here)
    cost = reach(np.stack([through, side, over, away]))
    # all three reach the target; the one through the block pays its keep-out depth
    assert cost[1] == pytest.approx(0.0, abs=1e-9) and cost[2] == pytest.approx(0.0, abs=1e-9)
    depth = (0.065 - np.linalg.norm(through[1:, :2] - block, axis=1)).clip(0).sum()
    assert depth > 0 and cost[0] == pytest.approx(10.0 * depth)
    assert cost[3] == pytest.approx(np.linalg.norm(here - reach.target))  # now is the floor
    # in pushing position every plan costs 0: the model decides how to push
    behind = np.array([1.41, 0.76, 0.42])
    reach.update(table.pixels(block), behind)
    assert reach.pushing
    pushing = behind + np.linspace(0, 0.1, 4)[:, None] * [-1.0, 0.0, 0.0]
    assert (reach(np.stack([pushing, away])) == 0).all()
    reach.update(table.pixels(block), behind + [0, 0.04, 0])  # 4 cm off the line: not yet
    assert not reach.pushing
    with pytest.raises(ConfigError, match="--behind 0.06: must exceed .* 0.065 m"):
        ReachCost(table, table.pixels(goal), behind=0.06, height=0.42)  # inside the keep-out


def test_the_reach_cost_keeps_the_block_where_it_last_saw_it(scene):
    from vidpred.planning.goals import sample_task

    task = sample_task(scene, np.random.default_rng(5))
    table = TableMap(CAMERA, 0.05, 0.0, 0)
    reach = ReachCost.for_task(table, task, behind=0.08, height=0.42)
    frame = to_float
    goal = task.locator().locate(frame(task.goal_image)).xy
    assert np.allclose(reach.goal, table.table_position(goal.numpy()))
    start = task.locator().locate(frame(task.start_image)).xy
    assert np.allclose(reach.block, table.table_position(start.numpy()))  # placed from the start
    reach.see(frame(task.background), scene.grip())  # the block hidden: kept where it was
    assert np.allclose(reach.block, table.table_position(start.numpy()))
    # and the gripper that hides it is judged against that place: behind it, it pushes
    away = (reach.block - reach.goal) / np.linalg.norm(reach.block - reach.goal)
    behind = np.r_[reach.block + 0.07 * away, 0.42]
    assert not reach.pushing
    reach.see(frame(task.background), behind)
    assert reach.pushing and np.allclose(reach.block, table.table_position(start.numpy()))
    assert (reach(np.stack([np.stack([behind, behind - 0.02 * np.r_[away, 0]])])) == 0).all()
    reach.see(frame(task.background), behind + 0.05 * np.r_[-away[1], away[0], 0.0])
    assert not reach.pushing                                # 5 cm off the line: no longer
    # a cost that has never seen the block stays without one while it is hidden
    blind = ReachCost(table, goal.numpy(), 0.08, 0.42, locator=task.locator())
    blind.see(frame(task.background), behind)
    assert blind.block is None and blind.target is None and not blind.pushing


def test_the_model_planner_adds_the_reach_term_to_its_block_cost(scene):
    from vidpred.models import build_model
    from vidpred.planning.goals import sample_task
    from vidpred.planning.planners import (
        CEMSettings,
        ModelCEMPlanner,
        Observation,
        integrate_grip,
    )

    cfg = tiny_config("unused")
    cfg.model.cond_dim = 7
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with pytest.raises(ValueError, match="TableMap"):
        ModelCEMPlanner(model, 2, reach=100.0)
    table = TableMap(CAMERA, 0.05, 0.0, 0)
    task = sample_task(scene, np.random.default_rng(2))
    settings = CEMSettings(horizon=3, samples=6, iterations=1, elites=2)
    shaped = ModelCEMPlanner(model, 2, settings, reach=100.0, table=table)
    unshaped = ModelCEMPlanner(model, 2, settings)
    for p in (shaped, unshaped):
        p.reset(task, scene, 5, np.random.default_rng(0))
    grip = scene.grip()
    frame = torch.from_numpy(task.start_image).permute(2, 0, 1).float() / 255
    shaped.act(Observation(frames=[frame], conds=[], grip=grip))  # finds the block in the frame
    block = task.locator().locate(frame).xy
    assert np.allclose(shaped.reach_cost.block, table.table_position(block.numpy()))
    shaped.seed = unshaped.seed
    past = np.tile(np.r_[np.zeros(4), grip], (2, 1)).astype(np.float32)
    seqs = np.random.default_rng(1).uniform(-1, 1, (6, 3, 3))
    context = torch.stack([frame, frame])
    extra = shaped.score(context, past, grip, seqs) - unshaped.score(context, past, grip, seqs)
    _, pos = integrate_grip(grip, seqs)
    want = 100.0 * shaped.reach_cost(pos)
    assert np.allclose(extra, want, atol=1e-4) and want.std() > 0


def test_plan_command_runs_the_reach_planners_with_a_map_fitted_to_the_checkpoints_data(
        clips_root, tmp_path, capsys):
    import json

    from vidpred.checkpoint import save_checkpoint
    from vidpred.cli import main
    from vidpred.models import build_model

    cfg = tiny_config(clips_root)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.ckpt", config=cfg, model=build_model(cfg))
    out = tmp_path / "plan"
    assert main(["plan", "--ckpt", str(tmp_path / "tiny.ckpt"), "--episodes", "1", "--seed", "2",
                 "--planner", "cem,reach", "--reach", "300", "--behind", "0.15", "--horizon", "3",
                 "--block-colours", "any",
                 "--samples", "8",
                 "--iterations", "2", "--elites", "3", "--steps", "2", "--out", str(out),
                 "--no-gifs", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "reach cost: table-to-image map fitted to" in printed
    r = json.loads((out / "results.json").read_text())
    assert set(r["summary"]) == {"cem", "reach"} and r["settings"]["reach"] == 300.0
    assert r["settings"]["block_colours"] == "any"
    assert main(["plan", "--ckpt", str(tmp_path / "tiny.ckpt"), "--episodes", "1", "--planner",
                 "reach", "--behind", "0.05", "--out", str(tmp_path / "near")]) == 2
    err = capsys.readouterr().err
    assert "--behind 0.05: must exceed the fitted contact distance" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "near" / "results.json").exists()
    assert main(["plan", "--episodes", "1", "--planner", "reach", "--out", str(out)]) == 2
    assert "--ckpt" in capsys.readouterr().err
    assert main(["plan", "--episodes", "1", "--planner", "random", "--reach", "300", "--out",
                 str(out)]) == 2
    assert "add cem" in capsys.readouterr().err
    cfg.data.root = str(tmp_path / "gone")
    save_checkpoint(tmp_path / "moved.ckpt", config=cfg, model=build_model(cfg))
    assert main(["plan", "--ckpt", str(tmp_path / "moved.ckpt"), "--episodes", "1", "--reach",
                 "300", "--out", str(tmp_path / "moved")]) == 2
    err = capsys.readouterr().err
    assert "gone: the checkpoint's data.root does not exist" in err and len(err.splitlines()) == 1
