"""``vidpred train`` as one call: the built-in data a config asks for, then training."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, check_config
from .distributed import is_main_process
from .loop import TrainResult, train


def generate_if_asked(cfg: Config, progress: bool = True, log=print) -> None:
    """``data.generate``: the built-in push data in ``data.root``, generated once (see
    :class:`vidpred.config.DataConfig`); a complete dataset there is reused.

    Raises:
        ConfigError: an invalid config (nothing is generated). SimulatorError: no simulator.
    """
    from ..data.sim_push import PushSpec, generate_push_dataset

    d = cfg.data
    if not d.generate:
        return
    check_config(cfg)
    root = Path(d.root).expanduser()
    log(f"built-in robot-pushing data in {root} (generated once, then reused; "
        f"random-action share {d.random_action_share:g}, block colours {d.block_colours})")
    spec = PushSpec(random_action_share=d.random_action_share, block_colours=d.block_colours)
    generate_push_dataset(root, spec, progress=progress, log=log)


def run_training(cfg: Config, out: str | Path, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, device: str = "cpu", generate: bool = True,
                 log=print) -> TrainResult | None:
    """Generate the data ``cfg`` asks for (with ``generate``; by one process under torchrun),
    then :func:`vidpred.training.loop.train`.

    Returns:
        The :class:`TrainResult` on the main process, None on the others.
    """
    if generate and is_main_process():
        generate_if_asked(cfg, progress, log)
    result = train(cfg, out, resume=resume, overwrite=overwrite, progress=progress, log=log,
                   device=device)
    return result if is_main_process() else None
