"""The ``vidpred`` command line. Thin: each command parses its arguments, calls one workflow
function of the library (whose settings object checks every value) and prints.

Subcommands: ``data push``, ``data dance``, ``data smmnist``, ``data convert-bair``, ``data check``,
``train``, ``evaluate``, ``predict``, ``plan``, ``compare``, ``report``, ``sweep``, ``demo``.

Exit status: 0 done; 2 for every problem the user can fix, each printed as one
``vidpred: error: ...`` line per problem, without a traceback: a bad option (argparse's usage
errors as well as values out of range), a bad config, and problems with files — data
(:class:`~vidpred.errors.DataError`), checkpoints, output folders; 1 when ``data check`` or
``data convert-bair`` found damaged data (listed, the command itself finished); 130 on Ctrl-C.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import VidpredError
from . import analysis, data, plan, run


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors printed as every other error: ``vidpred: error: ...``."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"vidpred: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vidpred", description="Conditional stochastic video "
                "prediction: generate data, train SVG, evaluate, visualise.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)

    for group in (data, run, plan, analysis):
        group.register(sub)
    return p


def _version() -> str:
    from .. import __version__
    return f"vidpred {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (module doc)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # a usage error (2), or --help / --version (0)
        return e.code if isinstance(e.code, int) else 0
    try:
        status = args.func(args)
    except VidpredError as e:
        for line in str(e).splitlines():  # one line per problem
            print(f"vidpred: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
