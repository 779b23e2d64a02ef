"""``vidpred demo``: the main job in one call. Get the data (generate the built-in robot-pushing
or dance videos, or convert your own footage with ``video``), train (resuming an unfinished run in
the same folder), evaluate on the test split, and write the GIFs and the report page.

Every setting is checked up front (:class:`DemoSettings`, then the evaluation's
:class:`~vidpred.evaluation.evaluate.EvaluateSettings` and the config), so a bad value stops
before any data is made or any training starts. A second demo into the same ``out`` continues:
the data is reused, an unfinished training resumes, a finished one is kept, and the run's own
``eval/`` is evaluated again (its listed results replaced, nothing else touched).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, check_ranges
from .rundir import EVAL_DIR, OutputDir

TASKS = ("push", "dance", "video")
REPORT = "report.html"


@dataclass(frozen=True)
class DemoSettings:
    """What ``vidpred demo`` runs.

    Attributes:
        task: ``push``, ``dance`` or ``video`` (None: ``video`` when ``video`` is given, else
            ``push``). out: the run directory. data: dataset root (None: the cache).
        video: your own footage (the ``video`` task). seed, workers: the generators'.
        samples, gifs: prior samples per test sequence and GIFs written.
        n_past, n_future: evaluation window (None: the config's); the video task also trains
            and converts with it.
        sets: ``--set`` overrides of the demo config. overwrite: retrain from scratch.
        fixed_scene: dance task: one scene for every dance. quiet: no progress bars.
        device: ``cpu``, ``cuda`` or ``auto``.

    Raises:
        ConfigError: a value out of range, an unknown task, options that do not go together.
    """

    out: str = "runs/demo"
    task: str | None = None
    data: str | None = None
    video: tuple[str, ...] = ()
    seed: int = 0
    workers: int = 2
    samples: int = 10
    gifs: int = 8
    n_past: int | None = None
    n_future: int | None = None
    sets: tuple[str, ...] = field(default_factory=tuple)
    overwrite: bool = False
    fixed_scene: bool = False
    quiet: bool = False
    device: str = "cpu"

    def __post_init__(self):
        check_ranges(self, workers=(1, None), samples=(1, None), gifs=(0, None),
                     n_past=(1, None), n_future=(1, None))
        if self.video and self.task not in (None, "video"):
            raise ConfigError(f"--task {self.task} with --video: --video trains on your footage "
                              "(the video task); drop --task, or drop --video")
        if self.resolved_task not in TASKS:
            raise ConfigError(f"--task {self.task!r}: choose one of {', '.join(TASKS)}")
        if self.resolved_task == "video" and not self.video:
            raise ConfigError("--task video needs --video FILE (your footage)")
        if self.fixed_scene and self.resolved_task != "dance":
            raise ConfigError("--fixed-scene is an option of the dance demo (--task dance)")
        if self.resolved_task == "dance" and (self.n_past or self.n_future):
            raise ConfigError("--n-past/--n-future: the dance demo predicts every test dance from "
                              "its first frame; drop them, or use --task push or --video")

    @property
    def resolved_task(self) -> str:
        return self.task or ("video" if self.video else "push")


def run_demo(s: DemoSettings, log=print):
    """Run the demo ``s`` describes; returns its :class:`~vidpred.evaluation.scoring.EvalMetrics`.

    Raises:
        VidpredError: a bad setting, an unusable ``out``, a problem with the data (named).
    """
    if s.resolved_task == "dance":
        return _run_dance(s, log)
    from .config import named_config
    from .evaluation.evaluate import EvaluateSettings

    settings = EvaluateSettings("test", s.n_past, s.n_future, s.samples, s.gifs)
    cfg = named_config("video_cpu" if s.resolved_task == "video" else "push_cpu")
    if s.resolved_task == "video":
        cfg.data.n_past = s.n_past or cfg.data.n_past
        cfg.data.n_future = s.n_future or cfg.data.n_future
    cfg.apply_overrides(list(s.sets))
    _check(cfg)
    t0 = time.perf_counter()
    data = _video_data(s, cfg, log) if s.resolved_task == "video" else _push_data(s, log)
    t_data = time.perf_counter() - t0
    _train(s, cfg, data, log, f"SVG-LP ({cfg.model.backbone}, width {cfg.model.width})")
    t_train = time.perf_counter() - t0 - t_data
    m = _evaluate(s, cfg, data, settings, log)
    _finish(s, m, "copying the last frame", t0, t_data, t_train, log,
            f"{Path(s.out) / EVAL_DIR}/seq_*.gif")
    return m


def _check(cfg) -> None:
    from .config import check_config
    from .training.distributed import world_size

    check_config(cfg, world_size())


def _push_data(s: DemoSettings, log) -> Path:
    from .data import cache_root
    from .data.sim_push import PushSpec, generate_push_dataset

    # push-v2: the generator's version 2 (block colours apart from the scene's, objects.npz);
    # a cache of version 1 (push-seed<S>) is left as it is
    data = Path(s.data) if s.data else cache_root() / f"push-v2-seed{s.seed}"
    log(f"[1/3] built-in robot-pushing data in {data} (generated once, then reused)")
    generate_push_dataset(data, PushSpec(seed=s.seed), workers=s.workers, progress=not s.quiet)
    return data


def video_cache(files: list[Path], spec) -> Path:
    """Where the demo caches a conversion: a folder under the cache root named by a hash of the
    files (path, size, modification time) and the conversion settings, so the same footage
    converted the same way is decoded once."""
    from dataclasses import asdict

    from .data import cache_root

    key = json.dumps([[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
                     + [asdict(spec)], sort_keys=True)
    return cache_root() / f"video-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _video_data(s: DemoSettings, cfg, log) -> Path:
    from .data.video_convert import VideoSpec, convert_videos
    from .errors import DataError

    files = [Path(f).expanduser() for f in s.video]
    for f in files:
        if not f.is_file():
            raise DataError(f"--video {f}: no such file; give the path of a video file")
    spec = VideoSpec(image_size=cfg.data.image_size, window=cfg.data.n_past + cfg.data.n_future)
    data = Path(s.data) if s.data else video_cache(files, spec)
    log(f"[1/3] converting {', '.join(f.name for f in files)} into {data} (once, then reused)")
    r = convert_videos(files, data, spec, progress=not s.quiet)
    sp = r.split
    log(f"      {r.shots} shots, {r.frames_kept} frames kept ({r.frames_dropped} in shots shorter "
        f"than a window); split {sp['rule']}: " + ", ".join(
            f"{n} {sp['windows'][n]} windows" for n in ("train", "validate", "test")))
    cfg.data.root = str(data)
    return data


def _train(s: DemoSettings, cfg, data: Path, log, describe: str) -> None:
    from .device import configure_process
    from .training.distributed import local_world_size
    from .training.loop import train

    out = Path(s.out)
    cfg.data.root = str(data)
    configure_process(cfg.train.threads, cfg.train.deterministic, local_world_size())
    resume = (out / "last.ckpt").exists() and not s.overwrite
    limit = f" or {cfg.train.max_minutes:g} min of training" if cfg.train.max_minutes else ""
    log(f"[2/3] training {describe} for {cfg.train.iterations} iterations{limit} into {out}"
        + (" (resuming)" if resume else ""))
    train(cfg, out, resume=resume, overwrite=s.overwrite, progress=not s.quiet, device=s.device)


def _evaluate(s: DemoSettings, cfg, data: Path, settings, log):
    from .evaluation.evaluate import evaluate_checkpoint

    out = Path(s.out)
    n_past = settings.n_past or cfg.data.n_past
    n_future = settings.n_future or cfg.data.n_future
    log(f"[3/3] evaluating {out / 'best.ckpt'} on the test split, {n_past} -> {n_future}, "
        f"{settings.samples} samples")
    # the demo's own eval folder: its listed results are replaced on every run
    return evaluate_checkpoint(out / "best.ckpt", data, settings.split, n_past, n_future,
                               settings.samples, out / EVAL_DIR, settings.gifs, None,
                               progress=not s.quiet, device=s.device, overwrite=True)


def _finish(s: DemoSettings, m, baseline: str, t0: float, t_data: float, t_train: float, log,
            gifs: str) -> None:
    """The summary, the timings and the report page."""
    from .evaluation.report import write_report
    from .evaluation.scoring import summary_table

    out = Path(s.out)
    OutputDir.of(out).add(REPORT)
    write_report([out], out / REPORT, gifs=min(s.gifs, 4), log=log)
    total = time.perf_counter() - t0
    log("")
    log(summary_table(m))
    log(f"PSNR gain over {baseline}: {m.best.psnr_mean - m.baseline.psnr_mean:+.2f} dB (best of "
        f"{m.protocol.n_samples}), {m.sample_mean.psnr_mean - m.baseline.psnr_mean:+.2f} dB (mean)")
    log(f"time: data {t_data:.0f} s, training {t_train:.0f} s, evaluation "
        f"{total - t_data - t_train:.0f} s, total {total / 60:.1f} min")
    log(f"outputs: {out / 'best.ckpt'}, {out / 'training_curves.png'}, "
        f"{out / EVAL_DIR / 'metrics.json'}, {out / EVAL_DIR / 'psnr_per_frame.png'}, {gifs}, "
        f"{out / REPORT}")


def _run_dance(s: DemoSettings, log):
    from .checkpoint import load_trained_model
    from .config import named_config
    from .data import cache_root
    from .data.sim_dance import DanceSpec, generate_dance_dataset
    from .device import resolve_device
    from .evaluation.predict import predict_test_split

    cfg = named_config("dance_cpu").apply_overrides(list(s.sets))
    _check(cfg)
    # the varied scenes get their own cache name, so a cache of the fixed scene's data (the
    # name it has always had) is never taken for them
    cache = "dance" if s.fixed_scene else "dance-scenes"
    data = Path(s.data) if s.data else cache_root() / f"{cache}-seed{s.seed}"
    t0 = time.perf_counter()
    log(f"[1/3] built-in dancing-humanoid data in {data} (generated once, then reused)")
    generate_dance_dataset(data, DanceSpec(seed=s.seed, scene="fixed" if s.fixed_scene else "varied"),
                           workers=s.workers, progress=not s.quiet)
    t_data = time.perf_counter() - t0
    m = cfg.model
    _train(s, cfg, data, log, f"the pose CVAE (F, L, N, D = {m.frame_channels}, "
           f"{m.label_channels}, {m.z_channels}, {m.fusion_channels})")
    t_train = time.perf_counter() - t0 - t_data
    # the final weights, not the best validation PSNR's: the learning rate has annealed to its
    # end, and on the one validation dance a model that still mostly copies the first frame
    # can outscore later ones that draw the dancer
    ckpt = Path(s.out) / "last.ckpt"
    log(f"[3/3] 630-frame rollouts of {ckpt} on the test split")
    model, _, _ = load_trained_model(ckpt, resolve_device(s.device))
    result = predict_test_split(model, data / "test", cfg.data.frame_size, Path(s.out) / EVAL_DIR,
                                samples=1, write_frames=False, gifs=s.gifs, progress=not s.quiet)
    log(f"rollout {result.frames_per_s:.0f} frames/s")
    _finish(s, result, "copying the first frame", t0, t_data, t_train, log,
            f"{Path(s.out) / EVAL_DIR}/seq_*/rollout.gif")
    return result
