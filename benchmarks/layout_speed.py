"""channels_last against NCHW: vidpred's own training step in both memory layouts, and
BatchNorm alone.

- Steps: one config (``--config``, a key of ``benchmarks/train_speed.py``: a, b, c or d) is built
  twice from the same seed, once per layout (``train.channels_last`` true and false), and
  :func:`vidpred.training.step.train_step` (what the training loop calls, in the config's
  precision on this machine) is timed on batches of the built-in data, teacher-forced and
  free-running (the model's own previous prediction read back after the context, as training
  does once the teacher-forcing ratio has decayed). The two layouts take turns in rounds in one
  process (which goes first alternates), so both see the same machine state; printed per kind
  of step: the median over the rounds of each layout's mean step, and the range of the rounds'
  channels_last / NCHW ratios.
- ``--batchnorm``: one ``F.batch_norm`` forward and backward in training mode over a
  (16, C, 32, 64) activation (the dance demo's batch x time chunk, 32 x 64 frames) for several
  channel counts C, in both layouts, bf16 and float32 (the dance demo's layers have 4 to 68
  channels; channels_last is far slower where the count is not a multiple of 16).

    python benchmarks/layout_speed.py [--config d] [--rounds 6] [--steps-per-round 3]
        [--batchnorm] [--threads 0]

Figures from this script are in docs/speed.md (the dance step in NCHW).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from train_speed import CONFIGS, NAMES, built_in_data  # same folder

from vidpred.config import Config
from vidpred.data import make_dataset
from vidpred.device import configure_process, use_bf16
from vidpred.models import build_model
from vidpred.training.step import IterationSampler, make_optimizer, train_step

LAYOUTS = {"channels_last": True, "NCHW": False}


def step_times(key: str, rounds: int, per_round: int) -> dict:
    """Time ``rounds`` interleaved rounds of ``per_round`` training steps per layout and kind.

    Returns:
        ``{"times": {(layout, teacher_forcing): [mean s per step, one per round]},
        "ratios": {teacher_forcing: [channels_last s / NCHW s, one per round]},
        "bf16": whether the steps ran under bf16 autocast}``; layouts are the keys of
        ``LAYOUTS``.
    """
    runs, dataset, cfg = {}, None, None
    for name, channels_last in LAYOUTS.items():
        cfg = Config.load(CONFIGS / f"{NAMES[key]}.yaml")
        cfg.train.channels_last = channels_last
        cfg.data.root = str(built_in_data(cfg.data.layout))
        if dataset is None:
            dataset = make_dataset(cfg.data.root, cfg.data.layout, "train",
                                   cfg.data.n_past + cfg.data.n_future, train=True,
                                   image_size=cfg.data.image_size,
                                   image_width=cfg.data.image_width)
        torch.manual_seed(0)
        model = build_model(cfg)
        model.prepare(dataset)
        runs[name] = (model, make_optimizer(model.parameters(), cfg.train.lr))
    bf16 = use_bf16(cfg.train.precision, torch.device("cpu"))[0]
    sampler = IterationSampler(len(dataset), cfg.train.batch_size, cfg.train.seed)

    def step(name: str, it: int, teacher_forcing: bool) -> float:
        model, opt = runs[name]
        frames, cond = dataset.batch(sampler.draw(it)[0])
        cond = cond if cfg.model.cond_dim else None
        t0 = time.perf_counter()
        train_step(model, opt, frames, cond, cfg.data.n_past, cfg.train.beta,
                   teacher_forcing=teacher_forcing, grad_clip=cfg.train.grad_clip, bf16=bf16)
        return time.perf_counter() - t0

    for name in runs:  # warm-up: the allocator and oneDNN's kernel caches
        for tf in (True, False):
            step(name, 0, tf)
            step(name, 1, tf)
    times = {(name, tf): [] for name in runs for tf in (True, False)}
    ratios = {True: [], False: []}
    it = 2
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(runs)[::-1]
        for tf in (True, False):
            spent = {}
            for name in order:
                spent[name] = sum(step(name, it + k, tf) for k in range(per_round))
                times[(name, tf)] += [spent[name] / per_round]
            ratios[tf].append(spent["channels_last"] / spent["NCHW"])
            it += per_round
    return {"times": times, "ratios": ratios, "bf16": bf16}


def batchnorm_ms(shape: tuple[int, ...], dtype: torch.dtype, channels_last: bool,
                 reps: int = 20) -> float:
    """Mean ms of one training-mode ``F.batch_norm`` forward + backward (input, weight and bias
    gradients) over a random (N, C, H, W) activation of ``shape`` in ``dtype``, float32 weight
    and bias, in the channels_last or the NCHW layout."""
    x = torch.randn(shape, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    w = torch.randn(shape[1], requires_grad=True)
    b = torch.randn(shape[1], requires_grad=True)
    grad = torch.randn_like(x)

    def once():
        torch.autograd.grad(F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5), (x, w, b), grad)

    for _ in range(3):
        once()
    t0 = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - t0) / reps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="d", choices=sorted(NAMES),
                        help="train_speed.py's key of the config to time (default d: dance_cpu)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    parser.add_argument("--steps-per-round", type=int, default=3,
                        help="steps per layout, kind of step and round")
    parser.add_argument("--batchnorm", action="store_true",
                        help="time BatchNorm alone instead of training steps")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = physical cores)")
    args = parser.parse_args()
    configure_process(args.threads)
    if args.batchnorm:
        channels = (4, 6, 8, 12, 16, 32, 68)
        print("BatchNorm forward + backward, (16, C, 32, 64), ms: "
              + " ".join(f"C={c}" for c in channels))
        for dtype in (torch.bfloat16, torch.float32):
            for name, channels_last in LAYOUTS.items():
                ms = [batchnorm_ms((16, c, 32, 64), dtype, channels_last) for c in channels]
                print(f"{str(dtype)[6:]:8s} {name:13s} " + " ".join(f"{m:6.2f}" for m in ms),
                      flush=True)
        return
    res = step_times(args.config, args.rounds, args.steps_per_round)
    print(f"{NAMES[args.config]}: ours in both layouts, {'bf16' if res['bf16'] else 'float32'}, "
          f"{args.rounds} interleaved rounds of {args.steps_per_round} steps")
    for tf in (True, False):
        med = {name: statistics.median(res["times"][(name, tf)]) for name in LAYOUTS}
        r = res["ratios"][tf]
        print(f"  {'teacher-forced' if tf else 'free-running':15s} channels_last "
              f"{med['channels_last'] * 1000:7.1f} ms/step  "
              f"NCHW {med['NCHW'] * 1000:7.1f} ms/step  "
              f"channels_last / NCHW {med['channels_last'] / med['NCHW']:.2f} "
              f"(rounds {min(r):.2f}-{max(r):.2f})")


if __name__ == "__main__":
    main()
