"""Errors vidpred raises for problems a user can fix.

The CLI prints these as one clear message (no traceback) and exits with status 2; library users
can catch :class:`VidpredError` to handle them all. :func:`check_ranges` is the one range check
of the workflows' settings objects (every numeric option, checked before any work).
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


def check_ranges(settings, options: dict[str, str] | None = None, **bounds) -> None:
    """Range-check a settings object's numbers before any work, naming each as its option.

    ``bounds``: attribute name -> (low, high), either end None for open; a value of None (the
    default that something else fills in) is not checked. Each is named ``--name`` (``_``
    written ``-``) unless ``options`` maps it to another option name.

    Raises:
        ConfigError: every value outside its range (or not a number), one per line.
    """
    problems = []
    for name, (low, high) in bounds.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if value != value or (low is not None and value < low) or (high is not None and value > high):
            want = (f"in [{low:g}, {high:g}]" if low is not None and high is not None
                    else f">= {low:g}" if low is not None else f"<= {high:g}")
            option = (options or {}).get(name, f"--{name.replace('_', '-')}")
            problems.append(f"{option}={value}: must be {want}")
    if problems:
        raise ConfigError("\n".join(problems))
