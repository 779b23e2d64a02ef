"""``vidpred train``, ``evaluate`` and ``predict``."""
from __future__ import annotations

from pathlib import Path

from ..errors import VidpredError
from .common import best_by_arg, configure, device_arg, load_config, summary_table


def _generate_if_asked(cfg, progress: bool) -> None:
    """``data.generate``: the built-in push data in ``data.root``, generated once (see
    :class:`vidpred.config.DataConfig`); a complete dataset there is reused."""
    from ..config import check_config
    from ..data.sim_push import PushSpec, generate_push_dataset

    d = cfg.data
    if not d.generate:
        return
    check_config(cfg)  # a bad config generates nothing
    root = Path(d.root).expanduser()
    print(f"built-in robot-pushing data in {root} (generated once, then reused; "
          f"random-action share {d.random_action_share:g}, block colours {d.block_colours})")
    spec = PushSpec(random_action_share=d.random_action_share, block_colours=d.block_colours)
    generate_push_dataset(root, spec, progress=progress)


def cmd_train(args) -> None:
    from ..training.distributed import is_main_process
    from ..training.loop import train

    cfg = load_config(args)
    # --data names the user's own dataset, never written to; under torchrun with data.generate,
    # generate it first with one process
    if is_main_process() and not args.data:
        _generate_if_asked(cfg, not args.quiet)
    configure(cfg.train.threads, cfg.train.deterministic)
    result = train(cfg, args.out, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.quiet, device=args.device)
    if not is_main_process():
        return
    print(f"trained to iteration {result.iteration} in {result.seconds / 60:.1f} min; best "
          f"validation PSNR {result.best_psnr:.2f} dB; checkpoints in {result.run_dir}")


def cmd_evaluate(args) -> None:
    from ..evaluation.evaluate import evaluate_checkpoint

    configure()
    m = evaluate_checkpoint(args.ckpt, args.data, args.split, args.n_past, args.n_future, args.samples,
                       args.out, args.gifs, args.max_sequences, progress=not args.quiet,
                       device=args.device, best_by=args.best_by)
    print(summary_table(m))
    print(f"wrote {Path(args.out) / 'metrics.json'}, psnr_per_frame.png and GIFs")


def cmd_predict(args) -> None:
    from ..checkpoint import load_trained_model
    from ..device import resolve_device
    from ..evaluation.predict import (
        load_image,
        load_label_folder,
        predict_sequence,
        predict_test_split,
    )

    configure()
    model, cfg, _ = load_trained_model(args.ckpt, resolve_device(args.device))
    size = cfg.data.frame_size
    if args.test_dir:
        if not (args.out or args.submission):
            raise VidpredError("--test-dir needs --out (rollouts, metrics) and/or --submission FILE.csv")
        m = predict_test_split(model, args.test_dir, size, args.out, args.submission, args.samples,
                               write_frames=args.out is not None and not args.no_frames,
                               gifs=args.gifs, progress=not args.quiet, seed=args.seed)
        if m is not None:
            print(summary_table(m))
        if args.submission:
            print(f"wrote {args.submission}")
        if args.out:
            print(f"wrote {Path(args.out) / 'metrics.json'} and seq_*/")
        return
    if not (args.first_frame and args.labels and args.out):
        raise VidpredError("predict needs --first-frame PNG --labels DIR --out DIR "
                           "(or --test-dir ROOT/test)")
    labels = load_label_folder(args.labels, size)
    truth = load_label_folder(args.gt, size) if args.gt else None
    r = predict_sequence(model, load_image(args.first_frame, size), labels, args.out, truth,
                         args.samples, write_frames=not args.no_frames, progress=not args.quiet,
                         seed=args.seed)
    print(f"predicted frames 1..{len(labels) - 1} ({args.samples} sample(s)) at "
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
    e.add_argument("--n-past", type=int, default=2, help="context frames (default 2)")
    e.add_argument("--n-future", type=int, default=10, help="predicted frames (default 10)")
    e.add_argument("--samples", type=int, default=10,
                   help="prior samples per sequence (default 10)")
    best_by_arg(e)
    e.add_argument("--gifs", type=int, default=8, help="sequences that get a GIF (default 8)")
    e.add_argument("--max-sequences", type=int, help="score only the first sequences")
    e.add_argument("--out", required=True, help="output folder for metrics.json, plot and GIFs")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(e)
    e.set_defaults(func=cmd_evaluate)

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
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(pr)
    pr.set_defaults(func=cmd_predict)
