"""Typed, checked config fields: what every config section is built from.

A section is a dataclass whose fields carry their allowed values in their type, with
``typing.Annotated``::

    @dataclass
    class TrainConfig:
        lr: Annotated[float, Above(0.0)] = 2e-3
        kl_anneal: Annotated[str, OneOf(KL_ANNEAL_KINDS)] = "cyclical"

so a field's type, default and range live on one line, in the section that owns it (the data and
training sections in :mod:`vidpred.config`, each model family's beside its model).
:func:`coerce` converts values given as text (``--set``) or YAML to a field's type and
:func:`section_problems` lists every value outside its range, one line each naming the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, get_args, get_origin, get_type_hints

import yaml

from .errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A number at least ``low`` (above it when ``strict``) and at most ``high`` (None: no
    upper bound); NaN and infinities are out of range."""

    low: float
    high: float | None = None
    strict: bool = False

    def problem(self, key: str, v) -> str | None:
        low, high = self.low, self.high
        if math.isfinite(v) and (v > low or (v == low and not self.strict)) and \
                (high is None or v <= high):
            return None
        bound = (f"{'>' if self.strict else '>='} {low:g}" if high is None
                 else f"in {'(' if self.strict else '['}{low:g}, {high:g}]")
        return f"{key}={v!r}: must be {bound}"


def AtLeast(low: float) -> Range:  # noqa: N802 - reads as a type annotation
    """``low`` or more."""
    return Range(low)


def Above(low: float) -> Range:  # noqa: N802
    """More than ``low``."""
    return Range(low, strict=True)


def Within(low: float, high: float, strict: bool = False) -> Range:  # noqa: N802
    """In [low, high] (or (low, high] when ``strict``)."""
    return Range(low, high, strict)


@dataclass(frozen=True)
class OneOf:
    """A value from ``choices`` (owned by the module that uses them)."""

    choices: tuple

    def problem(self, key: str, v) -> str | None:
        if v in self.choices:
            return None
        return f"{key}={v!r}: choose one of {', '.join(map(str, self.choices))}"


def field_types(cls: type) -> dict[str, type]:
    """A section's fields and their plain types (``Annotated`` stripped)."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _rules(cls: type) -> dict[str, list]:
    hints = get_type_hints(cls, include_extras=True)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if get_origin(hint) is not None and hasattr(hint, "__metadata__"):
            out[f.name] = [m for m in hint.__metadata__ if hasattr(m, "problem")]
    return out


def section_problems(section, prefix: str) -> list[str]:
    """Every field of ``section`` outside its range or choices: ``"prefix.key=value: must be
    ..."`` lines (empty when all are valid)."""
    problems = []
    for key, rules in _rules(type(section)).items():
        v = getattr(section, key)
        problems += [p for p in (r.problem(f"{prefix}.{key}", v) for r in rules) if p]
    return problems


def suggest(word: str, options, prefix: str = "") -> str:
    """`` (did you mean 'prefix.closest'?)`` or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def coerce(value: Any, typ: type, where: str) -> Any:
    """``value`` as ``typ`` (bool, int, float or str). Text is read as a YAML scalar first
    (``false``, ``1e-3``, ``2e3`` for an int that is whole).

    Raises:
        ConfigError: ``where: expected <type>, got <value>``.
    """
    typ = get_args(typ)[0] if get_origin(typ) is not None and get_args(typ) else typ
    if isinstance(value, str) and typ is not str:
        try:  # YAML 1.1 reads "1e-3" as a string; Python's parsers do not
            value = int(value) if typ is int else float(value) if typ is float else yaml.safe_load(value)
        except (ValueError, yaml.YAMLError):
            if typ is int:
                try:
                    value = float(value)
                except ValueError:
                    pass
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ConfigError(f"{where}: expected {typ.__name__}, got {value!r}")


__all__ = ["Range", "AtLeast", "Above", "Within", "OneOf", "field_types", "section_problems",
           "suggest", "coerce"]
