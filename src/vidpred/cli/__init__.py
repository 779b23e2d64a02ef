"""The ``vidpred`` command line. Thin: parses arguments, calls the library, prints.

Subcommands: ``data push``, ``data dance``, ``data smmnist``, ``data convert-bair``, ``data check``,
``train``, ``evaluate``, ``predict``, ``plan``, ``compare``, ``report``, ``sweep``, ``demo``.
Problems with the user's files or settings print one ``vidpred: error: ...`` line and exit with
status 2.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import VidpredError
from . import analysis, data, plan, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidpred", description="Conditional stochastic video "
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
    args = build_parser().parse_args(argv)
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
