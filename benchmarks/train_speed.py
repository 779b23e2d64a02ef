"""Training throughput of vidpred's batched passes against the straightforward per-step loop.

For each config it builds one model, copies it, and times full training steps (batch from the
real built-in dataset, forward, backward, Adam step) of

- ``ours``: the model's batched ``forward`` (every ground-truth frame through the encoder in one
  call, LSTMs over the whole sequence in one call, one decoder call), and
- ``reference``: :mod:`tests.reference`, the loop SVG and the course templates use (the
  encoder called per step on x_{t-1} and again on x_t, LSTMs one step at a time),

interleaved in rounds in the same process. Before timing, both compute the first step's loss
from the same seed and weights with BatchNorm in eval mode (in train mode each per-step call of
the reference normalizes over B frames instead of B x T, as the templates do), and it checks
|loss_ours - loss_reference| <= 1e-5 and the gradients.

Configs (``--configs``, default ``a,b,c``):

    a  configs/bair_svg_lp.yaml   SVG-LP vgg64, BAIR paper setting (g 128, z 64, rnn 256,
                                  batch 12, 2 + 10 frames, 64 x 64)
    b  configs/push_cpu.yaml      the CPU demo config (SVG-LP dcgan64 width 16, batch 16)
    c  configs/dance_template.yaml  the pose CVAE at template size, 32 x 64, 16-frame clips
    d  configs/dance_cpu.yaml     the pose CVAE the dance demo trains

Printed per config: training frames/s (frames = batch x predicted frames), step time, share of
the step spent waiting for data, peak RSS, ``speedup=`` (ours / reference). ``--profile`` adds a
torch.profiler table of one step and the step's achieved GFLOP/s (FLOPs counted by
``torch.utils.flop_counter.FlopCounterMode``) next to a large matmul's GFLOP/s on the same
machine. Each config runs in its own process so peak RSS is its own.

    python benchmarks/train_speed.py [--configs a,b,c] [--steps 16] [--rounds 8] [--device cpu|cuda]
        [--precision config|float32] [--channels-last auto|on|off] [--compile] [--profile]
        [--threads 0] [--set K=V]

Each config is timed as it ships: (b) with its condition points and its frame memory (filled
from the training split before timing, as training does; the reference loop adds the points'
maps to each step's decoder and calls the same output head per step, see
:mod:`tests.reference`). ``--precision config`` (the default) times ``ours`` in the precision a
user of the config gets on this machine (``train.precision``: ``auto`` and ``bf16`` mean bf16
autocast on a CPU with AVX512-BF16 or AMX); ``--precision float32`` times it in float32. The
reference always runs float32 on a CPU (bf16 autocast on CUDA), and the loss check is float32.
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the per-step reference in tests/

from tests.reference import draw_noise, reference_forward  # noqa: E402
from vidpred.config import Config  # noqa: E402
from vidpred.data import cache_root, make_dataset  # noqa: E402
from vidpred.device import (  # noqa: E402
    autocast,
    configure_process,
    resolve_device,
    synchronize,
    use_bf16,
)
from vidpred.models import build_model  # noqa: E402
from vidpred.training.step import IterationSampler, make_optimizer, train_step  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NAMES = {"a": "bair_svg_lp", "b": "push_cpu", "c": "dance_template", "d": "dance_cpu"}
TOLERANCE = 1e-5


def built_in_data(layout: str) -> Path:
    """The default built-in dataset for a layout, generated on first use."""
    if layout == "dance":
        from vidpred.data.sim_dance import DanceSpec, generate_dance_dataset
        return generate_dance_dataset(cache_root() / "dance-scenes-seed0", DanceSpec(), progress=False)
    from vidpred.data.sim_push import PushSpec, generate_push_dataset
    return generate_push_dataset(cache_root() / "push-v2-seed0", PushSpec(), progress=False)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TrainingPath:
    """One implementation (ours or reference) with its own model copy and optimizer."""

    def __init__(self, name, model, cfg, device, compiled=False):
        self.name, self.model, self.cfg, self.device = name, model, cfg, device
        # ours: the training loop's optimizer; reference: the Adam call SVG's train.py writes
        self.opt = make_optimizer(model.parameters(), cfg.train.lr) if name == "ours" else \
            torch.optim.Adam(model.parameters(), lr=cfg.train.lr, betas=(0.9, 0.999))
        self.fn = model
        if name == "ours" and compiled:
            self.fn = torch.compile(model)
        self.step_s: list[float] = []
        self.data_s: list[float] = []

    def loss(self, frames, cond, beta):
        n_past = self.cfg.data.n_past
        if self.name == "ours":
            return self.fn(frames, cond, n_past, beta, teacher_forcing=True)
        eps = draw_noise(self.model, frames)
        return reference_forward(self.model, frames, cond, n_past, beta, eps)

    def step(self, dataset, indices, beta, record=True):
        synchronize(self.device)
        t0 = time.perf_counter()
        frames, cond = dataset.batch(indices)
        frames = frames.to(self.device, non_blocking=True)
        cond = cond.to(self.device, non_blocking=True) if self.cfg.model.cond_dim else None
        t1 = time.perf_counter()
        if self.name == "ours":  # the training loop's own step, in the config's precision
            train_step(self.fn, self.opt, frames, cond, self.cfg.data.n_past, beta,
                       grad_clip=self.cfg.train.grad_clip, parameters=self.model.parameters(),
                       bf16=use_bf16(self.cfg.train.precision, self.device)[0])
        else:
            with autocast(self.device):
                out = self.loss(frames, cond, beta)
            self.opt.zero_grad(set_to_none=True)
            out.loss.backward()
            if self.cfg.train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
            self.opt.step()
        synchronize(self.device)
        t2 = time.perf_counter()
        if record:
            self.step_s.append(t2 - t0)
            self.data_s.append(t1 - t0)


def check_same_loss(ours: TrainingPath, ref: TrainingPath, frames, cond, beta) -> dict:
    """First-step loss and gradients of both paths from the same seed, BatchNorm in eval mode,
    in float32 (no autocast; on CUDA with TF32 off, which would round both paths differently)."""
    res = {}
    grads = []
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    for p in (ours, ref):
        # only BatchNorm: cuDNN's LSTM has no backward in eval mode
        for m in p.model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
        torch.manual_seed(1234)
        p.model.zero_grad(set_to_none=True)
        out = p.loss(frames, cond, beta)  # float32 check, outside autocast
        out.loss.backward()
        res[p.name] = float(out.loss)
        grads.append(torch.cat([q.grad.flatten() for q in p.model.parameters() if q.grad is not None]))
        p.model.zero_grad(set_to_none=True)
        p.model.train()
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    res["abs_diff"] = abs(res["ours"] - res["reference"])
    res["grad_rel_diff"] = float((grads[0] - grads[1]).norm() / grads[1].norm().clamp_min(1e-30))
    return res


def matmul_gflops(device, n: int = 4096, reps: int = 5) -> float:
    """float32 GFLOP/s of an n x n matmul: the practical ceiling of this machine."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    synchronize(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def step_flops(path: TrainingPath, dataset, indices, beta) -> int:
    """FLOPs of one training step of ``path`` (forward, backward), counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        path.step(dataset, indices, beta, record=False)
    return counter.get_total_flops()


def profile_step(path: TrainingPath, dataset, indices, beta, rows: int = 12) -> tuple[str, int]:
    """torch.profiler table (top operators by self time) and FLOPs of one training step."""
    from torch.profiler import ProfilerActivity, profile

    flops = step_flops(path, dataset, indices, beta)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if path.device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        path.step(dataset, indices, beta, record=False)
    key = "self_cuda_time_total" if path.device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows), flops


def run_config(key: str, args) -> dict:
    """Benchmark one config in this process; returns the figures as a dict."""
    device = resolve_device(args.device)
    configure_process(args.threads)  # as the CLI does (both paths run in this process)
    cfg = Config.load(CONFIGS / f"{NAMES[key]}.yaml")
    if args.precision == "float32":
        cfg.train.precision = "float32"
    cfg.apply_overrides(args.set or [])
    if args.channels_last != "auto":
        cfg.train.channels_last = args.channels_last == "on"
    cfg.data.root = str(built_in_data(cfg.data.layout))
    seq_len = cfg.data.n_past + cfg.data.n_future
    dataset = make_dataset(cfg.data.root, cfg.data.layout, "train", seq_len, train=True,
                           image_size=cfg.data.image_size, image_width=cfg.data.image_width)
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    model.prepare(dataset)  # a frame memory is filled from the training split, as in training
    ours = TrainingPath("ours", model, cfg, device, compiled=args.compile)
    # the straightforward implementation keeps PyTorch's default NCHW layout
    ref = TrainingPath("reference", copy.deepcopy(model).to(memory_format=torch.contiguous_format), cfg,
                device)
    sampler = IterationSampler(len(dataset), cfg.train.batch_size, cfg.train.seed)
    beta = cfg.train.beta
    frames, cond = dataset.batch(sampler.draw(0)[0])
    check = check_same_loss(ours, ref, frames.to(device),
                            cond.to(device) if cfg.model.cond_dim else None, beta)

    t0 = time.perf_counter()
    ours.step(dataset, sampler.draw(0)[0], beta, record=False)  # warm-up (and compilation)
    first_step_s = time.perf_counter() - t0
    ref.step(dataset, sampler.draw(0)[0], beta, record=False)
    rss_after_ours = peak_rss_mib()
    it = 1
    for _ in range(args.rounds):  # interleaved so both see the same machine state
        for p in (ours, ref):
            for k in range(args.steps // args.rounds):
                p.step(dataset, sampler.draw(it + k)[0], beta)
        it += args.steps // args.rounds
    res = {"config": key, "name": NAMES[key], "check": check, "device": str(device),
           "threads": torch.get_num_threads(), "channels_last": cfg.train.channels_last,
           "compile": args.compile, "first_step_s": first_step_s,
           "bf16": use_bf16(cfg.train.precision, device)[0],
           "params": sum(q.numel() for q in model.parameters()),
           "frames_per_step": cfg.train.batch_size * cfg.data.n_future}
    for p in (ours, ref):
        med = sorted(p.step_s)[len(p.step_s) // 2]
        res[p.name] = {"step_s": med, "frames_per_s": res["frames_per_step"] / med,
                       "data_share": sum(p.data_s) / sum(p.step_s)}
    res["speedup"] = res["reference"]["step_s"] / res["ours"]["step_s"]
    per = args.steps // args.rounds  # the speedup of each round alone shows the run's noise
    res["round_speedups"] = [sum(ref.step_s[i:i + per]) / sum(ours.step_s[i:i + per])
                             for i in range(0, len(ours.step_s), per)]
    res["peak_rss_mib"] = peak_rss_mib()
    res["peak_rss_ours_mib"] = rss_after_ours
    if device.type == "cuda":
        res["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    if args.profile:
        table, flops = profile_step(ours, dataset, sampler.draw(0)[0], beta)
        res["profile"] = table
        res["gflops_step"] = flops / 1e9
        res["gflops_per_s"] = flops / res["ours"]["step_s"] / 1e9
        ref_flops = step_flops(ref, dataset, sampler.draw(0)[0], beta)
        res["reference_gflops_step"] = ref_flops / 1e9
        res["reference_gflops_per_s"] = ref_flops / res["reference"]["step_s"] / 1e9
        res["matmul_gflops_per_s"] = matmul_gflops(device)
    return res


def describe(r: dict) -> str:
    o, f = r["ours"], r["reference"]
    c = r["check"]
    line = (f"({r['config']}) {r['name']:15s} ours {o['frames_per_s']:7.1f} frames/s "
            f"({o['step_s'] * 1000:7.1f} ms/step, data wait {100 * o['data_share']:.1f}%)  "
            f"reference {f['frames_per_s']:7.1f} frames/s ({f['step_s'] * 1000:7.1f} ms/step)  "
            f"speedup={r['speedup']:.2f} (rounds {min(r['round_speedups']):.2f}-"
            f"{max(r['round_speedups']):.2f})  loss ours {c['ours']:.6f} ref {c['reference']:.6f} "
            f"|diff| {c['abs_diff']:.1e} grad rel diff {c['grad_rel_diff']:.1e}  "
            f"peak RSS {r['peak_rss_ours_mib']:.0f} MiB (ours) {r['peak_rss_mib']:.0f} MiB (both)  "
            f"params {r['params']:,}  {r['device']} threads={r['threads']} "
            f"channels_last={r['channels_last']} compile={r['compile']} bf16={r['bf16']}"
            f" (first step {r['first_step_s']:.1f} s)")
    if "peak_gpu_mib" in r:
        line += f"  peak GPU {r['peak_gpu_mib']:.0f} MiB"
    return line


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="a,b,c", help="comma-separated keys among a,b,c,d")
    p.add_argument("--steps", type=int, default=16, help="timed training steps per path")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds (steps split among "
                   "them): more rounds, less sensitive to the machine's speed drifting")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument("--precision", default="config", choices=("config", "float32"),
                   help="ours in the config's train.precision as training resolves it on this "
                        "machine (default), or in float32; the reference runs float32 on a CPU")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = physical cores)")
    p.add_argument("--channels-last", default="auto", choices=("auto", "on", "off"),
                   help="memory layout of the convolutions (auto = the config's)")
    p.add_argument("--compile", action="store_true", help="torch.compile our model (time of "
                   "the first, compiling step is printed)")
    p.add_argument("--profile", action="store_true", help="profiler table and GFLOP/s")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override for every config, e.g. model.time_chunk=0")
    p.add_argument("--only", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.only:  # child process: one config, one JSON line
        print("RESULT " + json.dumps(run_config(args.only, args)))
        return
    failed = False
    for key in args.configs.split(","):
        cmd = [sys.executable, __file__, "--only", key, "--steps", str(args.steps),
               "--rounds", str(args.rounds), "--device", args.device, "--precision",
               args.precision, "--threads",
               str(args.threads), "--channels-last", args.channels_last] \
            + ["--compile"] * args.compile + ["--profile"] * args.profile \
            + [x for kv in args.set or [] for x in ("--set", kv)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"({key}) failed:\n{proc.stderr[-3000:]}")
            failed = True
            continue
        r = json.loads(lines[-1][7:])
        print(describe(r), flush=True)
        if r["check"]["abs_diff"] > TOLERANCE:
            print(f"({key}) LOSS MISMATCH: |diff| {r['check']['abs_diff']:.2e} > {TOLERANCE}")
            failed = True
        if "profile" in r:
            print(f"({key}) one step: {r['gflops_step']:.1f} GFLOP, achieved "
                  f"{r['gflops_per_s']:.1f} GFLOP/s = "
                  f"{100 * r['gflops_per_s'] / r['matmul_gflops_per_s']:.0f}% of a 4096^2 float32 "
                  f"matmul's {r['matmul_gflops_per_s']:.1f} GFLOP/s; the reference "
                  f"{r['reference_gflops_step']:.1f} GFLOP at {r['reference_gflops_per_s']:.1f} "
                  f"GFLOP/s (its FLOPs / ours = {r['reference_gflops_step'] / r['gflops_step']:.2f}: "
                  "the speedup at equal GFLOP/s)")
            print(r["profile"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
