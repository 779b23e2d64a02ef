"""kill -9 at random moments of ``vidpred train``, each followed by ``--resume``: the resumed run
must finish (exit 0, the last iteration reached), leave no temporary file, list every file it
holds in ``vidpred_run.json``, log every iteration once, and end with the weights of one
uninterrupted run (the runs are deterministic).

    python benchmarks/kill_train.py [--kills 20] [--seed 0] [--dir DIR]

A tiny SVG on the in-memory ``synthetic`` layout (no data to generate), 48 iterations with a
checkpoint every 4, one thread, deterministic. The moments are drawn uniformly over the time an
uninterrupted ``vidpred train`` process takes (start-up included), so some land before the first
checkpoint (the resumed run starts afresh), some during a save. Prints one line per kill and a
summary; exit status 1 if any check failed.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/conftest's configs

from tests.conftest import synthetic_config  # noqa: E402

ITERATIONS = 48


def _train(config: Path, out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vidpred", "train", "--config", str(config),
                             "--out", str(out), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _state(run: Path) -> str:
    """What the kill left: the checkpoint's iteration and any temporary file."""
    from vidpred.checkpoint import load_checkpoint

    ckpt = run / "last.ckpt"
    it = load_checkpoint(ckpt)["iteration"] if ckpt.exists() else None
    temps = [p.name for p in run.glob("*tmp")] if run.exists() else []
    return f"checkpoint at {it}" + (f", temporary files {temps}" if temps else "")


def _problems(run: Path, reference: Path, resumed: subprocess.CompletedProcess) -> list[str]:
    """Every check the resumed run fails (empty: it passed)."""
    from vidpred.checkpoint import load_checkpoint
    from vidpred.rundir import RUN, read_marker
    from vidpred.viz import read_log

    if resumed.returncode != 0:
        return [f"--resume exited {resumed.returncode}: {resumed.stdout.strip()[-300:]}"]
    out = []
    state = load_checkpoint(run / "last.ckpt")
    if state["iteration"] != ITERATIONS:
        out.append(f"stopped at {state['iteration']}")
    temps = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    if temps:
        out.append(f"temporary files left: {temps}")
    listed = set(read_marker(run)["files"])
    unlisted = [p.name for p in run.iterdir() if p.name not in listed | {"vidpred_run.json"}
                and any(p.match(pat) for pat in RUN.patterns)]
    if unlisted:
        out.append(f"files not in the marker: {unlisted}")
    iters, _ = read_log(run / "metrics.jsonl")
    if [r["iteration"] for r in iters] != list(range(1, ITERATIONS + 1)):
        out.append(f"the log's iterations are not 1..{ITERATIONS} once each")
    ref = load_checkpoint(reference / "last.ckpt")["model"]
    if any(not (state["model"][k] == v).all() for k, v in ref.items()):
        out.append("weights differ from the uninterrupted run")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dir", help="working folder (default: a temporary one)")
    args = p.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="kill_train_"))
    base.mkdir(parents=True, exist_ok=True)
    cfg = synthetic_config(iterations=ITERATIONS, iters_per_epoch=4, threads=1, deterministic=True)
    cfg.save(base / "cfg.yaml")
    t0 = time.perf_counter()
    ref = _train(base / "cfg.yaml", base / "reference")
    assert ref.wait() == 0, ref.stdout.read()
    whole = time.perf_counter() - t0
    print(f"uninterrupted: {whole:.1f} s; kill moments drawn from [0, {whole:.1f}] s")
    rng, failed = random.Random(args.seed), 0
    for k in range(args.kills):
        run, moment = base / f"run{k}", rng.uniform(0, whole)
        proc = _train(base / "cfg.yaml", run)
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = _state(run)
        resumed = _train(base / "cfg.yaml", run, "--resume")
        out, _ = resumed.communicate()
        problems = _problems(run, base / "reference", subprocess.CompletedProcess(
            resumed.args, resumed.returncode, out))
        failed += bool(problems)
        note = "note: " in out and "starting afresh" in out
        print(f"kill {k:2d} at {moment:5.2f} s: {left}{' (resumed afresh)' if note else ''} -> "
              + ("; ".join(problems) if problems else f"resumed to {ITERATIONS}, clean"), flush=True)
    print(json.dumps({"kills": args.kills, "failed": failed, "uninterrupted_s": round(whole, 1)}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
