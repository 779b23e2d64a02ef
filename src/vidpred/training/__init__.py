"""Training: the loop, one step, schedules' use, precise BatchNorm, the run directory."""
from .loop import TrainResult, train, validate

__all__ = ["TrainResult", "train", "validate"]
