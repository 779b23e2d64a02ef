"""vidpred: conditional stochastic video prediction (SVG and the pose-conditioned CVAE) that trains on a CPU."""
from .config import Config, DataConfig, ModelConfig, TrainConfig
from .errors import CheckpointError, ConfigError, DataError, VidpredError
from .models import SVG, PoseCVAE
from .schedules import KLAnnealing, TeacherForcing

__version__ = "0.1.0"

__all__ = ["SVG", "PoseCVAE", "Config", "DataConfig", "ModelConfig", "TrainConfig", "KLAnnealing",
           "TeacherForcing", "VidpredError", "DataError", "ConfigError", "CheckpointError",
           "__version__"]
