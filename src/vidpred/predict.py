"""Long rollouts: one first frame + a sequence of labels in, a whole video out (the course's
pose-conditioned task: 1 frame + 630 labels -> frames 1..629).

Frames are predicted one at a time with z from the prior, under ``torch.inference_mode`` (no
autograd graph), written to disk as they come and scored on the fly, so memory does not grow
with the length of the rollout (apart from the small uint8 copy kept for the GIF).

``metrics.json`` of one sequence (PSNR in dB, data range 1; SSIM as in :mod:`vidpred.metrics`)::

    psnr_per_frame, ssim_per_frame   frames 1..T-1, mean over samples
    psnr_mean, ssim_mean             over frames 1..600 (the course's scored range), mean over samples
    best_sample_psnr_mean            the best sample's psnr_mean (best of N)
    baseline_copy_first: {psnr_per_frame, psnr_mean, ssim_per_frame, ssim_mean}
    n_frames, n_samples, scored_frames, seconds, frames_per_s

The Kaggle submission of the course (``../shared/DATA.md`` section 2): ``submission.csv`` with
header ``id,0,1,...,C*H*W-1``, one row per frame (frame 0 = the given first frame, then the
predictions; sequences in order), values ``rint(pred * 255)`` flattened in C, H, W order.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from .data.dance import DanceDataset, paired_files, read_frames
from .errors import DataError
from .metrics import psnr, ssim

SCORED_FRAMES = 600  # the course scores frames 1..600 of each sequence


def _save_png(path: Path, frame: torch.Tensor) -> None:
    from PIL import Image

    arr = frame.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path, compress_level=1)


def _summary(p: torch.Tensor, s: torch.Tensor, scored: int) -> dict:
    """Per-frame PSNR/SSIM (T-1,) -> the metrics dict fields (means over frames 1..scored)."""
    return {"psnr_per_frame": [round(float(v), 4) for v in p],
            "psnr_mean": round(float(p[:scored].mean()), 4),
            "ssim_per_frame": [round(float(v), 5) for v in s],
            "ssim_mean": round(float(s[:scored].mean()), 5)}


def predict_sequence(model, first_frame: torch.Tensor, labels: torch.Tensor, out_dir: str | Path,
                     truth: torch.Tensor | None = None, samples: int = 1, write_frames: bool = True,
                     gif: bool = True, ms_per_frame: int = 66, progress: bool = True
                     ) -> tuple[dict, torch.Tensor]:
    """Roll a model out from one frame over all ``labels`` and write the results.

    Args:
        model: a trained model in eval mode (pose CVAE or SVG with image conditions).
        first_frame: (3, H, W) float in [0, 1] — frame 0.
        labels: (T, C, H, W) float in [0, 1] — the label of every frame 0..T-1 (or (T, D)
            condition vectors).
        out_dir: receives ``sample_<k>/frame<t>.png`` (t = 0..T-1; frame 0 is the given one),
            ``rollout.gif`` (prediction | label | ground truth) and, with ``truth``,
            ``metrics.json``.
        truth: (T, 3, H, W) float ground-truth frames, or None.
        samples: futures sampled (one batch).

    Returns:
        (metrics, video): the metrics dict of the module doc (only timing fields without
        ``truth``) and the first sample's video, uint8 (T, 3, H, W) with frame 0 the given one.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    T = labels.shape[0]
    if truth is not None and truth.shape[0] < T:
        raise DataError(f"{out}: {truth.shape[0]} ground-truth frames for {T} labels")
    if write_frames:
        for k in range(samples):
            (out / f"sample_{k}").mkdir(exist_ok=True)
            _save_png(out / f"sample_{k}" / "frame0.png", first_frame)
    scored = min(SCORED_FRAMES, T - 1)
    p_model, s_model = [], []
    gif_frames = [first_frame.mul(255).round().to(torch.uint8)]
    t0 = time.perf_counter()
    steps = model.rollout_steps(first_frame[None, None], labels[None], T - 1, samples)
    for t, frame in enumerate(tqdm(steps, total=T - 1, desc="rollout", unit="frame",
                                   disable=not progress, leave=False), start=1):
        pred = frame[0]  # (samples, 3, H, W)
        if write_frames:
            for k in range(samples):
                _save_png(out / f"sample_{k}" / f"frame{t}.png", pred[k])
        gif_frames.append(pred[0].clamp(0, 1).mul(255).round().to(torch.uint8))
        if truth is not None:
            target = truth[t].expand_as(pred)[:, None]
            p_model.append(psnr(pred[:, None], target)[:, 0])
            s_model.append(ssim(pred[:, None], target)[:, 0])
    seconds = time.perf_counter() - t0
    metrics: dict = {"n_frames": T, "n_samples": samples, "n_past": 1,
                     "seconds": round(seconds, 2),
                     "frames_per_s": round(samples * (T - 1) / max(seconds, 1e-9), 1)}
    if truth is not None:
        pm, sm = torch.stack(p_model, 1), torch.stack(s_model, 1)   # (samples, T-1)
        metrics.update(_summary(pm.mean(0), sm.mean(0), scored))
        metrics["best_sample_psnr_mean"] = round(float(pm[:, :scored].mean(1).max()), 4)
        # the baseline needs no rollout: all frames in one batched call
        copy, later = first_frame.expand_as(truth[1:T])[None], truth[1:T][None]
        metrics["baseline_copy_first"] = _summary(psnr(copy, later)[0], ssim(copy, later)[0], scored)
        metrics["scored_frames"] = f"1..{scored}"
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    video = torch.stack(gif_frames)
    if gif:
        from .viz import save_prediction_gif

        pred_video = video.float().div_(255)
        panels = {"prediction": pred_video}
        if labels.dim() == 4:
            panels["label"] = labels[:, :3]
        save_prediction_gif(out / "rollout.gif", truth[:T] if truth is not None else pred_video,
                            panels, n_past=1, scale=2, ms_per_frame=ms_per_frame)
    return metrics, video


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
                       progress: bool = True, log=print) -> dict:
    """Roll out every test sequence of a dance-layout ``test`` folder (``ROOT/test``).

    With ground truth (``test_gt/<i>/``, written by the built-in generator) each sequence is
    scored; the summary averages the per-frame curves over sequences. With ``submission``, the
    first sample of every sequence goes into the course's Kaggle CSV (see module doc).

    Returns:
        {"per_sequence": [...], and with ground truth the averaged metrics fields}.

    Raises:
        DataError: a malformed test folder (names the file).
    """
    test_root = Path(test_root)
    root = test_root.parent if test_root.name == "test" else test_root
    dataset = DanceDataset(root, "test", frame_size=frame_size)
    out = Path(out_dir) if out_dir is not None else None
    writer = _SubmissionWriter(submission) if submission is not None else None
    per_seq, t0 = [], time.perf_counter()
    try:
        for i, seq in enumerate(dataset.tests):
            first = seq.first_frame.float().div(255)
            labels = seq.labels.float().div(255)
            truth = seq.truth.float().div(255) if seq.truth is not None else None
            seq_out = (out / f"seq_{seq.name}") if out is not None else None
            if seq_out is None:  # submission only: nothing but the CSV rows is kept
                seq_out = Path(writer.scratch.name)
            m, video = predict_sequence(model, first, labels, seq_out, truth, samples,
                                        write_frames=write_frames, gif=out is not None and i < gifs,
                                        progress=progress)
            if writer is not None:
                writer.write(video)
            m["name"] = seq.name
            per_seq.append(m)
            if "psnr_mean" in m:
                log(f"test sequence {seq.name}: PSNR {m['psnr_mean']:.2f} dB (frames "
                    f"{m['scored_frames']}), copy-first {m['baseline_copy_first']['psnr_mean']:.2f} dB, "
                    f"{m['frames_per_s']:.0f} frames/s")
    finally:
        if writer is not None:
            writer.close()
    result: dict = {"n_sequences": len(per_seq), "n_samples": samples, "n_past": 1,
                    "seconds": round(time.perf_counter() - t0, 2)}
    scored = [m for m in per_seq if "psnr_per_frame" in m]
    if scored:
        T = min(len(m["psnr_per_frame"]) for m in scored)
        n = min(SCORED_FRAMES, T)

        def mean_curve(get) -> torch.Tensor:
            return torch.tensor([get(m)[:T] for m in scored]).mean(0)

        result.update(_summary(mean_curve(lambda m: m["psnr_per_frame"]),
                               mean_curve(lambda m: m["ssim_per_frame"]), n))
        result["baseline_copy_first"] = _summary(
            mean_curve(lambda m: m["baseline_copy_first"]["psnr_per_frame"]),
            mean_curve(lambda m: m["baseline_copy_first"]["ssim_per_frame"]), n)
        result["scored_frames"] = f"1..{n}"
        result["frames_per_s"] = round(sum(m["frames_per_s"] for m in scored) / len(scored), 1)
    result["per_sequence"] = [_brief(m) for m in per_seq]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=1))
        if scored:
            from .viz import plot_psnr_per_frame
            plot_psnr_per_frame(result, out / "psnr_per_frame.png",
                                title=f"{len(scored)} test sequences, 1 frame -> "
                                      f"{len(result['psnr_per_frame'])} predicted")
    return result


def _brief(m: dict) -> dict:
    """One sequence's metrics without the per-frame curves (those are averaged in the summary)."""
    brief = {k: v for k, v in m.items() if not k.endswith("per_frame") and k != "baseline_copy_first"}
    if "baseline_copy_first" in m:
        brief["baseline_psnr_mean"] = m["baseline_copy_first"]["psnr_mean"]
    return brief


class _SubmissionWriter:
    """Streams rows of the course's Kaggle CSV; written to ``<file>.partial`` and renamed when
    complete, so an interrupted run never leaves a truncated submission."""

    def __init__(self, path: str | Path):
        import tempfile

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.file = None
        self.row = 0
        self.scratch = tempfile.TemporaryDirectory()

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
        self.scratch.cleanup()
        if self.file is not None:
            self.file.close()
            self.tmp.replace(self.path)
