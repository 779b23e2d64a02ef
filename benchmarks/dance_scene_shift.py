"""Scene shift: a dance checkpoint's long rollouts on test dances in training-like scenes and in
scenes the training ranges exclude, each against copying the first frame.

Every test dance of two dance-layout datasets is rolled out from its first frame over all its
labels (z from the prior) by the path of ``vidpred predict --test-dir``
(:func:`vidpred.evaluation.predict.predict_test_split`), and scored over frames 1..600, or every predicted
frame of a shorter dance. The in-distribution set is, for example, the demo's data
(``vidpred data dance``, scenes from the training ranges); the shifted set comes from
``vidpred data dance --scene held-out`` (test dances on a grey grid floor with coarse tiles, the
camera further away, the body smaller; ranges in docs/data.md). ``--generate`` renders both test
sets itself, with the same seed, so dance i of one set has the same motion, body colour and
lighting as dance i of the other: only the held-out settings differ.

    python benchmarks/dance_scene_shift.py --ckpt runs/dance/last.ckpt \\
        --in-dist ~/.cache/vidpred/dance-scenes-seed0 --shifted DIR
    python benchmarks/dance_scene_shift.py --ckpt runs/dance/last.ckpt --generate --out check

Prints one row per set: PSNR in dB (per frame, data range 1, averaged over frames and dances)
and SSIM (in [0, 1]) of the model and of the copy-first-frame baseline, and the PSNR gain.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vidpred.checkpoint import load_trained_model
from vidpred.data.sim_dance import DanceSpec, generate_dance_dataset
from vidpred.device import configure_process, resolve_device
from vidpred.errors import VidpredError
from vidpred.evaluation.predict import predict_test_split
from vidpred.evaluation.scoring import EvalMetrics

SETS = {"in distribution": "varied", "held-out scenes": "held-out"}  # row label -> scene kind


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n")[-1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, help="a pose-CVAE dance checkpoint (the dance demo rolls out last.ckpt)")
    p.add_argument("--in-dist", metavar="ROOT", help="dance dataset (ROOT or ROOT/test) whose "
                   "test scenes come from the training ranges")
    p.add_argument("--shifted", metavar="ROOT", help="dance dataset (ROOT or ROOT/test) whose "
                   "test scenes the training ranges exclude (vidpred data dance --scene held-out)")
    p.add_argument("--generate", action="store_true", help="render both test sets into --out "
                   "instead of reading --in-dist and --shifted (reused when already there)")
    p.add_argument("--test", type=int, default=5,
                   help="--generate: test dances per set (default 5)")
    p.add_argument("--test-len", type=int, default=630,
                   help="--generate: frames per test dance, frame 0 given (default 630)")
    p.add_argument("--height", type=int, default=64,
                   help="--generate: rendered height in pixels (default 64; the model's frame "
                   "size is read from the checkpoint and frames are resized to it)")
    p.add_argument("--width", type=int, default=128, help="--generate: rendered width in pixels "
                   "(default 128)")
    p.add_argument("--seed", type=int, default=0, help="--generate: data seed (default 0: the "
                   "demo's test dances)")
    p.add_argument("--workers", type=int, default=2, help="--generate: simulator processes")
    p.add_argument("--out", help="receives the generated data (data/varied, data/held-out) and "
                   "each set's rollouts/<varied|held-out>/metrics.json and psnr_per_frame.png "
                   "(default: a temporary folder, deleted at the end)")
    p.add_argument("--samples", type=int, default=1, help="prior samples per dance; the table "
                   "shows the best of them per frame (default 1)")
    p.add_argument("--device", default="cpu", metavar="auto|cpu|cuda",
                   help="where to roll out (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-dance lines")
    args = p.parse_args(argv)
    if args.generate == bool(args.in_dist or args.shifted):
        p.error("give --in-dist ROOT and --shifted ROOT, or --generate (not both)")
    if not args.generate and not (args.in_dist and args.shifted):
        p.error("--in-dist and --shifted go together")
    return args


def _generate(out: Path, args) -> dict[str, Path]:
    """Both test sets, one dataset each; training and validation are a token 2 frames."""
    roots = {}
    for label, scene in SETS.items():
        spec = DanceSpec(train=1, train_len=2, val_len=2, test=args.test, test_len=args.test_len,
                         height=args.height, width=args.width, seed=args.seed, scene=scene)
        roots[label] = generate_dance_dataset(out / "data" / scene, spec, workers=args.workers,
                                              progress=not args.quiet)
    return roots


def table(results: dict[str, EvalMetrics]) -> str:
    """One row per set: PSNR (dB) and SSIM of the model (best of the samples) and of copying
    the first frame."""
    lines = [f"{'test dances':18s}{'n':>3s}  {'PSNR (dB): model':>16s}{'copy-first':>11s}"
             f"{'gain':>7s}   {'SSIM: model':>11s}{'copy-first':>11s}"]
    for label, m in results.items():
        gain = m.best.psnr_mean - m.baseline.psnr_mean
        lines.append(f"{label:18s}{m.protocol.n_sequences:3d}  {m.best.psnr_mean:16.2f}"
                     f"{m.baseline.psnr_mean:11.2f}{gain:+7.2f}   {m.best.ssim_mean:11.3f}"
                     f"{m.baseline.ssim_mean:11.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, EvalMetrics]:
    args = parse_args(argv)
    model, cfg, _ = load_trained_model(args.ckpt, resolve_device(args.device))
    with tempfile.TemporaryDirectory(prefix="scene_shift_") as scratch:
        out = Path(args.out) if args.out else Path(scratch)
        roots = _generate(out, args) if args.generate else dict(
            zip(SETS, (Path(args.in_dist), Path(args.shifted))))
        results = {}
        for label, root in roots.items():
            def log(line: str, label: str = label) -> None:
                if not args.quiet:
                    print(f"{label}: {line}")

            m = predict_test_split(model, root, cfg.data.frame_size, out / "rollouts" / SETS[label],
                                   samples=args.samples, gifs=0, progress=not args.quiet, log=log)
            if m is None:
                raise SystemExit(f"{root}: no test/test_gt/<i>/ ground truth to score against")
            results[label] = m
    frames = max(m.protocol.scored_frames for m in results.values())
    print(f"{args.ckpt}: {args.samples} prior sample(s), frames 1..{frames} of each test dance")
    print(table(results))
    if args.out:
        print(f"wrote {out / 'rollouts'}/{{{','.join(SETS.values())}}}/metrics.json and "
              "psnr_per_frame.png")
    return results


if __name__ == "__main__":
    configure_process()
    try:
        main()
    except VidpredError as e:  # a bad checkpoint or data folder: one line, as the CLI says it
        raise SystemExit(f"dance_scene_shift: error: {e}") from None
