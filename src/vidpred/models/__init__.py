"""Networks and systems: backbones, recurrent modules, condition encoders, output heads, SVG, the
pose CVAE, each family with its config section, and building one from a run config
(:mod:`vidpred.models.factory`)."""
from .base import ModelConfig, StepOutput, VideoModel
from .factory import FAMILIES, build_model
from .pose_cvae import PoseCVAE, PoseCVAEConfig
from .svg import SVG, SVGConfig

__all__ = ["SVG", "SVGConfig", "PoseCVAE", "PoseCVAEConfig", "ModelConfig", "StepOutput",
           "VideoModel", "FAMILIES", "build_model"]
