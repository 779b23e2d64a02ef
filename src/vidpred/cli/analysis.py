"""``vidpred compare``, ``report``, ``sweep`` and ``demo``."""
from __future__ import annotations

import time
from pathlib import Path

from ..errors import VidpredError
from .common import (
    best_by_arg,
    configure,
    device_arg,
    load_config,
    print_rows,
    summary_table,
)


def cmd_compare(args) -> None:
    from ..evaluation.compare import compare

    print_rows(compare(args.runs, args.out), Path(args.out))


def cmd_report(args) -> None:
    from ..evaluation.report import write_report

    path = write_report(args.runs, args.out, gifs=args.gifs)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, self-contained: open it in any browser)")


def cmd_sweep(args) -> None:
    from ..evaluation.evaluate import EvaluateSettings
    from ..sweep import sweep

    evaluation = EvaluateSettings(n_past=args.n_past, n_future=args.n_future,
                                  samples=args.samples, gifs=2, max_sequences=args.max_sequences,
                                  best_by=args.best_by)
    base = load_config(args)
    configure(base.train.threads, base.train.deterministic)
    rows = sweep(base, args.grid, args.out, evaluation, progress=not args.quiet)
    print_rows(rows, Path(args.out) / "compare")


def _demo_train(args, what: str, cache_name: str, generate, make_config, describe):
    """Steps 1 and 2 of a demo: generate (or reuse) the built-in data, then train (resuming an
    unfinished run). Returns (out, data, cfg, seconds of data, seconds of training, t0)."""
    from ..data import cache_root
    from ..training.loop import train

    out = Path(args.out)
    data = Path(args.data) if args.data else cache_root() / f"{cache_name}-seed{args.seed}"
    t0 = time.perf_counter()
    print(f"[1/3] built-in {what} data in {data} (generated once, then reused)")
    generate(data)
    t_data = time.perf_counter() - t0
    cfg = make_config()
    cfg.data.root = str(data)
    cfg.apply_overrides(args.set or [])
    configure(cfg.train.threads, cfg.train.deterministic)
    resume = (out / "last.ckpt").exists() and not args.overwrite
    limit = f" or {cfg.train.max_minutes:g} min of training" if cfg.train.max_minutes else ""
    print(f"[2/3] training {describe(cfg)} for {cfg.train.iterations} iterations{limit} into {out}"
          + (" (resuming)" if resume else ""))
    train(cfg, out, resume=resume, overwrite=args.overwrite, progress=not args.quiet,
          device=args.device)
    return out, data, cfg, t_data, time.perf_counter() - t0 - t_data, t0


def cmd_demo(args) -> None:
    if args.task == "dance":
        return cmd_demo_dance(args)
    if args.fixed_scene:
        raise VidpredError("--fixed-scene is an option of the dance demo (--task dance)")
    from ..config import named_config
    from ..data.sim_push import PushSpec, generate_push_dataset
    from ..evaluation.evaluate import evaluate_checkpoint

    out, data, cfg, t_data, t_train, t0 = _demo_train(
        # push-v2: the generator's version 2 (block colours apart from the scene's, objects.npz);
        # a cache of version 1 (push-seed<S>) is left as it is
        args, "robot-pushing", "push-v2",
        lambda d: generate_push_dataset(d, PushSpec(seed=args.seed), workers=args.workers,
                                        progress=not args.quiet),
        lambda: named_config("push_cpu"), lambda c: f"SVG-LP ({c.model.backbone}, width {c.model.width})")
    print(f"[3/3] evaluating {out / 'best.ckpt'} on the test split, {cfg.data.n_past} -> "
          f"{cfg.data.n_future}, {args.samples} samples")
    m = evaluate_checkpoint(out / "best.ckpt", data, "test", cfg.data.n_past, cfg.data.n_future,
                            args.samples, out / "eval", args.gifs, None, progress=not args.quiet,
                            device=args.device)
    total = time.perf_counter() - t0
    print()
    print(summary_table(m))
    gain = m.best.psnr_mean - m.baseline.psnr_mean
    print(f"PSNR gain over copying the last frame: {gain:+.2f} dB")
    print(f"time: data {t_data:.0f} s, training {t_train:.0f} s, evaluation "
          f"{total - t_data - t_train:.0f} s, total {total / 60:.1f} min")
    print(f"outputs: {out / 'best.ckpt'}, {out / 'training_curves.png'}, "
          f"{out / 'eval' / 'metrics.json'}, {out / 'eval' / 'psnr_per_frame.png'}, "
          f"{out / 'eval'}/seq_*.gif")


