"""Shared fixtures: a small dataset generated with the real MuJoCo simulator, once per session."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from vidpred.data.sim_push import PushSpec, generate_push_dataset

torch.set_num_threads(min(2, os.cpu_count() or 1))

SMALL_SPEC = PushSpec(train=6, validate=3, test=3, seq_len=14, seed=7)
SMALL_DANCE = dict(train=2, train_len=32, val_len=40, test=2, test_len=24, height=32, width=64,
                   seed=3)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Decoded-frame caches of the tests go to a temporary folder, not the user's cache."""
    old = os.environ.get("VIDPRED_CACHE")
    os.environ["VIDPRED_CACHE"] = str(tmp_path_factory.mktemp("vidpred_cache"))
    yield
    if old is None:
        os.environ.pop("VIDPRED_CACHE", None)
    else:
        os.environ["VIDPRED_CACHE"] = old


@pytest.fixture(scope="session")
def push_root(tmp_path_factory) -> Path:
    """6 train / 3 validate / 3 test sequences of 14 frames, generated with 2 workers."""
    root = tmp_path_factory.mktemp("push") / "data"
    generate_push_dataset(root, SMALL_SPEC, workers=2, progress=False)
    return root


@pytest.fixture(scope="session")
def dance_root(tmp_path_factory) -> Path:
    """Dancing humanoid: 2 training dances of 32 frames, a 40-frame validation dance and 2 test
    dances of 24 frames, 32 x 64, generated with 2 workers."""
    from vidpred.data.sim_dance import DanceSpec, generate_dance_dataset

    root = tmp_path_factory.mktemp("dance") / "data"
    generate_dance_dataset(root, DanceSpec(**SMALL_DANCE), workers=2, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_runs(push_root, dance_root, tmp_path_factory) -> dict:
    """Two finished two-iteration runs, for the commands that read a checkpoint: ``push`` (a
    tiny SVG on push_root) and ``dance`` (a tiny pose CVAE on dance_root)."""
    from vidpred.training.loop import train

    w = tmp_path_factory.mktemp("tiny_runs")
    quiet = dict(progress=False, log=lambda *a: None)
    train(tiny_config(push_root, iterations=2, iters_per_epoch=2), w / "push", **quiet)
    train(tiny_dance_config(dance_root, iterations=2), w / "dance", **quiet)
    return {"push": w / "push", "dance": w / "dance"}


def tiny_dance_config(root: Path, **train):
    """A CPU-tiny pose CVAE on the dance layout (clips of 1 + 7 frames)."""
    from vidpred.config import Config

    cfg = Config()
    cfg.apply_overrides([
        f"data.root={root}", "data.layout=dance", "data.n_past=1", "data.n_future=7",
        "data.image_size=32", "data.image_width=64", "model.name=pose_cvae",
        "model.cond_kind=image", "model.cond_dim=3", "model.output=composite_first",
        "model.frame_channels=8", "model.label_channels=4", "model.z_channels=2",
        "model.fusion_channels=8", "train.iterations=4", "train.iters_per_epoch=2",
        "train.batch_size=2", "train.val_sequences=1"])
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def tree_digest(root: Path) -> str:
    """Hash of every file's path, size and bytes under root (to prove nothing was modified)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def scene():
    """The Fetch push scene at 64 x 64 (each test resets it to the state it needs)."""
    from vidpred.data.gl import select_gl_backend
    from vidpred.data.sim_push import FetchPushScene

    select_gl_backend()
    s = FetchPushScene()
    yield s
    s.close()


def tiny_config(root: Path, **train):
    """A config small enough to train a few iterations in about a second."""
    from vidpred.config import Config

    cfg = Config()
    cfg.data.root = str(root)
    cfg.data.n_past, cfg.data.n_future = 2, 4
    cfg.model.width, cfg.model.g_dim, cfg.model.z_dim, cfg.model.rnn_size = 4, 16, 4, 32
    t = cfg.train
    t.iterations, t.iters_per_epoch, t.batch_size, t.val_sequences = 8, 4, 3, 3
    for k, v in train.items():
        setattr(t, k, v)
    return cfg


def synthetic_config(**train):
    """``tiny_config`` on the in-memory synthetic layout (moving squares, 7-d conditions): for
    tests of the training loop that need some video but not the simulator's."""
    cfg = tiny_config("synthetic", **train)
    cfg.data.layout = "synthetic"
    return cfg


def pytest_collection_modifyitems(items):
    """Tests that render data with MuJoCo (through the push_root / dance_root fixtures) are
    marked ``sim``: ``pytest -m "not sim"`` runs the rest without the simulator."""
    for item in items:
        if {"push_root", "dance_root"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sim)
