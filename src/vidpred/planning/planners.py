"""Planners for the push task: the cross-entropy method (CEM) over action sequences scored on
frames a video model predicts (Visual Foresight: Finn & Levine, ICRA 2017; Ebert et al., 2018),
the same CEM with the simulator as its model (an oracle), random actions (a floor), and CEM on
the reach cost alone (:mod:`vidpred.planning.reach`; what that shaping does without the model).

Every planner replans at every control step and returns the first action of its plan; actions
are (dx, dy, dz) in [-1, 1] (0.05 m of gripper motion per unit, :mod:`vidpred.data.sim_push`),
the gripper value, which does nothing in push, is 0. Candidate sequences are drawn like the
data's random smooth actions (:func:`vidpred.data.sim_push.smooth_noise`, spread
``RANDOM_ACTION_STD``), clipped to [-1, 1] and shortened to keep the gripper in the workspace.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.sim_push import (
    ACTION_SCALE,
    RANDOM_ACTION_STD,
    FetchPushScene,
    keep_in_workspace,
    smooth_noise,
)
from ..device import autocast
from ..errors import ConfigError, check_ranges
from ..vision import centroid, visible
from .goals import PushTask, block_goal_distance, to_float
from .reach import ReachCost, TableMap

PLANNERS = ("cem", "random", "oracle", "reach")
# BlockCentroidCost: the block's start distance counts as one more frame with this weight, that of
# a frame showing a fifth of the block (weights are squared visible mass)
NOT_MOVED_WEIGHT = 0.2 ** 2
# The weld that pulls the gripper to its mocap target is soft: within one control step the gripper
# covers about this share of the commanded ACTION_SCALE x action (a least-squares fit over random
# smooth actions, the same on all three axes within 0.02; tests/test_plan.py checks the fit).
GRIP_GAIN = 0.63


@dataclass(frozen=True)
class CEMSettings:
    """CEM's sizes; the defaults are Visual Foresight's (200 samples, 3 iterations, 10 elites)
    with a 10-step horizon (the demo model's n_future).

    Attributes:
        horizon: actions per candidate sequence. samples: candidates per iteration.
        iterations: sample -> score -> refit rounds. elites: best candidates the per-step mean
            and standard deviation are refit to.
        planar: every candidate's vertical motion (dz) is 0: the gripper stays at the height it
            starts at (the block's, in the push scene), so a plan cannot lift it over the block.
    """

    horizon: int = 10
    samples: int = 200
    iterations: int = 3
    elites: int = 10
    planar: bool = False

    def __post_init__(self):
        """Raises ConfigError: a size below 1, or fewer samples than elites (named as options)."""
        check_ranges(self, horizon=(1, None), samples=(1, None), iterations=(1, None),
                     elites=(1, None))
        if self.samples < self.elites:
            raise ConfigError(f"--samples={self.samples}: must be >= --elites={self.elites}")


@dataclass
class Observation:
    """What a planner sees at control step t.

    Attributes:
        frames: frames 0..t, each (C, H, W) float32 in [0, 1].
        conds: conditions of frames 0..t-1, each (7,) float32: the action taken after the frame
            (4) and the gripper position at it (3, metres), as in the data's files.
        grip: gripper position now, (3,) metres.
    """

    frames: list = field(default_factory=list)
    conds: list = field(default_factory=list)
    grip: np.ndarray | None = None


def cem(score, rng: np.random.Generator, s: CEMSettings) -> tuple[np.ndarray, float]:
    """Minimise ``score`` over action sequences with CEM: sample ``s.samples`` sequences from a
    per-step Gaussian (mean 0, standard deviation ``RANDOM_ACTION_STD`` at first; noise correlated
    over time as the data's), keep the ``s.elites`` cheapest, refit mean and deviation to them,
    ``s.iterations`` times.

    Args:
        score: (K, H, 3) actions in [-1, 1] -> (K,) costs, lower is better.

    Returns:
        (the cheapest sequence seen, (H, 3); its cost).
    """
    mean = np.zeros((s.horizon, 3))
    std = np.full((s.horizon, 3), RANDOM_ACTION_STD)
    best, best_cost = None, np.inf
    for _ in range(s.iterations):
        seqs = np.clip(mean + std * smooth_noise(rng, (s.samples, s.horizon, 3)), -1.0, 1.0)
        if s.planar:
            seqs[..., 2] = 0.0
        costs = np.nan_to_num(np.asarray(score(seqs), np.float64), nan=np.inf)
        order = np.argsort(costs, kind="stable")
        if best is None or costs[order[0]] < best_cost:
            best, best_cost = seqs[order[0]], float(costs[order[0]])
        elite = seqs[order[:s.elites]]
        mean, std = elite.mean(0), elite.std(0)
    return best, best_cost


def integrate_grip(grip: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predict gripper positions from actions by integrating their displacements: each step
    moves the mocap target by ``ACTION_SCALE`` x action (sim_push's control), shortened as the
    data's actions are to keep the gripper in the workspace, and the gripper by
    :data:`GRIP_GAIN` of that.

    Args:
        grip: (3,) metres now. actions: (K, H, 3) in [-1, 1].

    Returns:
        (the actions as executed (K, H, 3), gripper positions (K, H + 1, 3) before each action
        and after the last).
    """
    K, H = actions.shape[:2]
    pos = np.empty((K, H + 1, 3))
    pos[:, 0] = grip
    done = np.empty_like(actions)
    for h in range(H):
        done[:, h] = keep_in_workspace(pos[:, h], actions[:, h])
        pos[:, h + 1] = pos[:, h] + GRIP_GAIN * ACTION_SCALE * done[:, h]
    return done, pos


class BlockCentroidCost:
    """Distance in pixels between the block's centroid in predicted frames and in the goal image,
    averaged over a plan's frames with more weight where more of the block is seen.

    The block is found by the block locator (:class:`vidpred.vision.BlockLocator`: pixel weights
    by closeness to the block's chroma, which shading does not change), its colour read from the
    start image.

    A frame's centroid distance counts with weight (m / m_goal)^2, m its block weights' sum and
    m_goal the goal image's; the block's start distance counts as one more frame of weight
    :data:`NOT_MOVED_WEIGHT`. Why: where the arm hides part of the block, the visible part's
    centroid shifts away from the arm, so a plan that parks the arm on the block's far side would
    seem to move it; squared visible mass lets such frames count little, and a block hidden or
    blurred away throughout counts as not moved.

    Why not a pixel distance to the goal image: where the start and goal squares do not overlap,
    pushing the block off its start square in any direction lowers it as much as pushing it
    toward the goal, while the centroid distance falls only when the block approaches the goal;
    and the arm, which differs between prediction and goal image, weighs nothing here.
    """

    def __init__(self, task: PushTask):
        self.locator = task.locator()
        goal = self.locator.locate(to_float(task.goal_image))
        self.goal_xy, self.goal_mass = goal.xy, float(goal.mass)
        start_xy = self.locator.locate(to_float(task.start_image)).xy
        self.start_distance = float((start_xy - self.goal_xy).norm())

    def weights(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) in [0, 1] -> (..., H, W) block weights in [0, 1]."""
        return self.locator.weights(frames)

    def centroid(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3, H, W) -> block centroid (..., 2) as (x, y) pixels
        (:func:`vidpred.vision.centroid`), and total weight (...)."""
        return centroid(self.weights(frames))

    def terms(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., 3, H, W) -> (weight x centroid distance in pixels, weight), each (...): one
        frame's share of :meth:`__call__`'s weighted mean, to add up over a rollout."""
        return self._terms(*self.centroid(frames))

    def _terms(self, xy: torch.Tensor, mass: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weight = (mass / self.goal_mass) ** 2
        return weight * (xy - self.goal_xy.to(xy.device)).norm(dim=-1), weight

    def placed_terms(self, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Block centres (..., 2) pixels that a model places, seen or not -> :meth:`terms`'
        pair, each frame at full weight (it is known where the block is); NaN centres (no
        block placed) at weight 0."""
        known = ~xy.isnan().any(-1)
        distance = (xy - self.goal_xy.to(xy.device)).norm(dim=-1)
        return torch.where(known, distance, 0.0), known.to(xy.dtype)

    def hidden_terms(self, frames: torch.Tensor,
                     placed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`terms` of frames (..., 3, H, W), those that do not show the block (the
        locator's visibility) counted by :meth:`placed_terms` of the centres (..., 2) a model
        placed it at instead: where the arm hides it, the place, not the pixels, says whether
        it moved."""
        xy, mass = self.centroid(frames)
        seen = visible(mass, *frames.shape[-2:])
        return tuple(torch.where(seen, a, b)
                     for a, b in zip(self._terms(xy, mass), self.placed_terms(placed)))

    def combine(self, weighted: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Sums of :meth:`terms` over a plan's frames -> its cost in pixels."""
        return (weighted + NOT_MOVED_WEIGHT * self.start_distance) / (weight + NOT_MOVED_WEIGHT)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., T, 3, H, W) a plan's T frames -> (...) its cost in pixels (class doc)."""
        weighted, weight = self.terms(frames)
        return self.combine(weighted.sum(-1), weight.sum(-1))


def true_cost(scene: FetchPushScene, task: PushTask, state: np.ndarray,
              seq: np.ndarray) -> float:
    """Play an action sequence (H, 3) in the simulator from ``state``
    (:meth:`FetchPushScene.get_state`) and return the block-goal distance in metres averaged over
    its H steps: the cost the oracle minimises. Leaves the scene after the last action."""
    scene.set_state(state)
    total = 0.0
    for a in seq:
        scene.step(np.r_[keep_in_workspace(scene.grip(), a), 0.0])
        total += block_goal_distance(scene, task)
    return total / len(seq)


class Planner:
    """Interface: :meth:`reset` at the start of an episode, then :meth:`act` at every step."""

    name = ""

    def reset(self, task: PushTask, scene: FetchPushScene, steps: int, rng: np.random.Generator) -> None:
        self.task, self.scene, self.rng = task, scene, rng

    def act(self, obs: Observation) -> tuple[np.ndarray, np.ndarray | None]:
        """The action to take now ((3,) in [-1, 1]) and the picture the planner expects at its
        horizon's end ((H, W, 3) uint8, or None when it has none)."""
        raise NotImplementedError


class RandomPlanner(Planner):
    """One random smooth action sequence per episode, drawn like CEM's first candidates (with
    ``planar``, dz = 0 as theirs)."""

    name = "random"

    def __init__(self, planar: bool = False):
        self.planar = planar

    def reset(self, task, scene, steps, rng):
        super().reset(task, scene, steps, rng)
        self.actions = np.clip(RANDOM_ACTION_STD * smooth_noise(rng, (steps, 3)), -1.0, 1.0)
        if self.planar:
            self.actions[:, 2] = 0.0
        self.t = 0

    def act(self, obs):
        self.t += 1
        return self.actions[self.t - 1], None


class ModelCEMPlanner(Planner):
    """CEM on a video model's predictions, all candidates in one batch.

    The model gets the last ``n_past`` executed frames as context (the first frame repeated, with
    a zero action, before there are that many) and, as conditions of the frames to come, each
    candidate's actions with the gripper positions :func:`integrate_grip` predicts from them;
    the action after the horizon's last frame, which the model also reads, repeats the last one.
    One prior sample per candidate. Where the arm hides the block in a context frame, the block
    is drawn into it where the last executed frame that showed it had it (:meth:`recall`).
    Cost: :class:`BlockCentroidCost` over the horizon's frames (a weighted mean, so a plan that
    gets the block there sooner is preferred; for a model with a block layer, a frame that does
    not show the block counts at the place the layer put it,
    :meth:`vidpred.models.SVG.block_centres`, hidden under the arm drawn over it: pushed away
    from the camera, the block stays behind the gripper, and its pixels would say it never
    moved), plus, with
    ``reach`` > 0, ``reach`` pixels per metre of :class:`vidpred.planning.reach.ReachCost` (until the
    gripper is in pushing position, its least distance to a point ``behind`` metres behind the
    block, lifted from pixels by ``table``, a :class:`vidpred.planning.reach.TableMap` fitted to the
    training clips). Rollouts run without autograd and, with ``bf16``, under bf16 autocast
    (:func:`vidpred.device.autocast`; the frames and the cost stay float32).

    Raises:
        ValueError: ``reach`` > 0 without ``table``.
        ConfigError: ``behind`` inside the reach cost's keep-out disc.
    """

    name = "cem"

    def __init__(self, model, n_past: int, settings: CEMSettings = CEMSettings(),
                 bf16: bool = False, reach: float = 0.0, behind: float = 0.08,
                 table: TableMap | None = None):
        self.model, self.n_past, self.settings, self.bf16 = model, n_past, settings, bf16
        self.device = next(model.parameters()).device
        self.reach, self.behind, self.table = reach, behind, table
        if reach > 0 and table is None:
            raise ValueError("the reach cost needs a TableMap fitted to the training clips")
        if reach > 0:
            table.check_behind(behind)  # here, before an episode starts

    def reset(self, task, scene, steps, rng):
        super().reset(task, scene, steps, rng)
        self.cost = BlockCentroidCost(task)
        self.seed = int(rng.integers(2 ** 31))
        self.last_seen = None
        self.reach_cost = None
        if self.reach > 0:
            self.reach_cost = ReachCost.for_task(self.table, task, self.behind,
                                                 float(scene.grip()[2]))

    def context(self, obs: Observation) -> tuple[torch.Tensor, np.ndarray]:
        """The model's context now: the last ``n_past`` frames (n_past, C, H, W) on the model's
        device, and their conditions (n_past, 7) float32 (the last row's action is 0 until
        :meth:`score` puts each candidate's first there)."""
        t = len(obs.frames) - 1
        steps = range(t - self.n_past + 1, t + 1)  # the context's frames; < 0: frame 0 again
        context = torch.stack([obs.frames[max(i, 0)] for i in steps]).to(self.device)
        ee0 = obs.conds[0][4:] if obs.conds else obs.grip
        past = np.stack([np.r_[np.zeros(4), ee0] if i < 0 else obs.conds[i] if i < t
                         else np.r_[np.zeros(4), obs.grip] for i in steps]).astype(np.float32)
        return context, past

    def recall(self, frame: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Object permanence for the model: ``frame`` (3, H, W) is the latest executed frame;
        the context (n_past, 3, H, W) with the block drawn, where the block locator does not
        see it, over the frame at its place in the last executed frame that showed it (its
        pixels weighted by the locator's weights).

        Why: while the gripper stands between the camera and the block, as it does behind a
        block to be pushed away from the camera, the context may show none of the block; the
        model's block layer then has nothing to move, the decoder paints a blur, and no plan
        seems to move the block. Drawn in, the block is moved by the layer and hidden under the
        pasted arm where the arm covers it. It may have been pushed while hidden: the frames show the
        truth again once it is seen.
        """
        w = self.cost.weights(frame)
        if bool(visible(w.sum(), *w.shape)):
            self.last_seen = (frame, w)
        if self.last_seen is None:
            return context
        weights = self.cost.weights(context)
        hidden = ~visible(weights.sum((-2, -1)), *weights.shape[-2:])
        if not bool(hidden.any()):
            return context
        seen, w = (x.to(context.device) for x in self.last_seen)
        drawn = torch.lerp(context, seen.expand_as(context), w)
        return torch.where(hidden[:, None, None, None], drawn, context)

    def act(self, obs):
        context, past = self.context(obs)
        context = self.recall(obs.frames[-1], context)
        if self.reach_cost is not None:
            self.reach_cost.see(obs.frames[-1], obs.grip)
        imagined = {}
        best, _ = cem(lambda seqs: self.score(context, past, obs.grip, seqs, imagined),
                      self.rng, self.settings)
        return keep_in_workspace(obs.grip, best[0]), imagined.get(best.tobytes())

    def score(self, context: torch.Tensor, past: np.ndarray, grip: np.ndarray, seqs: np.ndarray,
              imagined: dict | None = None) -> np.ndarray:
        """Costs (K,) of candidate sequences (K, H, 3) from one batched rollout of the model.

        Args:
            context: (n_past, C, H, W) frames. past: (n_past, 7) their conditions (the last
                row's action is replaced by each candidate's first). grip: (3,) metres now.
            imagined: if given, receives {cheapest sequence's bytes: its last predicted frame
                as (H, W, 3) uint8}.
        """
        K, H = seqs.shape[:2]
        done, pos = integrate_grip(grip, seqs)
        cond = np.zeros((K, self.n_past + H, 7), np.float32)
        cond[:, :self.n_past] = past
        # rows n_past-1 .. n_past+H-1: each frame's action (the last one repeated) and position
        cond[:, self.n_past - 1:, :3] = np.concatenate([done, done[:, -1:]], 1)
        cond[:, self.n_past - 1:, 3] = 0.0
        cond[:, self.n_past:, 4:] = pos[:, 1:]
        weighted = torch.zeros(K, device=self.device)
        weight = torch.zeros(K, device=self.device)
        last = None
        context, cond = context.expand(K, *context.shape), torch.from_numpy(cond).to(self.device)
        # the rollout's z draws come from the planner's own seed; the caller's random state
        # is left as it was
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode(), \
                autocast(self.device, self.bf16):
            torch.manual_seed(self.seed)
            self.seed += 1
            # a model with a block layer says where it puts the block, also where the arm it
            # draws hides it: a frame that does not show the block counts by that place
            placed = self.model.block_centres(context, cond, H)
            for i, frame in enumerate(self.model.rollout_steps(context, cond, H, 1)):
                last = frame[:, 0].float()
                terms = self.cost.terms(last) if placed is None \
                    else self.cost.hidden_terms(last, placed[:, i].float())
                weighted += terms[0]
                weight += terms[1]
        costs = self.cost.combine(weighted, weight).cpu().numpy()
        if self.reach_cost is not None:
            costs = costs + self.reach * self.reach_cost(pos)
        if imagined is not None:
            i = int(np.argmin(costs))
            imagined[seqs[i].tobytes()] = (last[i].clamp(0, 1) * 255).round().byte() \
                .permute(1, 2, 0).cpu().numpy()
        return costs


class ReachPlanner(Planner):
    """CEM scored by :class:`vidpred.planning.reach.ReachCost` alone, no model: an ablation of the model
    planner's ``reach`` term. It brings the gripper behind the block; in pushing position every
    plan costs the same, so what it does there is CEM's first random draw."""

    name = "reach"

    def __init__(self, table: TableMap, settings: CEMSettings = CEMSettings(),
                 behind: float = 0.08):
        self.table, self.settings, self.behind = table, settings, behind
        table.check_behind(behind)

    def reset(self, task, scene, steps, rng):
        super().reset(task, scene, steps, rng)
        self.reach_cost = ReachCost.for_task(self.table, task, self.behind,
                                             float(scene.grip()[2]))

    def act(self, obs):
        self.reach_cost.see(obs.frames[-1], obs.grip)
        best, _ = cem(lambda seqs: self.reach_cost(integrate_grip(obs.grip, seqs)[1]), self.rng,
                      self.settings)
        return keep_in_workspace(obs.grip, best[0]), None


class OracleCEMPlanner(Planner):
    """The same CEM with the simulator as its model: every candidate is played from a saved
    state and scored by the true block-goal distance (metres, averaged over the horizon), then
    the state is restored. An upper bound for a video model and its image cost together."""

    name = "oracle"

    def __init__(self, settings: CEMSettings = CEMSettings()):
        self.settings = settings

    def act(self, obs):
        scene = self.scene
        saved = scene.get_state()
        best, _ = cem(lambda seqs: [true_cost(scene, self.task, saved, q) for q in seqs],
                      self.rng, self.settings)
        true_cost(scene, self.task, saved, best)
        imagined = scene.render()
        scene.set_state(saved)
        return keep_in_workspace(obs.grip, best[0]), imagined
