"""Object-level figures of predicted push frames: is the pushed block still there, where it should
be, and is the arm drawn sharp and once? (docs/protocols.md defines each figure.)

Per predicted frame, for every sample and for the copy-last baseline, against the object ground
truth of :mod:`vidpred.data.objects` (the simulator's segmentation, or the block locator on the
true frames) and the block locator (:class:`vidpred.vision.BlockLocator`, its colour read from
the clip's true frames):

- ``kept``: the prediction shows the block's colour (locator weight >= 0.5) over at least half
  of the block's true pixels; ``kept_seen`` is the same over the clips whose context frames show
  the block (visible in at least one of them): where the arm hides all of it in every context
  frame no prediction can know its colour, so ``kept`` has a ceiling below 1 that ``kept_seen``
  does not;
- ``position_error``: pixels between the locator's centroid on the prediction and the centroid
  of the true mask; a prediction in which the locator sees no block is ``missing`` (it has no
  error: neither 0 nor infinity);
- ``window_psnr``, ``window_ssim``: PSNR (dB) and SSIM in a :data:`WINDOW`-pixel square (at 64 x
  64, scaled) centred on the true block;
- ``kept_pushed``, ``window_psnr_pushed``: ``kept`` and ``window_psnr`` over the frames where the
  block has been pushed: its true centre (the simulator's, else the true mask's centroid)
  :data:`PUSHED_PX` pixels (at 64 x 64, scaled) or more from where the last context frame shows
  it. Copy-last keeps a resting block perfectly, so the frames a pushing video is about would
  otherwise be outvoted about nine to one;
- ``arm_sharpness``: the prediction's gradient energy over the truth's in the arm's region (its
  true mask grown by :data:`ARM_MARGIN` pixels; 1 = as sharp, below 1 blurred);
- ``arm_ghost``: the gradient energy the prediction has beyond the truth's outside the arm's
  region grown by :data:`GHOST_MARGIN` pixels, over the truth's energy in the arm's region: edges
  drawn where there is no arm, such as a second, translucent arm (0 = none).

Frames where the block is not visible in the truth have no block figure (they are counted);
frames where the arm shows fewer than :data:`MIN_ARM_PIXELS` pixels, or the arm is unknown (no
simulator ground truth), have no arm figure.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.objects import KEPT_WEIGHT, ObjectTruth
from ..vision import BlockLocator, centroid, visible
from .metrics import psnr, ssim

WINDOW = 16          # pixels (at 64 x 64) of the square around the true block
ARM_MARGIN = 1       # pixels the arm's mask is grown by for its region (its edges lie there)
GHOST_MARGIN = 2     # pixels beyond the arm's mask where a second arm is looked for
MIN_ARM_PIXELS = 20  # at 64 x 64: an arm seen less has no sharpness figure
PUSHED_PX = 2.0      # at 64 x 64: a block this far from the last context frame's has been pushed
FIGURES = ("kept", "kept_seen", "position_error", "missing", "window_psnr", "window_ssim",
           "kept_pushed", "window_psnr_pushed", "arm_sharpness", "arm_ghost")
NAN = float("nan")


def gradient_energy(frames: Tensor) -> Tensor:
    """(..., C, H, W) -> (..., H, W): squared differences to the right and downward neighbour,
    summed over channels (0 past the last column / row)."""
    x = frames.float()
    dx = F.pad((x[..., :, 1:] - x[..., :, :-1]).pow(2), (0, 1))
    dy = F.pad((x[..., 1:, :] - x[..., :-1, :]).pow(2), (0, 0, 0, 1))
    return (dx + dy).sum(-3)


def grow(mask: Tensor, pixels: int) -> Tensor:
    """(..., H, W) bool -> the mask grown by ``pixels`` in every direction (a square)."""
    flat = mask.reshape(-1, 1, *mask.shape[-2:]).float()
    out = F.max_pool2d(flat, 2 * pixels + 1, 1, pixels)
    return out.reshape(mask.shape) > 0


def window_size(height: int, width: int) -> tuple[int, int]:
    """:data:`WINDOW` scaled to the frame, at least 11 pixels (SSIM's window)."""
    return max(11, round(WINDOW * height / 64)), max(11, round(WINDOW * width / 64))


def crop(frames: Tensor, xy: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, S, C, H, W) frames, (B, 2) centres (x, y) in pixels -> (B, S, C, h, w) windows of
    ``size`` (h, w) centred there, shifted to lie inside the frame."""
    B, S, C, H, W = frames.shape
    h, w = size
    y0 = (xy[:, 1] - h / 2).round().long().clamp(0, H - h)
    x0 = (xy[:, 0] - w / 2).round().long().clamp(0, W - w)
    rows = y0[:, None] + torch.arange(h, device=frames.device)   # (B, h)
    cols = x0[:, None] + torch.arange(w, device=frames.device)   # (B, w)
    b = torch.arange(B, device=frames.device)[:, None, None]
    out = frames.permute(0, 3, 4, 1, 2)[b, rows[:, :, None], cols[:, None, :]]  # (B, h, w, S, C)
    return out.permute(0, 3, 4, 1, 2)


def _masked(x: Tensor, keep: Tensor) -> Tensor:
    """x with NaN where ``keep`` (broadcast) is False."""
    return torch.where(keep, x, torch.full_like(x, NAN))


def block_figures(pred: Tensor, truth: Tensor, locator: BlockLocator, mask: Tensor,
                  seen: Tensor) -> dict[str, Tensor]:
    """The block's figures of one predicted frame (module doc).

    Args:
        pred: (B, S, C, H, W) samples. truth: (B, C, H, W). locator: B blocks' locator.
        mask: (B, H, W) bool, the block's true pixels. seen: (B,) bool, visible in the truth.

    Returns:
        ``kept``, ``position_error``, ``missing``, ``window_psnr``, ``window_ssim``: (B, S)
        float32, NaN where the block is not seen in the truth (``position_error`` also where it
        is missing).
    """
    H, W = pred.shape[-2:]
    weights = locator.weights(pred)                                   # (B, S, H, W)
    m = mask[:, None]
    share = ((weights >= KEPT_WEIGHT) & m).sum((-2, -1)) / m.sum((-2, -1)).clamp_min(1)
    xy, mass = centroid(weights)
    true_xy = centroid(mask.float())[0]                               # (B, 2)
    found = visible(mass, H, W)
    keep = seen[:, None].expand(found.shape)
    size = window_size(H, W)
    wp, wt = crop(pred, true_xy, size), crop(truth[:, None], true_xy, size).expand(-1, pred.shape[1], -1, -1, -1)
    return {"kept": _masked((share >= 0.5).float(), keep),
            "position_error": _masked((xy - true_xy[:, None]).norm(dim=-1), keep & found),
            "missing": _masked((~found).float(), keep),
            "window_psnr": _masked(psnr(wp, wt), keep),
            "window_ssim": _masked(ssim(wp, wt), keep)}


def arm_figures(pred: Tensor, truth: Tensor, arm: Tensor) -> dict[str, Tensor]:
    """``arm_sharpness`` and ``arm_ghost`` (module doc) of one predicted frame: pred (B, S, C, H,
    W), truth (B, C, H, W), arm (B, H, W) bool -> (B, S) each, NaN where the arm shows fewer than
    :data:`MIN_ARM_PIXELS` (scaled) pixels."""
    H, W = pred.shape[-2:]
    region = grow(arm, ARM_MARGIN)[:, None]
    outside = ~grow(arm, GHOST_MARGIN)[:, None]
    ep, et = gradient_energy(pred), gradient_energy(truth)[:, None]
    arm_energy = (et * region).sum((-2, -1))
    keep = (arm.sum((-2, -1)) >= MIN_ARM_PIXELS * H * W / 64 ** 2)[:, None] & (arm_energy > 0)
    keep = keep.expand(pred.shape[:2])
    sharp = (ep * region).sum((-2, -1)) / arm_energy.clamp_min(1e-12)
    ghost = ((ep - et).clamp_min(0) * outside).sum((-2, -1)) / arm_energy.clamp_min(1e-12)
    return {"arm_sharpness": _masked(sharp, keep), "arm_ghost": _masked(ghost, keep)}


def frame_figures(pred: Tensor, truth: Tensor, locator: BlockLocator, objects: ObjectTruth,
                  t: int, n_past: int) -> dict[str, Tensor]:
    """Every figure of :data:`FIGURES` for frame ``t`` of the clips (the index into
    ``objects``' time axis; the first ``n_past`` frames are the context): pred (B, S, C, H, W),
    truth (B, C, H, W) -> (B, S) each."""
    out = block_figures(pred, truth, locator, objects.block_mask[:, t], objects.block_visible[:, t])
    in_context = objects.block_visible[:, :n_past].any(1).to(pred.device)[:, None]
    out["kept_seen"] = torch.where(in_context, out["kept"], torch.full_like(out["kept"], NAN))
    pushed = _pushed(objects, t, n_past, pred.shape[-2] / 64).to(pred.device)[:, None]
    for k in ("kept", "window_psnr"):
        out[k + "_pushed"] = torch.where(pushed, out[k], torch.full_like(out[k], NAN))
    if objects.arm_mask is not None:
        out.update(arm_figures(pred, truth, objects.arm_mask[:, t]))
    else:
        nan = torch.full(pred.shape[:2], NAN, device=pred.device)
        out.update(arm_sharpness=nan, arm_ghost=nan.clone())
    return out


def _pushed(objects: ObjectTruth, t: int, n_past: int, scale: float) -> Tensor:
    """(B,) bool: the block visible in frame ``t`` and in the last context frame, its true
    centre :data:`PUSHED_PX` (x ``scale``) or more from that frame's: the whole block's centre
    where the truth records it (an arm that covers part of a resting block does not move it),
    else its visible pixels' centroid."""
    pair = [n_past - 1, t]
    if objects.block_centre is not None:
        xy = objects.block_centre[:, pair]
    else:
        xy = centroid(objects.block_mask[:, pair].float())[0]
    moved = (xy[:, 1] - xy[:, 0]).norm(dim=-1) >= PUSHED_PX * scale
    return moved & objects.block_visible[:, pair].all(1)


class ObjectScores:
    """The figures of every predicted frame, collected batch by batch: for the model (N, S, T)
    and for the baseline (N, 1, T)."""

    def __init__(self):
        self.model: dict[str, list[Tensor]] = {k: [] for k in FIGURES}
        self.baseline: dict[str, list[Tensor]] = {k: [] for k in FIGURES}
        self.source: str | None = None

    def add(self, model: list[dict[str, Tensor]], baseline: list[dict[str, Tensor]],
            source: str) -> None:
        """One batch: per predicted frame, :func:`frame_figures` of the samples and of the
        baseline."""
        self.source = source
        for k in FIGURES:
            self.model[k].append(torch.stack([f[k].cpu() for f in model], 2))
            self.baseline[k].append(torch.stack([f[k].cpu() for f in baseline], 2))

    def __bool__(self) -> bool:
        return bool(self.model["kept"])

    def summary(self, best: Tensor) -> dict:
        """``metrics.json``'s ``objects`` section: ``best`` the sample of each sequence that
        best-of-N picks by whole-frame PSNR ((N,) indices), ``sample_mean`` all samples,
        ``baseline`` copy-last."""
        model = {k: torch.cat(v) for k, v in self.model.items()}
        base = {k: torch.cat(v) for k, v in self.baseline.items()}
        rows = torch.arange(len(best))
        seen = ~model["kept"][:, 0].isnan()                                  # (N, T)
        return {"source": self.source, "window": WINDOW,
                "visible_frames": int(seen.sum()), "excluded_frames": int((~seen).sum()),
                "best": summarise({k: v[rows, best][:, None] for k, v in model.items()}),
                "sample_mean": summarise(model),
                "baseline": summarise(base)}


def _round(x: Tensor | float, digits: int = 4) -> float | None:
    v = float(x)
    return None if math.isnan(v) else round(v, digits)


def summarise(fig: dict[str, Tensor]) -> dict:
    """Figures (N, S, T) (NaN: not scored) -> the summary of docs/protocols.md and the curves
    over the T predicted frames; samples pooled with sequences."""
    flat = {k: v.permute(2, 0, 1).reshape(v.shape[2], -1) for k, v in fig.items()}  # (T, N S)
    kept, err, missing = flat["kept"], flat["position_error"], flat["missing"]
    curves = {"kept": [_round(v) for v in kept.nanmean(1)],
              "kept_seen": [_round(v) for v in flat["kept_seen"].nanmean(1)],
              "position_error_median": [_round(v) for v in err.nanmedian(1).values],
              "missing": [_round(v) for v in missing.nanmean(1)],
              "window_psnr": [_round(v) for v in flat["window_psnr"].nanmean(1)],
              "window_ssim": [_round(v, 5) for v in flat["window_ssim"].nanmean(1)],
              "arm_sharpness": [_round(v) for v in flat["arm_sharpness"].nanmean(1)],
              "arm_ghost": [_round(v) for v in flat["arm_ghost"].nanmean(1)]}
    return {"kept": _round(kept.nanmean()), "kept_last": _round(kept[-1].nanmean()),
            "kept_seen": _round(flat["kept_seen"].nanmean()),
            "kept_seen_last": _round(flat["kept_seen"][-1].nanmean()),
            "seen_frames": int((~flat["kept_seen"].isnan()).sum()),
            "position_error_median": _round(err.nanmedian()),
            "position_error_last_median": _round(err[-1].nanmedian()),
            "missing": _round(missing.nanmean()), "missing_last": _round(missing[-1].nanmean()),
            "window_psnr": _round(flat["window_psnr"].nanmean()),
            "window_ssim": _round(flat["window_ssim"].nanmean(), 5),
            "kept_pushed": _round(flat["kept_pushed"].nanmean()),
            "window_psnr_pushed": _round(flat["window_psnr_pushed"].nanmean()),
            "pushed_frames": int((~flat["kept_pushed"].isnan()).sum()),
            "arm_sharpness": _round(flat["arm_sharpness"].nanmean()),
            "arm_ghost": _round(flat["arm_ghost"].nanmean()),
            "per_frame": curves}


def objects_table(objects: dict, samples: int, baseline: str) -> str:
    """The summary of an ``objects`` section (:meth:`ObjectScores.summary`) as a small table:
    the model's best sample by whole-frame PSNR, its mean over ``samples`` samples and the
    baseline."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}%"

    def num(v, fmt=".2f"):
        return "-" if v is None else format(v, fmt)

    rows = [(f"model, best of {samples} by PSNR", objects["best"]),
            (f"model, mean of {samples}", objects["sample_mean"]), (baseline, objects["baseline"])]
    if samples == 1:
        rows = [("model (1 sample)", objects["best"]), rows[2]]
    lines = [f"objects ({objects['source']} ground truth; {objects['visible_frames']} predicted "
             f"frames show the block, {objects['excluded_frames']} do not and are left out)",
             f"{'':28s}{'kept':>7s}{'at last':>8s}{'error':>7s}{'missing':>8s}{'block':>7s}"
             f"{'block':>7s}{'arm':>7s}{'arm':>7s}",
             f"{'':28s}{'':>7s}{'frame':>8s}{'(px)':>7s}{'':>8s}{'PSNR':>7s}{'SSIM':>7s}"
             f"{'sharp':>7s}{'ghost':>7s}"]
    for name, s in rows:
        lines.append(f"{name[:27]:28s}{pct(s['kept']):>7s}{pct(s['kept_last']):>8s}"
                     f"{num(s['position_error_last_median']):>7s}{pct(s['missing_last']):>8s}"
                     f"{num(s['window_psnr']):>7s}{num(s['window_ssim'], '.3f'):>7s}"
                     f"{num(s['arm_sharpness']):>7s}{num(s['arm_ghost']):>7s}")
    lines.append("kept: the block's colour over half its true pixels (all frames, last frame); "
                 "error: median px at the last frame, missing: no block found there")
    seen = objects["baseline"].get("seen_frames")
    if seen is not None:
        parts = [f"{name}: {pct(s.get('kept_seen'))} / {pct(s.get('kept_seen_last'))}"
                 for name, s in rows]
        lines.append(f"kept where the context shows the block ({seen} frames; all / last): "
                     + "; ".join(parts))
    pushed = objects["baseline"].get("pushed_frames")
    if pushed:
        parts = [f"{name}: {pct(s.get('kept_pushed'))}, {num(s.get('window_psnr_pushed'))} dB"
                 for name, s in rows]
        lines.append(f"where the block has been pushed ({pushed} frames: {PUSHED_PX:g} px or more "
                     "from the last context frame's; kept, block PSNR): " + "; ".join(parts))
    return "\n".join(lines)


# ---- the dance's dancer ---------------------------------------------------------------------
DANCER_FRAMES = (100, 300, 600)  # predicted frames the dancer's figures are given at
CONTRAST = 0.1  # RGB distance between dancer and background below which a pixel is not scored


def dancer_figures(pred: Tensor, truth: Tensor, mask: Tensor, background: Tensor) -> dict:
    """The dancer's figures in one predicted frame (docs/protocols.md): pred (S, C, H, W)
    samples, truth and background (C, H, W) in [0, 1], mask (H, W) bool the dancer's true
    pixels -> ``kept_share``: of the mask's pixels where the dancer differs from the scene
    behind it by at least :data:`CONTRAST`, the share where the prediction is nearer the truth
    than the background; ``kept``: that share >= 0.5; ``sharpness``: gradient energy over the
    truth's in the mask grown by :data:`ARM_MARGIN` pixels. Each a float averaged over the
    samples, None where the mask has no such pixel."""
    pred, truth, background = pred.float(), truth.float(), background.float()
    scored = mask & ((truth - background).norm(dim=0) >= CONTRAST)
    n = int(scored.sum())
    near = (pred - truth).norm(dim=1) < (pred - background).norm(dim=1)   # (S, H, W)
    share = (near & scored).sum((-2, -1)).float() / max(n, 1)
    region = grow(mask, ARM_MARGIN)
    energy = (gradient_energy(truth) * region).sum()
    sharp = (gradient_energy(pred) * region).sum((-2, -1)) / energy.clamp_min(1e-12)
    return {"kept_share": _round(share.mean()) if n else None,
            "kept": _round((share >= 0.5).float().mean()) if n else None,
            "sharpness": _round(sharp.mean()) if float(energy) > 0 else None}


def dancer_table(dancer: dict) -> str:
    """The dancer's figures (``{frame: figures}``, :func:`dancer_figures` with ``copy_first``)
    as a small table."""
    def num(v):
        return "-" if v is None else f"{v:.2f}"

    lines = ["the dancer (kept: share of its pixels nearer the truth than the scene behind it)",
             f"{'predicted frame':16s}{'kept':>8s}{'sharpness':>11s}{'copy-first kept':>17s}"]
    for t, f in dancer.items():
        lines.append(f"{t:16s}{num(f['kept_share']):>8s}{num(f['sharpness']):>11s}"
                     f"{num(f['copy_first']['kept_share']):>17s}")
    return "\n".join(lines)
