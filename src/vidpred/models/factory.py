"""Building a model from a config: the model families by name, each built by keyword from the
``model`` section's fields that its constructor takes (so SVG never sees the pose CVAE's sizes
and the reverse)."""
from __future__ import annotations

import inspect

import torch

from .base import VideoModel
from .pose_cvae import OUTPUTS as POSE_CVAE_OUTPUTS
from .pose_cvae import PoseCVAE
from .svg import OUTPUTS as SVG_OUTPUTS
from .svg import PRIORS, SVG

FAMILIES: dict[str, type[VideoModel]] = {"svg": SVG, "pose_cvae": PoseCVAE}
MODELS = tuple(FAMILIES)
OUTPUTS = tuple(dict.fromkeys(SVG_OUTPUTS + POSE_CVAE_OUTPUTS))
__all__ = ["FAMILIES", "MODELS", "OUTPUTS", "PRIORS", "build_model", "model_fields",
           "model_outputs"]


def model_outputs(name: str) -> tuple[str, ...]:
    """The ``model.output`` values a family supports."""
    return SVG_OUTPUTS if name == "svg" else POSE_CVAE_OUTPUTS


def model_fields(name: str) -> list[str]:
    """The ``model.*`` config keys a family's constructor reads (its keyword parameters)."""
    return [p for p in inspect.signature(FAMILIES[name]).parameters if p != "image_hw"]


def build_model(cfg) -> VideoModel:
    """The model a :class:`vidpred.config.Config` describes, for frames of
    ``cfg.data.frame_size``, in the configured memory layout (``train.channels_last``).

    The config is expected to be checked (:func:`vidpred.config.check_config`).
    """
    cls = FAMILIES[cfg.model.name]
    kwargs = {k: getattr(cfg.model, k) for k in model_fields(cfg.model.name)}
    if "image_hw" in inspect.signature(cls).parameters:
        kwargs["image_hw"] = cfg.data.frame_size
    model = cls(**kwargs)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model
