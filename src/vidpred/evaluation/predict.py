"""Long rollouts: one first frame + a sequence of labels in, a whole video out (the pose-
conditioned dance task: 1 frame + 630 labels -> frames 1..629).

Frames are predicted one at a time with z from the prior and scored as they come by
:func:`vidpred.evaluation.scoring.rollout_and_score` (the same path as validation and ``vidpred
evaluate``), written to disk as they come, so memory does not grow with the length of the
rollout (apart from the small uint8 copy kept for the GIF). ``metrics.json`` is the
:class:`vidpred.evaluation.scoring.EvalMetrics` record, with the means over frames 1..600 (the range the
course's leaderboard scores) and the baseline copying the given frame; with the dancer's ground
truth (``test_gt/<i>/objects.npz``), ``dancer`` holds its figures at predicted frames
:data:`vidpred.evaluation.objects.DANCER_FRAMES` (:func:`vidpred.evaluation.objects.dancer_figures`).

The course's Kaggle submission: ``submission.csv`` with header ``id,0,1,...,C*H*W-1``, one row
per frame (frame 0 = the given first frame, then the predictions; sequences in order), values
``rint(pred * 255)`` flattened in C, H, W order.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import CONDITIONS
from ..data.dance import DanceDataset, paired_files, read_frames
from ..errors import CheckpointError, ConfigError, DataError, check_ranges
from ..progress import progress_bar
from ..rundir import Outputs, claim_output, write_atomic
from .evaluate import check_data_layout
from .objects import DANCER_FRAMES, dancer_figures
from .scoring import EvalMetrics, merge_metrics, rollout_and_score

SCORED_FRAMES = 600  # the course's leaderboard scores frames 1..600 of each sequence
OUTPUTS = Outputs("predict", ("metrics.json", "psnr_per_frame.png", "seq_*", "sample_*",
                              "rollout.gif"),
                  results=("metrics.json", "seq_*", "sample_*", "rollout.gif"),
                  legacy=("metrics.json",))
SUBMISSION_HEADER = "id,0,"


def _save_png(path: Path, frame: torch.Tensor) -> None:
    from PIL import Image

    arr = frame.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(arr).save(path, compress_level=1)


@dataclass
class Prediction:
    """One long rollout: ``metrics`` (None without ground truth), ``video`` the first sample as
    uint8 (T, 3, H, W) with frame 0 the given one, and the rollout's speed."""

    metrics: EvalMetrics | None
    video: torch.Tensor
    seconds: float
    frames_per_s: float


