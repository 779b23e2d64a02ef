"""vidpred: conditional stochastic video prediction (SVG and friends) that trains on a CPU."""
from .config import Config, DataConfig, ModelConfig, TrainConfig
from .errors import CheckpointError, ConfigError, DataError, VidpredError
from .models import SVG
from .schedules import KLAnnealing, TeacherForcing

__version__ = "0.1.0"

__all__ = ["SVG", "Config", "DataConfig", "ModelConfig", "TrainConfig", "KLAnnealing",
           "TeacherForcing", "VidpredError", "DataError", "ConfigError", "CheckpointError",
           "__version__"]
