"""Condition points: a vector condition drawn as Gaussian blobs at the decoder's scales.

SVG hands the condition (action, end-effector position) to the decoder only through the frame
predictor's ``g_dim`` vector, which the decoder must turn into a drawn arm starting from a 1 x 1
map. Here a small MLP maps each frame's condition vector to K points, each a 2-D centre and a
width per axis, and the blobs exp(-(u - m_x)^2 / 2 s_x^2) * exp(-(v - m_y)^2 / 2 s_y^2) are
rendered analytically at each decoder stage, so where the gripper is becomes a place in the
feature maps (in the spirit of CoordConv, Liu et al. 2018, and of keypoint bottlenecks such as
Jakab et al. 2018, but with the points read from the condition, not from the image). Nothing
maps positions to pixels but what is learned: no camera calibration is assumed.

Each decoded step gets two sets of K points: those of its target frame's condition (where the
arm is to be drawn) and those of its source frame's, the frame the composite copies from (where
the arm is to be erased). A learned 1 x 1 projection per stage turns the 2K blobs into that
stage's channels and is added to the stage's first convolution output. The projection is
separable: sum_k g_y[k, v] * (g_x[k, u] * w[c, k]) is one batched matmul over k, so no
(2K, H, W) blob tensor is built. What the points cost per training step, and what they gain,
is measured in docs/push-demo.md.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# widths of the blobs at initialisation, in the [-1, 1] image coordinate (0.2 = 6.4 px at 64 px)
_INIT_WIDTH = 0.2
_MIN_WIDTH = 0.01


class ConditionPoints(nn.Module):
    """Condition vectors -> K points -> additive maps for the decoder stages.

    Args:
        cond_dim: size D of a frame's condition vector.
        points: K, points per frame.
        stage_channels: output channels of each decoder stage the maps are added to, coarse to
            fine.
        hidden: hidden units of the MLP (two hidden layers).

    The input is normalised by a BatchNorm without affine parameters (running statistics in
    eval mode), so conditions in metres or in pixels both work without dataset statistics.
    """

    def __init__(self, cond_dim: int, points: int, stage_channels: list[int], hidden: int = 64):
        super().__init__()
        if cond_dim < 1 or points < 1:
            raise ValueError(f"condition points need cond_dim >= 1 and points >= 1, got "
                             f"{cond_dim} and {points}")
        self.points = points
        self.norm = nn.BatchNorm1d(cond_dim, affine=False)
        self.mlp = nn.Sequential(nn.Linear(cond_dim, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 4 * points))
        # widths start near _INIT_WIDTH: softplus(b) = _INIT_WIDTH - _MIN_WIDTH
        with torch.no_grad():
            self.mlp[-1].bias.view(points, 4)[:, 2:] = _inverse_softplus(_INIT_WIDTH - _MIN_WIDTH)
        # small random projections: the maps carry gradient to the MLP from the first step
        self.proj = nn.ParameterList([nn.Parameter(torch.randn(c, 2 * points) * 0.01)
                                      for c in stage_channels])

    def locate(self, cond: Tensor) -> Tensor:
        """Condition vectors (..., D) -> points (..., K, 4): centre (x, y) in [-1, 1] (image
        coordinates, -1 = left/top edge) and widths (s_x, s_y) > 0 in the same unit."""
        lead = cond.shape[:-1]
        x = self.norm(cond.reshape(-1, cond.shape[-1]).float())
        p = self.mlp(x).view(*lead, self.points, 4)
        return torch.cat([torch.tanh(p[..., :2]), F.softplus(p[..., 2:]) + _MIN_WIDTH], -1)

    def maps(self, stage: int, points: Tensor, hw: tuple[int, int]) -> Tensor:
        """Points (N, 2K, 4) -> the stage's additive map (N, c_stage, H, W) in channels-last
        memory layout (the decoder's on CPU)."""
        H, W = hw
        gx = _profile(points[..., 0], points[..., 2], W)  # (N, 2K, W)
        gy = _profile(points[..., 1], points[..., 3], H)  # (N, 2K, H)
        w = self.proj[stage]  # (c, 2K)
        n, c = points.shape[0], w.shape[0]
        # out[n, v, u, c] = sum_k g_y[n, k, v] (g_x[n, k, u] w[c, k]): one batched matmul over k
        b = (gx[..., None] * w.t()[None, :, None, :]).flatten(2)  # (N, 2K, W * c)
        return (gy.transpose(1, 2) @ b).view(n, H, W, c).permute(0, 3, 1, 2)


def _profile(centre: Tensor, width: Tensor, n: int) -> Tensor:
    """1-D Gaussian profiles (N, K) centres and widths -> (N, K, n) at the n pixel centres of
    [-1, 1]."""
    u = (torch.arange(n, device=centre.device, dtype=centre.dtype) + 0.5) * (2.0 / n) - 1.0
    return torch.exp(-0.5 * ((u - centre[..., None]) / width[..., None]) ** 2)


def _inverse_softplus(y: float) -> float:
    return float(torch.log(torch.expm1(torch.tensor(y))))


__all__ = ["ConditionPoints"]
