"""``vidpred data video``: your own footage (any container and codec FFmpeg reads: mp4/H.264,
avi/MPEG-4, webm/VP8-9, mkv, mov) into the ``video`` layout (:mod:`vidpred.data.video`).

Frames are decoded with PyAV (FFmpeg), picked at ``fps``, scaled (and center-cropped or
letterboxed) to ``image_size`` x ``image_size`` by FFmpeg's scaler, cut into shots at the cuts
PySceneDetect's content detector finds, and streamed into one ``.npy`` file per shot: memory stays
the same whatever the footage's length. Shots shorter than one window are dropped. The split
(:mod:`vidpred.data.video_splits`) is by file when there are enough files, else by time.

Everything is written into a temporary folder beside ``out`` (``.<name>.<token>.tmp``) that is
renamed to ``out`` at the end: a failure leaves nothing behind.
"""
from __future__ import annotations

import json
import math
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, check_ranges
from ..progress import progress_bar
from ..rundir import OutputDir, read_marker, write_atomic
from .jobs import META_FILE
from .video import LAYOUT, SHOTS_DIR, is_video_dataset
from .video_splits import Split, split_shots

CROPS = ("center", "full")
# the default frame rate: at most this many frames per second (module doc of default_fps)
MAX_DEFAULT_FPS = 25.0
# formats FFmpeg opens that are not footage: text drawn as a video (tty), still images
NOT_VIDEO = {"tty", "image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "gif_pipe", "webp_pipe",
             "tiff_pipe", "ppm_pipe", "pgm_pipe", "svg_pipe"}
INSTALL = "pip install 'vidpred[video]' (PyAV and PySceneDetect)"


@dataclass(frozen=True)
class VideoSpec:
    """How footage is converted.

    Attributes:
        image_size: frame height and width in pixels.
        crop: ``center`` (the largest centred square, scaled) or ``full`` (the whole frame scaled
            to fit, black bars above and below or left and right).
        fps: frames per second kept; None: :func:`default_fps` of each file's own rate.
        start, end: the stretch of each file converted, in seconds (end None: to the end).
        window: frames per training and test window (n_past + n_future); shots shorter than
            this are dropped and the split counts windows of this length.
        threshold: PySceneDetect's content threshold (27 is its default; lower finds more cuts).

    Raises:
        ConfigError: a value out of range or an unknown crop (named as its option).
    """

    image_size: int = 64
    crop: str = "center"
    fps: float | None = None
    start: float = 0.0
    end: float | None = None
    window: int = 12
    threshold: float = 27.0

    def __post_init__(self):
        problems = []
        try:
            check_ranges(self, image_size=(1, None), start=(0, None), window=(2, None),
                         threshold=(0, None))
        except ConfigError as e:
            problems.append(str(e))
        if self.fps is not None and not self.fps > 0:
            problems.append(f"--fps={self.fps}: must be > 0 (or leave it out for the default)")
        if self.end is not None and not self.end > self.start:
            problems.append(f"--end={self.end}: must be after --start ({self.start})")
        if self.crop not in CROPS:
            problems.append(f"--crop {self.crop!r}: choose one of {', '.join(CROPS)}")
        if problems:
            raise ConfigError("\n".join(problems))


def default_fps(native: float) -> float:
    """The rate kept when ``--fps`` is not given: the file's own rate divided by the smallest
    integer that brings it to 25 or below (24, 25: all frames; 30: 15; 50: 25; 60: 20). Frames
    are picked, never blended; at 60 fps consecutive frames of a 64 x 64 clip barely differ, while
    25 fps and below still moves visibly from frame to frame."""
    return native / max(1, math.ceil(native / MAX_DEFAULT_FPS - 1e-9))


def _import_av():
    try:
        import av
    except ImportError:
        raise DataError(f"vidpred data video needs PyAV: {INSTALL}") from None
    return av


