"""A camera map learned from pushes: table x-y (metres) -> the pixel where a block centred there
is seen, with no calibration assumed (real robot data has none).

Where the block moves between two frames of a clip (:func:`push_frames`), the gripper touches
it, so the block's centre is about a contact distance d ahead of the gripper along its motion u,
and a plane-to-image homography H with H(gripper + d u) = the block's centre in pixels is fitted
by least squares (normalised direct linear transform, Hartley & Zisserman, "Multiple View
Geometry", 2nd ed. 2004, algorithm 4.2), d by the least residual (:func:`fit_push_map`).

Two parts use it: the planner's reach cost lifts the block's and the goal's pixels to the table
(:class:`vidpred.planning.reach.TableMap`), and the block layer's dynamics see where the gripper
is in the image, relative to the block (:class:`vidpred.models.block_layer.BlockDynamics`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .errors import DataError

# pixels (at 64 x 64, scaled with the frame size) the block's centre moves between two frames
# when it is pushed
PUSHED = 1.0
MOVED = 0.005      # metres the gripper moves between the two frames of a push, at least
CONTACTS = np.arange(0.0, 0.1201, 0.005)  # contact distances d fit_push_map tries, metres
TRIM = 0.8         # share of pushes (least residuals) the homography is refitted to
MIN_SPREAD = 0.01  # metres: the pushes' positions must spread at least this across their least axis
MIN_PUSHES = 8


def fit_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The plane-to-plane homography (3, 3) taking points src (N, 2) to dst (N, 2), N >= 4, by
    the normalised direct linear transform (Hartley & Zisserman, algorithm 4.2): both point sets
    are shifted to their mean and scaled to mean distance sqrt(2) before the SVD."""
    def normaliser(p):
        m = p.mean(0)
        s = np.sqrt(2) / max(float(np.linalg.norm(p - m, axis=1).mean()), 1e-12)
        return np.array([[s, 0, -s * m[0]], [0, s, -s * m[1]], [0, 0, 1]])

    ts, td = normaliser(src), normaliser(dst)
    a, b = apply_homography(ts, src), apply_homography(td, dst)
    x, y, u, v = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows = np.concatenate([np.stack([x, y, one, zero, zero, zero, -u * x, -u * y, -u], 1),
                           np.stack([zero, zero, zero, x, y, one, -v * x, -v * y, -v], 1)])
    # the reduced SVD holds the null vector only where the rows are at least the 9 unknowns
    h = np.linalg.svd(rows, full_matrices=len(rows) < 9)[2][-1].reshape(3, 3)
    h = np.linalg.inv(td) @ h @ ts
    return h / h[2, 2]


def apply_homography(h: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(3, 3) homography, points (..., 2) -> (..., 2)."""
    q = np.asarray(p, np.float64) @ h[:, :2].T + h[:, 2]
    return q[..., :2] / q[..., 2:]


def project(h: Tensor, p: Tensor) -> Tensor:
    """:func:`apply_homography` on tensors: (3, 3) homography, points (..., 2) -> (..., 2), in
    the points' dtype and device."""
    h = h.to(p)
    q = p @ h[:, :2].T + h[:, 2]
    return q[..., :2] / q[..., 2:]


def push_frames(grip: Tensor, block: Tensor, seen: Tensor,
                scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frames of clips at which the gripper pushes the block.

    Args:
        grip: (S, L, 2) the gripper's table x-y, metres. block: (S, L, 2) the block's centre,
            pixels. seen: (S, L) bool, the block visible. scale: frame height / 64.

    A frame t counts when the block's centre moves more than :data:`PUSHED` pixels (x scale)
    to frame t + 1, the block is visible in both, and the gripper moves at least :data:`MOVED`
    metres in x-y.

    Returns:
        (the gripper's x-y at t (M, 2) metres, its unit direction of motion to t + 1 (M, 2),
        the block's centre at t (M, 2) pixels), float64.
    """
    step = grip[:, 1:] - grip[:, :-1]
    norm = step.norm(dim=-1)
    both = seen[:, 1:] & seen[:, :-1]
    moved = ((block[:, 1:] - block[:, :-1]).norm(dim=-1) > PUSHED * scale) & both & (norm > MOVED)
    out = (grip[:, :-1][moved], step[moved] / norm[moved][:, None], block[:, :-1][moved])
    return tuple(x.double().cpu().numpy() for x in out)


def fit_push_map(grip: np.ndarray, direction: np.ndarray,
                 block: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Fit the map to :func:`push_frames`' output: for each d in :data:`CONTACTS`, a homography
    from grip + d direction to block, refitted to the :data:`TRIM` share with the least
    residuals (pushes at the block's edge or corner put its centre off the line of motion); the
    d with the least residual wins.

    Returns:
        (homography (3, 3) table metres -> pixels, contact distance d metres, rms residual over
        the pushes kept, pixels).

    Raises:
        DataError: fewer than :data:`MIN_PUSHES` pushes, or pushes along one line (less than
            :data:`MIN_SPREAD` across it), which leave the map undetermined.
    """
    if len(grip) < MIN_PUSHES:
        raise DataError(f"{len(grip)} pushes found; a camera map needs at least {MIN_PUSHES} "
                        "(more clips, or clips in which the arm pushes the block)")
    spread = np.linalg.svd(grip - grip.mean(0), compute_uv=False)[-1] / np.sqrt(len(grip))
    if not spread >= MIN_SPREAD:
        raise DataError(f"the {len(grip)} pushes found lie along one line ({spread * 100:.1f} cm "
                        "across it); a camera map needs pushes spread over the table (more "
                        "clips)")
    best = None
    for d in CONTACTS:
        src = grip + d * direction
        h = fit_homography(src, block)
        r = np.linalg.norm(apply_homography(h, src) - block, axis=1)
        keep = r <= np.quantile(r, TRIM)
        h = fit_homography(src[keep], block[keep])
        rms = float(np.sqrt((np.linalg.norm(apply_homography(h, src[keep]) - block[keep],
                                            axis=1) ** 2).mean()))
        if best is None or rms < best[2]:
            best = (h, float(d), rms)
    if best is None or not np.isfinite(best[0]).all():
        raise DataError(f"the camera map fitted to {len(grip)} pushes is degenerate (more "
                        "clips, spread over the table)")
    return best


__all__ = ["apply_homography", "fit_homography", "fit_push_map", "project", "push_frames"]
