"""Tiny video files written with PyAV for the tests: moving shapes, hard cuts, odd sizes."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def shapes_frames(n: int, width: int, height: int, scene: int = 0, offset: int = 0) -> np.ndarray:
    """uint8 (n, height, width, 3): a bright square moving right across a background whose
    colour (and the square's) is fixed by ``scene``; frame t shows the square at t + offset."""
    rng = np.random.default_rng(scene)
    bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if scene % 2:  # scenes alternate dark and bright backgrounds: every cut is a hard one
        bg, fg = bg // 4, 192 + fg // 4
    else:
        bg, fg = 192 + bg // 4, fg // 4
    frames = np.empty((n, height, width, 3), np.uint8)
    side = max(4, min(width, height) // 3)
    for t in range(n):
        frames[t] = bg
        x = (2 * (t + offset)) % max(1, width - side)
        y = (height - side) // 2 + int(3 * np.sin((t + offset) / 3))
        frames[t, max(y, 0):y + side, x:x + side] = fg
    return frames


def write_clip(path: Path, frames: np.ndarray, fps: int = 24, codec: str = "mpeg4",
               pix_fmt: str = "yuv420p") -> Path:
    """Encode ``frames`` (uint8 (T, H, W, 3) RGB) into ``path`` (container from its suffix)."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if codec == "mpeg4":
            s.bit_rate = 4_000_000  # sharp enough that a cut is the only big change
        for f in frames:
            for packet in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def write_cut_clip(path: Path, lengths=(40, 40), width: int = 80, height: int = 48,
                   fps: int = 24, **kw) -> Path:
    """Shots of ``lengths`` frames each, a hard cut between two shots."""
    frames = np.concatenate([shapes_frames(n, width, height, scene=k, offset=7 * k)
                             for k, n in enumerate(lengths)])
    return write_clip(path, frames, fps, **kw)


def write_audio_only(path: Path) -> Path:
    """A second of a 440 Hz tone and nothing else."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("mp2", rate=44100)
        s.layout = "mono"
        t = np.arange(44100) / 44100
        samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)[None]
        for k in range(0, 44100, 1152):
            chunk = np.ascontiguousarray(samples[:, k:k + 1152])
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = 44100
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path
