"""``vidpred data video``: tiny clips written with PyAV are converted, read back, cut at their
cuts and split without leakage; every bad input stops with one line naming the file and the fix,
leaving no folder behind."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidpred.cli import main
from vidpred.data import check_data, detect_layout, make_dataset
from vidpred.data.video_convert import VideoSpec, convert_videos, default_fps
from vidpred.data.video_splits import split_by_time, split_shots
from vidpred.errors import ConfigError, DataError

from .video_clips import shapes_frames, write_audio_only, write_clip, write_cut_clip

pytest.importorskip("av")
pytest.importorskip("scenedetect")
SMALL = VideoSpec(image_size=16, window=4)


def _record(root: Path) -> dict:
    return json.loads((root / "vidpred_dataset.json").read_text())


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory) -> Path:
    """Two shots of 40 frames (a hard cut at frame 40), 80 x 48 at 24 fps, MPEG-4 in mp4."""
    return write_cut_clip(tmp_path_factory.mktemp("clips") / "cut.mp4", (40, 40))


def test_a_clip_converts_and_reads_back_as_moving_frames(cut_clip, tmp_path):
    r = convert_videos([cut_clip], tmp_path / "ds", SMALL, progress=False)
    assert (r.shots, r.frames_kept, r.frames_dropped) == (2, 80, 0)
    assert detect_layout(tmp_path / "ds") == "video"
    assert check_data(tmp_path / "ds", "video", image_size=16) == []
    test = make_dataset(tmp_path / "ds", "video", "test", 4, train=False, image_size=16)
    frames, cond = test.batch(range(len(test)))
    assert frames.shape == (len(test), 4, 3, 16, 16) and cond.shape == (len(test), 4, 0)
    assert 0.0 <= frames.min() and frames.max() <= 1.0
    assert (frames[:, 1:] - frames[:, :-1]).abs().mean() > 0.005  # the square moves
    # the converted frame is the clip's centred 48 x 48 square, scaled: compare mean colours
    shot0 = np.load(tmp_path / "ds" / "shots" / "shot_0000.npy")
    truth = shapes_frames(40, 80, 48, scene=0)[0, :, 16:64].reshape(-1, 3).mean(0)
    assert np.abs(shot0[0].reshape(-1, 3).mean(0) - truth).max() < 12
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_the_cut_is_found_and_no_window_spans_it(cut_clip, tmp_path):
    convert_videos([cut_clip], tmp_path / "ds", SMALL, progress=False)
    rec = _record(tmp_path / "ds")
    assert [s["frames"] for s in rec["shots"]] == [40, 40]  # the cut at frame 40, exactly
    for split in ("train", "validate", "test"):
        d = make_dataset(tmp_path / "ds", "video", split, 4, train=split == "train", image_size=16)
        for shot, start in d.items:  # every window inside one segment of one shot
            assert any(s == shot and a <= start and start + 4 <= e for s, a, e in d.segments)


def test_one_file_is_split_by_time_with_gaps_and_no_shared_frame(cut_clip, tmp_path):
    convert_videos([cut_clip], tmp_path / "ds", SMALL, progress=False)
    split = _record(tmp_path / "ds")["split"]
    assert split["rule"] == "by-time" and split["gap_frames"] == 4
    assert split["windows"]["test"] >= 3 and split["windows"]["validate"] >= 1
    # along the timeline (shots end to end): train, gap, validate, gap, test
    spans = {n: [40 * s + a for s, a, e in split["segments"][n]] +
             [40 * s + e for s, a, e in split["segments"][n]] for n in split["segments"]}
    assert max(spans["train"]) + 4 <= min(spans["validate"])
    assert max(spans["validate"]) + 4 <= min(spans["test"])


def test_several_files_are_split_by_file(tmp_path):
    clips = [write_cut_clip(tmp_path / f"c{i}.mp4", (24,)) for i in range(4)]
    r = convert_videos(clips, tmp_path / "ds", SMALL, progress=False)
    assert r.split["rule"] == "by-file"
    assert r.split["files"] == {"train": [0, 1], "validate": [2], "test": [3]}
    assert r.split["gap_frames"] == 0 and r.split["windows"]["test"] == 6


def test_split_rule_refuses_too_little_footage_with_its_numbers():
    assert split_by_time([28], 4, "x").windows("test") == 3
    with pytest.raises(DataError, match=r"x: 27 frames kept in 1 shot\(s\) hold 6 windows of 4"):
        split_by_time([27], 4, "x")
    # windows never span a cut: 28 frames in one shot split, in shots of 10 and 18 they do not
    with pytest.raises(DataError, match=r"28 frames kept in 2 shot\(s\) hold 6 windows"):
        split_shots([0, 0], [10, 18], 1, 4, "x")


def test_frame_rate_crop_and_odd_sizes(tmp_path):
    assert [default_fps(r) for r in (24, 25, 30, 50, 60)] == [24, 25, 15, 25, 20]
    wide = write_clip(tmp_path / "wide.mp4", shapes_frames(90, 96, 32), fps=30)
    r = convert_videos([wide], tmp_path / "a", SMALL, progress=False)  # 30 fps -> 15
    assert r.sources[0]["fps"] == 15 and r.frames_kept == 45
    r = convert_videos([wide], tmp_path / "b", VideoSpec(16, "full", fps=10, window=4),
                       progress=False)
    assert r.frames_kept == 30
    shot = np.load(tmp_path / "b" / "shots" / "shot_0000.npy")
    assert shot[:, :4].max() == 0 and shot[:, 6:10].max() > 0  # letterboxed: black bars above
    odd = write_cut_clip(tmp_path / "odd.mkv", (60,), width=97, height=53, codec="ffv1",
                         pix_fmt="yuv444p")
    r = convert_videos([odd], tmp_path / "c", VideoSpec(16, start=0.25, end=2.0, window=4),
                       progress=False)
    assert r.frames_kept == 42 and r.sources[0]["width"] == 97  # 0.25 s .. 2 s at 24 fps


def test_the_same_conversion_is_reused_and_other_settings_need_overwrite(cut_clip, tmp_path):
    convert_videos([cut_clip], tmp_path / "ds", SMALL, progress=False)
    assert convert_videos([cut_clip], tmp_path / "ds", SMALL, progress=False).reused
    with pytest.raises(ConfigError, match="--overwrite"):
        convert_videos([cut_clip], tmp_path / "ds", VideoSpec(image_size=8, window=4))
    r = convert_videos([cut_clip], tmp_path / "ds", VideoSpec(image_size=8, window=4),
                       overwrite=True, progress=False)
    assert not r.reused and np.load(tmp_path / "ds/shots/shot_0000.npy").shape[1:] == (8, 8, 3)


def test_data_check_finds_a_damaged_dataset(cut_clip, tmp_path):
    convert_videos([cut_clip], tmp_path / "ds", SMALL, progress=False)
    (tmp_path / "ds/shots/shot_0001.npy").write_bytes(b"\x93NUMPY broken")
    problems = check_data(tmp_path / "ds", "video", image_size=16)
    assert len(problems) == 1 and "shot_0001.npy: unreadable shot" in problems[0]
    assert check_data(tmp_path / "ds", "video", image_size=32)[0].endswith(
        "convert with --image-size 32 or set data.image_size=16")


def _bad_inputs(d: Path) -> dict:
    cut = write_cut_clip(d / "good.mkv", (40, 40))
    data = cut.read_bytes()
    (d / "truncated.mkv").write_bytes(data[:len(data) // 2])
    mp4 = write_cut_clip(d / "good.mp4", (20,))
    (d / "truncated.mp4").write_bytes(mp4.read_bytes()[:len(mp4.read_bytes()) // 2])
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    (d / "notes.txt").write_text("not a video\n" * 50)
    write_audio_only(d / "tone.mka")
    write_cut_clip(d / "three.mp4", (3,))
    write_cut_clip(d / "cuts.mp4", (10, 10, 10, 10, 10, 10))
    return {"good": cut}


BAD = [  # (argv after `data video`, what the one error line must say)
    (["{d}/truncated.mkv"], "{d}/truncated.mkv: truncated"),
    (["{d}/truncated.mp4"], "{d}/truncated.mp4: no streams found (a truncated or damaged"),
    (["{d}/corrupt.mp4"], "{d}/corrupt.mp4: not a video FFmpeg can read"),
    (["{d}/notes.txt"], "{d}/notes.txt: not a video (FFmpeg reads it as tty"),
    (["{d}/tone.mka"], "{d}/tone.mka: holds no video stream (only audio)"),
    (["{d}/three.mp4"], "{d}/three.mp4: 0 frames kept in 0 shot(s) (3 more in 1 shot(s) shorter "
                        "than a window) hold 0 windows of 12"),
    (["{d}/cuts.mp4"], "{d}/cuts.mp4: 0 frames kept in 0 shot(s) (60 more in 6 shot(s) shorter"),
    (["{d}/missing.mp4"], "{d}/missing.mp4: no such file"),
    (["{d}/good.mkv", "--crop", "middle"], "argument --crop: invalid choice: 'middle'"),
    (["{d}/good.mkv", "--image-size", "0"], "--image-size=0: must be >= 1"),
    (["{d}/good.mkv", "--image-size", "-8"], "--image-size=-8: must be >= 1"),
    (["{d}/good.mkv", "--fps", "0"], "--fps=0.0: must be > 0"),
    (["{d}/good.mkv", "--fps", "-5"], "--fps=-5.0: must be > 0"),
    (["{d}/good.mkv", "--start", "2", "--end", "1"], "--end=1.0: must be after --start"),
]


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    _bad_inputs(d)
    return d


@pytest.mark.parametrize("argv, message", BAD, ids=[m.split(":")[0].split("/")[-1] + "-" + str(i)
                                                    for i, (_, m) in enumerate(BAD)])
def test_each_bad_input_is_one_line_and_leaves_nothing(bad_dir, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    argv = [a.format(d=bad_dir) for a in argv]
    status = main(["data", "video", *argv, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("vidpred: error:")]
    assert status in (1, 2) and "Traceback" not in err
    assert len(errors) == 1 and message.format(d=bad_dir) in errors[0], err
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no folder, no temporary


def test_the_command_prints_shots_frames_and_split(cut_clip, tmp_path, capsys):
    assert main(["data", "video", str(cut_clip), "--out", str(tmp_path / "ds"), "--image-size",
                 "16", "--window", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 shots, 80 frames kept; split by-time (gap 4 frames)" in out
    assert main(["data", "check", str(tmp_path / "ds"), "--layout", "video", "--image-size",
                 "16", "--quiet"]) == 0


@pytest.mark.parametrize("name, codec", [("h264.mp4", "libx264"), ("mpeg4.avi", "mpeg4"),
                                         ("vp8.webm", "libvpx"), ("vp9.webm", "libvpx-vp9"),
                                         ("ffv1.mkv", "ffv1"), ("mpeg4.mov", "mpeg4")])
def test_common_containers_and_codecs_decode(tmp_path, name, codec):
    from vidpred.data.video_convert import decode_frames

    clip = write_clip(tmp_path / name, shapes_frames(12, 64, 48), fps=24, codec=codec)
    info: dict = {}
    frames = list(decode_frames(clip, VideoSpec(image_size=16), info))
    assert len(frames) == 12 and frames[0].shape == (16, 16, 3) and info["native_fps"] == 24
