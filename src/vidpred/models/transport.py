"""The pushed block as a layer of its own: cut out of the context frame by its colour and moved
by a displacement predicted from the robot's motion.

A composite can copy the context frame's pixels only in place, and a decoder that must paint a
pushed block anew from a 128-number embedding paints a smear that fades within a few frames. Here
the block keeps its pixels: it is located in the context frame by its colour
(:class:`vidpred.vision.BlockLocator`, the colour read from the context frames), and for every
predicted frame a small recurrent network reads where the block starts and how the end effector
moves (the condition vectors: action and end-effector position) and predicts where the block's
centroid goes; the block's pixels are translated there (bilinear, so the image loss reaches the
displacement too). This is the spatial-transformer idea of Finn, Goodfellow & Levine's STP head
(NIPS 2016: the previous frame moved by predicted transformations and composited with masks)
restricted to one object and a translation, with the transformation read from the actions,
which decide a push.

In training the displacement is also fitted directly to where the locator finds the block in
the clip's true frames (:meth:`BlockTransport.fit_loss`), so it learns from a few hundred clips
what the image loss alone teaches slowly (the block is about 1% of the pixels).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..vision import BlockLocator, centroid, visible

# input scale of end-effector positions and their motion (metres: the workspace is ~0.3 m across)
_METRES = 5.0


class BlockTransport(nn.Module):
    """Where the block goes, per predicted frame, from the context and the conditions.

    Args:
        cond_dim: size D of a frame's condition vector: the action (D - 3) and the end-effector
            position (its last 3 entries).
        hidden: units of the GRU.

    The GRU reads, per frame from the last context frame on: the end effector's position and its
    motion since the last context frame, the action, and where the block was in the last context
    frame (its centroid, scaled to [-1, 1], and whether it was visible); its output is the
    block's displacement since the last context frame, in pixels (zero at first).
    """

    def __init__(self, cond_dim: int, hidden: int = 64):
        super().__init__()
        if cond_dim < 3:
            raise ValueError(f"the block's transport reads the end-effector position (the last 3 "
                             f"condition entries); got conditions of {cond_dim}")
        self.gru = nn.GRU(cond_dim + 3 + 3, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def plan(self, context: Tensor, cond: Tensor, T: int) -> tuple[Tensor, Tensor, Tensor]:
        """The block's mask in every context frame and its displacement at every frame.

        Args:
            context: (B, n_past, 3, H, W) in [0, 1]. cond: (B, >= T, D). T: frames of the clip.

        Returns:
            (masks (B, n_past, 1, H, W) in [0, 1]: the block's weights in each context frame;
            shift (B, T, 2) pixels (x, y): frame t's block centroid minus that of context frame
            min(t, n_past - 1) for the context frames (measured: they are given), and minus the
            last context frame's for the frames after it (predicted);
            locator: the :class:`BlockLocator` of the clips' blocks).
        """
        n_past = context.shape[1]
        H, W = context.shape[-2:]
        locator = BlockLocator.read(context)
        weights = locator.weights(context)                        # (B, n_past, H, W)
        xy, mass = centroid(weights)                              # (B, n_past, 2), (B, n_past)
        seen = visible(mass, H, W)
        measured = torch.zeros(*xy.shape[:1], n_past, 2, device=xy.device, dtype=xy.dtype)
        if n_past > 1:  # context frame t against frame t - 1, where both show the block
            both = (seen[:, 1:] & seen[:, :-1])[..., None]
            measured[:, 1:] = torch.where(both, xy[:, 1:] - xy[:, :-1], torch.zeros_like(xy[:, 1:]))
        predicted = self._shift(cond[:, n_past - 1:T].float(), xy[:, -1], seen[:, -1], (H, W))
        shift = torch.cat([measured, predicted[:, 1:]], 1)
        return weights[:, :, None], shift, locator

    def _shift(self, cond: Tensor, start: Tensor, seen: Tensor, hw: tuple[int, int]) -> Tensor:
        """Conditions (B, S, D) from the last context frame on, the block's centroid there (B, 2)
        and visibility (B,) -> displacements (B, S, 2) pixels since that frame."""
        H, W = hw
        ee = cond[..., -3:] * _METRES
        where = torch.stack([start[:, 0] / W, start[:, 1] / H], -1) * 2 - 1
        x = torch.cat([cond[..., :-3], ee, ee - ee[:, :1],
                       torch.cat([where, seen[:, None].to(where.dtype)], -1)[:, None].expand(
                           -1, cond.shape[1], -1)], -1)
        h, _ = self.gru(x)
        return self.out(h).float()

    @staticmethod
    def fit_loss(locator: BlockLocator, frames: Tensor, shift: Tensor, n_past: int) -> Tensor:
        """Huber loss (pixels) between the predicted displacements of the frames after the
        context and those the locator measures in the true frames (B, T, 3, H, W), over the
        frames where the block is visible both there and in the last context frame; 0 when
        there is none."""
        where = locator.locate(frames)                            # xy (B, T, 2), visible (B, T)
        start = where.xy[:, n_past - 1:n_past]
        target = where.xy[:, n_past:] - start
        keep = where.visible[:, n_past:] & where.visible[:, n_past - 1:n_past]
        if not keep.any():
            return shift.sum() * 0.0
        return F.smooth_l1_loss(shift[:, n_past:][keep], target[keep].to(shift.dtype))


def translate(x: Tensor, shift: Tensor) -> Tensor:
    """Images (N, C, H, W) moved by ``shift`` (N, 2) pixels (x right, y down), bilinear, zeros
    outside the image (what leaves the frame is gone)."""
    N, _, H, W = x.shape
    theta = torch.zeros(N, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    # output pixel p reads input p - shift; the normalised unit is 2 / W (x) and 2 / H (y)
    theta[:, 0, 2] = -shift[:, 0].to(x.dtype) * 2.0 / W
    theta[:, 1, 2] = -shift[:, 1].to(x.dtype) * 2.0 / H
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


__all__ = ["BlockTransport", "translate"]
