"""Goal-reaching evaluation of a video model as a planner's model in the Fetch push scene
(``vidpred plan``): the same episodes for every planner, a GIF per episode and planner, and
``results.json`` with success rates and their 95 % intervals.

``results.json``::

    {"settings": {...},
     "episodes": [{"episode": i, "block_start": [x, y], "goal": [x, y],
                   "planners": {name: {"success": bool, "initial_distance": m,
                                       "final_distance": m, "seconds_per_step": s}}}],
     "summary": {name: {"success_rate", "success_ci95": [low, high], "distance_ratio",
                        "seconds_per_step"}}}

Distances are x-y distances in metres between the block's centre and the goal; success: within
:data:`SUCCESS_RADIUS` after the last step.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.sim_push import BLOCK_COLOURS
from ..errors import CheckpointError, ConfigError, check_ranges
from ..progress import progress_bar
from ..rundir import Outputs, claim_output, write_atomic
from .goals import PushTask, block_goal_distance, reset_to, sample_task
from .planners import (
    PLANNERS,
    CEMSettings,
    ModelCEMPlanner,
    Observation,
    OracleCEMPlanner,
    Planner,
    RandomPlanner,
    ReachPlanner,
)

SUCCESS_RADIUS = 0.05  # metres
RESULTS = "results.json"
OUTPUTS = Outputs("plan", (RESULTS, "episode*_*.gif"), results=(RESULTS,), legacy=(RESULTS,),
                  resumable=True)


@dataclass(frozen=True)
class PlanSettings:
    """One evaluation's settings (recorded in ``results.json``).

    Attributes:
        episodes: goal-reaching episodes. seed: episode i's start and goal come from (seed, i).
        planners: names from :data:`vidpred.planning.planners.PLANNERS`, run in this order.
        steps: control steps per episode. cem: the model planner's sizes.
        oracle_samples: the oracle's candidates per CEM iteration (each is played in the
            simulator one after the other; 0 = ``cem.samples``).
        goal_distance: (min, max) metres from the block's start to its goal.
        reach: the model planner's weight, pixels per metre, of the gripper's distance to the
            point ``behind`` metres behind the block (:class:`vidpred.planning.reach.ReachCost`); 0: off.
        behind: that point's distance from the block's centre, metres (also the ``reach``
            planner's).
        block_colours: the episodes' block colours, ``red`` (red to magenta) or ``any`` (the
            bright colours of the data's default; :func:`vidpred.data.sim_push.block_colour`).
    """

    episodes: int = 50
    seed: int = 0
    planners: tuple[str, ...] = ("cem", "random", "oracle")
    steps: int = 30
    cem: CEMSettings = CEMSettings()
    oracle_samples: int = 0
    goal_distance: tuple[float, float] = (0.10, 0.20)
    reach: float = 0.0
    behind: float = 0.08
    block_colours: str = "red"

    def __post_init__(self):
        """Raises ConfigError: a value out of range, an unknown planner, or ``reach`` without
        the cem planner (named as options)."""
        check_ranges(self, episodes=(1, None), seed=(0, None), steps=(1, None),
                     oracle_samples=(0, None), reach=(0, None), behind=(0, None))
        unknown = [n for n in self.planners if n not in PLANNERS] or ([] if self.planners else [""])
        if unknown:
            raise ConfigError(f"--planner {unknown[0]!r}: choose from {', '.join(PLANNERS)} (a "
                              "comma list runs several on the same episodes)")
        if self.reach > 0 and "cem" not in self.planners:
            raise ConfigError(f"--reach {self.reach:g} weighs a term of the cem planner's cost; "
                              "add cem to --planner (the reach planner uses the term alone, "
                              "unweighted)")
        if self.block_colours not in BLOCK_COLOURS:
            raise ConfigError(f"--block-colours {self.block_colours!r}: choose one of "
                              f"{', '.join(BLOCK_COLOURS)}")


def wilson_interval(successes: int, n: int, z: float = 1.96) -> list[float]:
    """Wilson score interval (Wilson 1927) of a success rate, [low, high]; [0, 1] when n = 0."""
    if n == 0:
        return [0.0, 1.0]
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def check_planning_model(cfg, ckpt) -> None:
    """Planning gives the model 7-d vector conditions (action 4 + gripper position 3).

    Raises:
        CheckpointError: a model trained with other conditions.
    """
    m = cfg.model
    if m.name != "svg" or m.cond_kind != "vector" or m.cond_dim != 7:
        raise CheckpointError(f"{ckpt}: planning needs an SVG model with 7-d vector conditions "
                              f"(action + end-effector position), this one is {m.name} with "
                              f"{m.cond_kind} conditions of size {m.cond_dim}; train one with "
                              "--config push_plan")


def make_planners(settings: PlanSettings, model, n_past: int, bf16: bool = False,
                  table=None) -> list[Planner]:
    """The planners ``settings.planners`` names, in order; ``bf16``: the model's rollouts under
    bf16 autocast; ``table``: the :class:`vidpred.planning.reach.TableMap` the reach cost lifts pixels
    with (needed with ``settings.reach`` > 0).

    Raises:
        ConfigError: the reach planner without a table.
    """
    out = []
    for name in settings.planners:
        if name == "cem":
            out.append(ModelCEMPlanner(model, n_past, settings.cem, bf16, settings.reach,
                                       settings.behind, table))
        elif name == "random":
            out.append(RandomPlanner(settings.cem.planar))
        elif name == "reach":
            if table is None:
                raise ConfigError("--planner reach needs the table map fitted to the training clips "
                                  "of --ckpt's data")
            out.append(ReachPlanner(table, settings.cem, settings.behind))
        else:  # oracle (the names are checked by PlanSettings)
            k = settings.oracle_samples or settings.cem.samples
            out.append(OracleCEMPlanner(CEMSettings(settings.cem.horizon, k, settings.cem.iterations,
                                                    min(settings.cem.elites, k),
                                                    settings.cem.planar)))
    return out


def run_episode(scene, task: PushTask, planner: Planner, steps: int, rng: np.random.Generator):
    """Play ``steps`` control steps of ``planner`` from the task's start.

    Returns:
        (result dict of :func:`plan`'s ``planners`` entries, executed frames (steps + 1 of
        (H, W, 3) uint8), the planner's imagined pictures (steps + 1, None where it has none)).
    """
    reset_to(scene, task)
    planner.reset(task, scene, steps, rng)
    initial = block_goal_distance(scene, task)
    obs = Observation()
    shown, imagined = [], []
    t0 = time.perf_counter()
    for _ in range(steps):
        image = scene.render()
        shown.append(image)
        obs.frames.append(torch.from_numpy(image).permute(2, 0, 1).float() / 255)
        obs.grip = scene.grip()
        move, picture = planner.act(obs)
        imagined.append(picture)
        action = np.r_[move, 0.0]
        obs.conds.append(np.r_[action, obs.grip].astype(np.float32))
        scene.step(action)
    seconds = (time.perf_counter() - t0) / max(steps, 1)
    shown.append(scene.render())
    imagined.append(None)
    final = block_goal_distance(scene, task)
    return ({"success": bool(final <= SUCCESS_RADIUS), "initial_distance": initial,
             "final_distance": final, "seconds_per_step": seconds}, shown, imagined)


def summarise(episodes: list[dict], names) -> dict:
    """``results.json``'s ``summary`` from its ``episodes``."""
    out = {}
    for name in names:
        rs = [e["planners"][name] for e in episodes]
        wins = sum(r["success"] for r in rs)
        out[name] = {"success_rate": wins / max(len(rs), 1),
                     "success_ci95": wilson_interval(wins, len(rs)),
                     "distance_ratio": float(np.mean([r["final_distance"] / r["initial_distance"]
                                                      for r in rs])) if rs else float("nan"),
                     "seconds_per_step": float(np.mean([r["seconds_per_step"] for r in rs]))
                     if rs else float("nan")}
    return out


def plan(model, n_past: int, settings: PlanSettings, out: str | Path, image_size: int = 64,
         progress: bool = True, gifs: bool = True, bf16: bool = False,
         resume: bool = False, table=None, overwrite: bool = False) -> dict:
    """Run every planner on ``settings.episodes`` episodes and write GIFs and ``results.json``.

    Each episode is a :func:`vidpred.planning.goals.sample_task` drawn from (seed, episode);
    every planner starts from the same state and gets the same goal. Call
    :func:`vidpred.data.gl.select_gl_backend` before (MuJoCo reads ``MUJOCO_GL`` on import).

    Args:
        model: an SVG model with 7-d vector conditions, in eval mode (None when only the random
            and oracle planners run). n_past: its context frames.
        out: folder for ``results.json`` and ``episode<i>_<planner>.gif`` (executed | imagined at
            the horizon's end | goal).
        bf16: the model planner's rollouts under bf16 autocast (see
            :func:`vidpred.device.use_bf16`); recorded in ``results.json``'s ``settings``.
        table: see :func:`make_planners`.
        resume: keep the episodes an earlier run with the same settings (the number of
            episodes aside) left in ``out/results.json`` and play only the rest (each episode's
            task and random numbers come from (seed, episode), so the results are those of an
            uninterrupted run).
        overwrite: replace the results ``out`` holds (they are otherwise never replaced:
            ``results.json`` is written after each finished episode, never before the first).

    Returns:
        The ``results.json`` dict (module doc).

    Raises:
        ConfigError: ``out`` holds files vidpred did not write, or results (without ``resume``
            or ``overwrite``); ``resume`` and ``out/results.json`` was written with other
            settings or cannot be read.
    """
    from ..data.sim_push import FetchPushScene

    out = Path(out)
    # checked before the renderer opens: a refused resume leaves nothing open or rewritten
    record = claim_output(out, OUTPUTS, resume=resume, overwrite=overwrite)
    record.add(RESULTS, *(f"episode{i}_{name}.gif" for i in range(settings.episodes)
                          for name in settings.planners if gifs))
    episodes = finished_episodes(out, settings, bf16) if resume else []
    planners = make_planners(settings, model, n_past, bf16, table)
    scene = FetchPushScene(image_size)
    results = results_record(settings, bf16, episodes)
    try:
        for i in progress_bar(range(len(episodes), settings.episodes), desc="planning",
                              unit="episode", disable=not progress, initial=len(episodes),
                              total=settings.episodes):
            episodes.append(_play_episode(scene, planners, settings, i, out if gifs else None))
            # after every episode, so an interrupted run keeps the episodes it finished
            results = write_results(out, settings, bf16, episodes)
    finally:
        scene.close()
    return results


def _play_episode(scene, planners: list[Planner], settings: PlanSettings, i: int,
                  gif_dir: Path | None) -> dict:
    """Episode ``i`` of every planner: its row of ``results.json`` (module doc), and a GIF per
    planner (executed | imagined | goal) in ``gif_dir`` unless it is None."""
    from ..viz import save_panels_gif

    task = sample_task(scene, np.random.default_rng([settings.seed, i]), settings.goal_distance,
                       settings.block_colours)
    row = {"episode": i, "block_start": task.block_xy.tolist(), "goal": task.goal_xy.tolist(),
           "planners": {}}
    for planner in planners:
        # seeded by name: a planner meets the same luck whichever others run
        rng = np.random.default_rng([settings.seed, i, PLANNERS.index(planner.name)])
        result, shown, imagined = run_episode(scene, task, planner, settings.steps, rng)
        row["planners"][planner.name] = result
        if gif_dir is not None:
            save_panels_gif(gif_dir / f"episode{i}_{planner.name}.gif",
                            {"executed": shown, "imagined": imagined,
                             "goal": [task.goal_image] * len(shown)})
    return row


def finished_episodes(out: Path, settings: PlanSettings, bf16: bool) -> list[dict]:
    """The episodes ``out/results.json`` holds ([] when there is none), after checking that it
    was written with these settings.

    Raises:
        ConfigError: unreadable, or written with other settings (the first differing key named).
    """
    path = out / "results.json"
    if not path.exists():
        return []
    try:
        old = json.loads(path.read_text())
        episodes, written = old["episodes"], old["settings"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{path}: cannot resume from it ({e}); remove it or choose another "
                          "--out") from None
    wanted = json.loads(json.dumps({**asdict(settings), "bf16": bf16}))
    # a setting added since the file was written was at its default then
    default = json.loads(json.dumps(asdict(PlanSettings())))
    for key in wanted.keys() - {"episodes"}:  # a finished run may be extended to more episodes
        if written.get(key, default.get(key)) != wanted[key]:
            raise ConfigError(f"{path}: written with {key}={written.get(key)!r}, this run has "
                              f"{wanted[key]!r}; resume with the same options or choose another "
                              "--out")
    return episodes[:settings.episodes]


def results_record(settings: PlanSettings, bf16: bool, episodes: list[dict]) -> dict:
    """``results.json``'s dict (module doc) for the episodes finished so far."""
    return {"settings": {**asdict(settings), "bf16": bf16}, "success_radius": SUCCESS_RADIUS,
            "episodes": episodes, "summary": summarise(episodes, settings.planners)}


def write_results(out: Path, settings: PlanSettings, bf16: bool, episodes: list[dict]) -> dict:
    """Write ``out/results.json`` (module doc) for the episodes finished so far, atomically
    (:func:`vidpred.rundir.write_atomic`); return its dict."""
    results = results_record(settings, bf16, episodes)
    write_atomic(out / RESULTS, json.dumps(results, indent=1))
    return results


def plan_checkpoint(ckpt: str | Path | None, settings: PlanSettings, out: str | Path,
                    precision: str = "bf16", device: str = "cpu", progress: bool = True,
                    gifs: bool = True, resume: bool = False, overwrite: bool = False,
                    log=print) -> dict:
    """``vidpred plan``: load the planning model (for the cem planner) and fit the reach cost's
    camera map (:meth:`vidpred.planning.reach.TableMap.from_config`, for ``reach`` and the
    cem planner's ``settings.reach``) when the planners need them, then :func:`plan`.

    Args:
        ckpt: an SVG checkpoint with 7-d vector conditions; None when only the random and
            oracle planners run.
        precision: ``bf16`` (autocast where the device has it, see
            :func:`vidpred.device.use_bf16`) or ``float32``.
        out, gifs, resume, overwrite: as :func:`plan`. log: receives notes.

    Raises:
        ConfigError: cem or reach without ``ckpt``, and :func:`plan`'s. CheckpointError: a
            model trained with other conditions. DataError: its training clips (for the map).
    """
    from ..checkpoint import load_trained_model
    from ..data.gl import select_gl_backend
    from ..device import resolve_device, use_bf16
    from .reach import TableMap

    names = settings.planners
    model, n_past, size, bf16, table = None, 1, 64, False, None
    if ("cem" in names or "reach" in names) and not ckpt:
        raise ConfigError("--planner cem plans with a model and reach with a camera map fitted "
                          "to its training clips: give --ckpt CKPT (or run only --planner "
                          "random,oracle)")
    # claimed before the model and the clips are read; plan() finds it claimed
    with claim_output(out, OUTPUTS, resume=resume, overwrite=overwrite):
        if ckpt and ("cem" in names or "reach" in names):
            model, cfg, _ = load_trained_model(ckpt, resolve_device(device))
            check_planning_model(cfg, ckpt)
            n_past, size = cfg.data.n_past, cfg.data.image_size
            bf16, note = use_bf16(precision, next(model.parameters()).device, "--precision",
                                  "planning")
            if note and "cem" in names:
                log(note)
            if "reach" in names or ("cem" in names and settings.reach > 0):
                table = TableMap.from_config(cfg, log)
        select_gl_backend()
        return plan(model, n_past, settings, out, image_size=size, progress=progress, gifs=gifs,
                    bf16=bf16, resume=resume, table=table)
