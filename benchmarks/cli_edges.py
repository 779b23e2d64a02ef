"""The command line at its edges, tried as a user would: ``python -m vidpred ...`` in a
subprocess on tiny data, for bad numbers, broken or foreign files, interrupted work and output
folders that hold a user's own files. Prints one Markdown row per case: exit status, whether a
Python traceback was printed, whether a file the command must not touch changed (``lost``),
and the last line it printed on stderr.

    python benchmarks/cli_edges.py [--dir DIR] [--data PUSH_ROOT] [--only ID,...]

``--data`` reuses a tiny push set (``vidpred data push --out ROOT --train 8 --val 4 --test 4``);
without it one is generated. Everything else (a tiny SVG run, a tiny dance set and pose CVAE
run, a tiny BAIR download) is made under ``--dir`` (default: a temporary folder, removed at the
end). Runs against whichever vidpred ``PYTHONPATH`` names, so the same cases compare two
versions of the code.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the record writer in tests/

TINY = ["--set", "data.n_past=2", "--set", "data.n_future=4", "--set", "model.width=4",
        "--set", "model.g_dim=16", "--set", "model.z_dim=4", "--set", "model.rnn_size=32",
        "--set", "train.iterations=8", "--set", "train.iters_per_epoch=4",
        "--set", "train.batch_size=3", "--set", "train.val_sequences=3"]
TINY_DANCE = [f"--set={kv}" for kv in (
    "data.layout=dance", "data.n_past=1", "data.n_future=7", "data.image_size=32",
    "data.image_width=64", "model.name=pose_cvae", "model.cond_kind=image", "model.cond_dim=3",
    "model.output=composite_first", "model.frame_channels=8", "model.label_channels=4",
    "model.z_channels=2", "model.fusion_channels=8", "train.iterations=4",
    "train.iters_per_epoch=2", "train.batch_size=2", "train.val_sequences=1")]


def vidpred(*args, cwd=None, check=False) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "vidpred", *map(str, args)], cwd=cwd,
                       capture_output=True, text=True)
    if check and r.returncode:
        raise SystemExit(f"setup failed: vidpred {' '.join(map(str, args))}\n{r.stderr}")
    return r


def digest(paths) -> str:
    """Hash of every file's path and bytes under the given paths."""
    h = hashlib.sha256()
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for p in files:
            h.update(str(p).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def setup(base: Path, data: Path | None) -> dict:
    """The shared inputs: push data and run, dance data and run, a BAIR download."""
    from tests.data.bair_records import write_download

    push = data or base / "push"
    if data is None:
        vidpred("data", "push", "--out", push, "--train", 8, "--val", 4, "--test", 4, "--quiet",
                check=True)
    vidpred("train", "--data", push, *TINY, "--out", base / "run", "--quiet", check=True)
    dance = base / "dance"
    vidpred("data", "dance", "--out", dance, "--train", 2, "--train-len", 32, "--val-len", 40,
            "--test", 2, "--test-len", 24, "--height", 32, "--width", 64, "--quiet", check=True)
    vidpred("train", "--data", dance, *TINY_DANCE, "--out", base / "dance_run", "--quiet",
            check=True)
    write_download(base / "bair_src", {"train/traj_0_to_255.tfrecords": 2,
                                       "train/traj_256_to_511.tfrecords": 2,
                                       "test/traj_0_to_255.tfrecords": 1})
    return {"push": push, "run": base / "run", "dance": dance, "dance_run": base / "dance_run",
            "bair": base / "bair_src"}


def user_folder(d: Path, run: Path) -> Path:
    """A folder of a user's own files: a config.yaml, a checkpoint and notes."""
    d.mkdir(parents=True)
    shutil.copy(run / "config.yaml", d / "config.yaml")
    (d / "config.yaml").write_text("# my settings\n" + (d / "config.yaml").read_text())
    (d / "my_precious.ckpt").write_bytes(os.urandom(1000))
    (d / "notes.txt").write_text("do not lose\n")
    return d


def killed_train(config: Path, out: Path, lines: int) -> None:
    """Start ``vidpred train`` and SIGKILL it once metrics.jsonl has ``lines`` lines."""
    proc = subprocess.Popen([sys.executable, "-m", "vidpred", "train", "--config", str(config),
                             "--out", str(out), "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    log = out / "metrics.jsonl"
    while proc.poll() is None and not (log.exists() and log.read_text().count("\n") >= lines):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def killed_push(out: Path) -> None:
    """Start ``vidpred data push`` and SIGKILL it once some sequences are written."""
    proc = subprocess.Popen([sys.executable, "-m", "vidpred", "data", "push", "--out", str(out),
                             "--train", "40", "--val", "1", "--test", "1", "--seq-len", "14",
                             "--workers", "1", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and len(list(out.glob("train/*/*"))) < 3:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def tiny_config(s: dict, d: Path, iterations: int = 8, per_epoch: int = 4) -> Path:
    """The tiny run's config as a file, with other iteration counts."""
    text = (s["run"] / "config.yaml").read_text()
    text = text.replace("iterations: 8", f"iterations: {iterations}").replace(
        "iters_per_epoch: 4", f"iters_per_epoch: {per_epoch}")
    d.mkdir(parents=True, exist_ok=True)
    (d / "tiny.yaml").write_text(text)
    return d / "tiny.yaml"


def copy_run(s: dict, d: Path) -> Path:
    shutil.copytree(s["run"], d / "run")
    return d / "run"


# ---- the cases: each returns (argv, paths that must not change, note) --------------------
def c_train_user_overwrite(s, d):
    u = user_folder(d / "mine", s["run"])
    return ["train", "--config", u / "config.yaml", "--data", s["push"], "--out", u,
            "--overwrite", "--quiet"], [u], ""


def c_train_user_folder(s, d):
    u = user_folder(d / "mine", s["run"])
    return ["train", "--config", s["run"] / "config.yaml", "--out", u, "--quiet"], [u], ""


def c_train_out_dot(s, d):
    u = user_folder(d / "mine", s["run"])
    return (["train", "--config", s["run"] / "config.yaml", "--out", ".", "--overwrite",
             "--quiet"], [u], "", u)


def _plan(out, *extra):
    return ["plan", "--planner", "random", "--episodes", 1, "--steps", 2, "--no-gifs", "--quiet",
            "--out", out, *extra]


def c_plan_rerun_fails(s, d):
    vidpred(*_plan(d / "p"), check=True)
    return _plan(d / "p", "--planner", "random,oracle", "--oracle-samples", -5), \
        [d / "p" / "results.json"], ""


def c_plan_rerun(s, d):
    vidpred(*_plan(d / "p"), check=True)
    return _plan(d / "p", "--seed", 1), [d / "p" / "results.json"], ""


def _evaluate(s, out, *extra):
    return ["evaluate", "--ckpt", s["run"] / "best.ckpt", "--data", s["push"], "--samples", 2,
            "--gifs", 1, "--out", out, "--quiet", *extra]


def c_evaluate_rerun(s, d):
    vidpred(*_evaluate(s, d / "e"), check=True)
    return _evaluate(s, d / "e", "--samples", 3), [d / "e" / "metrics.json"], ""


def c_push_mixed(s, d):
    killed_push(d / "data")
    r = vidpred("data", "push", "--out", d / "data", "--train", 8, "--val", 1, "--test", 1,
                "--seq-len", 20, "--seed", 1, "--workers", 1, "--quiet")
    check = vidpred("data", "check", d / "data", "--quiet")
    lengths = sorted({len(list(p.glob("*.png"))) for p in (d / "data").glob("train/*/*")})
    note = f"re-run exit {r.returncode}; frames per sequence {lengths}; data check exit " \
           f"{check.returncode}"
    return ["data", "check", d / "data", "--quiet"], [], note


def c_stray_tmp(s, d):
    cfg = tiny_config(s, d, iterations=12)
    run = d / "run"
    killed_train(cfg, run, 6)  # after the first epoch's checkpoint
    (run / ".last.ckpt.x1y2z3.tmp").write_bytes(os.urandom(4096))

    def note():
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in sorted(run.glob("*.ckpt"))}
        return f"temp files left: {[p.name for p in run.glob('.*tmp')]}; modes {modes}"
    return ["train", "--config", cfg, "--out", run, "--resume", "--quiet"], [], note


def c_eval_numbers(flag, value):
    def case(s, d):
        return _evaluate(s, d / "e", flag, value), [s["push"], s["run"]], ""
    return case


def c_predict_samples0(s, d):
    return ["predict", "--ckpt", s["dance_run"] / "last.ckpt", "--test-dir", s["dance"] / "test",
            "--out", d / "p", "--samples", 0, "--quiet"], [s["dance"]], ""


def c_plan_oracle(s, d):
    return _plan(d / "p", "--planner", "random,oracle", "--oracle-samples", -5), [], ""


def c_out_under_file(cmd):
    def case(s, d):
        (d / "a_file").write_text("x")
        out = d / "a_file" / "out"
        argv = {"evaluate": _evaluate(s, out),
                "predict": ["predict", "--ckpt", s["dance_run"] / "last.ckpt", "--test-dir",
                            s["dance"] / "test", "--out", out, "--quiet"],
                "plan": _plan(out)}[cmd]
        return argv, [d / "a_file"], ""
    return case


def c_predict_wrong_model(s, d):
    def note():
        return f"left in --out: {sorted(p.name for p in (d / 'p').glob('*'))}"
    return ["predict", "--ckpt", s["run"] / "best.ckpt", "--test-dir", s["dance"] / "test",
            "--out", d / "p", "--quiet"], [s["dance"]], note


def c_binary_config(s, d):
    (d / "c.yaml").write_bytes(bytes(range(256)) * 4)
    return ["train", "--config", d / "c.yaml", "--out", d / "r", "--quiet"], [d / "c.yaml"], ""


def c_corrupt_dataset_marker(s, d):
    shutil.copytree(s["push"], d / "data")
    (d / "data" / "vidpred_dataset.json").write_text('{"train": 8, "val')
    return ["data", "push", "--out", d / "data", "--train", 8, "--val", 4, "--test", 4,
            "--quiet"], [d / "data"], ""


def c_corrupt_convert_marker(s, d):
    (d / "conv").mkdir()
    (d / "conv" / "vidpred_convert.json").write_text("{nonsense")
    return ["data", "convert-bair", s["bair"], "--out", d / "conv", "--quiet"], [s["bair"]], ""


def c_compare_log(kind):
    def case(s, d):
        run = copy_run(s, d)
        log = run / "metrics.jsonl"
        if kind == "torn":
            log.write_text(log.read_text()[:-40])
        else:
            log.write_text('{"step": 1, "value": 3}\n{"step": 2, "value": 4}\n')
        return ["compare", run, "--out", d / "cmp"], [run], ""
    return case


def c_resume_torn(s, d):
    run = copy_run(s, d)
    cfg = tiny_config(s, d)
    log = run / "metrics.jsonl"
    log.write_text(log.read_text() + '{"kind": "iter", "itera')
    return ["train", "--config", cfg, "--out", run, "--resume", "--quiet"], [], ""


def c_convert_into_src(s, d):
    src = d / "src"
    shutil.copytree(s["bair"], src)

    def note():
        return f"stray files in SRC: {sorted(p.name for p in src.iterdir())}"
    return ["data", "convert-bair", src, "--out", src, "--quiet"], [], note


def c_ckpt_dir(s, d):
    return _evaluate(s, d / "e")[:2] + [s["run"]] + _evaluate(s, d / "e")[3:], [s["run"]], ""


def c_pose_on_push(s, d):
    return ["evaluate", "--ckpt", s["dance_run"] / "last.ckpt", "--data", s["push"], "--out",
            d / "e", "--samples", 1, "--quiet"], [s["push"]], ""


def c_push_on_dance(s, d):
    return _evaluate(s, d / "e")[:4] + [s["dance"]] + _evaluate(s, d / "e")[5:], [s["dance"]], ""


def _dance_copy(s, d):
    data = d / "dance"
    shutil.copytree(s["dance"], data)
    return data


def c_dance_no_test_labels(s, d):
    data = _dance_copy(s, d)
    for f in (data / "test" / "test_label" / "0").glob("*.png"):
        if f.name != "frame0.png":
            f.unlink()
    check = vidpred("data", "check", data, "--layout", "dance")
    return ["predict", "--ckpt", s["dance_run"] / "last.ckpt", "--test-dir", data / "test",
            "--out", d / "p", "--quiet"], [data], f"data check exit {check.returncode}"


def c_dance_frame_size(s, d):
    from PIL import Image

    data = _dance_copy(s, d)
    Image.new("RGB", (80, 40)).save(data / "train" / "train_img" / "frame3.png")
    check = vidpred("data", "check", data, "--layout", "dance")
    return ["train", "--data", data, *TINY_DANCE, "--out", d / "r", "--quiet"], [data], \
        f"data check exit {check.returncode}"


def c_dance_jpeg(s, d):
    from PIL import Image

    data = _dance_copy(s, d)
    path = data / "train" / "train_img" / "frame3.png"
    Image.open(path).convert("RGB").save(path, format="JPEG")
    check = vidpred("data", "check", data, "--layout", "dance")
    return ["train", "--data", data, *TINY_DANCE, "--out", d / "r", "--quiet"], [data], \
        f"data check exit {check.returncode}: {check.stdout.strip()[-80:]}"


def c_sweep_killed(s, d):
    cfg = tiny_config(s, d, iterations=400, per_epoch=200)
    killed_train(cfg, d / "sw" / "iterations=8", 2)
    return ["sweep", "--config", cfg, "--data", s["push"], "--grid", "iterations=8", "--out",
            d / "sw", "--samples", 1, "--eval-sequences", 1, "--quiet"], [], ""


def c_resume_killed(s, d):
    cfg = tiny_config(s, d, iterations=400, per_epoch=200)
    killed_train(cfg, d / "r", 2)
    cfg.write_text(tiny_config(s, d / "short", iterations=8).read_text())
    return ["train", "--config", cfg, "--out", d / "r", "--resume", "--quiet"], [], ""


def c_corrupt_run_marker(s, d):
    run = copy_run(s, d)
    (run / "vidpred_run.json").write_text("{oops")
    return ["train", "--config", run / "config.yaml", "--out", run, "--overwrite", "--quiet"], \
        [], ""


def c_evaluate_dance_defaults(s, d):
    def note():
        import json
        p = json.loads((d / "e" / "metrics.json").read_text())["protocol"]
        return f"evaluated {p['n_past']} -> {p['n_future']} (trained 1 -> 7)"
    return ["evaluate", "--ckpt", s["dance_run"] / "last.ckpt", "--split", "val", "--samples", 1,
            "--out", d / "e", "--quiet"], [], note


CASES = [
    ("train-user-overwrite", "train --config D/config.yaml --out D --overwrite, D a user's folder",
     c_train_user_overwrite),
    ("train-user-folder", "train --out D, D a user's folder (no flags)", c_train_user_folder),
    ("train-out-dot", "train --out . --overwrite in a user's folder", c_train_out_dot),
    ("plan-rerun-fails", "plan into P again, failing (--oracle-samples -5)", c_plan_rerun_fails),
    ("plan-rerun", "plan into P again without --resume", c_plan_rerun),
    ("evaluate-rerun", "evaluate into E again", c_evaluate_rerun),
    ("push-mixed", "data push killed, re-run with --seed 1 --seq-len 20; data check",
     c_push_mixed),
    ("stray-tmp", "train --resume with a .last.ckpt.*.tmp left by kill -9", c_stray_tmp),
    *[(f"evaluate{flag}={v}", f"evaluate {flag} {v}", c_eval_numbers(flag, v))
      for flag, v in (("--samples", 0), ("--samples", -1), ("--n-future", 0), ("--n-past", 0),
                      ("--max-sequences", 0), ("--max-sequences", -1))],
    ("predict--samples=0", "predict --samples 0", c_predict_samples0),
    ("plan--oracle-samples=-5", "plan --oracle-samples -5", c_plan_oracle),
    *[(f"{cmd}-out-under-file", f"{cmd} --out under a regular file", c_out_under_file(cmd))
      for cmd in ("evaluate", "predict", "plan")],
    ("predict-push-ckpt-on-dance", "predict --test-dir with a push checkpoint",
     c_predict_wrong_model),
    ("binary-config", "train --config of binary bytes", c_binary_config),
    ("corrupt-dataset-marker", "data push into a folder with a corrupt vidpred_dataset.json",
     c_corrupt_dataset_marker),
    ("corrupt-convert-marker", "convert-bair into a folder with a corrupt vidpred_convert.json",
     c_corrupt_convert_marker),
    ("compare-torn", "compare a run whose metrics.jsonl is torn", c_compare_log("torn")),
    ("compare-foreign", "compare a run whose metrics.jsonl is another program's",
     c_compare_log("foreign")),
    ("resume-torn", "train --resume, last line of metrics.jsonl torn", c_resume_torn),
    ("convert-into-src", "data convert-bair SRC --out SRC", c_convert_into_src),
    ("ckpt-is-dir", "evaluate --ckpt RUN_DIR (a directory)", c_ckpt_dir),
    ("pose-ckpt-on-push", "evaluate a pose CVAE checkpoint on push data", c_pose_on_push),
    ("push-ckpt-on-dance", "evaluate a push checkpoint on dance data", c_push_on_dance),
    ("dance-test-labels", "dance: test labels missing: data check, then predict",
     c_dance_no_test_labels),
    ("dance-frame-size", "dance: a wrong-size frame: data check, then train", c_dance_frame_size),
    ("dance-jpeg", "dance: JPEG bytes named .png: data check, then train", c_dance_jpeg),
    ("sweep-killed", "sweep after its run was killed before the first checkpoint",
     c_sweep_killed),
    ("resume-killed", "train --resume after a kill before the first checkpoint",
     c_resume_killed),
    ("corrupt-run-marker", "train --overwrite in a run with a corrupt vidpred_run.json",
     c_corrupt_run_marker),
    ("evaluate-dance-defaults", "evaluate a 1 -> 7 dance checkpoint without --n-past/--n-future",
     c_evaluate_dance_defaults),
]


def run_case(s: dict, d: Path, fn) -> str:
    d.mkdir(parents=True)
    argv, watch, note, *cwd = fn(s, d)
    before = digest(watch)
    r = vidpred(*argv, cwd=cwd[0] if cwd else None)
    lost = "yes" if digest(watch) != before else ""
    traceback = "yes" if "Traceback" in r.stderr else ""
    last = (r.stderr.strip().splitlines() or [""])[-1].replace(str(d), "D").replace(
        str(s["run"].parent), "S").replace("|", "/")
    if callable(note):
        try:
            note = note()
        except Exception as e:  # a note about what was left behind, not the case itself
            note = f"({type(e).__name__}: {e})"
    return f"{r.returncode} | {traceback} | {lost} | {last[:160]} | {note}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", help="working folder (default: a temporary one)")
    p.add_argument("--data", help="a tiny push set to reuse")
    p.add_argument("--only", help="comma list of case ids")
    args = p.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="cli_edges_"))
    try:
        s = setup(base / "shared", Path(args.data) if args.data else None)
        only = set(args.only.split(",")) if args.only else None
        print("| case | what | exit | traceback | lost | last stderr line | note |")
        print("|---|---|---|---|---|---|---|")
        for cid, what, fn in CASES:
            if only is None or cid in only:
                print(f"| {cid} | {what} | {run_case(s, base / 'cases' / cid, fn)} |", flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
