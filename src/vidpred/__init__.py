"""vidpred: conditional stochastic video prediction (SVG and the pose-conditioned CVAE) that trains on a CPU."""
from .config import (
           Config,
           DataConfig,
           ModelConfig,
           TrainConfig,
           check_config,
           named_config,
)
from .device import configure_process
from .errors import CheckpointError, ConfigError, DataError, VidpredError
from .models import SVG, PoseCVAE, build_model
from .schedules import KLAnnealing, TeacherForcing

__version__ = "0.1.0"

__all__ = ["SVG", "PoseCVAE", "build_model", "Config", "DataConfig", "ModelConfig", "TrainConfig",
           "check_config", "named_config", "configure_process", "KLAnnealing", "TeacherForcing",
           "VidpredError", "DataError", "ConfigError", "CheckpointError", "__version__"]
