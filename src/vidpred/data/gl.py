"""Choosing MuJoCo's OpenGL backend for headless rendering.

MuJoCo reads ``MUJOCO_GL`` once, at import time, so the backend is probed in a short child
process before any worker imports ``mujoco``.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from ..errors import SimulatorError

_PROBE = (
    "import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco><worldbody/></mujoco>');"
    "r = mujoco.Renderer(m, 8, 8); r.render(); r.close()"
)
_INSTALL_HINT = ("install EGL (apt-get install -y libegl1 libgl1-mesa-dri) or OSMesa "
                 "(apt-get install -y libosmesa6), or set MUJOCO_GL to a backend that works here")


def _works(backend: str) -> tuple[bool, str]:
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        p = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                           text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False, "timed out"
    last = (p.stderr.strip().splitlines() or [""])[-1]
    return p.returncode == 0, last


def select_gl_backend(log=print) -> str:
    """Return a working ``MUJOCO_GL`` value and set it in ``os.environ``.

    ``MUJOCO_GL`` from the environment is honoured when set; otherwise ``egl`` is tried and,
    failing that, ``osmesa`` (with a message saying so).

    Raises:
        SimulatorError: when mujoco is not installed or no backend can render.
    """
    try:
        import importlib.util
        if importlib.util.find_spec("mujoco") is None:
            raise ImportError
    except ImportError:
        raise SimulatorError("the simulator needs MuJoCo: pip install 'vidpred[sim]' "
                             "(mujoco and gymnasium-robotics)") from None
    wanted = os.environ.get("MUJOCO_GL")
    if wanted:
        ok, why = _works(wanted)
        if not ok:
            raise SimulatorError(f"MUJOCO_GL={wanted} cannot render here ({why}); {_INSTALL_HINT}")
        return wanted
    ok, why_egl = _works("egl")
    if ok:
        os.environ["MUJOCO_GL"] = "egl"
        return "egl"
    ok, why_osmesa = _works("osmesa")
    if ok:
        log(f"vidpred: EGL rendering is unavailable ({why_egl}); falling back to MUJOCO_GL=osmesa")
        os.environ["MUJOCO_GL"] = "osmesa"
        return "osmesa"
    raise SimulatorError(f"MuJoCo cannot render: EGL failed ({why_egl}), OSMesa failed "
                         f"({why_osmesa}); {_INSTALL_HINT}")


def project(renderer, world: np.ndarray, eye: int | None = None) -> np.ndarray:
    """Pixel coordinates of world points in the image ``renderer`` last rendered: (N, 3) metres
    -> (N, 2) (x right, y down; pixel (row i, column j) covers [j, j + 1) x [i, i + 1), so
    its centre is at (j + 0.5, i + 0.5)), through MuJoCo's OpenGL frustum for that viewport.

    MuJoCo's scene holds a stereo pair of cameras, ``model.vis.global_.ipd`` apart; a mono
    render looks through their average (``mjv_averageCamera``), as this does by default.

    Args:
        renderer: a ``mujoco.Renderer`` after ``update_scene``.
        eye: 0 or 1 to project through one camera of the pair instead.
    """
    import mujoco

    cams = renderer.scene.camera
    c = mujoco.mjv_averageCamera(cams[0], cams[1]) if eye is None else cams[eye]
    pos, fwd, up = np.array(c.pos), np.array(c.forward), np.array(c.up)
    right = np.cross(fwd, up)
    rel = np.asarray(world, np.float64) - pos
    depth = rel @ fwd
    x = (rel @ right) * c.frustum_near / depth
    y = (rel @ up) * c.frustum_near / depth
    top, bottom = c.frustum_top, c.frustum_bottom
    half_w = (top - bottom) / 2 * renderer.width / renderer.height
    u = (x - (c.frustum_center - half_w)) / (2 * half_w) * renderer.width
    v = (top - y) / (top - bottom) * renderer.height
    return np.stack([u, v], 1)
