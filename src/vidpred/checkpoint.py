"""Checkpoints: state dicts + the JSON config + training position, written atomically and
loaded without unpickling code (``torch.load(weights_only=True)``).

A checkpoint is a dict::

    {"format": "vidpred-checkpoint", "version": 1, "config": <JSON str>, "model": state_dict,
     "optimizer": state_dict or None, "iteration": int, "rng": ByteTensor, "best_psnr": float,
     "extra": {str: number}, "rng_ranks": [ByteTensor per rank] (multi-process runs only)}
"""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .config import Config
from .errors import CheckpointError
from .rundir import write_atomic

FORMAT = "vidpred-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, *, config: Config, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None, iteration: int = 0,
                    best_psnr: float = float("-inf"), extra: dict[str, Any] | None = None,
                    rng_ranks: list[torch.Tensor] | None = None) -> Path:
    """Write a checkpoint atomically (:func:`vidpred.rundir.write_atomic`: a temporary file in
    the same folder, fsync, rename; the mode of any new file).

    A crash at any moment leaves either the old file or the new one, never a torn one.
    ``rng_ranks``: in a multi-process run, every rank's RNG state (rank 0's is also ``rng``).
    """
    path = Path(path)
    state = {
        "format": FORMAT, "version": VERSION, "config": config.to_json(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "iteration": int(iteration), "rng": torch.get_rng_state(),
        "best_psnr": float(best_psnr), "extra": dict(extra or {}),
    }
    if rng_ranks is not None and len(rng_ranks) > 1:
        state["rng_ranks"] = list(rng_ranks)
    write_atomic(path, lambda f: torch.save(state, f))
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint safely; returns the dict above with ``config`` parsed to a Config.

    Raises:
        CheckpointError: missing file, not a vidpred checkpoint, or a file that would need
            unpickling arbitrary objects (refused; nothing in it is executed).
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.ckpt"))
        hint = f" ({', '.join(found[:3])} there)" if found else ""
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file; give a "
                              f".ckpt file, e.g. {path / 'best.ckpt'}{hint}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if found:
            raise CheckpointError(f"{path}: refused to load — it holds a pickled reference to "
                                  f"{found.group(1)}, which could run code; vidpred checkpoints "
                                  "hold only tensors and plain data") from None
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated)") from None
    except Exception as e:  # truncated or not a torch file at all
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a vidpred checkpoint (no '{FORMAT}' marker)")
    state["config"] = Config.from_dict(json.loads(state["config"]), source=f"{path} (config)",
                                       legacy=True)
    return state


def load_model_state(model: torch.nn.Module, state_dict: dict, path: str | Path) -> None:
    """Load weights, turning a shape/key mismatch into a CheckpointError that lists it. The
    model's ``prepare_load(state_dict)`` first sizes its data buffers (a frame memory) to the
    checkpoint's; a ValueError it raises becomes a CheckpointError too."""
    try:
        model.prepare_load(state_dict)
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
    if missing or unexpected or shapes:
        lines = ([f"missing: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"] if missing else []) + \
                ([f"unexpected: {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}"] if unexpected else []) + \
                shapes[:5]
        raise CheckpointError(f"{path}: weights do not fit this model (a checkpoint from another "
                              "model or config?):\n  " + "\n  ".join(lines))
    model.load_state_dict(state_dict)


def load_trained_model(ckpt: str | Path, device: torch.device | str = "cpu"):
    """Rebuild the model a checkpoint was trained with, load its weights and move it to
    ``device`` in eval mode.

    Returns:
        (model, config, state): the :class:`vidpred.models.VideoModel`, its :class:`Config`
        and the checkpoint dict (see module doc).

    Raises:
        CheckpointError: a missing, unsafe or corrupt checkpoint, or weights of another model.
    """
    from .models.factory import build_model

    state = load_checkpoint(ckpt)
    cfg = state["config"]
    model = build_model(cfg)
    load_model_state(model, state["model"], ckpt)
    model.to(device)
    model.eval()
    return model, cfg, state
