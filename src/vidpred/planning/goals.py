"""Goal-reaching episodes in the Fetch push scene (:mod:`vidpred.data.sim_push`): where the block
starts, where it should go, and the pictures a planner is given.

An episode starts as a generated sequence does: the arm at FetchPush's reset pose (the gripper
at block height, fingers closed), the block 10-15 cm from it. The goal is a block position on
the table 10-20 cm from the start (by default), at least 8 cm inside the workspace's x-y edges
(the gripper must get behind the block to push it there) and at least 10 cm from the gripper's
start; a draw is redone when the arm hides most of the block in the start or goal image (fewer
than :data:`MIN_BLOCK_PIXELS` pixels show it). The goal image is rendered from the data's camera
with the block at the goal and the arm at that same reset pose, so start and goal images differ
only in the block; a third image without the block gives the block's pixels in the start image,
hence its colour as rendered.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.sim_push import (
    WORKSPACE_HI,
    WORKSPACE_LO,
    FetchPushScene,
    red_colour,
    start_block_xy,
)

GOAL_MARGIN = 0.08   # metres between a goal and the workspace's x-y edges
CHANGED = 0.1        # pixel difference (of 1) that marks the block in a render
MIN_BLOCK_PIXELS = 20  # of 64 x 64 (scaled with the image area); an unoccluded block shows 60-100


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

    @property
    def block_mask(self) -> np.ndarray:
        """(H, W) bool: the block's pixels in the start image."""
        return _differs(self.start_image, self.background)


def _differs(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    return (np.abs(image.astype(np.float32) - background) / 255).max(-1) > CHANGED


def sample_task(scene: FetchPushScene, rng: np.random.Generator,
                goal_distance: tuple[float, float] = (0.10, 0.20)) -> PushTask:
    """Draw a start and a goal (see module doc) and render the three pictures.

    Args:
        goal_distance: (min, max) distance in metres from the block's start to its goal.

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
        rgb = red_colour(rng)
        scene.reset(goal, rgb)
        goal_image = scene.render()
        scene.hide_block()
        background = scene.render()
        scene.reset(block_xy, rgb)
        start_image = scene.render()
        least = MIN_BLOCK_PIXELS * start_image.shape[0] * start_image.shape[1] / 64 ** 2
        if min(_differs(start_image, background).sum(), _differs(goal_image, background).sum()) >= least:
            return PushTask(block_xy, goal, rgb, start_image, goal_image, background)


def reset_to(scene: FetchPushScene, task: PushTask) -> None:
    """Put ``scene`` in the episode's start state."""
    scene.reset(task.block_xy, task.rgb)


def block_goal_distance(scene: FetchPushScene, task: PushTask) -> float:
    """x-y distance in metres between the block's centre and the goal."""
    return float(np.linalg.norm(scene.block_pos()[:2] - task.goal_xy))
