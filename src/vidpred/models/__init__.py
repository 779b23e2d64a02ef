"""Networks and systems: backbones, recurrent modules, condition encoders, SVG, the pose CVAE."""
from .base import StepOutput, VideoModel
from .pose_cvae import PoseCVAE
from .svg import SVG, SVGOutput

__all__ = ["SVG", "SVGOutput", "PoseCVAE", "StepOutput", "VideoModel"]
