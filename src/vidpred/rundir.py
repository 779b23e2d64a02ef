"""The folders vidpred writes: a training run's files by name, and the marker that tells
vidpred's own files from a user's, in one place.

A training run directory (written by :mod:`vidpred.training.runs`; read by evaluation,
``compare``, ``report``, ``sweep`` and the demos)::

    vidpred_run.json   the marker: what vidpred wrote here (below)
    config.yaml        the resolved config
    metrics.jsonl      one line per iteration ({"kind": "iter", ...}) and per epoch ({"kind": "epoch", ...})
    last.ckpt          written at every epoch end and on Ctrl-C (resume point)
    best.ckpt          the epoch with the best validation PSNR
    epoch_<e>.ckpt     the last ``keep_checkpoints`` epochs
    training_curves.png, psnr_vs_time.png
    events.out.tfevents.*   TensorBoard scalars and prediction grids
    eval/              what ``vidpred evaluate`` (or the demo) writes for the run

**The marker.** Every command that writes into an output folder (``train``, ``evaluate``,
``predict``, ``plan``, ``sweep``, ``compare``, the data generators) claims it first with
:func:`claim_output`, which writes ``vidpred_run.json``::

    {"format": "vidpred-output", "version": 1, "files": [top-level names vidpred wrote],
     "settings": {...}}   (settings: the data generators' spec, checked when they continue)

A name is listed before its file is written, so a kill leaves no unlisted file of ours. The
rules: a folder that is new or empty is claimed; a non-empty folder without a marker is refused
(unless it is recognisably vidpred's, written before markers existed: a *legacy* folder, taken
with a one-line note); a file the command would write but the marker does not list is never
touched; ``--overwrite`` removes only listed names; a folder holding the command's results needs
``--resume`` or ``--overwrite``.

Every file is written atomically (:func:`write_atomic`: a temporary ``.<name>.<token>.tmp`` in
the same folder, fsync, rename) with the mode of any new file (0666 less the umask); the
temporary files a kill leaves behind are removed when the folder is claimed again.
"""
from __future__ import annotations

import fnmatch
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MARKER = "vidpred_run.json"
FORMAT = "vidpred-output"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
LAST_CHECKPOINT = "last.ckpt"
BEST_CHECKPOINT = "best.ckpt"
EVAL_DIR = "eval"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT, "epoch_*.ckpt",
             "training_curves.png", "psnr_vs_time.png", "events.out.tfevents.*")


@dataclass(frozen=True)
class Outputs:
    """What one command writes into its output folder.

    Attributes:
        command: as the user types it (``train``, ``evaluate``, ``data push``).
        patterns: glob patterns of the top-level names (files or folders) it writes.
        results: patterns whose listed presence means the folder holds this command's results,
            which a new run replaces only with ``overwrite`` (or continues with ``resume``).
        legacy: names that, all present, mark a folder of this command written before the
            marker existed (every entry must then match ``patterns`` or ``also``); None: no
            such folders.
        also: other names a legacy folder may hold (a run's ``eval/``).
        resumable: the command takes ``--resume``.
    """

    command: str
    patterns: tuple[str, ...]
    results: tuple[str, ...] = ()
    legacy: tuple[str, ...] | None = None
    also: tuple[str, ...] = ()
    resumable: bool = False


RUN = Outputs("train", RUN_FILES, results=(CONFIG_FILE, METRICS_FILE, LAST_CHECKPOINT),
              legacy=(CONFIG_FILE, METRICS_FILE), also=(EVAL_DIR,), resumable=True)


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _temp_of(name: str) -> str | None:
    """The name a temporary file ``.<name>.<token>.tmp`` (or ``<name>.tmp``) was written for."""
    if not name.endswith(".tmp"):
        return None
    stem = name[:-4]
    if stem.startswith("."):
        return stem[1:].rpartition(".")[0] or None
    return stem


def write_atomic(path: str | Path, data: bytes | str | Callable) -> Path:
    """Write ``path`` so that a crash at any moment leaves the old file or the new one, never a
    torn one: a temporary file in the same folder, fsync, rename, fsync of the folder.

    ``data``: the bytes, a str (UTF-8), or a function that writes into the open binary file.
    The file gets the mode of any new file (0666 less the umask).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def copy_atomic(src: str | Path, dst: str | Path) -> Path:
    """``dst`` becomes a copy of ``src``, atomically (a hard link where the file system has
    them: no bytes copied; ``src`` is replaced, never written in place, so the two stay apart)."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(dst.parent)
    return dst


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_marker(path: str | Path) -> dict | None:
    """The marker of ``path`` (None when it has none).

    Raises:
        ConfigError: a marker that is not vidpred's JSON (named, with the way out).
    """
    marker = Path(path) / MARKER
    if not marker.is_file():
        return None
    try:
        record = json.loads(marker.read_text())
        if record.get("format") != FORMAT or not isinstance(record.get("files"), list):
            raise ValueError("not a vidpred output record")
    except (ValueError, OSError, AttributeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{marker}: unreadable ({e}); it lists the files vidpred wrote in "
                          f"{Path(path)}: restore it, or move the folder's files away and "
                          "start in an empty one") from None
    return record


