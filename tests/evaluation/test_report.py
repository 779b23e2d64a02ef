"""`vidpred report`: a self-contained page, rendered in headless Chromium (Debian's package,
installed here when missing) and checked from a screenshot."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from vidpred.cli import main
from vidpred.evaluation.report import gif_preview
from vidpred.training.loop import train

from .. import chromium
from ..conftest import tiny_config, tiny_dance_config

QUIET = dict(progress=False, log=lambda *a: None)


@pytest.fixture(scope="module")
def runs(push_root, dance_root, tmp_path_factory) -> list[Path]:
    """A demo-like robot-pushing run (trained + evaluated: GIFs, PSNR plot) and a dance run
    (trained + 24-frame rollouts of the test split: rollout GIFs)."""
    base = tmp_path_factory.mktemp("report_runs")
    push, dance = base / "push", base / "dance"
    train(tiny_config(push_root, iterations=4, iters_per_epoch=2), push, **QUIET)
    assert main(["evaluate", "--ckpt", str(push / "best.ckpt"), "--out", str(push / "eval"),
                 "--n-past", "2", "--n-future", "4", "--samples", "2", "--gifs", "2",
                 "--quiet"]) == 0
    train(tiny_dance_config(dance_root), dance, **QUIET)
    assert main(["predict", "--ckpt", str(dance / "best.ckpt"), "--test-dir", str(dance_root / "test"),
                 "--out", str(dance / "eval"), "--no-frames", "--quiet"]) == 0
    return [push, dance]


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser() -> str:
    binary = chromium.find_or_install()
    if binary is None:
        message = ("headless Chromium is needed: apt-get install chromium (Debian) — the test "
                   "set-up installs it when run as root")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def test_report_is_one_file_with_everything_embedded(report, runs):
    page = report.read_text(encoding="utf-8")
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/") for s in sources), \
        [s[:40] for s in sources if not s.startswith("data:")]
    assert "<script" not in page and "@import" not in page and "url(" not in page
    # side by side: both runs, their configs and figures
    for run in runs:
        assert f"<h2>{run.name}</h2>" in page
    push_eval = json.loads((runs[0] / "eval" / "metrics.json").read_text())
    assert f"<td>{round(push_eval['psnr_mean'], 2)}</td>" in page
    assert page.count('data-kind="gif"') == 2 + 2   # 2 evaluation GIFs + 2 test-dance rollouts
    configs = re.findall(r'<pre class="config">(.*?)</pre>', page, re.S)
    assert len(configs) == 2
    # the push run's evaluation had the simulator's ground truth: its object figures are shown
    objects = re.findall(r'<pre class="objects">(.*?)</pre>', page, re.S)
    assert len(objects) == 1 and "simulator ground truth" in objects[0]
    assert "name: svg" in configs[0] and "width: 4" in configs[0]
    assert "name: pose_cvae" in configs[1] and "frame_channels: 8" in configs[1]


def test_report_renders_every_plot_and_gif_in_chromium(report, browser, tmp_path):
    shown = chromium.render(browser, report, tmp_path)
    kinds = [im["kind"] for im in shown["images"]]
    # overlaid curves + overlaid PSNR per frame; per run: training curves + PSNR per frame
    assert kinds.count("plot") == 2 + 2 * 2 and kinds.count("gif") == 4, kinds
    for im in shown["images"]:
        assert im["complete"] and im["natural_width"] > 0, f"not decoded: {im['alt']}"
        assert im["w"] > 50 and im["h"] > 30, f"collapsed: {im}"
        drawn, why = chromium.region_is_drawn(shown["screenshot"], im)
        assert drawn, f"{im['alt']} looks blank on the screenshot ({why})"
    assert shown["page_requests"] == []


def test_request_detector_sees_a_page_that_loads_from_the_network(browser, tmp_path):
    """The check above could pass vacuously; a page with two external images must be caught."""
    page = tmp_path / "external.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://192.0.2.1/a.png">'
                    '<img src="https://example.invalid/b.gif"></body></html>')
    shown = chromium.render(browser, page, tmp_path / "work")
    assert sorted(shown["page_requests"]) == ["http://192.0.2.1/a.png", "https://example.invalid/b.gif"]
    assert all(not im["natural_width"] for im in shown["images"])


def test_blank_region_is_not_called_drawn():
    import numpy as np

    white = np.full((100, 100, 3), 255, np.uint8)
    assert not chromium.region_is_drawn(white, {"x": 0, "y": 0, "w": 100, "h": 100})[0]
    white[20:80, 20:80] = np.random.default_rng(0).integers(0, 255, (60, 60, 3))
    assert chromium.region_is_drawn(white, {"x": 0, "y": 0, "w": 100, "h": 100})[0]


def test_long_gif_is_embedded_as_a_shorter_preview_at_the_same_speed(tmp_path):
    frames = [Image.new("RGB", (32, 16), (i, 255 - i, 0)) for i in range(0, 250)]
    path = tmp_path / "long.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)
    data = gif_preview(path, max_frames=60, max_bytes=1000)
    preview = tmp_path / "preview.gif"
    preview.write_bytes(data)
    with Image.open(preview) as im:
        assert im.n_frames == 50 and im.info["duration"] == 200   # every 5th, 5 x 40 ms
    assert gif_preview(path, max_bytes=10**9) == path.read_bytes()  # small enough: unchanged


def test_report_of_a_folder_that_is_no_run_names_it(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    assert "is not a vidpred run directory" in capsys.readouterr().err
