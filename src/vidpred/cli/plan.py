"""``vidpred plan``: goal-reaching in the push scene with the model as the planner's model."""
from __future__ import annotations

from pathlib import Path

from ..errors import VidpredError
from .common import configure, device_arg


def cmd_plan(args) -> None:
    from ..checkpoint import load_trained_model
    from ..data.gl import select_gl_backend
    from ..device import resolve_device, use_bf16
    from ..planning.plan import PlanSettings, check_planning_model, plan
    from ..planning.planners import PLANNERS, CEMSettings

    names = tuple(n.strip() for n in args.planner.split(",") if n.strip())
    cem = CEMSettings(horizon=args.horizon, samples=args.samples, iterations=args.iterations,
                      elites=args.elites, planar=args.planar)
    settings = PlanSettings(episodes=args.episodes, seed=args.seed, planners=names,
                            steps=args.steps, cem=cem, oracle_samples=args.oracle_samples,
                            reach=args.reach, behind=args.behind,
                            block_colours=args.block_colours)
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
    configure()
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


def _table_map(cfg):
    """The reach cost's camera model, fitted to pushes in the training clips the model's config
    names (:class:`vidpred.planning.reach.TableMap`)."""
    from pathlib import Path

    from ..data.bair import resolve_split
    from ..planning.reach import TableMap, pushes

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


def register(sub) -> None:
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
    p.add_argument("--block-colours", default="red", choices=["red", "any"],
                   help="the episodes' block colours: red (red to magenta, default) or any bright "
                   "colour none of the scene's surfaces has (the data's default)")
    p.add_argument("--precision", default="bf16", choices=["bf16", "float32"],
                   help="the model's rollouts: bf16 autocast on CUDA and on CPUs with AVX512-BF16 "
                   "or AMX, float32 elsewhere (default bf16), or float32 always")
    p.add_argument("--no-gifs", action="store_true", help="write results.json only")
    p.add_argument("--resume", action="store_true", help="keep the episodes OUT/results.json "
                   "already holds (an interrupted run, or a shorter one with the same options) "
                   "and play the rest")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(p)
    p.set_defaults(func=cmd_plan)
