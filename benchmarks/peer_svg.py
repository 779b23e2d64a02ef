"""Training-step speed of vidpred against the original SVG code (Denton & Fergus, ICML 2018).

Times, side by side in one process, full training steps (batch from vidpred's built-in push
data, forward, backward, optimizer steps) of

- ``ours``: vidpred's training step for ``configs/bair_svg_lp.yaml`` exactly as
  ``benchmarks/train_speed.py`` times it (its ``TrainingPath``; batched passes, the training
  loop's optimizer, the config's ``channels_last``), at the config's own precision unless
  ``--precision`` says otherwise, and
- ``svg``: the ``train(x)`` function of the original SVG-LP script (``train_svg_lp.py`` of
  github.com/edenton/svg, vgg_64 encoder/decoder, ``models/lstm.py``), with its own five
  modules, its five Adam optimizers and its loss, fed the same batches as SVG's loader would
  (a list of T tensors (B, C, 64, 64)),

at the paper's BAIR setting (vgg64, g_dim 128, z_dim 64, rnn_size 256, predictor 2 layers,
posterior and prior 1, n_past 2, n_future 10, beta 1e-4, lr 0.002, Adam; batch 12, the
config's). Interleaved in rounds after one warm-up step each, with the same torch threads
(``vidpred.device.configure_process``).

SVG's code is not part of vidpred: bring your own checkout,

    git clone https://github.com/edenton/svg
    python benchmarks/peer_svg.py --svg svg [--batch 12] [--rounds 8] [--steps-per-round 2]
        [--precision config|float32|bf16] [--threads 0]

The script reads ``train_svg_lp.py`` and ``models/lstm.py`` as text and applies a short list
of patches that only make them run on a CPU with today's PyTorch and stop before the data
loaders and the training loop (``PATCHES`` below; the list is printed); ``utils.py`` is not
imported (it needs scikit-learn, scipy.misc and removed scikit-image functions), only its
``init_weights`` is taken from it. SVG's modules stay in float32, NCHW, as written.

Printed: the patches, SVG's arguments, both models' parameter counts, then per path the median
ms/step and training frames/s (frames = batch x n_future), ``speedup=`` (svg ms / ours ms, with
the range of the rounds' own ratios), peak RSS (after our warm-up alone, and in all), the torch
version, threads and CPU model.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import io
import platform
import sys
import time
import types
import warnings
from pathlib import Path

import torch

from train_speed import CONFIGS, TrainingPath, built_in_data, peak_rss_mib  # same folder
from vidpred.config import Config
from vidpred.data import make_dataset
from vidpred.device import configure_process, use_bf16
from vidpred.models import build_model
from vidpred.training.step import IterationSampler

TRAIN_SCRIPT = "train_svg_lp.py"  # the SVG-LP script (the repository has no train.py)
# (file, old text, new text, why): each old text must occur in the checkout
PATCHES = [
    (TRAIN_SCRIPT, "import utils\n", "",
     "utils.py needs scikit-learn, scipy.misc, skimage.measure.compare_psnr (removed in "
     "scikit-image 0.19): a module holding only its init_weights is given instead"),
    (TRAIN_SCRIPT, "import progressbar\n", "", "used only by the training loop"),
    (TRAIN_SCRIPT, "opt = parser.parse_args()", "opt = parser.parse_args(SVG_ARGV)",
     "argparse reads this benchmark's settings, not sys.argv"),
    (TRAIN_SCRIPT, "os.makedirs('%s/gen/' % opt.log_dir, exist_ok=True)\n", "", "no log dir"),
    (TRAIN_SCRIPT, "os.makedirs('%s/plots/' % opt.log_dir, exist_ok=True)\n", "", "no log dir"),
    (TRAIN_SCRIPT, "torch.cuda.FloatTensor", "torch.FloatTensor", "CPU"),
    (TRAIN_SCRIPT, ".cuda()", "", "CPU (the modules, the MSE criterion)"),
    ("models/lstm.py", ".cuda()", "", "CPU (init_hidden's zero states)"),
]
# the parts of the patched train_svg_lp.py that run: everything before the data loaders, then
# the training function alone (no loaders, plotting functions or training loop)
KEEP = [(None, "# --------- load a dataset"),
        ("# --------- training funtions", "# --------- training loop")]


def patch(svg: Path, name: str, applied: list[str]) -> str:
    """The text of ``svg/name`` with its PATCHES applied (each listed in ``applied``)."""
    text = (svg / name).read_text()
    for file, old, new, why in PATCHES:
        if file != name:
            continue
        n = text.count(old)
        if not n:
            raise SystemExit(f"{svg / name}: {old!r} not found; is --svg an edenton/svg checkout?")
        text = text.replace(old, new)
        applied.append(f"{name}: {old.strip()!r} -> {new.strip()!r} (x{n}): {why}")
    return text


def load_svg(svg: Path, argv: list[str]) -> tuple[dict, list[str]]:
    """Run the patched definitions of SVG's train_svg_lp.py; returns its namespace (``train``,
    ``encoder``, ``decoder``, ``frame_predictor``, ``posterior``, ``prior``, ``opt``, ...) and
    the patches applied."""
    applied: list[str] = []
    # ``import models.lstm`` / ``models.vgg_64`` resolve to the checkout; lstm.py patched
    pkg = types.ModuleType("models")
    pkg.__path__ = [str(svg / "models")]
    lstm = types.ModuleType("models.lstm")
    lstm.__file__ = str(svg / "models/lstm.py")
    exec(compile(patch(svg, "models/lstm.py", applied), lstm.__file__, "exec"), lstm.__dict__)
    pkg.lstm = lstm
    # utils: only init_weights, taken from the checkout's utils.py
    utils = types.ModuleType("utils")
    tree = ast.parse((svg / "utils.py").read_text())
    tree.body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "init_weights"]
    exec(compile(tree, str(svg / "utils.py"), "exec"), utils.__dict__)
    saved = {k: v for k, v in sys.modules.items() if k == "models" or k.startswith("models.")}
    sys.modules.update({"models": pkg, "models.lstm": lstm})

    text = patch(svg, TRAIN_SCRIPT, applied)
    parts = []
    for start, end in KEEP:
        i = text.index(start) if start else 0
        parts.append(text[i:text.index(end)])
    applied.append(f"{TRAIN_SCRIPT}: runs only up to {KEEP[0][1]!r} and the part from "
                   f"{KEEP[1][0]!r} to {KEEP[1][1]!r} (no data loaders, plots or training loop)")
    ns = {"__name__": "svg_train_svg_lp", "__file__": str(svg / TRAIN_SCRIPT),
          "SVG_ARGV": argv, "utils": utils}
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its "Random Seed" and print(opt)
            exec(compile("".join(parts), ns["__file__"], "exec"), ns)
    finally:  # the modules keep their classes; sys.modules gets its own "models" back
        for k in [k for k in sys.modules if k == "models" or k.startswith("models.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return ns, applied


class SvgPath:
    """SVG's ``train(x)`` on a vidpred batch, timed like TrainingPath.step (data included)."""

    name = "svg"

    def __init__(self, ns: dict):
        self.train = ns["train"]
        self.modules = [ns[k] for k in ("encoder", "decoder", "frame_predictor", "posterior",
                                        "prior")]
        self.step_s: list[float] = []
        self.data_s: list[float] = []

    def step(self, dataset, indices, beta=None, record=True):  # beta: SVG's opt.beta
        t0 = time.perf_counter()
        frames, _ = dataset.batch(indices)  # (B, T, C, H, W)
        x = list(frames.transpose(0, 1))  # T views (B, C, H, W), as SVG's normalize_data gives
        t1 = time.perf_counter()
        self.train(x)
        t2 = time.perf_counter()
        if record:
            self.step_s.append(t2 - t0)
            self.data_s.append(t1 - t0)


