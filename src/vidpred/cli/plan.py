"""``vidpred plan``: goal-reaching in the push scene with the model as the planner's model."""
from __future__ import annotations

from pathlib import Path

from .common import configure, device_arg


def cmd_plan(args) -> None:
    from ..planning.plan import PlanSettings, plan_checkpoint
    from ..planning.planners import CEMSettings

    cem = CEMSettings(horizon=args.horizon, samples=args.samples, iterations=args.iterations,
                      elites=args.elites, planar=args.planar)
    settings = PlanSettings(episodes=args.episodes, seed=args.seed, steps=args.steps, cem=cem,
                            planners=tuple(n.strip() for n in args.planner.split(",") if n.strip()),
                            oracle_samples=args.oracle_samples, reach=args.reach,
                            behind=args.behind, block_colours=args.block_colours)
    configure()
    r = plan_checkpoint(args.ckpt, settings, args.out, precision=args.precision,
                        device=args.device, progress=not args.quiet, gifs=not args.no_gifs,
                        resume=args.resume, overwrite=args.overwrite)
    print(f"{settings.episodes} episodes, {settings.steps} steps, goal within "
          f"{r['success_radius'] * 100:.0f} cm")
    print(f"{'planner':10s}{'success':>9s}{'95% interval':>16s}{'final/initial':>15s}{'s/step':>9s}")
    for name, m in r["summary"].items():
        lo, hi = m["success_ci95"]
        print(f"{name:10s}{m['success_rate']:9.2f}{f'[{lo:.2f}, {hi:.2f}]':>16s}"
              f"{m['distance_ratio']:15.2f}{m['seconds_per_step']:9.2f}")
    gifs = "" if args.no_gifs else " and a GIF per episode and planner"
    print(f"wrote {Path(args.out) / 'results.json'}{gifs}")


def register(sub) -> None:
    """``vidpred plan``."""
    from ..device import PRECISIONS

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
    p.add_argument("--precision", default="bf16", choices=PRECISIONS,
                   help="the model's rollouts: bf16 autocast on CUDA and on CPUs with AVX512-BF16 "
                   "or AMX, float32 elsewhere (default bf16), float32 always, or auto (bf16 on "
                   "CUDA only)")
    p.add_argument("--no-gifs", action="store_true", help="write results.json only")
    p.add_argument("--resume", action="store_true", help="keep the episodes OUT/results.json "
                   "already holds (an interrupted run, or a shorter one with the same options) "
                   "and play the rest")
    p.add_argument("--overwrite", action="store_true", help="replace the results OUT holds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    device_arg(p)
    p.set_defaults(func=cmd_plan)