def open_video(path: Path):
    """``(container, stream)`` of a file's first video stream.

    Raises:
        DataError: missing, not a video FFmpeg reads (corrupt, truncated header), or no video
            stream (an audio-only file); named with the fix.
    """
    av = _import_av()
    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a video file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{path}: not a video FFmpeg can read ({_reason(e)}); give a video file "
                        "(mp4, avi, webm, mkv, mov), or re-encode this one (e.g. with ffmpeg)") from None
    if container.format.name in NOT_VIDEO:
        name = container.format.name
        container.close()
        raise DataError(f"{path}: not a video (FFmpeg reads it as {name}); give a video file "
                        "(mp4, avi, webm, mkv, mov)")
    if not container.streams:
        container.close()
        raise DataError(f"{path}: no streams found (a truncated or damaged file?); copy the whole "
                        "file again, or re-encode it")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        container.close()
        raise DataError(f"{path}: holds no video stream (only {', '.join(kinds)}); give a file "
                        "with video in it")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame- and slice-threads: decoding is the slow part
    return container, stream


def _reason(e: Exception) -> str:
    return (getattr(e, "strerror", None) or str(e)).strip().rstrip(".") or type(e).__name__


def _scaled(frame, size: int, crop: str) -> np.ndarray:
    """One decoded frame as uint8 (size, size, 3) RGB, scaled by FFmpeg (area averaging)."""
    w, h = frame.width, frame.height
    # center: the short side fills the square (then cropped); full: the long side fits
    scale = size / (min(w, h) if crop == "center" else max(w, h))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    img = frame.reformat(width=sw, height=sh, format="rgb24", interpolation="AREA").to_ndarray()
    out = np.zeros((size, size, 3), np.uint8)
    if crop == "center":
        y, x = (sh - size) // 2, (sw - size) // 2
        return np.ascontiguousarray(img[y:y + size, x:x + size])
    y, x = (size - sh) // 2, (size - sw) // 2
    out[y:y + sh, x:x + sw] = img
    return out


