"""``vidpred report``: one self-contained HTML page for one or several runs, side by side.

Everything the page shows is inside the file — plots and GIFs as ``data:`` URIs, the style in a
``<style>`` element, no script, no font or stylesheet from elsewhere — so it opens offline, can be
mailed, and makes no network request. For each run (a folder written by ``vidpred train`` or
``vidpred demo``, see :mod:`vidpred.evaluation.compare`) it shows the training curves, PSNR per frame and
prediction GIFs of ``eval/`` when the run was evaluated, and its resolved config; above the
columns, a metrics table and, for several runs, their curves overlaid.

Long-rollout GIFs (630 frames, several MB) are embedded as a preview of evenly spaced frames
(at most ``MAX_GIF_FRAMES``, each shown proportionally longer), so the page stays a few MB.
"""
from __future__ import annotations

import base64
import html
import io
import tempfile
import time
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..rundir import write_atomic
from ..viz import plot_run_curves, plot_runs_psnr_per_frame, plot_training
from .compare import COLUMNS, Run, label_runs, load_run, summary_row

PAGE_TITLE = "<title>vidpred report</title>"
MAX_GIF_FRAMES = 120
MAX_GIF_BYTES = 1_500_000

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { margin: 0 0 4px 0; font-size: 22px; }
h2 { font-size: 17px; margin: 20px 0 8px 0; }
h3 { font-size: 14px; margin: 14px 0 6px 0; color: #444; }
table.metrics { border-collapse: collapse; font-size: 13px; }
table.metrics th, table.metrics td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
.runs { display: grid; gap: 20px; align-items: start; }
.run { border: 1px solid #ddd; border-radius: 6px; padding: 12px; min-width: 0; }
img.plot { width: 100%; height: auto; display: block; }
.gifs { display: flex; flex-wrap: wrap; gap: 8px; }
img.gif { image-rendering: pixelated; max-width: 100%; height: auto; }
pre.config, pre.objects { font-size: 11px; background: #f6f6f6; padding: 8px; overflow-x: auto; }
.note { color: #666; font-size: 12px; }
"""


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(data: bytes, mime: str, css: str, alt: str) -> str:
    return (f'<img class="{css}" data-kind="{css}" alt="{html.escape(alt)}" '
            f'src="{_data_uri(data, mime)}">')


def gif_preview(path: Path, max_frames: int = MAX_GIF_FRAMES, max_bytes: int = MAX_GIF_BYTES) -> bytes:
    """The GIF's bytes, or, when it is larger than ``max_bytes``, a re-encoded GIF of at most
    ``max_frames`` evenly spaced frames playing at the original speed (each frame held longer).

    Raises:
        ConfigError: the file is not a readable GIF (names it).
    """
    from PIL import Image, ImageSequence, UnidentifiedImageError

    data = path.read_bytes()
    if len(data) <= max_bytes:
        return data
    try:
        with Image.open(path) as im:
            frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
            duration = im.info.get("duration", 100)
    except (UnidentifiedImageError, OSError) as e:
        raise ConfigError(f"{path}: not a readable GIF ({e})") from None
    step = max(1, -(-len(frames) // max_frames))
    kept = frames[::step]
    out = io.BytesIO()
    kept[0].save(out, format="GIF", save_all=True, append_images=kept[1:],
                 duration=duration * step, loop=0)
    return out.getvalue()


def _run_gifs(run: Path, limit: int) -> list[Path]:
    """Prediction GIFs of a run's evaluation: ``eval/seq_*.gif`` (``vidpred evaluate``) or
    ``eval/seq_*/rollout.gif`` (``vidpred predict --test-dir``)."""
    ev = run / "eval"
    return (sorted(ev.glob("seq_*.gif")) + sorted(ev.glob("seq_*/rollout.gif")))[:limit]


def _curves_png(r: Run, tmp: Path) -> bytes | None:
    """training_curves.png as written by training, or drawn now from metrics.jsonl."""
    png = r.path / "training_curves.png"
    if png.is_file():
        return png.read_bytes()
    if not r.iters:
        return None
    out = tmp / f"curves_{id(r)}.png"
    plot_training(r.path / "metrics.jsonl", out)
    return out.read_bytes()


def _metrics_table(rows: list[dict]) -> str:
    shown = [c for c in COLUMNS if c != "run"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in shown) + "</tr>"
                   for row in rows)
    return f'<table class="metrics"><tr>{head}</tr>{body}</table>'


def _run_column(r: Run, tmp: Path, gifs: int) -> str:
    parts = [f"<h2>{html.escape(r.label)}</h2>", f'<div class="note">{html.escape(str(r.path))}</div>']
    curves = _curves_png(r, tmp)
    parts.append("<h3>Training curves</h3>")
    parts.append(_img(curves, "image/png", "plot", f"training curves of {r.label}") if curves
                 else '<div class="note">no iterations logged yet</div>')
    per_frame = r.path / "eval" / "psnr_per_frame.png"
    if per_frame.is_file():
        parts.append("<h3>PSNR and SSIM per frame (test)</h3>")
        parts.append(_img(per_frame.read_bytes(), "image/png", "plot", f"PSNR per frame of {r.label}"))
    if r.eval is not None and r.eval.objects:
        from .objects import objects_table

        p = r.eval.protocol
        parts.append("<h3>Objects (test)</h3>")
        table = objects_table(r.eval.objects, p.n_samples, p.baseline)
        parts.append(f'<pre class="objects">{html.escape(table)}</pre>')
    files = _run_gifs(r.path, gifs)
    if files:
        parts.append("<h3>Predictions</h3>")
        parts.append('<div class="note">green border: context frame; red border: predicted</div>')
        parts.append('<div class="gifs">' + "".join(
            _img(gif_preview(f), "image/gif", "gif", f"{r.label}: {f.relative_to(r.path)}")
            for f in files) + "</div>")
    if r.eval is None:
        parts.append('<div class="note">not evaluated: run <code>vidpred evaluate --ckpt '
                     f'{html.escape(str(r.path / "best.ckpt"))} --out {html.escape(str(r.path / "eval"))} '
                     '...</code> to add test figures</div>')
    parts.append("<h3>Config</h3>")
    parts.append(f'<pre class="config">{html.escape(yaml.safe_dump(r.config.to_dict(), sort_keys=False))}</pre>')
    return f'<div class="run">{"".join(parts)}</div>'


def write_report(run_dirs: list[str | Path], out: str | Path, gifs: int = 4, log=print) -> Path:
    """Write the HTML report of ``run_dirs`` to ``out``.

    Args:
        run_dirs: run directories (``config.yaml`` + ``metrics.jsonl``; ``eval/`` optional).
        out: the ``.html`` file to write (its folder is created).
        gifs: prediction GIFs shown per run.

    Returns:
        The path written.

    Raises:
        ConfigError: no run given, a folder that is not a run directory (named), ``gifs`` < 0,
            or an ``out`` that is a folder or a file vidpred did not write. DataError: a run's
            log that is not vidpred's.
    """
    if not run_dirs:
        raise ConfigError("report needs at least one run directory")
    if gifs < 0:
        raise ConfigError(f"--gifs={gifs}: must be >= 0")
    out = Path(out)
    _check_page(out)
    runs = [load_run(p, log) for p in run_dirs]
    label_runs(runs)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sections = [f"<h1>vidpred report: {len(runs)} run{'s' * (len(runs) > 1)}</h1>",
                    f'<div class="note">written {time.strftime("%Y-%m-%d %H:%M")}; PSNR in dB '
                    "(data range 1); test figures are best of N prior samples; the protocol column "
                    "gives the split, sequences, context -> predicted frames, N and the metric "
                    "that picks the best sample</div>",
                    "<h2>Metrics</h2>", _metrics_table([summary_row(r) for r in runs])]
        if len(runs) > 1:
            plot_run_curves([(r.label, r.iters, r.epochs) for r in runs], tmp / "overlay.png")
            sections += ["<h2>All runs overlaid</h2>",
                         _img((tmp / "overlay.png").read_bytes(), "image/png", "plot", "curves of all runs")]
            evaluated = [(r.label, r.eval) for r in runs if r.eval]
            if evaluated:
                plot_runs_psnr_per_frame(evaluated, tmp / "overlay_psnr.png")
                sections.append(_img((tmp / "overlay_psnr.png").read_bytes(), "image/png", "plot",
                                     "PSNR per frame of all runs"))
        columns = "".join(_run_column(r, tmp, gifs) for r in runs)
        sections.append(f'<div class="runs" style="grid-template-columns: repeat({len(runs)}, '
                        f'minmax(380px, 1fr))">{columns}</div>')
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"{PAGE_TITLE}"
            f"<style>{_STYLE}</style></head><body>{''.join(sections)}</body></html>\n")
    write_atomic(out, page)
    return out


def _check_page(out: Path) -> None:
    """The report is written only where no file is, or over an earlier report.

    Raises:
        ConfigError: ``out`` is a folder, a file vidpred did not write, or cannot be created.
    """
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a folder; give the .html file to write, e.g. "
                          f"{out / 'report.html'}")
    if out.exists():
        with out.open("rb") as f:
            head = f.read(4096)
        if PAGE_TITLE.encode() not in head:
            raise ConfigError(f"--out {out}: exists and is not a report written by vidpred; "
                              "choose another file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: its folder cannot be created ({e.strerror or e})") from None
