"""Progress bars that stay readable in a log file.

On a terminal a bar redraws in place several times a second. Written to a file or a pipe (CI,
``nohup``, ``> run.log``) every redraw becomes a new line, so there the bar is redrawn at most
every :data:`LOG_INTERVAL_S` seconds (plus its first and last state).
"""
from __future__ import annotations

import sys

LOG_INTERVAL_S = 10.0


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def progress_bar(iterable=None, *, disable: bool = False, stream=None, **kwargs):
    """A ``tqdm`` bar over ``iterable`` (or a manual one with ``total=``), throttled to one line
    per :data:`LOG_INTERVAL_S` seconds when ``stream`` (default ``sys.stderr``) is not a
    terminal. Keyword arguments go to ``tqdm`` (``desc``, ``total``, ``unit``, ``initial``, ...).
    """
    from tqdm import tqdm

    stream = stream if stream is not None else sys.stderr
    if not _is_terminal(stream):
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
        kwargs.setdefault("maxinterval", LOG_INTERVAL_S * 2)
        kwargs.setdefault("miniters", 1)
        kwargs.setdefault("dynamic_ncols", False)
        kwargs.setdefault("ncols", 100)
        kwargs["leave"] = True  # a line of a log is never erased
    else:
        kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=disable, file=stream, **kwargs)