def predict_sequence(model, first_frame: torch.Tensor, labels: torch.Tensor, out_dir: str | Path,
                     truth: torch.Tensor | None = None, samples: int = 1, write_frames: bool = True,
                     gif: bool = True, ms_per_frame: int = 66, progress: bool = True,
                     seed: int = 0, dancer: tuple | None = None,
                     dancer_frames: tuple[int, ...] = DANCER_FRAMES) -> Prediction:
    """Roll a model out from one frame over all ``labels`` and write the results.

    Args:
        model: a trained model (pose CVAE, or SVG with image conditions).
        first_frame: (3, H, W) float in [0, 1] — frame 0.
        labels: (T, C, H, W) float in [0, 1] — the label of every frame 0..T-1 (or (T, D)
            condition vectors).
        out_dir: receives ``sample_<k>/frame<t>.png`` (t = 0..T-1; frame 0 is the given one),
            ``rollout.gif`` (prediction | label | ground truth) and, with ``truth``,
            ``metrics.json``.
        truth: (T, 3, H, W) float ground-truth frames, or None.
        samples: futures sampled (one batch). seed: seed of the prior samples.
        dancer: with ``truth``, (the dancer's true pixels bool (T, H, W), the scene without
            it (3, H, W) in [0, 1]): ``metrics.json`` gets the dancer's figures at the
            predicted frames ``dancer_frames``.

    Raises:
        DataError: fewer ground-truth frames than labels.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    T = labels.shape[0]
    if truth is not None and truth.shape[0] < T:
        raise DataError(f"{out}: {truth.shape[0]} ground-truth frames for {T} labels")
    for k in range(samples if write_frames else 0):
        (out / f"sample_{k}").mkdir(exist_ok=True)
        _save_png(out / f"sample_{k}" / "frame0.png", first_frame)
    gif_frames = [first_frame.mul(255).round().to(torch.uint8)]
    bar = progress_bar(total=T - 1, desc="rollout", unit="frame", disable=not progress)
    figures = {}

    def on_frame(t: int, pred: torch.Tensor) -> None:  # pred (1, samples, 3, H, W)
        if dancer is not None and truth is not None and t in dancer_frames:
            figures[str(t)] = _dancer_at(t, pred[0], truth, first_frame, dancer)
        if write_frames:
            for k in range(samples):
                _save_png(out / f"sample_{k}" / f"frame{t}.png", pred[0, k])
        gif_frames.append(pred[0, 0].clamp(0, 1).mul(255).round().to(torch.uint8).cpu())
        bar.update()

    frames = first_frame[None] if truth is None else torch.cat([first_frame[None], truth[1:T]])
    device, t0 = next(model.parameters()).device, time.perf_counter()
    metrics, _ = rollout_and_score(model, [(frames[None], labels[None])], 1, T - 1, samples,
                                   seed=seed, device=device, scored_frames=SCORED_FRAMES,
                                   on_frame=on_frame)
    seconds = time.perf_counter() - t0
    bar.close()
    video = torch.stack(gif_frames)
    if metrics is not None:
        metrics.extra.update(n_frames=T, **({"dancer": figures} if figures else {}))
        write_atomic(out / "metrics.json", json.dumps(metrics.to_dict(), indent=1))
    if gif:
        _rollout_gif(out / "rollout.gif", video, labels, truth, ms_per_frame)
    return Prediction(metrics, video, seconds, round(samples * (T - 1) / max(seconds, 1e-9), 1))


def _rollout_gif(path: Path, video: torch.Tensor, labels: torch.Tensor,
                 truth: torch.Tensor | None, ms_per_frame: int) -> None:
    """prediction | label | ground truth, from the first sample's uint8 video (T, 3, H, W)."""
    from ..viz import save_prediction_gif

    pred_video = video.float().div_(255)
    panels = {"prediction": pred_video}
    if labels.dim() == 4:
        panels["label"] = labels[:, :3]
    save_prediction_gif(path, truth[:len(video)] if truth is not None else pred_video, panels,
                        n_past=1, scale=2, ms_per_frame=ms_per_frame)


def _dancer_at(t: int, pred: torch.Tensor, truth: torch.Tensor, first: torch.Tensor,
               dancer: tuple) -> dict:
    """The dancer's figures at predicted frame t for the samples (S, 3, H, W) and for copying
    the first frame (``copy_first``)."""
    mask, background = dancer
    mask, background = mask[t].to(pred.device), background.to(pred.device)
    out = dancer_figures(pred, truth[t].to(pred.device), mask, background)
    out["copy_first"] = dancer_figures(first[None].to(pred.device), truth[t].to(pred.device),
                                       mask, background)
    return out


def load_label_folder(label_dir: str | Path, frame_size: tuple[int, int]) -> torch.Tensor:
    """Every label PNG of a folder in numeric order, (T, 3, H, W) float in [0, 1]."""
    label_dir = Path(label_dir)
    if not label_dir.is_dir():
        raise DataError(f"{label_dir}: no such folder of label PNGs")
    _, labels = paired_files(label_dir, label_dir)
    return read_frames(labels, frame_size).float().div_(255)


