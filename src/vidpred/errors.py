"""Errors vidpred raises for problems a user can fix.

The CLI prints these as one clear message (no traceback) and exits with status 2; library users
can catch :class:`VidpredError` to handle them all.
"""


class VidpredError(Exception):
    """Base class: a problem with the user's input, files or environment (not a bug)."""


class DataError(VidpredError):
    """A dataset file is missing, unreadable or has the wrong shape. The message names the file."""


class ConfigError(VidpredError):
    """A configuration file or ``--set key=value`` override is invalid."""


class CheckpointError(VidpredError):
    """A checkpoint is missing, unsafe, corrupt, or belongs to another model or config."""


class SimulatorError(VidpredError):
    """The MuJoCo simulator or its OpenGL backend could not be loaded."""


class TrainingError(VidpredError):
    """Training cannot continue (for example a non-finite loss); the last good checkpoint is kept."""
