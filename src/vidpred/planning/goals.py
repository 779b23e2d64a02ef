"""Goal-reaching episodes in the Fetch push scene (:mod:`vidpred.data.sim_push`): where the block
starts, where it should go, and the pictures a planner is given.

An episode starts as a generated sequence does: the arm at FetchPush's reset pose (the gripper
at block height, fingers closed), the block 10-15 cm from it. The goal is a block position on
the table 10-20 cm from the start (by default), at least 8 cm inside the workspace's x-y edges
(the gripper must get behind the block to push it there) and at least 10 cm from the gripper's
start; a draw is redone when the arm hides most of the block in the start or goal image (the
block locator, :class:`vidpred.vision.BlockLocator`, with its colour read from the start image,
does not see it there). The goal image is rendered from the data's camera with the block at the
goal and the arm at that same reset pose, so start and goal images differ only in the block; a
third image, without the block, shows the scene alone. The block is red to magenta by default
(:func:`vidpred.data.sim_push.red_colour`), or any colour the data's blocks may have.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.sim_push import (
    WORKSPACE_HI,
    WORKSPACE_LO,
    FetchPushScene,
    block_colour,
    start_block_xy,
)
from ..vision import BlockLocator

GOAL_MARGIN = 0.08   # metres between a goal and the workspace's x-y edges


@dataclass(frozen=True)
class PushTask:
    """One episode's start and goal.

    Attributes:
        block_xy: block start (x, y), metres, world frame. goal_xy: block goal (x, y), metres.
        rgb: block colour (RGB in [0, 1]) given to MuJoCo.
        start_image, goal_image, background: (H, W, 3) uint8 renders at the start, with the block
            at the goal, and without the block (arm at its reset pose in all three).
    """

    block_xy: np.ndarray
    goal_xy: np.ndarray
    rgb: np.ndarray
    start_image: np.ndarray
    goal_image: np.ndarray
    background: np.ndarray

    def locator(self) -> BlockLocator:
        """The block locator of this episode: its colour read from the start image."""
        return BlockLocator.read(to_float(self.start_image))


def to_float(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(image).permute(2, 0, 1).float() / 255


def sample_task(scene: FetchPushScene, rng: np.random.Generator,
                goal_distance: tuple[float, float] = (0.10, 0.20),
                block_colours: str = "red") -> PushTask:
    """Draw a start and a goal (see module doc) and render the three pictures.

    Args:
        goal_distance: (min, max) distance in metres from the block's start to its goal.
        block_colours: ``red`` or ``any`` (:func:`vidpred.data.sim_push.block_colour`).

    Leaves ``scene`` in an arbitrary state: reset it to the start with ``reset_to(scene, task)``.
    """
    grip = scene.initial_grip
    lo, hi = WORKSPACE_LO[:2] + GOAL_MARGIN, WORKSPACE_HI[:2] - GOAL_MARGIN
    while True:
        block_xy = start_block_xy(rng, grip)
        angle = rng.uniform(0, 2 * np.pi)
        goal = block_xy + rng.uniform(*goal_distance) * np.array([np.cos(angle), np.sin(angle)])
        if np.any(goal < lo) or np.any(goal > hi) or np.linalg.norm(goal - grip[:2]) < 0.1:
            continue
        rgb = block_colour(rng, block_colours)
        scene.reset(goal, rgb)
        goal_image = scene.render()
        scene.hide_block()
        background = scene.render()
        scene.reset(block_xy, rgb)
        start_image = scene.render()
        task = PushTask(block_xy, goal, rgb, start_image, goal_image, background)
        seen = task.locator().locate(torch.stack([to_float(start_image), to_float(goal_image)]))
        if bool(seen.visible.all()):
            return task


def reset_to(scene: FetchPushScene, task: PushTask) -> None:
    """Put ``scene`` in the episode's start state."""
    scene.reset(task.block_xy, task.rgb)


def block_goal_distance(scene: FetchPushScene, task: PushTask) -> float:
    """x-y distance in metres between the block's centre and the goal."""
    return float(np.linalg.norm(scene.block_pos()[:2] - task.goal_xy))
