"""The one evaluation path: roll a model out with z from the prior and score every predicted
frame as it comes, against the truth and against copying the last context frame.

Validation during training (1 sample), ``vidpred evaluate`` (N samples, best of N as in SVG's
protocol, Denton & Fergus 2018) and long rollouts (``vidpred predict``: 1 frame -> 629, frames
streamed to disk) all call :func:`rollout_and_score` and get one :class:`EvalMetrics` record,
which is what ``metrics.json`` holds.

PSNR is in dB with data range 1, SSIM as in :mod:`vidpred.evaluation.metrics`, both per predicted frame.
Batches that carry the objects' ground truth (:class:`vidpred.data.objects.ObjectTruth`) also get
the object-level figures of :mod:`vidpred.evaluation.objects`, frame by frame as well.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from ..data.objects import ObjectTruth
from ..device import to_device
from ..progress import progress_bar
from ..vision import BlockLocator
from .metrics import best_of_n, best_sample, pick, psnr, sample_diversity, ssim
from .objects import ObjectScores, dancer_table, frame_figures, objects_table

# how the best of N samples is chosen: each metric its own best sample, or one sample per
# sequence by one metric (SVG's generate_svg_lp.py ranks its 100 samples by mean SSIM)
BEST_BY = ("each", "psnr", "ssim")
BEST_OF_N = {
    "each": "per sequence, the sample whose metric averaged over the scored frames is highest, "
            "chosen separately for PSNR and SSIM (Denton & Fergus 2018)",
    "psnr": "per sequence, the sample whose PSNR averaged over the scored frames is highest; "
            "both metrics are that sample's",
    "ssim": "per sequence, the sample whose SSIM averaged over the scored frames is highest; "
            "both metrics are that sample's (SVG's generate_svg_lp.py)"}
BASELINE = "copy last context frame"


@dataclass
class Protocol:
    """How the figures of an :class:`EvalMetrics` were obtained.

    Attributes:
        n_past: context frames given. n_future: frames predicted per sequence.
        n_samples: futures sampled from the prior per sequence (N of best-of-N).
        n_sequences: sequences scored.
        scored_frames: the means average predicted frames 1..scored_frames (the curves have
            all n_future).
        best_by: which metric picks the best sample (:data:`BEST_BY`): ``each`` metric its own,
            or one sample by ``psnr`` or by ``ssim``.
        best_of_n: how the best sample is chosen, in words.
        data_range: pixel range of the PSNR/SSIM formulas.
        baseline: what the baseline predicts.
        split, checkpoint: where the sequences and the weights came from (when known).
    """

    n_past: int
    n_future: int
    n_samples: int
    n_sequences: int
    scored_frames: int
    best_by: str = "each"
    best_of_n: str = BEST_OF_N["each"]
    data_range: float = 1.0
    baseline: str = BASELINE
    split: str | None = None
    checkpoint: str | None = None


@dataclass
class Scores:
    """Per-frame PSNR (dB) and SSIM averaged over sequences, and their means over the scored
    frames."""

    psnr_per_frame: list[float]
    ssim_per_frame: list[float]
    psnr_mean: float
    ssim_mean: float

    @classmethod
    def of(cls, psnr_frames: Tensor, ssim_frames: Tensor, scored: int) -> "Scores":
        """(N, T) per sequence and frame -> curves over T and means over frames 1..scored."""
        p, s = psnr_frames.mean(0), ssim_frames.mean(0)
        return cls([round(float(v), 4) for v in p], [round(float(v), 5) for v in s],
                   round(float(p[:scored].mean()), 4), round(float(s[:scored].mean()), 5))


@dataclass
class EvalMetrics:
    """One evaluation: best of N (``best``), the mean over samples and the baseline, with the
    protocol that produced them. ``to_dict`` is the ``metrics.json`` layout: the best-of-N
    fields at the top level, then ``sample_mean``, ``baseline`` and ``protocol``, and
    ``objects`` (:meth:`vidpred.evaluation.objects.ObjectScores.summary`) when the data had
    objects to score."""

    protocol: Protocol
    best: Scores
    sample_mean: Scores
    baseline: Scores
    diversity: float
    seconds: float
    frames_per_s: float
    extra: dict = field(default_factory=dict)
    objects: dict | None = None

    @property
    def psnr_mean(self) -> float:
        return self.best.psnr_mean

    @property
    def ssim_mean(self) -> float:
        return self.best.ssim_mean

    def to_dict(self) -> dict:
        return {**asdict(self.best), "sample_mean": asdict(self.sample_mean),
                "baseline": asdict(self.baseline), "diversity": self.diversity,
                "protocol": asdict(self.protocol), "seconds": self.seconds,
                "frames_per_s": self.frames_per_s, **self.extra,
                **({} if self.objects is None else {"objects": self.objects})}

    @classmethod
    def from_dict(cls, d: dict) -> "EvalMetrics":
        """Read back a ``metrics.json`` written by :meth:`to_dict`."""
        names = {f for f in Scores.__dataclass_fields__}
        known = names | {"sample_mean", "baseline", "diversity", "protocol", "seconds",
                         "frames_per_s", "objects"}
        return cls(Protocol(**d["protocol"]), Scores(**{k: d[k] for k in names}),
                   Scores(**d["sample_mean"]), Scores(**d["baseline"]), d["diversity"],
                   d["seconds"], d["frames_per_s"], {k: v for k, v in d.items() if k not in known},
                   d.get("objects"))


@dataclass
class Rollouts:
    """The first ``keep`` sequences' frames, uint8 on the CPU: ``frames`` (K, T, C, H, W) the
    whole sequence given, ``pred`` (K, S, n_future, C, H, W) every sample, ``best`` (K,) the
    best sample of each (by PSNR when each metric picks its own)."""

    frames: list[Tensor] = field(default_factory=list)
    pred: list[Tensor] = field(default_factory=list)
    best: list[int] = field(default_factory=list)


def _uint8(x: Tensor) -> Tensor:
    return x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


def rollout_and_score(model, batches: Iterable[tuple[Tensor, Tensor | None]], n_past: int,
                      n_future: int | None = None, samples: int = 1, *, seed: int = 0,
                      device: torch.device | str = "cpu",
                      scored_frames: int | None = None, keep: int = 0,
                      on_frame: Callable[[int, Tensor], None] | None = None,
                      progress: bool = False, total: int | None = None,
                      desc: str = "evaluating", best_by: str = "each",
                      ) -> tuple[EvalMetrics | None, Rollouts]:
    """Roll out ``samples`` futures per sequence with z from the prior and score each frame.

    Frames are predicted one step at a time (``model.rollout_steps`` under
    ``torch.inference_mode``) and scored as they come, so memory does not grow with the rollout
    beyond the kept sequences. Runs under a forked RNG seeded with ``seed``: the figures do not
    depend on, nor disturb, the caller's random stream.

    Args:
        model: a :class:`vidpred.models.VideoModel`; put in eval mode here and restored after.
        batches: ``(frames, cond)`` pairs: frames (B, T, C, H, W) float in [0, 1] with T >=
            n_past (frames after n_past + n_future are ignored; with T = n_past nothing is
            scored), cond (B, T', ...) or None; or ``(frames, cond, objects)`` triples, objects
            the :class:`~vidpred.data.objects.ObjectTruth` of the frames, for the object figures
            too.
        n_future: frames to predict; None = all frames after the context of each batch.
        samples: futures per sequence (one batch of B * samples).
        scored_frames: the means average predicted frames 1..scored_frames (default all).
        keep: keep the first ``keep`` sequences' frames and predictions (for GIFs).
        on_frame: called as ``on_frame(t, pred)`` with t = 1..n_future and pred (B, S, C, H, W),
            e.g. to write frames to disk.
        total: number of batches, for the progress bar.
        best_by: how best-of-N picks a sample (:data:`BEST_BY`).

    Returns:
        (metrics, rollouts): metrics is None when nothing was scored (no ground truth).
    """
    was_training = model.training
    model.eval()
    scores, kept, t0 = _Accumulated(), Rollouts(), time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for frames, cond, *objects in progress_bar(batches, total=total, desc=desc, unit="batch",
                                                   disable=not progress):
            frames, cond = to_device((frames, cond), device)
            objects = objects[0].to(frames.device) if objects else None
            _score_batch(model, frames, cond, n_past, n_future, samples,
                         max(0, keep - len(kept.frames)), on_frame, scores, kept, objects)
    model.train(was_training)
    if not scores.psnr:
        return None, kept
    metrics, best = scores.metrics(n_past, scored_frames, time.perf_counter() - t0, best_by)
    kept.best = best[:len(kept.pred)].tolist()  # the GIFs show each kept sequence's best sample
    return metrics, kept


@dataclass
class _Accumulated:
    """Per-batch figures: model (B, S, T) and baseline (B, T) PSNR/SSIM, diversity (B,)."""

    psnr: list = field(default_factory=list)
    ssim: list = field(default_factory=list)
    base_psnr: list = field(default_factory=list)
    base_ssim: list = field(default_factory=list)
    spread: list = field(default_factory=list)
    objects: ObjectScores = field(default_factory=ObjectScores)

    def metrics(self, n_past: int, scored_frames: int | None, seconds: float,
                best_by: str = "each") -> tuple[EvalMetrics, Tensor]:
        """The record, and (N,) the best sample of each sequence (the GIFs show it)."""
        if best_by not in BEST_BY:
            raise ValueError(f"best_by={best_by!r}: choose one of {', '.join(BEST_BY)}")
        pm, sm = torch.cat(self.psnr), torch.cat(self.ssim)
        N, S, T = pm.shape
        scored = min(scored_frames or T, T)
        if best_by == "each":
            best = best_sample(pm, scored)
            top = Scores.of(best_of_n(pm, scored), best_of_n(sm, scored), scored)
        else:
            best = best_sample(pm if best_by == "psnr" else sm, scored)
            top = Scores.of(pick(pm, best), pick(sm, best), scored)
        # the object figures are those of the sample best-of-N picks by whole-frame PSNR
        objects = self.objects.summary(best_sample(pm, scored)) if self.objects else None
        return EvalMetrics(
            Protocol(n_past, T, S, N, scored, best_by=best_by, best_of_n=BEST_OF_N[best_by]),
            top,
            Scores.of(pm.mean(1), sm.mean(1), scored),
            Scores.of(torch.cat(self.base_psnr), torch.cat(self.base_ssim), scored),
            round(float(torch.cat(self.spread).mean()), 6), round(seconds, 2),
            round(N * S * T / max(seconds, 1e-9), 1), objects=objects), best


def _score_batch(model, frames: Tensor, cond: Tensor | None, n_past: int, n_future: int | None,
                 samples: int, n_keep: int, on_frame, scores: _Accumulated, kept: Rollouts,
                 objects: ObjectTruth | None = None) -> None:
    """Roll out one batch step by step, scoring each predicted frame against the truth (when
    the batch has it) and the baseline, with the object figures when ``objects`` is given, and
    keep the first ``n_keep`` sequences."""
    horizon = frames.shape[1] - n_past if n_future is None else n_future
    truth = frames[:, n_past:n_past + horizon]
    scoring = truth.shape[1] == horizon
    n_keep = min(n_keep, frames.shape[0])
    ps, ss, spread, pred_kept = [], [], [], []
    figures = _ObjectFigures(frames[:, :n_past + horizon], n_past, objects) \
        if scoring and objects is not None else None
    for t, pred in enumerate(model.rollout_steps(frames[:, :n_past], cond, horizon, samples),
                             start=1):  # pred (B, S, C, H, W)
        if on_frame is not None:
            on_frame(t, pred)
        if n_keep:
            pred_kept.append(_uint8(pred[:n_keep]))
        if scoring:
            target = truth[:, t - 1:t].expand_as(pred)
            ps.append(psnr(pred, target).cpu())
            ss.append(ssim(pred, target).cpu())
            spread.append(sample_diversity(pred[:, :, None]).cpu())
            if figures is not None:
                figures.score(t, pred)
    if n_keep:
        kept.frames += list(_uint8(frames[:n_keep]))
        kept.pred += list(torch.stack(pred_kept, 2))
    if scoring:
        scores.psnr.append(torch.stack(ps, 2))
        scores.ssim.append(torch.stack(ss, 2))
        scores.spread.append(torch.stack(spread, 1).mean(1))
        copy = frames[:, n_past - 1:n_past].expand_as(truth)
        scores.base_psnr.append(psnr(copy, truth).cpu())
        scores.base_ssim.append(ssim(copy, truth).cpu())
        if figures is not None:
            scores.objects.add(figures.model, figures.baseline, objects.source)


class _ObjectFigures:
    """The object figures of one batch's predicted frames, frame by frame: the block's colour
    read from the clips' true frames, copy-last scored beside the samples."""

    def __init__(self, frames: Tensor, n_past: int, objects: ObjectTruth):
        self.frames, self.n_past, self.objects = frames, n_past, objects
        self.locator = BlockLocator.read(frames)
        self.model: list[dict] = []
        self.baseline: list[dict] = []

    def score(self, t: int, pred: Tensor) -> None:
        """Predicted frame t (1-based), pred (B, S, C, H, W)."""
        i = self.n_past + t - 1
        truth = self.frames[:, i]
        self.model.append(frame_figures(pred, truth, self.locator, self.objects, i, self.n_past))
        copy = self.frames[:, self.n_past - 1:self.n_past]
        self.baseline.append(frame_figures(copy, truth, self.locator, self.objects, i, self.n_past))


def dataset_batches(dataset, batch_size: int, n_frames: int | None = None,
                    objects: bool = False):
    """``(frames, cond)`` batches of a dataset in its fixed order, cut to ``n_frames`` frames
    (datasets of whole sequences give more than an evaluation window needs).

    With ``objects``, a dataset of push clips (one with an ``objects(indices)`` reader, the
    ``bair`` layouts) gives ``(frames, cond, objects)`` triples: its ground truth
    (:class:`~vidpred.data.objects.ObjectTruth`), or where it has none the block locator's
    answer on the true frames (:meth:`~vidpred.data.objects.ObjectTruth.located`)."""
    reader = getattr(dataset, "objects", None) if objects else None
    for start in range(0, len(dataset), batch_size):
        idx = range(start, min(start + batch_size, len(dataset)))
        frames, cond = dataset.batch(idx)
        if n_frames is not None:
            frames = frames[:, :n_frames]
            cond = cond[:, :n_frames] if cond is not None else None
        if reader is None:
            yield frames, cond
            continue
        truth = reader(idx)
        if truth is None:
            yield frames, cond, ObjectTruth.located(frames)
        else:
            yield frames, cond, truth.window(frames.shape[1])


def merge_metrics(parts: list[EvalMetrics]) -> EvalMetrics:
    """One record for several evaluations of the same protocol (e.g. one per long test
    sequence): curves averaged over all their sequences (cut to the shortest), means recomputed
    over the scored frames, times added."""
    n = torch.tensor([float(m.protocol.n_sequences) for m in parts])
    T = min(len(m.best.psnr_per_frame) for m in parts)
    scored = min(m.protocol.scored_frames for m in parts)

    def average(get) -> Scores:
        curves = [torch.tensor([getattr(get(m), f"{k}_per_frame")[:T] for m in parts])
                  for k in ("psnr", "ssim")]
        weighted = [(c * n[:, None]).sum(0, keepdim=True) / n.sum() for c in curves]
        return Scores.of(*weighted, scored)

    first = parts[0].protocol
    seconds = sum(m.seconds for m in parts)
    frames = sum(m.protocol.n_sequences * m.protocol.n_samples * m.protocol.n_future for m in parts)
    return EvalMetrics(
        Protocol(first.n_past, T, first.n_samples, int(n.sum()), scored, split=first.split,
                 checkpoint=first.checkpoint, best_by=first.best_by, best_of_n=first.best_of_n),
        average(lambda m: m.best), average(lambda m: m.sample_mean),
        average(lambda m: m.baseline),
        round(float(sum(m.diversity * m.protocol.n_sequences for m in parts) / n.sum()), 6),
        round(seconds, 2), round(frames / max(seconds, 1e-9), 1))


def summary_table(m: EvalMetrics) -> str:
    """The figures of an :class:`EvalMetrics` as a small text table: best of N, mean of N and
    the baseline, PSNR in dB and SSIM, under a line giving the protocol."""
    p = m.protocol
    by = "" if p.best_by == "each" else f" by {p.best_by.upper()}"
    rows = [(f"model, best of {p.n_samples}{by}", m.best.psnr_mean, m.best.ssim_mean),
            (f"model, mean of {p.n_samples}", m.sample_mean.psnr_mean, m.sample_mean.ssim_mean),
            (p.baseline, m.baseline.psnr_mean, m.baseline.ssim_mean)]
    if p.n_samples == 1:
        rows = [("model (1 sample)", m.best.psnr_mean, m.best.ssim_mean), rows[2]]
    scored = "" if p.scored_frames == p.n_future else f", scored over frames 1..{p.scored_frames}"
    lines = [f"{p.n_sequences} {p.split or ''} sequences, {p.n_past} -> {p.n_future} frames{scored}",
             f"{'':28s}{'PSNR (dB)':>10s}{'SSIM':>8s}"]
    lines += [f"{name:28s}{psnr:10.2f}{ssim:8.3f}" for name, psnr, ssim in rows]
    if m.objects:
        lines.append(objects_table(m.objects, p.n_samples, p.baseline))
    if m.extra.get("dancer"):
        lines.append(dancer_table(m.extra["dancer"]))
    return "\n".join(lines)
