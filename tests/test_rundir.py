"""The output-folder marker: what vidpred wrote is listed, nothing else is ever touched."""
import os

import pytest

from vidpred.errors import ConfigError
from vidpred.rundir import (
    MARKER,
    RUN,
    OutputDir,
    Outputs,
    claim_output,
    copy_atomic,
    read_marker,
    write_atomic,
)

from .conftest import tree_digest

EVAL = Outputs("evaluate", ("metrics.json", "seq_*.gif"), results=("metrics.json",),
               legacy=("metrics.json",))


def _user_folder(d):
    d.mkdir()
    (d / "config.yaml").write_text("# mine\ndata: {}\n")
    (d / "my_precious.ckpt").write_bytes(os.urandom(64))
    return d


def test_a_new_folder_is_claimed_and_lists_what_is_written(tmp_path):
    out = claim_output(tmp_path / "a" / "b", EVAL, log=None)
    out.add("metrics.json", "seq_000.gif")
    assert read_marker(tmp_path / "a" / "b")["files"] == ["metrics.json", "seq_000.gif"]
    assert OutputDir.of(tmp_path / "a" / "b").files == ["metrics.json", "seq_000.gif"]


def test_a_folder_of_a_users_files_is_refused_even_with_overwrite(tmp_path):
    d = _user_folder(tmp_path / "mine")
    before = tree_digest(d)
    for kw in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(ConfigError, match="holds files vidpred did not write .*choose an "
                                              "empty or new --out"):
            claim_output(d, RUN, log=None, **kw)
    assert tree_digest(d) == before and not (d / MARKER).exists()


def test_overwrite_removes_only_what_the_marker_lists(tmp_path):
    d = tmp_path / "run"
    out = claim_output(d, RUN, log=None)
    out.add("config.yaml", "last.ckpt")
    for name in ("config.yaml", "last.ckpt"):
        (d / name).write_text("vidpred's")
    (d / "notes.txt").write_text("the user's")          # allowed beside a run, never touched
    with pytest.raises(ConfigError, match="already holds train results .*--resume .*--overwrite"):
        claim_output(d, RUN, log=None)
    claim_output(d, RUN, overwrite=True, log=None)
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt", MARKER]


def test_an_unlisted_file_the_command_would_write_is_refused(tmp_path):
    d = tmp_path / "run"
    claim_output(d, RUN, log=None).add("last.ckpt")
    (d / "best.ckpt").write_text("the user's")
    with pytest.raises(ConfigError, match="best.ckpt was not written by vidpred"):
        claim_output(d, RUN, overwrite=True, log=None)
    assert (d / "best.ckpt").read_text() == "the user's"


def test_a_legacy_run_is_recognised_with_a_note_and_a_users_ckpt_is_not(tmp_path):
    d = tmp_path / "old"
    d.mkdir()
    (d / "config.yaml").write_text("data: {n_past: 2}\ntrain: {}\n")
    (d / "metrics.jsonl").write_text('{"kind": "iter", "iteration": 1}\n')
    (d / "last.ckpt").write_bytes(b"x")
    (d / "eval").mkdir()
    notes = []
    claim_output(d, RUN, resume=True, log=notes.append)
    assert len(notes) == 1 and "earlier vidpred" in notes[0]
    assert read_marker(d)["files"] == ["config.yaml", "last.ckpt", "metrics.jsonl"]
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.yaml", "metrics.jsonl"):
        (other / name).write_text((d / name).read_text())
    (other / "my_precious.ckpt").write_bytes(b"y")      # no run writes that name
    with pytest.raises(ConfigError, match="vidpred did not write"):
        claim_output(other, RUN, overwrite=True, log=None)


def test_a_corrupt_marker_and_other_settings_are_named(tmp_path):
    d = tmp_path / "data"
    push = Outputs("data push", ("train",))
    claim_output(d, push, settings={"seed": 0, "seq_len": 14}, log=None)
    with pytest.raises(ConfigError, match=r"other settings \(seed: 0 -> 1; seq_len: 14 -> 20\)"):
        claim_output(d, push, settings={"seed": 1, "seq_len": 20}, log=None)
    (d / MARKER).write_text("{torn")
    with pytest.raises(ConfigError, match=f"{MARKER}: unreadable"):
        claim_output(d, push, log=None)


def test_writes_are_atomic_with_one_mode_and_stale_temporaries_go(tmp_path):
    a = write_atomic(tmp_path / "a.ckpt", b"12345")
    b = copy_atomic(a, tmp_path / "b.ckpt")
    write_atomic(a, b"678")                              # b keeps its bytes: a is replaced
    assert b.read_bytes() == b"12345" and a.read_bytes() == b"678"
    modes = {p.stat().st_mode & 0o777 for p in (a, b)}
    umask = os.umask(0)
    os.umask(umask)
    assert modes == {0o666 & ~umask}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    d = tmp_path / "run"
    claim_output(d, RUN, log=None).add("last.ckpt")
    (d / ".last.ckpt.1a2b3c4d.tmp").write_bytes(b"half")   # a save killed mid-write
    (d / ".mine.tmp").write_bytes(b"the user's")
    claim_output(d, RUN, resume=True, log=None)
    assert sorted(p.name for p in d.iterdir()) == [".mine.tmp", MARKER]


def test_a_failed_command_leaves_no_empty_folder_behind(tmp_path):
    with pytest.raises(RuntimeError):
        with claim_output(tmp_path / "new", EVAL, log=None) as out:
            out.add("metrics.json")
            raise RuntimeError("the data could not be read")
    assert not (tmp_path / "new").exists()
    with pytest.raises(ConfigError, match="is a file"):
        (tmp_path / "f").write_text("x")
        claim_output(tmp_path / "f", EVAL, log=None)
    with pytest.raises(ConfigError, match="is not writable"):
        claim_output(tmp_path / "f" / "out", EVAL, log=None)
    assert read_marker(tmp_path) is None