class OutputDir:
    """A claimed output folder and its marker (:func:`claim_output`)."""

    def __init__(self, path: Path, files: list[str], settings: dict | None = None,
                 created: bool = False):
        self.path, self.files, self.settings, self.created = path, list(files), settings, created

    @classmethod
    def of(cls, path: str | Path) -> "OutputDir":
        """The record of a folder claimed earlier (or, without a marker, an empty one)."""
        path = Path(path)
        record = read_marker(path) or {"files": []}
        return cls(path, record["files"], record.get("settings"))

    def add(self, *names: str) -> None:
        """List top-level names before writing them (the marker is rewritten atomically)."""
        new = [n for n in names if n not in self.files]
        if new or not (self.path / MARKER).is_file():
            self.files += new
            self._save()

    def discard(self, *names: str) -> None:
        """Drop names whose files vidpred removed."""
        if any(n in self.files for n in names):
            self.files = [f for f in self.files if f not in names]
            self._save()

    def _save(self) -> None:
        record: dict[str, Any] = {"format": FORMAT, "version": 1, "files": sorted(self.files)}
        if self.settings is not None:
            record["settings"] = self.settings
        write_atomic(self.path / MARKER, json.dumps(record, indent=1) + "\n")

    def abandon(self) -> None:
        """After a failure before anything but the marker was written: leave the folder as it
        was (removed if this claim created it)."""
        if any(p.name != MARKER for p in self.path.iterdir()):
            return
        (self.path / MARKER).unlink(missing_ok=True)
        if self.created:
            self.path.rmdir()

    def __enter__(self) -> "OutputDir":
        return self

    def __exit__(self, kind, *exc) -> bool:
        if kind is not None and self.path.is_dir():
            self.abandon()
        return False


def claim_output(path: str | Path, outputs: Outputs, resume: bool = False,
                 overwrite: bool = False, settings: dict | None = None,
                 log=print) -> OutputDir:
    """Check that ``outputs.command`` may write into ``path``, create it, and return its record
    (marker written: the folder is writable).

    With ``overwrite`` (and not ``resume``) the listed names that match ``outputs.patterns``
    are removed; nothing else is. Temporary files an interrupted write left are removed.

    Raises:
        ConfigError: ``path`` is a file, holds files vidpred did not write, holds this
            command's results (without ``resume``/``overwrite``), lists other ``settings``,
            has a corrupt marker, or cannot be written.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path}: is a file, not a folder; choose a new or empty folder")
    record = read_marker(path)
    entries = _entries(path)
    if record is None:
        record = {"files": _legacy(path, entries, outputs, log)}
    files = record["files"]
    _check_settings(path, outputs, record.get("settings"), settings)
    foreign = [e for e in entries if e not in files and _matches(e, outputs.patterns)]
    if foreign:
        raise ConfigError(f"{path / foreign[0]} was not written by vidpred (it is not listed in "
                          f"{path / MARKER}); move it away or choose another --out")
    held = [f for f in files if _matches(f, outputs.results) and (path / f).exists()]
    if held and not (resume or overwrite):
        how = "--resume to continue them or --overwrite" if outputs.resumable else "--overwrite"
        raise ConfigError(f"{path} already holds {outputs.command} results ({held[0]}); pass "
                          f"{how} to replace them, or choose another --out")
    created = _make_folder(path)
    out = OutputDir(path, files, settings if settings is not None else record.get("settings"),
                    created)
    _remove_temporaries(path, entries, outputs)
    if overwrite and not resume:
        removed = [f for f in files if _matches(f, outputs.patterns)]
        for name in removed:
            _remove(path / name)
        out.files = [f for f in files if f not in removed]
    try:
        out._save()
    except OSError as e:
        raise ConfigError(f"--out {path} is not writable: {e.strerror}") from None
    return out


def _entries(path: Path) -> list[str]:
    """Top-level names in ``path`` other than the marker, sorted."""
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir() if p.name != MARKER)


def _legacy(path: Path, entries: list[str], outputs: Outputs, log) -> list[str]:
    """The names of a folder without a marker: none when empty; all of them when it is a
    legacy folder of ``outputs.command`` (said in a note); else the folder is refused."""
    entries = [e for e in entries if _temp_of(e) is None]
    if not entries:
        return []
    allowed = outputs.patterns + outputs.also
    if outputs.legacy is not None and all(_matches(e, allowed) for e in entries) and \
            all(_ours(path / n) for n in outputs.legacy):
        log(f"note: {path} was written by an earlier vidpred (no {MARKER}): taken as its "
            f"{outputs.command} output; {MARKER} now lists its files")
        return [e for e in entries if _matches(e, outputs.patterns)]
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    raise ConfigError(f"{path} holds files vidpred did not write ({shown}); choose an empty or "
                      "new --out")


def _ours(path: Path) -> bool:
    """Whether ``path`` exists and reads as vidpred wrote it: JSON (one record per line for
    ``.jsonl``), a YAML config of data/model/train sections, or any other file by its name."""
    if not path.exists():
        return False
    if path.suffix not in (".json", ".jsonl", ".yaml"):
        return True
    try:
        text = path.read_text()
        if path.suffix == ".yaml":
            d = yaml.safe_load(text)
            return isinstance(d, dict) and set(d) <= {"data", "model", "train"}
        first = text.splitlines()[0] if path.suffix == ".jsonl" else text
        return isinstance(json.loads(first), dict)
    except (ValueError, OSError, IndexError, yaml.YAMLError):
        return False


def _check_settings(path: Path, outputs: Outputs, old: dict | None, new: dict | None) -> None:
    if new is None or old is None or old == new:
        return
    diff = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(old.keys() | new.keys())
            if old.get(k) != new.get(k)]
    raise ConfigError(f"{path} was started by `vidpred {outputs.command}` with other settings "
                      f"({'; '.join(diff[:4])}); continue it with the same settings or choose "
                      "another --out")


def _make_folder(path: Path) -> bool:
    """Create ``path`` (and its parents); True when it did not exist."""
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {path} is not writable: {e.strerror or e}") from None
    return created


def _remove_temporaries(path: Path, entries: list[str], outputs: Outputs) -> None:
    for name in entries:
        target = _temp_of(name)
        if target is not None and _matches(target, outputs.patterns + (MARKER,)):
            (path / name).unlink(missing_ok=True)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)
