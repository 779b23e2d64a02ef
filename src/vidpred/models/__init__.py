"""Networks and systems: backbones, recurrent modules, SVG."""
from .svg import SVG, SVGOutput

__all__ = ["SVG", "SVGOutput"]
