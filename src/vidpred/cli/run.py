"""``vidpred train``, ``evaluate`` and ``predict``."""
from __future__ import annotations

from pathlib import Path

from .common import best_by_arg, configure, device_arg, load_config, summary_table


def cmd_train(args) -> None:
    from ..training.workflow import run_training

    cfg = load_config(args)
    configure(cfg.train.threads, cfg.train.deterministic)
    # --data names the user's own dataset, never written to
    result = run_training(cfg, args.out, resume=args.resume, overwrite=args.overwrite,
                          progress=not args.quiet, device=args.device, generate=not args.data)
    if result is not None:  # rank 0
        print(f"trained to iteration {result.iteration} in {result.seconds / 60:.1f} min; best "
              f"validation PSNR {result.best_psnr:.2f} dB; checkpoints in {result.run_dir}")


def cmd_evaluate(args) -> None:
    from ..evaluation.evaluate import evaluate_checkpoint

    configure()
    m = evaluate_checkpoint(args.ckpt, args.data, args.split, args.n_past, args.n_future,
                            args.samples, args.out, args.gifs, args.max_sequences,
                            progress=not args.quiet, device=args.device, best_by=args.best_by,
                            overwrite=args.overwrite)
    print(summary_table(m))
    print(f"wrote {Path(args.out) / 'metrics.json'}, psnr_per_frame.png and GIFs")


def cmd_predict(args) -> None:
    from ..evaluation.predict import PredictSettings, predict_checkpoint

    settings = PredictSettings(args.test_dir, args.first_frame, args.labels, args.gt, args.out,
                               args.submission, args.samples, args.seed, args.gifs,
                               frames=not args.no_frames)
    configure()
    r = predict_checkpoint(args.ckpt, settings, overwrite=args.overwrite,
                           progress=not args.quiet, device=args.device)
    if args.test_dir:
        if r is not None:
            print(summary_table(r))
        if args.submission:
            print(f"wrote {args.submission}")
        if args.out:
            print(f"wrote {Path(args.out) / 'metrics.json'} and seq_*/")
        return
    print(f"predicted frames 1..{len(r.video) - 1} ({args.samples} sample(s)) at "
          f"{r.frames_per_s:.0f} frames/s into {args.out}")
    if r.metrics is not None:
        print(summary_table(r.metrics))


def register(sub) -> None:
    """``vidpred train``, ``evaluate`` and ``predict``."""
    t = sub.add_parser("train", help="train a model from a YAML config")
    from ..config import CONFIG_DIR

    shipped = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    t.add_argument("--config", help=f"YAML config file, or the name of a shipped one ({shipped}); "
                   "defaults without one")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.lr=1e-3 (repeatable)")
    t.add_argument("--data", help="dataset root (overrides data.root)")
    t.add_argument("--out", required=True, help="run directory for logs and checkpoints")
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    t.add_argument("--overwrite", action="store_true", help="start again in an existing run dir")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="PSNR/SSIM per frame, best of N samples, GIFs")
    e.add_argument("--ckpt", required=True, help="checkpoint written by vidpred train")
    e.add_argument("--data", help="dataset root (default: the one the checkpoint trained on)")
    e.add_argument("--split", default="test", help="train, validate or test (default test)")
    e.add_argument("--n-past", type=int,
                   help="context frames (default: the checkpoint's data.n_past)")
    e.add_argument("--n-future", type=int,
                   help="predicted frames (default: the checkpoint's data.n_future)")
    e.add_argument("--samples", type=int, default=10,
                   help="prior samples per sequence (default 10)")
    best_by_arg(e)
    e.add_argument("--gifs", type=int, default=8, help="sequences that get a GIF (default 8)")
    e.add_argument("--max-sequences", type=int, help="score only the first sequences")
    e.add_argument("--out", required=True, help="output folder for metrics.json, plot and GIFs")
    e.add_argument("--overwrite", action="store_true", help="replace the evaluation OUT holds")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(e)
    e.set_defaults(func=cmd_evaluate)

    _predict_parser(sub)


def _predict_parser(sub) -> None:
    pr = sub.add_parser("predict", help="long rollouts: one first frame + a folder of labels in, "
                        "the whole video out (PNG frames, GIF, metrics with --gt), or every test "
                        "sequence of a dance-layout test folder (--test-dir), optionally as the "
                        "course's Kaggle submission CSV")
    pr.add_argument("--ckpt", required=True, help="checkpoint written by vidpred train")
    pr.add_argument("--first-frame", help="PNG of frame 0 (resized to the model's frame size)")
    pr.add_argument("--labels", help="folder of label PNGs for frames 0..T-1, sorted by the number "
                    "in the file name; frames 1..T-1 are predicted")
    pr.add_argument("--gt", help="folder of ground-truth PNGs (same names as the labels): writes "
                    "metrics.json (PSNR in dB over frames 1..600, SSIM, copy-first baseline)")
    pr.add_argument("--test-dir", help="a dance-layout test folder (ROOT/test): roll out every "
                    "test_label/<i> from test_img/<i>/frame0; scored when test_gt/<i> exists")
    pr.add_argument("--submission", help="with --test-dir: write the Kaggle CSV (header id,0..C*H*W-1, "
                    "one row per frame, values rint(pred*255))")
    pr.add_argument("--out", help="output folder (frames sample_<k>/frame<t>.png, rollout.gif, "
                    "metrics.json)")
    pr.add_argument("--samples", type=int, default=1, help="futures sampled from the prior (default 1)")
    pr.add_argument("--seed", type=int, default=0, help="seed of the prior samples (default 0)")
    pr.add_argument("--gifs", type=int, default=5, help="with --test-dir: sequences that get a GIF")
    pr.add_argument("--no-frames", action="store_true", help="do not write PNG frames")
    pr.add_argument("--overwrite", action="store_true", help="replace the rollouts OUT holds")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(pr)
    pr.set_defaults(func=cmd_predict)
