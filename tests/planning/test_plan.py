"""vidpred plan: the episode loop with every planner, results.json, and the pieces a planner
stands on (gripper integration, the block-centroid cost, the Wilson interval)."""
import json

import numpy as np
import pytest
import torch

from vidpred.planning.plan import wilson_interval

from ..conftest import tiny_config


def test_wilson_interval_pinned_values():
    assert wilson_interval(0, 0) == [0.0, 1.0]
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(0, 50)
    assert lo == 0.0 and hi == pytest.approx(0.0713, abs=1e-4)


def test_integrated_gripper_positions_follow_the_simulated_gripper(scene):
    from vidpred.data.sim_push import RANDOM_ACTION_STD, smooth_noise
    from vidpred.planning.planners import integrate_grip

    errors = []
    for k in range(3):
        scene.reset(np.array([1.2, 0.6]), np.array([1.0, 0.0, 0.0]))
        moves = np.clip(RANDOM_ACTION_STD * smooth_noise(np.random.default_rng(k), (1, 10, 3)), -1, 1)
        done, predicted = integrate_grip(scene.grip(), moves)
        real = [scene.grip()]
        for a in done[0]:
            scene.step(np.r_[a, 0.0])
            real.append(scene.grip())
        errors.append(np.linalg.norm(np.array(real) - predicted[0], axis=1).max())
        travelled = np.linalg.norm(real[-1] - real[0])
    # 10 steps of up to 3 cm each: the integration stays within 1.5 cm of the simulator
    assert max(errors) < 0.015, errors
    assert travelled > 0.03


def test_block_centroid_cost_is_zero_at_the_goal_and_falls_toward_it(scene):
    from vidpred.planning.goals import sample_task
    from vidpred.planning.goals import to_float as _to_float
    from vidpred.planning.planners import BlockCentroidCost

    task = sample_task(scene, np.random.default_rng(0))
    cost = BlockCentroidCost(task)
    start, goal = _to_float(task.start_image), _to_float(task.goal_image)
    scene.reset((task.block_xy + task.goal_xy) / 2, task.rgb)  # half way
    half = _to_float(scene.render())
    c = cost(torch.stack([start, half, goal])[:, None])  # three one-frame plans
    assert c[2] < 0.1 * c[0] and c[2] < c[1] < c[0] and c[0] > 4  # pixels
    assert float(c[0]) == pytest.approx(cost.start_distance, abs=0.01)
    # the background has no block colour: a plan that hides the block throughout has not moved
    # it, and a frame without the block neither helps nor hurts a plan
    background = _to_float(task.background)
    assert cost(background[None]) == pytest.approx(cost.start_distance)
    assert cost(torch.stack([half, background])) == pytest.approx(float(c[1]))


