"""A long 720p clip for the conversion benchmark of ``vidpred data video`` (docs/video.md): the
given real clips, each scaled to 1280 x 720, played one after the other again and again until the
clip lasts ``--minutes``, encoded with H.264 (libx264, ultrafast, CRF 23) at 25 fps. Frames are
streamed from decoder to encoder: the builder holds one frame at a time.

    python benchmarks/video_long_clip.py CLIP [CLIP ...] --minutes 10 --out long10.mp4
"""
from __future__ import annotations

import argparse
import time
from fractions import Fraction

import av


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", help="source clips, played in turn")
    p.add_argument("--minutes", type=float, required=True, help="length of the clip to write")
    p.add_argument("--out", required=True, help="the .mp4 file to write")
    p.add_argument("--fps", type=int, default=25)
    args = p.parse_args()
    total = round(args.minutes * 60 * args.fps)
    t0, n = time.perf_counter(), 0
    with av.open(args.out, "w") as out:
        s = out.add_stream("libx264", rate=args.fps,
                           options={"preset": "ultrafast", "crf": "23"})
        s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
        while n < total:
            for clip in args.clips:
                with av.open(clip) as src:
                    for frame in src.decode(video=0):
                        if n >= total:
                            break
                        f = frame.reformat(width=1280, height=720, format="yuv420p")
                        f.pts, f.time_base = n, Fraction(1, args.fps)
                        for packet in s.encode(f):
                            out.mux(packet)
                        n += 1
        for packet in s.encode():
            out.mux(packet)
    dt = time.perf_counter() - t0
    print(f"wrote {args.out}: {n} frames, 1280x720 at {args.fps} fps ({n / args.fps / 60:.1f} min) "
          f"in {dt:.0f} s")


if __name__ == "__main__":
    main()