def decode_frames(path: Path, spec: VideoSpec, info: dict):
    """The frames of ``path`` that ``spec`` keeps, one at a time: uint8 (S, S, 3) RGB.

    Fills ``info`` with the stream's size, native rate, the rate kept and the frames decoded.

    Raises:
        DataError: unreadable or damaged footage (named, with the time it broke at).
    """
    av = _import_av()
    container, stream = open_video(path)
    native = float(stream.average_rate or stream.guessed_rate or 25)
    fps = spec.fps or default_fps(native)
    info.update(width=stream.width, height=stream.height, native_fps=round(native, 3),
                fps=round(float(fps), 3), decoded=0)
    t, target = spec.start, spec.start
    try:
        if spec.start > 0 and stream.time_base:
            container.seek(int(spec.start / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            t = frame.time if frame.time is not None else info["decoded"] / native
            info["decoded"] += 1
            if spec.end is not None and t >= spec.end:
                break
            # half a source frame of slack: rates like 29.97 must not drop a frame now and then
            if t < target - 0.5 / native:
                continue
            target = max(target + 1 / fps, t + 0.5 / native) if fps >= native else target + 1 / fps
            yield _scaled(frame, spec.image_size, spec.crop)
        else:
            _check_complete(path, container, stream, t, native, spec.end)
    except (av.FFmpegError, ValueError, MemoryError) as e:
        raise DataError(f"{path}: damaged at about {t:.1f} s ({_reason(e)}); re-encode the file, "
                        f"or convert the part before it with --end {max(t - 1, 0):.0f}") from None
    finally:
        container.close()


def _check_complete(path: Path, container, stream, last: float, native: float,
                    end: float | None) -> None:
    """A file whose frames stop well before the end its header gives was cut short (a copy or a
    recording that was interrupted): FFmpeg stops there without an error.

    Raises:
        DataError: the frames end more than half a second (or 3 frames) early.
    """
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # microseconds
    else:
        return
    expected = duration if end is None else min(duration, end)
    if last + 1 / native < expected - max(0.5, 3 / native):
        raise DataError(f"{path}: truncated: its frames end at {last:.1f} s but the file says "
                        f"{duration:.1f} s; copy the whole file again, or convert the part before "
                        f"the break with --end {max(last - 1, 0):.0f}")


class ShotWriter:
    """Streams frames into ``path`` as a ``.npy`` file uint8 (T, S, S, 3): a fixed-length
    header written first and rewritten with T when closed (nothing held in memory)."""

    HEADER = 128  # bytes of magic + header; the shape of a shot of any length fits

    def __init__(self, path: Path, size: int):
        self.path, self.size, self.frames = path, size, 0
        self.file = open(path, "wb")
        self._header()

    def _header(self) -> None:
        text = repr({"descr": "|u1", "fortran_order": False,
                     "shape": (self.frames, self.size, self.size, 3)})
        body = text.ljust(self.HEADER - 10 - 1) + "\n"
        self.file.seek(0)
        self.file.write(b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body.encode("latin1"))

    def write(self, frame: np.ndarray) -> None:
        self.file.seek(0, 2)
        self.file.write(frame.tobytes())
        self.frames += 1

    def close(self) -> int:
        self._header()
        self.file.close()
        return self.frames


class CutDetector:
    """PySceneDetect's :class:`ContentDetector` fed our frames: a cut is a frame whose change of
    hue, saturation and luminance from the one before is above ``threshold``."""

    def __init__(self, threshold: float, fps: float):
        try:
            from scenedetect import FrameTimecode
            from scenedetect.detectors import ContentDetector
        except ImportError:
            raise DataError(f"vidpred data video needs PySceneDetect: {INSTALL}") from None
        # min_scene_len 1: report every cut; shots shorter than a window are dropped later
        self.detector, self.timecode, self.fps = \
            ContentDetector(threshold=threshold, min_scene_len=1), FrameTimecode, fps
        self.index = 0

    def is_cut(self, frame: np.ndarray) -> bool:
        """Whether ``frame`` (uint8 (S, S, 3) RGB, the next one) starts a new shot."""
        bgr = np.ascontiguousarray(frame[..., ::-1])  # OpenCV's channel order
        cuts = self.detector.process_frame(self.timecode(self.index, self.fps), bgr)
        self.index += 1
        return bool(cuts) and self.index > 1


@dataclass
class ConvertReport:
    """What a conversion kept: per file (name, frames decoded and kept, shots) and the split."""

    root: Path
    sources: list[dict]
    shots: int
    frames_kept: int
    frames_dropped: int
    split: dict
    reused: bool = False


def _convert_file(path: Path, index: int, spec: VideoSpec, tmp: Path, shots: list[dict],
                  progress: bool) -> dict:
    """Decode one file into shot files in ``tmp/shots``; returns its source record."""
    info: dict = {"file": str(path), "size_bytes": path.stat().st_size if path.is_file() else 0}
    bar = progress_bar(desc=path.name, unit="frame", disable=not progress)
    writer = detector = None
    kept = dropped = n_shots = 0

    def finish():
        nonlocal kept, dropped, n_shots
        n = writer.close()
        n_shots += 1
        if n < spec.window:  # too short for a window: no window could use it
            writer.path.unlink()
            dropped += n
            return
        kept += n
        shots.append({"file": f"{SHOTS_DIR}/{writer.path.name}", "source": index, "frames": n})

    for frame in decode_frames(path, spec, info):
        detector = detector or CutDetector(spec.threshold, info["fps"])
        cut = detector.is_cut(frame)  # every frame goes through the detector, the first too
        if writer is None or cut:
            if writer is not None:
                finish()
            writer = ShotWriter(tmp / SHOTS_DIR / f"shot_{len(shots):04d}.{index}.npy.part",
                                spec.image_size)
        writer.write(frame)
        bar.update()
    bar.close()
    if writer is None:
        raise DataError(f"{path}: no frames between --start {spec.start:g} s and --end "
                        f"{spec.end if spec.end is not None else 'the end'}; check the times")
    finish()
    info.update(frames_kept=kept, frames_dropped=dropped, shots=n_shots)
    return info


def _finish_shots(tmp: Path, shots: list[dict]) -> None:
    """Give the kept shot files their final names, shot_<k>.npy in time order."""
    for k, shot in enumerate(shots):
        final = f"{SHOTS_DIR}/shot_{k:04d}.npy"
        (tmp / shot["file"]).rename(tmp / final)
        shot["file"] = final


def _settings(spec: VideoSpec, files: list[Path]) -> dict:
    """What the dataset was made from: the spec and each file's name, size and mtime (a file
    changed since gives other settings)."""
    return {"layout": LAYOUT, **asdict(spec),
            "files": [{"file": str(f), "size_bytes": f.stat().st_size,
                       "mtime_ns": f.stat().st_mtime_ns} if f.is_file() else {"file": str(f)}
                      for f in files]}


def _reuse(out: Path, settings: dict, overwrite: bool) -> dict | None:
    """The record of ``out`` when it already holds this conversion (None: convert).

    Raises:
        ConfigError: ``out`` holds something else (without ``overwrite``: a dataset converted
            with other settings; never: a folder vidpred did not write).
    """
    if not out.exists():
        return None
    if out.is_dir() and not any(out.iterdir()):
        return None
    marker = read_marker(out) if out.is_dir() else None
    if marker is None or not is_video_dataset(out):
        raise ConfigError(f"--out {out}: exists and is not a video dataset vidpred wrote; choose "
                          "a new folder")
    record = json.loads((out / META_FILE).read_text())
    if record.get("settings") == settings and not overwrite:
        return record
    if not overwrite:
        raise ConfigError(f"--out {out}: holds a video dataset converted with other settings or "
                          "files; pass --overwrite to replace it, or choose a new folder")
    return None


def convert_videos(files: list[str | Path], out: str | Path, spec: VideoSpec = VideoSpec(),
                   overwrite: bool = False, progress: bool = True) -> ConvertReport:
    """Convert ``files`` (in this order: the split by time follows it) into the video layout at
    ``out``. A folder that already holds the same conversion (same spec, files of the same
    size and mtime) is reused as it is.

    Raises:
        ConfigError: a bad setting, an unusable ``out``. DataError: a file that cannot be used
            (missing, not a video, no video stream, damaged, too short after cuts), named with the
            fix. Nothing is left behind: the temporary folder is removed.
    """
    files, out = [Path(f).expanduser() for f in files], Path(out).expanduser()
    if not files:
        raise ConfigError("give at least one video file")
    for f in files:
        if not f.is_file():
            raise DataError(f"{f}: no such file; give the path of a video file")
    settings = _settings(spec, files)
    old = _reuse(out, settings, overwrite)
    if old is not None:
        return _report(out, old, reused=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    try:
        (tmp / SHOTS_DIR).mkdir(parents=True)
        record = _write(files, tmp, spec, settings, progress)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _report(out, record)


def _write(files: list[Path], tmp: Path, spec: VideoSpec, settings: dict, progress: bool) -> dict:
    """Shots, split and record of ``files`` into ``tmp``; returns the record."""
    shots: list[dict] = []
    sources = [_convert_file(f, i, spec, tmp, shots, progress) for i, f in enumerate(files)]
    where = str(files[0]) if len(files) == 1 else f"{len(files)} files ({files[0].name}, ...)"
    short = sum(s["shots"] for s in sources) - len(shots)
    dropped = f" ({sum(s['frames_dropped'] for s in sources)} more in {short} shot(s) shorter than " \
        "a window)" if short else ""
    split: Split = split_shots([s["source"] for s in shots], [s["frames"] for s in shots],
                               len(files), spec.window, where, dropped)
    _finish_shots(tmp, shots)
    record = {"layout": LAYOUT, "version": 1, "settings": settings, "sources": sources,
              "shots": shots, "frames_kept": sum(s["frames_kept"] for s in sources),
              "frames_dropped": sum(s["frames_dropped"] for s in sources),
              "split": split.record()}
    counts = {k: record["split"][k] for k in ("rule", "window", "gap_frames", "frames", "windows")}
    marker = OutputDir(tmp, [], settings={"layout": LAYOUT, "split": counts})
    marker.add(SHOTS_DIR, META_FILE)
    write_atomic(tmp / META_FILE, json.dumps(record, indent=1))
    return record


def _replace(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out`` (an empty ``out`` or, with overwrite, a video
    dataset of vidpred's is moved aside first and removed after)."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.{secrets.token_hex(4)}.old.tmp"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _report(out: Path, record: dict, reused: bool = False) -> ConvertReport:
    return ConvertReport(out, record["sources"], len(record["shots"]), record["frames_kept"],
                         record["frames_dropped"], record["split"], reused)
