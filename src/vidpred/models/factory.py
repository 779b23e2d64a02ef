"""The model families by name, and building the model a run config describes."""
from __future__ import annotations

import torch

from .base import ModelConfig, VideoModel
from .pose_cvae import PoseCVAEConfig
from .svg import SVGConfig

FAMILIES: dict[str, type[ModelConfig]] = {c.name: c for c in (SVGConfig, PoseCVAEConfig)}
MODELS = tuple(FAMILIES)
__all__ = ["FAMILIES", "MODELS", "build_model"]


def build_model(cfg) -> VideoModel:
    """The model a :class:`vidpred.config.Config` describes (``cfg.model`` builds it), for
    frames of ``cfg.data.frame_size``, in the configured memory layout (``train.channels_last``).

    The config is expected to be checked (:func:`vidpred.config.check_config`).
    """
    model = cfg.model.build(cfg.data.frame_size)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model
