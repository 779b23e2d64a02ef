"""``vidpred compare``, ``report``, ``sweep`` and ``demo``."""
from __future__ import annotations

from pathlib import Path

from .common import (
    best_by_arg,
    configure,
    device_arg,
    load_config,
    print_rows,
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


def cmd_demo(args) -> None:
    from ..demo import DemoSettings, run_demo

    run_demo(DemoSettings(out=args.out, task=args.task, data=args.data, video=tuple(args.video or ()),
                          seed=args.seed, workers=args.workers, samples=args.samples,
                          gifs=args.gifs, n_past=args.n_past, n_future=args.n_future,
                          sets=tuple(args.set or ()), overwrite=args.overwrite,
                          fixed_scene=args.fixed_scene, quiet=args.quiet, device=args.device))


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

    _demo_parser(sub)


def _demo_parser(sub) -> None:
    m = sub.add_parser("demo", help="the main job: generate robot video, train SVG-LP, evaluate "
                       "(--task dance: dancing humanoid, pose CVAE, 630-frame rollouts; --video "
                       "FILE: your own footage)")
    m.add_argument("--task", choices=["push", "dance", "video"],
                   help="push (default): robot pushing + SVG-LP (8 min of training; on 2 "
                   "cores about 9 min in all with bf16, 11 without); dance: dancing humanoid + "
                   "pose CVAE + 630-frame rollouts; video (with --video): your footage + "
                   "action-free SVG-LP")
    m.add_argument("--video", nargs="+", metavar="FILE", help="train and evaluate on your own "
                   "footage (converted once into the cache, docs/video.md); the task is then video")
    m.add_argument("--n-past", type=int, help="context frames of the evaluation (default: the "
                   "config's, 2); --video also trains with it")
    m.add_argument("--n-future", type=int, help="predicted frames of the evaluation (default: the "
                   "config's, 10); --video also trains with it")
    m.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    m.add_argument("--data", help="dataset root (default: $VIDPRED_CACHE or ~/.cache/vidpred)")
    m.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    m.add_argument("--workers", type=int, default=2, help="simulator processes (default 2)")
    m.add_argument("--samples", type=int, default=10, help="prior samples per test sequence")
    m.add_argument("--gifs", type=int, default=8, help="test sequences that get a GIF")
    m.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override the demo config, e.g. --set train.iterations=500")
    m.add_argument("--overwrite", action="store_true", help="retrain instead of resuming OUT (a "
                   "second demo into OUT resumes an unfinished training and evaluates again)")
    m.add_argument("--fixed-scene", action="store_true",
                   help="--task dance: every dance in one fixed scene (cached as dance-seed<S>), "
                   "instead of a scene per dance (dance-scenes-seed<S>)")
    m.add_argument("--quiet", action="store_true", help="no progress bars")
    device_arg(m)
    m.set_defaults(func=cmd_demo)