def test_plan_command_runs_every_planner_on_the_same_episodes(push_root, tmp_path, capsys):
    from vidpred.checkpoint import save_checkpoint
    from vidpred.cli import main
    from vidpred.models import build_model

    cfg = tiny_config(push_root)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tiny.ckpt", config=cfg, model=build_model(cfg))
    out = tmp_path / "plan"
    assert main(["plan", "--ckpt", str(tmp_path / "tiny.ckpt"), "--episodes", "2", "--seed", "3",
                 "--planner", "cem,random,oracle", "--horizon", "3", "--samples", "8",
                 "--iterations", "2", "--elites", "3", "--steps", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert "and a GIF per episode" in capsys.readouterr().out
    r = json.loads((out / "results.json").read_text())
    assert set(r["summary"]) == {"cem", "random", "oracle"}
    for s in r["summary"].values():
        assert set(s) == {"success_rate", "success_ci95", "distance_ratio", "seconds_per_step"}
        assert 0 <= s["success_ci95"][0] <= s["success_rate"] <= s["success_ci95"][1] <= 1
        assert s["seconds_per_step"] > 0
    assert len(r["episodes"]) == 2
    for e in r["episodes"]:
        runs = e["planners"]
        assert 0.10 <= np.linalg.norm(np.subtract(e["goal"], e["block_start"])) <= 0.20
        # same start and goal for every planner
        assert len({round(p["initial_distance"], 9) for p in runs.values()}) == 1
        for p in runs.values():
            assert set(p) == {"success", "initial_distance", "final_distance", "seconds_per_step"}
            assert p["success"] == (p["final_distance"] <= 0.05)
    gifs = sorted(p.name for p in out.glob("*.gif"))
    assert gifs == sorted(f"episode{i}_{n}.gif" for i in range(2) for n in ("cem", "random", "oracle"))
    from PIL import Image

    with Image.open(out / "episode0_cem.gif") as g:
        assert g.n_frames == 3 and g.size[0] == 3 * (2 * 64 + 2)  # executed | imagined | goal


def test_the_oracle_pushes_the_block_to_an_easy_goal(tmp_path):
    from vidpred.data.gl import select_gl_backend
    from vidpred.planning.plan import PlanSettings, plan
    from vidpred.planning.planners import CEMSettings

    select_gl_backend()
    settings = PlanSettings(episodes=2, seed=1, planners=("oracle",), steps=10,
                            cem=CEMSettings(horizon=6, samples=30, iterations=2, elites=5),
                            goal_distance=(0.06, 0.08))
    r = plan(None, 2, settings, tmp_path, progress=False, gifs=False)
    for e in r["episodes"]:  # 6-8 cm from the goal at first, so 5 cm needs a push toward it
        assert e["planners"]["oracle"]["success"], e
    assert r["summary"]["oracle"]["distance_ratio"] < 0.3


def test_an_interrupted_evaluation_keeps_the_episodes_it_finished(tmp_path, monkeypatch):
    import vidpred.planning.plan as plan_module
    from vidpred.data.gl import select_gl_backend

    select_gl_backend()
    played = []
    run_episode = plan_module.run_episode

    def stop_in_the_second(*args):
        if len(played) == 1:
            raise KeyboardInterrupt
        played.append(1)
        return run_episode(*args)

    monkeypatch.setattr(plan_module, "run_episode", stop_in_the_second)
    settings = plan_module.PlanSettings(episodes=3, planners=("random",), steps=2)
    with pytest.raises(KeyboardInterrupt):
        plan_module.plan(None, 2, settings, tmp_path, progress=False, gifs=False)
    r = json.loads((tmp_path / "results.json").read_text())
    assert [e["episode"] for e in r["episodes"]] == [0]
    assert r["summary"]["random"]["success_rate"] in (0.0, 1.0)
    assert not (tmp_path / "results.json.tmp").exists()


def test_a_resumed_evaluation_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    import vidpred.planning.plan as plan_module
    from vidpred.data.gl import select_gl_backend
    from vidpred.errors import ConfigError

    select_gl_backend()
    settings = plan_module.PlanSettings(episodes=3, planners=("random",), steps=3)
    whole = plan_module.plan(None, 2, settings, tmp_path / "whole", progress=False, gifs=False)
    short = plan_module.PlanSettings(episodes=1, planners=("random",), steps=3)
    plan_module.plan(None, 2, short, tmp_path / "part", progress=False, gifs=False)
    played = []
    run_episode = plan_module.run_episode
    monkeypatch.setattr(plan_module, "run_episode",
                        lambda *a: played.append(1) or run_episode(*a))
    resumed = plan_module.plan(None, 2, settings, tmp_path / "part", progress=False, gifs=False,
                               resume=True)
    assert len(played) == 2  # episode 0 was kept, not replayed

    def outcomes(r):  # all but the wall-clock seconds
        return [(e["episode"], e["goal"], {k: v for k, v in e["planners"]["random"].items()
                                           if k != "seconds_per_step"}) for e in r["episodes"]]

    assert outcomes(resumed) == outcomes(whole)
    assert resumed["summary"]["random"]["distance_ratio"] == whole["summary"]["random"]["distance_ratio"]
    other = plan_module.PlanSettings(episodes=3, planners=("random",), steps=4)
    before = (tmp_path / "part" / "results.json").read_text()
    with pytest.raises(ConfigError, match="steps=3"):
        plan_module.plan(None, 2, other, tmp_path / "part", progress=False, gifs=False, resume=True)
    assert (tmp_path / "part" / "results.json").read_text() == before  # the refusal lost nothing


@pytest.mark.parametrize("bf16", [False, True])
def test_model_planner_rolls_out_without_autograd_and_in_the_asked_precision(scene, bf16):
    from vidpred.models import build_model
    from vidpred.planning.goals import sample_task
    from vidpred.planning.planners import CEMSettings, ModelCEMPlanner

    cfg = tiny_config("unused")
    cfg.model.cond_dim = 7
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    seen = []
    rollout = model.rollout_steps

    def spy(*args, **kwargs):
        for frame in rollout(*args, **kwargs):
            seen.append((torch.is_inference_mode_enabled(), torch.is_autocast_enabled("cpu"),
                         frame.requires_grad))
            yield frame

    model.rollout_steps = spy
    task = sample_task(scene, np.random.default_rng(2))
    planner = ModelCEMPlanner(model, 2, CEMSettings(horizon=3, samples=6, iterations=1, elites=2),
                              bf16=bf16)
    planner.reset(task, scene, 5, np.random.default_rng(0))
    frame = torch.from_numpy(task.start_image).permute(2, 0, 1).float() / 255
    past = np.tile(np.r_[np.zeros(4), scene.grip()], (2, 1)).astype(np.float32)
    seqs = np.random.default_rng(1).uniform(-1, 1, (6, 3, 3))
    state = torch.get_rng_state()
    costs = planner.score(torch.stack([frame, frame]), past, scene.grip(), seqs)
    assert costs.shape == (6,) and np.isfinite(costs).all()
    assert seen == [(True, bf16, False)] * 3
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is untouched


def test_planar_planners_never_move_the_gripper_vertically():
    from vidpred.planning.planners import CEMSettings, RandomPlanner, cem

    seen = []

    def score(seqs):
        seen.append(seqs.copy())
        return -seqs[:, :, 0].sum(1)  # prefers moving along +x

    best, _ = cem(score, np.random.default_rng(0), CEMSettings(horizon=4, samples=20,
                                                               iterations=3, elites=4, planar=True))
    assert all((s[..., 2] == 0).all() and np.abs(s[..., :2]).max() > 0.1 for s in seen)
    assert (best[:, 2] == 0).all() and best[:, 0].mean() > 0.3  # CEM still optimises x and y
    free = []
    cem(lambda q: free.append(q) or np.zeros(len(q)), np.random.default_rng(0),
        CEMSettings(horizon=4, samples=20, iterations=1, elites=4))
    assert np.abs(free[0][..., 2]).max() > 0.1
    planner = RandomPlanner(planar=True)
    planner.reset(None, None, 12, np.random.default_rng(1))
    assert planner.actions.shape == (12, 3) and (planner.actions[:, 2] == 0).all()


def test_a_file_written_before_a_setting_existed_resumes_as_if_it_had_the_default(tmp_path):
    import vidpred.planning.plan as plan_module
    from vidpred.data.gl import select_gl_backend
    from vidpred.errors import ConfigError

    select_gl_backend()
    one = plan_module.PlanSettings(episodes=1, planners=("random",), steps=2)
    plan_module.plan(None, 2, one, tmp_path, progress=False, gifs=False)
    path = tmp_path / "results.json"
    r = json.loads(path.read_text())
    del r["settings"]["reach"], r["settings"]["behind"]  # as written before they existed
    path.write_text(json.dumps(r))
    two = plan_module.PlanSettings(episodes=2, planners=("random",), steps=2)
    out = plan_module.plan(None, 2, two, tmp_path, progress=False, gifs=False, resume=True)
    assert [e["episode"] for e in out["episodes"]] == [0, 1]
    assert out["episodes"][0] == r["episodes"][0]  # kept, not replayed
    path.write_text(json.dumps(r))
    other = plan_module.PlanSettings(episodes=2, planners=("random",), steps=2, behind=0.1)
    with pytest.raises(ConfigError, match="behind"):
        plan_module.plan(None, 2, other, tmp_path, progress=False, gifs=False, resume=True)


def test_the_model_planner_draws_a_hidden_block_where_it_was_last_seen(scene):
    """While the gripper hides the block, the context the model gets shows it where the last
    executed frame that showed it had it; a frame that shows it is left as it is."""
    from vidpred.planning.goals import sample_task
    from vidpred.planning.goals import to_float as _to_float
    from vidpred.planning.planners import ModelCEMPlanner

    task = sample_task(scene, np.random.default_rng(0))
    planner = ModelCEMPlanner(torch.nn.Linear(1, 1), 2)
    planner.reset(task, scene, 5, np.random.default_rng(0))
    start, background = _to_float(task.start_image), _to_float(task.background)
    weights = planner.cost.weights(start)
    assert planner.recall(background, torch.stack([background, background])).equal(
        torch.stack([background, background]))            # never seen: nothing to draw
    shown = planner.recall(start, torch.stack([start, start]))
    assert shown.equal(torch.stack([start, start]))        # seen: unchanged
    # the block hidden now (the empty scene stands for the arm over it), seen one frame ago
    context = planner.recall(background, torch.stack([start, background]))
    assert context[0].equal(start)
    block = weights == 1
    assert block.sum() > 20 and context[1][:, block].equal(start[:, block])
    assert context[1][:, weights == 0].equal(background[:, weights == 0])
    located = planner.cost.locator.locate(context)
    assert bool(located.visible.all())
    assert (located.xy[1] - located.xy[0]).norm() < 0.5


def test_block_centroid_cost_counts_a_placed_block_at_full_weight(scene):
    from vidpred.planning.goals import sample_task
    from vidpred.planning.goals import to_float as _to_float
    from vidpred.planning.planners import BlockCentroidCost

    task = sample_task(scene, np.random.default_rng(0))
    cost = BlockCentroidCost(task)
    xy = torch.stack([cost.goal_xy, cost.goal_xy + torch.tensor([3.0, 4.0]),
                      torch.full((2,), float("nan"))])
    distance, weight = cost.placed_terms(xy)
    assert distance.tolist() == pytest.approx([0.0, 5.0, 0.0], abs=1e-5)
    assert weight.tolist() == [1.0, 1.0, 0.0]
    # a frame that shows the block counts by its pixels; one that hides it, by the place
    start, background = _to_float(task.start_image), _to_float(task.background)
    frames = torch.stack([start, background])
    placed = torch.stack([cost.goal_xy, cost.goal_xy + torch.tensor([3.0, 4.0])])
    weighted, weight = cost.hidden_terms(frames, placed)
    pixels = cost.terms(start)
    assert weighted[0] == pytest.approx(float(pixels[0]))
    assert weight[0] == pytest.approx(float(pixels[1]))
    assert weighted[1] == pytest.approx(5.0, abs=1e-5) and weight[1] == 1.0
