"""Headless Chromium for the report tests: find (or install, Debian's ``chromium``), render a page,
and read back what it drew and which network requests the page made.

Two runs of the browser at the same width lay the page out the same way: the first loads a copy
with a probe script appended that writes each image's box and decoded size into the DOM
(``--dump-dom``); the second screenshots the unmodified page at the full page height, with a net
log (``--log-net-log``). A request is the page's when its network isolation key names the
``file://`` page; Chromium's own background requests (update checks) carry other keys.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]

_PROBE = """<script>window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("img").forEach(function (im) {
    var r = im.getBoundingClientRect();
    out.push({kind: im.dataset.kind || "", alt: im.alt, x: r.left + window.scrollX,
              y: r.top + window.scrollY, w: r.width, h: r.height, natural_width: im.naturalWidth,
              complete: im.complete});
  });
  var p = document.createElement("pre");
  p.id = "vidpred-probe";
  p.textContent = JSON.stringify({height: document.documentElement.scrollHeight, images: out});
  document.body.appendChild(p);
});</script>"""


def find_or_install() -> str | None:
    """Path of the chromium binary; installs Debian's package when missing and we are root."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode:
            return None
    return shutil.which("chromium")


def _run(binary: str, profile: Path, args: list[str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args, url],
                          capture_output=True, text=True, timeout=120)


def render(binary: str, page: Path, work: Path, width: int = 1400) -> dict:
    """Render ``page`` headless.

    Returns:
        ``{"height": page height px, "images": [{kind, alt, x, y, w, h, natural_width,
        complete}], "screenshot": (H, W, 3) uint8, "page_requests": [url, ...]}``.
    """
    from PIL import Image

    work.mkdir(parents=True, exist_ok=True)
    probe_page = work / f"probe_{page.name}"
    probe_page.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
                          encoding="utf-8")
    dumped = _run(binary, work / "profile_probe", [f"--window-size={width},1000", "--dump-dom"],
                  probe_page.resolve().as_uri())
    start = dumped.stdout.find('<pre id="vidpred-probe">')
    assert start >= 0, f"the probe did not run: {dumped.stderr[-2000:]}"
    body = dumped.stdout[start + len('<pre id="vidpred-probe">'):dumped.stdout.index("</pre>", start)]
    layout = json.loads(html.unescape(body))
    shot, netlog = work / f"{page.stem}.png", work / f"{page.stem}_netlog.json"
    height = int(layout["height"]) + 10
    done = _run(binary, work / "profile_shot",
                [f"--window-size={width},{height}", f"--screenshot={shot}",
                 f"--log-net-log={netlog}", "--net-log-capture-mode=Everything"],
                page.resolve().as_uri())
    assert shot.is_file(), f"no screenshot: {done.stderr[-2000:]}"
    layout["screenshot"] = np.asarray(Image.open(shot).convert("RGB"))
    layout["page_requests"] = page_requests(netlog)
    return layout


def page_requests(netlog: Path) -> list[str]:
    """URLs the page itself requested over the network (not Chromium's own traffic)."""
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"]
            if e["type"] == start_job and "url" in e.get("params", {})
            and "file://" in e["params"].get("network_isolation_key", "")]


def region_is_drawn(screenshot: np.ndarray, box: dict) -> tuple[bool, str]:
    """Whether the screenshot's pixels inside ``box`` show a picture: not one flat colour
    (a blank or missing image), with some non-white pixels."""
    x0, y0 = int(box["x"]) + 1, int(box["y"]) + 1
    x1, y1 = int(box["x"] + box["w"]) - 1, int(box["y"] + box["h"]) - 1
    crop = screenshot[y0:y1, x0:x1].astype(np.float32)
    if crop.size == 0:
        return False, f"empty box {box}"
    std = float(crop.std())
    non_white = float((crop.min(axis=2) < 200).mean())
    return std > 10 and non_white > 0.01, f"std {std:.1f}, non-white {non_white:.3f}"
