"""Where the gripper should go before a push: a point behind the block, found in the image and
lifted to the table with a map learned from the training clips.

The model planner's block cost (:class:`vidpred.planning.planners.BlockCentroidCost`) can tell plans
apart only by where they move the block, so from a start 10-15 cm from the block, where no plan of
a 10-step horizon touches it, every candidate costs the same and CEM wanders. :class:`ReachCost`
adds the gripper's distance to a point behind the block, on the side away from the goal: the
plans that bring the gripper there cost less, and once it is there the term is the same for every
plan and the model's predictions alone decide how to push.

Lifting pixels to the table needs a camera model; none is assumed (real robot data has no
calibration). :class:`TableMap` learns one from the clips' pushes (:mod:`vidpred.camera`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..camera import apply_homography, fit_push_map, push_frames
from ..data.bair import find_sequences, read_sequence, resolve_split
from ..errors import ConfigError, DataError
from ..vision import BlockLocator
from .goals import to_float

CLEARANCE = 0.015  # metres added to the contact distance for the disc plans must not cross low


def pushes(split_dir: str | Path, sequences: int = 256, image_size: int = 64
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames at which the gripper pushes the block, from the first ``sequences`` clips of a
    split in the course-template layout (:mod:`vidpred.data.bair`; conditions: action 4, gripper
    position 3 in metres).

    The block is found by the block locator (:class:`vidpred.vision.BlockLocator`, its colour
    read from each clip's frames); the frames that count are :func:`vidpred.camera.push_frames`'.

    Returns:
        (gripper x-y at t (M, 2) metres, its unit direction of motion to t + 1 (M, 2), the
        block's centroid at t (M, 2) pixels).

    Raises:
        DataError: a clip that cannot be read, or no push found (no clips, or clips in which the
            arm never moves the block).
    """
    grip, direction, block = [], [], []
    for folder in find_sequences(Path(split_dir))[:sequences]:
        frames, cond = read_sequence(folder, image_size)
        frames = torch.from_numpy(frames).float() / 255
        seen = BlockLocator.read(frames).locate(frames)
        found = push_frames(torch.from_numpy(cond[None, :, 4:6]), seen.xy[None],
                            seen.visible[None], image_size / 64)
        for out, x in zip((grip, direction, block), found):
            out.append(x)
    if not grip or not sum(len(g) for g in grip):
        raise DataError(f"{split_dir}: no clip in which the gripper pushes the block (the reach "
                        "cost learns the camera from them)")
    return tuple(np.concatenate(a).astype(np.float64) for a in (grip, direction, block))