def cmd_demo_dance(args) -> None:
    from ..checkpoint import load_trained_model
    from ..config import named_config
    from ..data.sim_dance import DanceSpec, generate_dance_dataset
    from ..device import resolve_device
    from ..evaluation.predict import predict_test_split

    scene = "fixed" if args.fixed_scene else "varied"
    what = "dancing-humanoid (one scene)" if args.fixed_scene else "dancing-humanoid (a scene per dance)"
    # the varied scenes get their own cache name, so a cache of the fixed scene's data (the
    # name it has always had) is never taken for them
    cache = "dance" if args.fixed_scene else "dance-scenes"
    out, data, cfg, t_data, t_train, t0 = _demo_train(
        args, what, cache,
        lambda d: generate_dance_dataset(d, DanceSpec(seed=args.seed, scene=scene),
                                         workers=args.workers, progress=not args.quiet),
        lambda: named_config("dance_cpu"),
        lambda c: f"the pose CVAE (F, L, N, D = {c.model.frame_channels}, "
                  f"{c.model.label_channels}, {c.model.z_channels}, {c.model.fusion_channels})")
    # the final weights, not the best validation PSNR's: the learning rate has annealed to its
    # end, and on the one validation dance a model that still mostly copies the first frame
    # can outscore later ones that draw the dancer
    ckpt = out / "last.ckpt"
    print(f"[3/3] 630-frame rollouts of {ckpt} on the test split")
    model, _, _ = load_trained_model(ckpt, resolve_device(args.device))
    m = predict_test_split(model, data / "test", cfg.data.frame_size, out / "eval", samples=1,
                           write_frames=False, gifs=args.gifs, progress=not args.quiet)
    total = time.perf_counter() - t0
    print()
    print(summary_table(m))
    print(f"PSNR gain over copying the first frame: {m.best.psnr_mean - m.baseline.psnr_mean:+.2f} "
          f"dB; rollout {m.frames_per_s:.0f} frames/s")
    print(f"time: data {t_data:.0f} s, training {t_train:.0f} s, rollouts "
          f"{total - t_data - t_train:.0f} s, total {total / 60:.1f} min")
    print(f"outputs: {ckpt}, {out / 'training_curves.png'}, "
          f"{out / 'eval' / 'metrics.json'}, {out / 'eval' / 'psnr_per_frame.png'}, "
          f"{out / 'eval'}/seq_*/rollout.gif")


def register(sub) -> None:
    """``vidpred compare``, ``report``, ``sweep`` and ``demo``."""
    c = sub.add_parser("compare", help="overlay the curves of several runs and tabulate their "
                       "final PSNR/SSIM, labelled by what differs in their configs")
    c.add_argument("runs", nargs="+", help="run directories written by vidpred train")
    c.add_argument("--out", required=True, help="folder for curves.png, psnr_per_frame.png, "
                   "results.md and results.csv")
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("report", help="one self-contained HTML page (plots and GIFs embedded, no "
                       "network requests) with the config, curves, PSNR per frame, GIFs and a "
                       "metrics table of one or several runs side by side")
    r.add_argument("runs", nargs="+", help="run directories written by vidpred train / demo")
    r.add_argument("--out", required=True, help="the .html file to write")
    r.add_argument("--gifs", type=int, default=4, help="prediction GIFs per run (default 4)")
    r.set_defaults(func=cmd_report)

    w = sub.add_parser("sweep", help="train, evaluate and compare one run per grid combination")
    w.add_argument("--config", help="base YAML config file or shipped config name")
    w.add_argument("--set", action="append", metavar="KEY=VALUE", help="override the base config")
    w.add_argument("--data", help="dataset root (overrides data.root)")
    w.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="values to sweep, e.g. --grid kl_anneal=cyclical,monotonic,none "
                   "(repeatable: the product of all grids is run)")
    w.add_argument("--out", required=True, help="sweep directory")
    w.add_argument("--samples", type=int, default=3, help="prior samples per test sequence")
    w.add_argument("--max-sequences", "--eval-sequences", type=int, dest="max_sequences",
                   help="evaluate only the first test sequences")
    w.add_argument("--n-past", type=int,
                   help="context frames in each evaluation (default: the config's data.n_past)")
    w.add_argument("--n-future", type=int,
                   help="predicted frames in each evaluation (default: the config's data.n_future)")
    best_by_arg(w)
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    w.set_defaults(func=cmd_sweep)

    m = sub.add_parser("demo", help="the main job: generate robot video, train SVG-LP, evaluate "
                       "(--task dance: dancing humanoid, pose CVAE, 630-frame rollouts)")
    m.add_argument("--task", default="push", choices=["push", "dance"],
                   help="push: robot pushing + SVG-LP (8 min of training, about 9 min in all on 2 "
                   "cores); dance: dancing humanoid + pose CVAE + 630-frame rollouts")
    m.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    m.add_argument("--data", help="dataset root (default: $VIDPRED_CACHE or ~/.cache/vidpred)")
    m.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    m.add_argument("--workers", type=int, default=2, help="simulator processes (default 2)")
    m.add_argument("--samples", type=int, default=10, help="prior samples per test sequence")
    m.add_argument("--gifs", type=int, default=8, help="test sequences that get a GIF")
    m.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override the demo config, e.g. --set train.iterations=500")
    m.add_argument("--overwrite", action="store_true", help="retrain instead of resuming OUT")
    m.add_argument("--fixed-scene", action="store_true",
                   help="--task dance: every dance in one fixed scene (cached as dance-seed<S>), "
                   "instead of a scene per dance (dance-scenes-seed<S>)")
    m.add_argument("--quiet", action="store_true", help="no progress bars")
    device_arg(m)
    m.set_defaults(func=cmd_demo)
