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


@pytest.fixture(scope="session")
def push_root(tmp_path_factory) -> Path:
    """6 train / 3 validate / 3 test sequences of 14 frames, generated with 2 workers."""
    root = tmp_path_factory.mktemp("push") / "data"
    generate_push_dataset(root, SMALL_SPEC, workers=2, progress=False)
    return root


def tree_digest(root: Path) -> str:
    """Hash of every file's path, size and bytes under root (to prove nothing was modified)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


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
