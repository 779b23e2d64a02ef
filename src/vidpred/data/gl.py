"""Choosing MuJoCo's OpenGL backend for headless rendering.

MuJoCo reads ``MUJOCO_GL`` once, at import time, so the backend is probed in a short child
process before any worker imports ``mujoco``.
"""
from __future__ import annotations

import os
import subprocess
import sys

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
