"""How well a planning model ranks push plans: its cost of candidate action sequences against what
the simulator says they do. A cheaper and sharper question than a 50-episode ``vidpred plan`` run:
CEM can only succeed if the candidates the model calls cheapest are the ones that move the block
toward the goal.

For each of ``--episodes`` episodes (``vidpred plan``'s, from (seed, i)) two states are set up:

- ``start``: the episode's start (the gripper 10-15 cm from the block);
- ``behind``: the gripper driven by P-control, as the data's scripted pushes drive it, over and
  then down to 5 cm behind the block on the line from the goal through the block, at block height:
  where a push toward the goal starts.

From each state ``--samples`` candidates of ``--horizon`` steps are drawn as CEM's first iteration
draws them (the data's random smooth actions, clipped, kept in the workspace), then scored twice:
by the model (:meth:`vidpred.planning.planners.ModelCEMPlanner.score`, the block-centroid cost in pixels
CEM minimises, one batched rollout; ``--z-samples`` > 1 averages that many prior draws per
candidate) and by the simulator (:func:`vidpred.planning.planners.true_cost`, the block-goal distance in
metres averaged over the horizon). Printed per kind of state, means over episodes:

- ``moves``: share of candidates that move the block at least 1 cm (what there is to rank);
- ``spearman``: rank correlation of model and true cost over the candidates;
- ``elite gain``: (mean true cost of all candidates - that of the model's 10 cheapest) /
  (mean true cost of all - that of the truly best 10): 1 = the model picks CEM's elites as the
  simulator would, 0 = no better than drawing them at random, < 0 = worse.

    python benchmarks/plan_ranking.py --ckpt RUN/best.ckpt [--episodes 20] [--seed 0]
        [--samples 200] [--horizon 10] [--z-samples 1] [--precision bf16] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from vidpred.checkpoint import load_trained_model
from vidpred.data.gl import select_gl_backend
from vidpred.device import configure_process, resolve_device, use_bf16

ELITES = 10


def drive_behind(scene, task, plan_obs, max_steps: int = 30):
    """P-control the gripper over, then down to, 5 cm behind the block (seen from the goal) at
    block height, recording frames and conditions in ``plan_obs`` as ``vidpred plan`` does."""
    from vidpred.data.sim_push import ACTION_SCALE, TABLE_Z, keep_in_workspace

    block = scene.block_pos()[:2]
    away = (block - task.goal_xy) / np.linalg.norm(block - task.goal_xy)
    behind = block + away * (scene.block_half + 0.05)
    low = TABLE_Z + 0.03
    targets = [np.r_[behind, low + 0.12], np.r_[behind, low]]
    for _ in range(max_steps):
        grip = scene.grip()
        observe(scene, plan_obs)
        while len(targets) > 1 and np.linalg.norm(targets[0] - grip) < 0.02:
            targets.pop(0)
        if len(targets) == 1 and np.linalg.norm(targets[0] - grip) < 0.01:
            break
        a = keep_in_workspace(grip, np.clip((targets[0] - grip) / ACTION_SCALE, -1.0, 1.0))
        plan_obs.conds.append(np.r_[a, 0.0, grip].astype(np.float32))
        scene.step(np.r_[a, 0.0])


def observe(scene, plan_obs) -> None:
    plan_obs.frames.append(torch.from_numpy(scene.render()).permute(2, 0, 1).float() / 255)
    plan_obs.grip = scene.grip()


def rank_state(scene, task, planner, plan_obs, rng, samples: int, horizon: int, z_samples: int,
               rendered_cost: bool) -> list[float]:
    """[moves, the model's spearman and elite gain, the same for the image cost on the
    simulator's renders (nan unless ``rendered_cost``)] of one state; ``plan_obs`` ends with the
    state's frame."""
    from vidpred.data.sim_push import RANDOM_ACTION_STD, smooth_noise
    from vidpred.planning.planners import true_cost

    seqs = np.clip(RANDOM_ACTION_STD * smooth_noise(rng, (samples, horizon, 3)), -1.0, 1.0)
    state = scene.get_state()
    block0 = scene.block_pos()[:2]
    truth, moved, rendered = np.empty(samples), np.empty(samples, bool), np.empty(samples)
    for k, seq in enumerate(seqs):
        truth[k] = true_cost(scene, task, state, seq)
        moved[k] = np.linalg.norm(scene.block_pos()[:2] - block0) >= 0.01
        if rendered_cost:
            rendered[k] = image_cost_of_renders(scene, planner.cost, state, seq)
    scene.set_state(state)
    context, past = planner.context(plan_obs)
    model = np.mean([planner.score(context, past, plan_obs.grip, seqs)
                     for _ in range(z_samples)], 0)
    out = [moved.mean(), *judge(model, truth)]
    return out + (judge(rendered, truth) if rendered_cost else [np.nan, np.nan])


def image_cost_of_renders(scene, cost, state, seq) -> float:
    """The planner's image cost of a sequence on the simulator's own renders (a perfect video
    model)."""
    from vidpred.data.sim_push import keep_in_workspace

    scene.set_state(state)
    frames = []
    for a in seq:
        scene.step(np.r_[keep_in_workspace(scene.grip(), a), 0.0])
        frames.append(torch.from_numpy(scene.render()).permute(2, 0, 1).float() / 255)
    return float(cost(torch.stack(frames)))


def judge(cost: np.ndarray, truth: np.ndarray) -> list[float]:
    """[Spearman's rho of ``cost`` against ``truth``, elite gain] (module doc)."""
    # true costs to 0.1 mm: candidates that leave the block alone tie
    a, b = ranks(cost), ranks(np.round(truth, 4))
    spearman = np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else np.nan
    mean_all = truth.mean()
    best = np.sort(truth)[:ELITES].mean()
    picked = truth[np.argsort(cost, kind="stable")[:ELITES]].mean()
    return [spearman, (mean_all - picked) / (mean_all - best) if mean_all - best > 1e-9 else np.nan]


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of ``x``, ties sharing their mean rank (as Spearman's rho wants)."""
    r = np.empty(len(x))
    r[np.argsort(x, kind="stable")] = np.arange(len(x))
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(inv, weights=r) / counts)[inv]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True,
                    help="a planning model (vidpred train --config push_plan)")
    ap.add_argument("--episodes", type=int, default=20, help="episodes (two states each)")
    ap.add_argument("--seed", type=int, default=0,
                    help="episode i comes from (seed, i), as in vidpred plan")
    ap.add_argument("--samples", type=int, default=200, help="candidates per state (CEM's K)")
    ap.add_argument("--horizon", type=int, default=10, help="actions per candidate (CEM's H)")
    ap.add_argument("--z-samples", type=int, default=1, help="prior draws averaged per candidate")
    ap.add_argument("--rendered", action="store_true", help="also rank by the image cost on the "
                    "simulator's renders of each candidate (a perfect video model)")
    ap.add_argument("--precision", default="bf16", choices=("bf16", "float32"),
                    help="the rollouts: bf16 where the CPU has it (as vidpred plan), or float32")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (the model's device)")
    args = ap.parse_args()
    configure_process()
    select_gl_backend()
    from vidpred.data.sim_push import FetchPushScene
    from vidpred.planning.goals import reset_to, sample_task
    from vidpred.planning.planners import ModelCEMPlanner, Observation

    model, cfg, _ = load_trained_model(args.ckpt, resolve_device(args.device))
    bf16, _ = use_bf16(args.precision, next(model.parameters()).device)
    scene = FetchPushScene(cfg.data.image_size)
    planner = ModelCEMPlanner(model, cfg.data.n_past, bf16=bf16)
    rows = {"start": [], "behind": []}
    t0 = time.perf_counter()
    for i in range(args.episodes):
        task = sample_task(scene, np.random.default_rng([args.seed, i]))
        rng = np.random.default_rng([args.seed, i, 99])
        planner.reset(task, scene, 1, rng)
        for kind in rows:
            reset_to(scene, task)
            plan_obs = Observation()
            if kind == "behind":
                drive_behind(scene, task, plan_obs)
            else:
                observe(scene, plan_obs)
            rows[kind].append(rank_state(scene, task, planner, plan_obs, rng, args.samples,
                                         args.horizon, args.z_samples, args.rendered))
    scene.close()
    print(f"{args.ckpt}: {args.episodes} episodes (seed {args.seed}), K {args.samples}, "
          f"H {args.horizon}, {args.z_samples} prior draw(s) per candidate, "
          f"{'bf16' if bf16 else 'float32'}, {time.perf_counter() - t0:.0f} s")
    print("means over episodes; elite gain 1 = as the simulator ranks, 0 = random, < 0 worse")
    sources = 2 if args.rendered else 1
    print(f"{'':8s}{'':>8s}{'model':>22s}" + (f"{'renders':>22s}" if args.rendered else ""))
    print(f"{'state':8s}{'moves':>8s}" + f"{'spearman':>10s}{'elite gain':>12s}" * sources)
    for kind, r in rows.items():
        m = np.nanmean(np.asarray(r, np.float64)[:, :1 + 2 * sources], 0)
        print(f"{kind:8s}{m[0]:8.2f}" + "".join(f"{m[1 + 2 * j]:10.2f}{m[2 + 2 * j]:12.2f}"
                                               for j in range(sources)))


if __name__ == "__main__":
    main()