def svg_argv(cfg, batch: int) -> list[str]:
    """SVG's command line (README, BAIR) with our config's sizes."""
    m, d, t = cfg.model, cfg.data, cfg.train
    return ["--dataset", "bair", "--model", "vgg", "--image_width", str(d.image_size),
            "--channels", "3", "--batch_size", str(batch), "--g_dim", str(m.g_dim),
            "--z_dim", str(m.z_dim), "--rnn_size", str(m.rnn_size),
            "--predictor_rnn_layers", str(m.predictor_layers),
            "--posterior_rnn_layers", str(m.posterior_layers),
            "--prior_rnn_layers", str(m.prior_layers), "--n_past", str(d.n_past),
            "--n_future", str(d.n_future), "--beta", str(t.beta), "--lr", str(t.lr),
            "--optimizer", "adam"]


def n_params(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def biases_before_batchnorm(modules) -> int:
    """Bias entries of the convolutions directly followed by a BatchNorm (which cancels them)."""
    n = 0
    for m in modules:
        for seq in m.modules():
            if isinstance(seq, torch.nn.Sequential):
                for a, b in zip(seq, list(seq)[1:]):
                    if isinstance(a, torch.nn.modules.conv._ConvNd) and a.bias is not None \
                            and isinstance(b, torch.nn.modules.batchnorm._BatchNorm):
                        n += a.bias.numel()
    return n


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--svg", type=Path, required=True, help="a checkout of "
                   "https://github.com/edenton/svg")
    p.add_argument("--batch", type=int, default=12, help="batch size (default: the config's 12)")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    p.add_argument("--steps-per-round", type=int, default=2, help="timed steps per path and round")
    p.add_argument("--precision", default="config", choices=("config", "float32", "bf16"),
                   help="our step's train.precision (default: the config's); SVG stays float32")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = physical cores)")
    args = p.parse_args()

    device = torch.device("cpu")
    configure_process(args.threads)  # for both paths
    cfg = Config.load(CONFIGS / "bair_svg_lp.yaml")
    cfg.model.cond_points, cfg.model.retrieval = 0, 0  # SVG's step, as train_speed times it
    if args.precision != "config":
        cfg.train.precision = args.precision
    cfg.train.batch_size = args.batch
    bf16, note = use_bf16(cfg.train.precision, device)
    if note:
        print(note)
    cfg.data.root = str(built_in_data(cfg.data.layout))
    dataset = make_dataset(cfg.data.root, cfg.data.layout, "train",
                           cfg.data.n_past + cfg.data.n_future, train=True,
                           image_size=cfg.data.image_size, image_width=cfg.data.image_width)
    sampler = IterationSampler(len(dataset), args.batch, cfg.train.seed)
    beta = cfg.train.beta

    torch.manual_seed(0)
    ours = TrainingPath("ours", build_model(cfg).to(device), cfg, device)
    ours.step(dataset, sampler.draw(0)[0], beta, record=False)  # warm-up
    rss_ours = peak_rss_mib()

    argv = svg_argv(cfg, args.batch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns, applied = load_svg(args.svg.expanduser().resolve(), argv)
        svg = SvgPath(ns)
        svg.step(dataset, sampler.draw(0)[0], record=False)  # warm-up
    print(f"SVG: {args.svg / TRAIN_SCRIPT}, patches applied:")
    for line in applied:
        print(f"  - {line}")
    print("SVG arguments: " + " ".join(argv))
    for w in {(w.category.__name__, str(w.message)) for w in caught}:
        print(f"SVG warning: {w[0]}: {w[1]}")

    n_ours, n_svg = n_params([ours.model]), n_params(svg.modules)
    print(f"parameters: ours {n_ours:,}  svg {n_svg:,}  ({n_ours - n_svg:+,})")
    for part in ("encoder", "decoder", "frame_predictor", "posterior", "prior"):
        a, b = n_params([getattr(ours.model, part)]), n_params([ns[part]])
        print(f"  {part:16s} ours {a:>11,}  svg {b:>11,}  ({a - b:+,})")
    cancelled = biases_before_batchnorm(svg.modules)
    print(f"  SVG's convolutions followed by BatchNorm carry {cancelled:,} bias entries, which "
          f"BatchNorm's mean subtraction cancels; vidpred leaves them out"
          + (" (that is the whole difference)" if n_svg - n_ours == cancelled else
             f" ({n_svg - n_ours - cancelled:+,} more differ)"))

    it = 1
    for _ in range(args.rounds):  # interleaved so both see the same machine state
        for path in (ours, svg):
            for k in range(args.steps_per_round):
                path.step(dataset, sampler.draw(it + k)[0], beta)
        it += args.steps_per_round

    frames = args.batch * cfg.data.n_future
    med = {}
    for path in (ours, svg):
        med[path.name] = sorted(path.step_s)[len(path.step_s) // 2]
        print(f"{path.name:4s} {med[path.name] * 1000:8.1f} ms/step (median of "
              f"{len(path.step_s)})  {frames / med[path.name]:6.1f} frames/s  data wait "
              f"{100 * sum(path.data_s) / sum(path.step_s):.1f}%")
    n = args.steps_per_round
    rounds = [sum(svg.step_s[i:i + n]) / sum(ours.step_s[i:i + n])
              for i in range(0, len(ours.step_s), n)]
    print(f"speedup={med['svg'] / med['ours']:.2f} (svg ms / ours ms; rounds "
          f"{min(rounds):.2f}-{max(rounds):.2f})  batch {args.batch} x {cfg.data.n_future} "
          f"frames  ours precision={cfg.train.precision} (bf16={bf16}) "
          f"channels_last={cfg.train.channels_last}")
    print(f"peak RSS {rss_ours:.0f} MiB (ours) {peak_rss_mib():.0f} MiB (both)  torch "
          f"{torch.__version__}  threads={torch.get_num_threads()}  CPU {cpu_model()}")


if __name__ == "__main__":
    main()
