"""Networks and systems: backbones, recurrent modules, condition encoders, SVG, the pose CVAE,
and building one from a config (:mod:`vidpred.models.factory`)."""
from .base import StepOutput, VideoModel
from .factory import build_model
from .pose_cvae import PoseCVAE
from .svg import SVG

__all__ = ["SVG", "PoseCVAE", "StepOutput", "VideoModel", "build_model"]
