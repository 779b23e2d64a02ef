"""Training schedules as pure functions of the iteration or epoch.

Every schedule here is a small frozen dataclass whose ``__call__`` maps a step to a value and
keeps no state, so a run resumed from a checkpoint at step k continues with exactly the value
an uninterrupted run would have had (the trap of decrementing a counter in place is avoided).
Each round-trips through ``to_dict`` / ``from_dict``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

KL_ANNEAL_KINDS = ("cyclical", "monotonic", "none")


@dataclass(frozen=True)
class KLAnnealing:
    """KL weight beta(step) for the loss ``MSE + beta * KL``.

    Source: Fu et al., "Cyclical Annealing Schedule: A Simple Approach to Mitigating KL
    Vanishing", NAACL 2019, eq. (2). With ``total_steps`` T, ``n_cycles`` M and ``ratio`` R,
    each cycle lasts T / M steps; inside a cycle at fraction tau in [0, 1), beta rises linearly
    from 0 to ``beta_max`` over tau in [0, R) and then stays at ``beta_max``.

    - ``cyclical``: M cycles as above.
    - ``monotonic``: a single cycle (M = 1): rise over the first R * T steps, then hold.
    - ``none``: beta = ``beta_max`` at every step.

    Args:
        kind: one of ``cyclical``, ``monotonic``, ``none``.
        total_steps: T, the number of training iterations the schedule spans (> 0).
        n_cycles: M (>= 1); ignored by ``monotonic`` and ``none``.
        ratio: R in (0, 1], the fraction of each cycle spent rising.
        beta_max: the weight reached at the top of each cycle (SVG uses 1e-4).

    Raises:
        ValueError: on an unknown kind or an out-of-range argument.
    """

    kind: str = "cyclical"
    total_steps: int = 1
    n_cycles: int = 3
    ratio: float = 0.5
    beta_max: float = 1e-4

    def __post_init__(self) -> None:
        if self.kind not in KL_ANNEAL_KINDS:
            raise ValueError(f"kl_anneal must be one of {KL_ANNEAL_KINDS}, got {self.kind!r}")
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        if self.n_cycles < 1:
            raise ValueError(f"kl_anneal_cycles must be >= 1, got {self.n_cycles}")
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"kl_anneal_ratio must be in (0, 1], got {self.ratio}")
        if self.beta_max < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta_max}")

    def __call__(self, step: int) -> float:
        """Return beta at iteration ``step`` (0-based; steps past the end hold the last value)."""
        if self.kind == "none":
            return self.beta_max
        cycles = 1 if self.kind == "monotonic" else self.n_cycles
        step = min(max(int(step), 0), self.total_steps - 1)
        period = self.total_steps / cycles
        tau = (step % period) / period
        return self.beta_max * min(1.0, tau / self.ratio)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "KLAnnealing":
        return cls(**d)


@dataclass(frozen=True)
class TeacherForcing:
    """Teacher-forcing ratio tfr(epoch): the probability that an iteration feeds ground-truth
    frames (rather than the model's own predictions) to the frame predictor.

    Follows the course templates' schedule (start ratio, decay start epoch, decay step, floor),
    written as a pure function of the 0-based epoch::

        tfr(e) = start                                                  if e < decay_start
        tfr(e) = max(floor, start - decay_step * (e - decay_start + 1)) otherwise

    so ``decay_start`` is the first epoch that trains with a lowered ratio.

    Args:
        start: initial ratio in [0, 1].
        decay_start: first decayed epoch (>= 0).
        decay_step: amount removed per epoch (>= 0).
        floor: lowest ratio in [0, start].

    Raises:
        ValueError: when a ratio is outside [0, 1] or floor > start.
    """

    start: float = 1.0
    decay_start: int = 10
    decay_step: float = 0.1
    floor: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.start <= 1.0:
            raise ValueError(f"tfr_start must be in [0, 1], got {self.start}")
        if not 0.0 <= self.floor <= self.start:
            raise ValueError(f"tfr_floor must be in [0, tfr_start={self.start}], got {self.floor}")
        if self.decay_step < 0 or self.decay_start < 0:
            raise ValueError("tfr_decay_step and tfr_decay_start must be >= 0")

    def __call__(self, epoch: int) -> float:
        if epoch < self.decay_start:
            return self.start
        return max(self.floor, self.start - self.decay_step * (epoch - self.decay_start + 1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TeacherForcing":
        return cls(**d)


LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class LearningRate:
    """Learning rate lr(step): ``constant``, or ``cosine`` decay from ``base`` to
    ``base * final_fraction`` over ``total_steps`` (Loshchilov & Hutter 2017, without restarts).

    Raises:
        ValueError: unknown kind or non-positive base.
    """

    kind: str = "constant"
    base: float = 2e-3
    total_steps: int = 1
    final_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.kind not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.kind!r}")
        if self.base <= 0:
            raise ValueError(f"lr must be > 0, got {self.base}")

    def __call__(self, step: int) -> float:
        if self.kind == "constant":
            return self.base
        progress = min(max(step, 0), self.total_steps) / max(self.total_steps, 1)
        floor = self.base * self.final_fraction
        return floor + (self.base - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LearningRate":
        return cls(**d)


class Schedules:
    """beta (KL annealing, per iteration), teacher-forcing ratio (per epoch of
    ``train.iters_per_epoch`` steps) and learning rate (per iteration) of a run's training
    settings (a :class:`vidpred.config.TrainConfig`); all pure functions of the schedule step
    (:func:`schedule_step`)."""

    def __init__(self, t):
        self.beta = KLAnnealing(t.kl_anneal, t.iterations, t.kl_anneal_cycles, t.kl_anneal_ratio,
                                t.beta)
        self.tfr = TeacherForcing(t.tfr_start, t.tfr_decay_start, t.tfr_decay_step, t.tfr_floor)
        self.lr = LearningRate(t.lr_schedule, t.lr, t.iterations)
        self.iters_per_epoch = t.iters_per_epoch

    def at(self, step: int) -> tuple[float, float, float]:
        """(beta, teacher-forcing ratio, learning rate) at a schedule step."""
        return self.beta(step), self.tfr(step // self.iters_per_epoch), self.lr(step)


def schedule_step(iteration: int, seconds: float, t, prepared: float = 0.0) -> int:
    """The step the schedules (KL annealing, learning rate, and the teacher-forcing ratio at
    epoch ``step // train.iters_per_epoch``) are read at.

    Without a time limit it is the iteration. With ``train.max_minutes`` it is the larger of the
    iteration and the same fraction of ``train.iterations`` as the steps' ``seconds - prepared``
    is of the limit less ``prepared`` (the seconds the model took to prepare before the first
    step, which the limit counts), so a run that stops on time has still annealed its learning
    rate, beta and teacher forcing to their ends, and starts them at their beginnings; on a
    faster machine the same run trains more iterations. ``t``: the run's
    :class:`vidpred.config.TrainConfig`.
    """
    if t.max_minutes <= 0:
        return iteration
    budget = 60.0 * t.max_minutes - prepared
    if budget <= 0:  # the preparation took the whole limit: the first step is the last
        return t.iterations
    share = max(seconds - prepared, 0.0) / budget
    return max(iteration, min(t.iterations, int(share * t.iterations)))