def load_image(path: str | Path, frame_size: tuple[int, int]) -> torch.Tensor:
    """One PNG, resized to ``frame_size``, (3, H, W) float in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return read_frames([path], frame_size)[0].float().div_(255)


def predict_test_split(model, test_root: str | Path, frame_size: tuple[int, int],
                       out_dir: str | Path | None = None, submission: str | Path | None = None,
                       samples: int = 1, write_frames: bool = False, gifs: int = 5,
                       progress: bool = True, log=print, seed: int = 0,
                       dancer_frames: tuple[int, ...] = DANCER_FRAMES) -> EvalMetrics | None:
    """Roll out every test sequence of a dance-layout ``test`` folder (``ROOT/test``).

    With ground truth (``test_gt/<i>/``, written by the built-in generator) each sequence is
    scored and the result averages the per-frame curves over sequences (``per_sequence`` in
    its ``extra`` has each one's means). With ``submission``, the first sample of every
    sequence goes into the course's Kaggle CSV (see module doc).

    Returns:
        The merged :class:`EvalMetrics`, or None without ground truth.

    Raises:
        DataError: a malformed test folder (names the file).
    """
    test_root = Path(test_root)
    root = test_root.parent if test_root.name == "test" else test_root
    dataset = DanceDataset(root, "test", frame_size=frame_size)
    out = Path(out_dir) if out_dir is not None else None
    scored, per_seq = [], []
    with contextlib.ExitStack() as stack:
        writer = _SubmissionWriter(submission) if submission is not None else None
        if writer is not None:
            stack.callback(writer.close)
        # without an output folder the rollouts are scored in a scratch folder removed at the end
        scratch = None if out is not None else stack.enter_context(tempfile.TemporaryDirectory())
        for i, seq in enumerate(dataset.tests):
            truth = seq.truth.float().div(255) if seq.truth is not None else None
            seq_out = (out / f"seq_{seq.name}") if out is not None else Path(scratch)
            dancer = None if seq.dancer_mask is None else (seq.dancer_mask,
                                                           seq.background.float().div(255))
            r = predict_sequence(model, seq.first_frame.float().div(255), seq.labels.float().div(255),
                                 seq_out, truth, samples, write_frames=write_frames,
                                 gif=out is not None and i < gifs, progress=progress, seed=seed + i,
                                 dancer=dancer, dancer_frames=dancer_frames)
            if writer is not None:
                writer.write(r.video)
            if r.metrics is not None:
                scored.append(r.metrics)
            per_seq.append(_brief(seq.name, r, log))
    if not scored:
        return None
    result = merge_metrics(scored)
    result.extra["per_sequence"] = per_seq
    dancer = merge_dancer([b["dancer"] for b in per_seq if "dancer" in b])
    if dancer:
        result.extra["dancer"] = dancer
    if out is not None:
        from ..viz import plot_psnr_per_frame

        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "metrics.json", json.dumps(result.to_dict(), indent=1))
        plot_psnr_per_frame(result, out / "psnr_per_frame.png",
                            title=f"{len(scored)} test sequences, 1 frame -> "
                                  f"{result.protocol.n_future} predicted")
    return result


def _brief(name: str, r: Prediction, log) -> dict:
    """A test sequence's entry of ``per_sequence`` (logged when it was scored)."""
    brief = {"name": name, "seconds": round(r.seconds, 2), "frames_per_s": r.frames_per_s}
    m = r.metrics
    if m is not None:
        brief.update(psnr_mean=m.best.psnr_mean, ssim_mean=m.best.ssim_mean,
                     baseline_psnr_mean=m.baseline.psnr_mean)
        if "dancer" in m.extra:
            brief["dancer"] = m.extra["dancer"]
        log(f"test sequence {name}: PSNR {m.best.psnr_mean:.2f} dB (frames "
            f"1..{m.protocol.scored_frames}), {m.protocol.baseline} "
            f"{m.baseline.psnr_mean:.2f} dB, {r.frames_per_s:.0f} frames/s")
    return brief


def merge_dancer(parts: list[dict]) -> dict:
    """The dancer's figures of several sequences (each ``{frame: figures}``) -> their means per
    frame (over the sequences that have the figure), with ``sequences`` counted."""
    out = {}
    for t in sorted({t for p in parts for t in p}, key=int):
        rows = [p[t] for p in parts if t in p]

        def mean(get):
            vals = [v for v in map(get, rows) if v is not None]
            return round(sum(vals) / len(vals), 4) if vals else None

        out[t] = {k: mean(lambda r, k=k: r[k]) for k in ("kept_share", "kept", "sharpness")}
        out[t]["copy_first"] = {k: mean(lambda r, k=k: r["copy_first"][k])
                                for k in ("kept_share", "kept", "sharpness")}
        out[t]["sequences"] = len(rows)
    return out


class _SubmissionWriter:
    """Streams rows of the course's Kaggle CSV; written to ``<file>.partial`` and renamed when
    complete, so an interrupted run never leaves a truncated submission."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.file = None
        self.row = 0

    def write(self, video: torch.Tensor) -> None:
        """Append one sequence: uint8 (T, C, H, W) -> T rows of C*H*W values."""
        flat = video.reshape(len(video), -1).to(torch.int64).numpy()
        if self.file is None:
            self.file = self.tmp.open("w")
            self.file.write("id," + ",".join(map(str, range(flat.shape[1]))) + "\n")
        ids = np.arange(self.row, self.row + len(flat))[:, None]
        np.savetxt(self.file, np.concatenate([ids, flat], 1), fmt="%d", delimiter=",")
        self.row += len(flat)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.tmp.replace(self.path)


@dataclass(frozen=True)
class PredictSettings:
    """What ``vidpred predict`` rolls out, checked when made (before any work).

    Either ``test_dir`` (a dance-layout ``ROOT/test`` folder; with ``out`` and/or
    ``submission``) or ``first_frame`` + ``labels`` + ``out`` (one sequence; ``gt``: its
    ground-truth folder, scored).

    Attributes:
        samples: futures sampled from the prior per sequence. seed: their seed.
        gifs: with ``test_dir``, the sequences that get a GIF. frames: write PNG frames.

    Raises:
        ConfigError: a value out of range or a missing input (named).
    """

    test_dir: str | None = None
    first_frame: str | None = None
    labels: str | None = None
    gt: str | None = None
    out: str | None = None
    submission: str | None = None
    samples: int = 1
    seed: int = 0
    gifs: int = 5
    frames: bool = True

    def __post_init__(self):
        check_ranges(self, samples=(1, None), gifs=(0, None), seed=(0, None))
        if self.test_dir and not (self.out or self.submission):
            raise ConfigError("--test-dir needs --out (rollouts, metrics) and/or --submission "
                              "FILE.csv")
        if not self.test_dir and not (self.first_frame and self.labels and self.out):
            raise ConfigError("predict needs --first-frame PNG --labels DIR --out DIR (or "
                              "--test-dir ROOT/test)")


def predict_checkpoint(ckpt: str | Path, settings: PredictSettings, overwrite: bool = False,
                       progress: bool = True, device: str = "cpu"):
    """``vidpred predict``: load the checkpoint, check it against the inputs, claim the outputs
    (:func:`vidpred.rundir.claim_output`; ``overwrite`` replaces an earlier prediction's), then
    roll out the test folder (:func:`predict_test_split`) or the one sequence
    (:func:`predict_sequence`).

    Returns:
        The test folder's :class:`EvalMetrics` (None without ground truth), or the one
        sequence's :class:`Prediction`.

    Raises:
        CheckpointError: an unreadable checkpoint, or a model not conditioned on label images
            (or trained on another layout than ``test_dir``'s). ConfigError: an unusable
            output. DataError: a problem with the inputs (named).
    """
    from ..checkpoint import load_trained_model
    from ..device import resolve_device

    s = settings
    model, cfg, _ = load_trained_model(ckpt, resolve_device(device))
    root = None
    if s.test_dir:
        root = Path(s.test_dir).expanduser()
        root = root.parent if root.name == "test" else root
        check_data_layout(cfg, root, ckpt)
    if CONDITIONS.get(cfg.data.layout, ("vector",))[0] != "image":
        raise CheckpointError(f"{ckpt}: checkpoint holds a {cfg.model.name} model trained on the "
                              f"{cfg.data.layout} layout; predict rolls out models conditioned on "
                              "label images (the dance layout, e.g. --config dance_cpu)")
    _check_submission(s.submission)
    size = cfg.data.frame_size
    if s.test_dir:
        with _claim(s.out, overwrite, [f"seq_{p.name}" for p in
                                       (root / "test" / "test_label").glob("*")]):
            return predict_test_split(model, root / "test", size, s.out, s.submission, s.samples,
                                      write_frames=s.out is not None and s.frames, gifs=s.gifs,
                                      progress=progress, seed=s.seed)
    with _claim(s.out, overwrite, [f"sample_{k}" for k in range(s.samples)]):
        labels = load_label_folder(s.labels, size)
        truth = load_label_folder(s.gt, size) if s.gt else None
        return predict_sequence(model, load_image(s.first_frame, size), labels, s.out, truth,
                                s.samples, write_frames=s.frames, progress=progress, seed=s.seed)


def _claim(out, overwrite: bool, names: list[str]):
    """The claimed output folder, its names listed before they are written (a no-op context
    without ``out``)."""
    if out is None:
        return contextlib.nullcontext()
    record = claim_output(out, OUTPUTS, overwrite=overwrite)
    record.add("metrics.json", "psnr_per_frame.png", "rollout.gif", *names)
    return record


def _check_submission(path) -> None:
    """A submission file is written only where none is, or over an earlier submission.

    Raises:
        ConfigError: a folder, or a file that is not a submission vidpred wrote.
    """
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--submission {path}: is a folder; give a file name, e.g. "
                          f"{path / 'submission.csv'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--submission {path}: its folder cannot be created "
                          f"({e.strerror or e})") from None
    if path.exists():
        with path.open("rb") as f:
            head = f.read(len(SUBMISSION_HEADER))
        if head != SUBMISSION_HEADER.encode():
            raise ConfigError(f"--submission {path}: exists and is not a submission written by "
                              "vidpred; choose another file name")