@dataclass(frozen=True)
class TableMap:
    """Table x-y (metres, world frame) <-> the pixel where a block centred there is seen.

    Attributes:
        homography: (3, 3) table -> pixels. contact: d, metres between the gripper and the
            block's centre while it pushes. rms: the fit's residual over the pushes it kept,
            pixels. pushes: how many pushes it was fitted to.
    """

    homography: np.ndarray
    contact: float
    rms: float
    pushes: int

    @classmethod
    def fit(cls, grip: np.ndarray, direction: np.ndarray, block: np.ndarray) -> TableMap:
        """Fit to :func:`pushes`' output (:func:`vidpred.camera.fit_push_map`).

        Raises:
            DataError: too few pushes, or pushes along one line, which leave the map
                undetermined.
        """
        h, contact, rms = fit_push_map(grip, direction, block)
        return cls(h, contact, rms, len(grip))

    @classmethod
    def from_config(cls, cfg, log=print) -> TableMap:
        """The map fitted to pushes in the training clips a model's config names
        (``cfg.data.root``, its ``train`` split, at ``cfg.data.image_size``); ``log`` gets one
        line on the fit.

        Raises:
            DataError: the data root is gone, or its clips leave the map undetermined (see
                :meth:`fit`).
        """
        root = Path(cfg.data.root).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: the checkpoint's data.root does not exist; the reach cost "
                            "fits its camera map to those training clips (regenerate them with "
                            "the model's config, e.g. `vidpred train --config push_plan`, or "
                            "leave --reach at 0)")
        split = resolve_split(root, "train")
        table = cls.fit(*pushes(split, image_size=cfg.data.image_size))
        log(f"reach cost: table-to-image map fitted to {table.pushes} pushes in {split} "
            f"(residual {table.rms:.1f} px, contact distance {table.contact * 100:.1f} cm)")
        return table

    def check_behind(self, behind: float, clearance: float = CLEARANCE) -> None:
        """Raise ConfigError unless the point ``behind`` metres behind the block lies outside
        :class:`ReachCost`'s keep-out disc (radius contact + ``clearance``)."""
        least = self.contact + clearance
        if not behind > least:
            raise ConfigError(f"--behind {behind:g}: must exceed the fitted contact distance + "
                              f"{clearance * 100:.1f} cm = {least:.3f} m; pass e.g. --behind "
                              f"{least + 0.01:.3f}")

    def pixels(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) table positions, metres -> (..., 2) pixels."""
        return apply_homography(self.homography, xy)

    def table_position(self, pixel: np.ndarray) -> np.ndarray:
        """(..., 2) pixels -> (..., 2) table positions, metres."""
        return apply_homography(np.linalg.inv(self.homography), pixel)


class ReachCost:
    """A plan's cost for not bringing the gripper behind the block, in metres: the least distance
    between the gripper, now or after any action of the plan, and the point ``behind`` metres
    behind the block's centre on the side away from the goal, at ``height``; plus ``keep_out``
    times how deep the plan's positions go into a disc of radius ``table.contact + clearance``
    around the block below ``height + over``, summed over its steps. Once the gripper is in
    pushing position (between half the contact distance and ``behind`` + 2 cm behind the block's
    centre, within 3 cm of the line through block and goal) the cost is 0 for every plan: how to
    push is for the model's predictions alone to decide.

    Why the keep-out: the straight way to the point behind the block often runs through the
    block, pushing it away from the goal. The model's frames could tell (the block moves the
    wrong way), but a block pushed out of place is blurred in them, and the block cost counts a
    blurred block as unmoved. The data's scripted pushes go over the block instead; plans that
    go around or over it cost nothing extra.

    The block's position comes from its centroid in the latest frame, the goal's from the goal
    image (the block locator, :class:`vidpred.vision.BlockLocator`), both lifted with
    :class:`TableMap`.

    Args:
        table: the :class:`TableMap`. goal_pixel: (2,) the block's centroid in the goal image.
        behind: metres between the block's centre and the point to reach. height: that point's
            height, metres (the gripper's at the start: the block's pushing height).
        keep_out: weight of the keep-out depth. clearance, over: metres (see above).

    Raises:
        ConfigError: ``behind`` within the keep-out disc (:meth:`TableMap.check_behind`).
    """

    def __init__(self, table: TableMap, goal_pixel, behind: float, height: float,
                 keep_out: float = 10.0, clearance: float = CLEARANCE, over: float = 0.07,
                 locator: BlockLocator | None = None):
        table.check_behind(behind, clearance)
        self.table, self.behind, self.height, self.locator = table, behind, height, locator
        self.keep_out, self.radius, self.over = keep_out, table.contact + clearance, over
        self.goal = table.table_position(np.asarray(goal_pixel, np.float64))
        self.block = self.target = self.pixel = None
        self.pushing = False

    @classmethod
    def for_task(cls, table: TableMap, task, behind: float, height: float) -> ReachCost:
        """The cost for an episode (:class:`vidpred.planning.goals.PushTask`): the goal from
        its goal image, the block first placed from its start image (where the block is always
        seen, :func:`~vidpred.planning.goals.sample_task`)."""
        locator = task.locator()
        goal, start = locator.locate(torch.stack([to_float(task.goal_image),
                                                  to_float(task.start_image)])).xy.numpy()
        cost = cls(table, goal, behind, height, locator=locator)
        cost.update(start)
        return cost

    def see(self, frame: torch.Tensor, grip: np.ndarray) -> None:
        """:meth:`update` from the latest frame ((3, H, W) in [0, 1]); in a frame in which the
        arm hides most of the block (the locator does not see it) the block stays where it was
        last seen, and whether the gripper is in pushing position is judged against that: the
        gripper that hides the block is most often the one standing behind it to push it away
        from the camera, and a pushing state frozen at the last frame that showed the block
        would hold it there, the reach term pulling it back to its target instead of pushing."""
        block = self.locator.locate(frame)
        if bool(block.visible):
            self.update(block.xy.numpy(), grip)
        elif self.pixel is not None:   # never seen yet: nothing to judge against
            self.update(self.pixel, grip)

    def update(self, block_pixel, grip: np.ndarray | None = None) -> None:
        """Place the block (its centroid now, (2,) pixels) and the target; ``grip``: (3,) the
        gripper now, metres (None: not in pushing position)."""
        self.pixel = np.asarray(block_pixel, np.float64)
        self.block = self.table.table_position(self.pixel)
        away = self.block - self.goal
        away = away / max(float(np.linalg.norm(away)), 1e-6)
        self.target = np.r_[self.block + self.behind * away, self.height]
        self.pushing = False
        if grip is not None:
            rel = np.asarray(grip[:2], np.float64) - self.block
            along = float(rel @ away)
            across = float(np.linalg.norm(rel - along * away))
            self.pushing = (0.5 * self.table.contact <= along <= self.behind + 0.02
                            and across <= 0.03)

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        """(K, H + 1, 3) gripper positions now and after each action, metres -> (K,) costs."""
        if self.pushing:
            return np.zeros(len(positions))
        plan = positions[:, 1:]
        depth = self.radius - np.linalg.norm(plan[..., :2] - self.block, axis=-1)
        low = plan[..., 2] < self.height + self.over
        return (np.linalg.norm(positions - self.target, axis=-1).min(-1)
                + self.keep_out * (np.clip(depth, 0.0, None) * low).sum(-1))


__all__ = ["ReachCost", "TableMap", "pushes"]
