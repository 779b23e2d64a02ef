"""The look of each built-in dance: floor, lighting, camera, body size and colour.

A :class:`Scene` is drawn per dance from the dance's seed (see :func:`dance_scene`), from one of
two sets of ranges:

- :data:`TRAINING`: every dance of a ``varied`` dataset (train, val and test), and the training
  and validation dances of a ``held-out`` one;
- :data:`HELD_OUT`: the test dances of a ``held-out`` dataset. Its floor (grey, drawn as thin
  lines on coarse tiles), camera distance and body size lie outside the training ranges; body
  colour, lighting and camera height are drawn from the training ranges.

The third kind of dataset, ``fixed``, has no :class:`Scene`: every dance is drawn in gymnasium's
own scene (black and grey checker floor, light from straight above, camera 2.7 m away), the
scene of datasets generated before scenes were varied.

Exact repeats: each dance's scene comes from its own random stream, seeded by (seed, split,
index), and 13 of its numbers are continuous (floor colour, light, camera, body size and colour),
so a validation or test dance drawn from the training ranges never has a training dance's exact
scene (a coincidence has probability zero; the tests check the default dataset's scenes). The
discrete parameters (floor style, tile size, contrast) do repeat: the ranges are shared, the
exact scenes are not.

Pairing: a ``held-out`` dataset's test dance i uses the same random numbers as test dance i of
the ``varied`` dataset with the same seed, so the two have the same motion, body colour,
lighting and camera height, and differ only in the held-out settings.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

SCENE_KINDS = ("varied", "fixed", "held-out")
SPLITS = ("train", "val", "test")
# the scene's random stream is a child of the dance's seed, so drawing a scene leaves the
# motion's draws (and with them the fixed scene's dances) unchanged
_SCENE_STREAM = (1,)
# uniform numbers per scene, one per parameter (see draw_scene), in a fixed order
_N_DRAWS = 16


@dataclass(frozen=True)
class Scene:
    """One dance's look. Colours are RGB in [0, 1].

    Attributes:
        floor: ``checker`` (two-colour tiles), ``grid`` (lines on a plain ground) or ``plain``.
        floor_rgb: the floor's colour (the light tiles, or the ground between grid lines).
        contrast: the dark tiles or lines are ``floor_rgb * (1 - contrast)``; 0 for ``plain``.
        tile: edge of one floor tile in metres; 0 for ``plain``.
        light_azimuth: compass direction the light comes from, degrees.
        light_elevation: the light's angle above the horizon, degrees (90 = straight above).
        light_diffuse: the directional light's intensity, in [0, 1].
        ambient: ambient light, in [0, 1].
        camera_distance: metres from the camera to the point it looks at (the body's middle).
        camera_height: the camera's height above the floor, metres.
        body_scale: the humanoid's size relative to gymnasium's (about 1.6 m tall at 1).
        body_rgb: the body's colour.
    """

    floor: str
    floor_rgb: tuple[float, float, float]
    contrast: float
    tile: float
    light_azimuth: float
    light_elevation: float
    light_diffuse: float
    ambient: float
    camera_distance: float
    camera_height: float
    body_scale: float
    body_rgb: tuple[float, float, float]


@dataclass(frozen=True)
class SceneRanges:
    """Where each :class:`Scene` parameter is drawn from: (low, high) pairs are uniform,
    tuples of choices are drawn with equal probability.

    Attributes:
        tiled_floor: the style of a tiled floor (``checker`` or ``grid``).
        plain_share: the probability of an untiled (``plain``) floor.
        floor_saturation, floor_value: HSV saturation and value of the floor colour (any hue).
        contrasts: choices of the tile or line contrast.
        tiles: choices of the tile edge, metres.
        camera_distance, camera_height: metres.
        body_scale: relative to gymnasium's humanoid.
        light_elevation: degrees; light_diffuse, ambient: intensities in [0, 1].
    """

    tiled_floor: str
    plain_share: float
    floor_saturation: tuple[float, float]
    floor_value: tuple[float, float]
    contrasts: tuple[float, ...]
    tiles: tuple[float, ...]
    camera_distance: tuple[float, float]
    camera_height: tuple[float, float]
    body_scale: tuple[float, float]
    light_elevation: tuple[float, float] = (30.0, 90.0)
    light_diffuse: tuple[float, float] = (0.5, 1.0)
    ambient: tuple[float, float] = (0.05, 0.4)


TRAINING = SceneRanges(
    tiled_floor="checker", plain_share=0.2, floor_saturation=(0.3, 0.8), floor_value=(0.45, 0.95),
    contrasts=(0.3, 0.5, 0.7, 0.85, 1.0), tiles=(0.2, 0.3, 0.45, 0.6, 0.8),
    camera_distance=(2.2, 3.1), camera_height=(0.9, 1.5), body_scale=(0.9, 1.1))

HELD_OUT = SceneRanges(
    tiled_floor="grid", plain_share=0.0, floor_saturation=(0.0, 0.0), floor_value=(0.45, 0.75),
    contrasts=(0.5, 0.7), tiles=(1.2, 1.6, 2.0),
    camera_distance=(3.5, 4.0), camera_height=TRAINING.camera_height, body_scale=(0.78, 0.86))

BODY_RGB = (0.2, 1.0)  # each channel, uniform, in every scene (and in the fixed one)


def _between(u: float, bounds: tuple[float, float]) -> float:
    return float(bounds[0] + u * (bounds[1] - bounds[0]))


def _choose(u: float, choices: tuple[float, ...]) -> float:
    return float(choices[min(int(u * len(choices)), len(choices) - 1)])


def draw_scene(u: np.ndarray, ranges: SceneRanges) -> Scene:
    """The scene that the uniform numbers ``u`` (``_N_DRAWS``,) in [0, 1) pick from ``ranges``.

    The first eight numbers set what every set of ranges shares in the same way (body colour,
    light, camera height), so the same ``u`` gives the same values for those in any ranges.
    """
    body = tuple(_between(x, BODY_RGB) for x in u[0:3])
    plain = u[8] < ranges.plain_share
    rgb = colorsys.hsv_to_rgb(float(u[9]), _between(u[10], ranges.floor_saturation),
                              _between(u[11], ranges.floor_value))
    return Scene(
        floor="plain" if plain else ranges.tiled_floor,
        floor_rgb=tuple(float(c) for c in rgb),
        contrast=0.0 if plain else _choose(u[12], ranges.contrasts),
        tile=0.0 if plain else _choose(u[13], ranges.tiles),
        light_azimuth=360.0 * float(u[3]),
        light_elevation=_between(u[4], ranges.light_elevation),
        light_diffuse=_between(u[5], ranges.light_diffuse),
        ambient=_between(u[6], ranges.ambient),
        camera_distance=_between(u[14], ranges.camera_distance),
        camera_height=_between(u[7], ranges.camera_height),
        body_scale=_between(u[15], ranges.body_scale),
        body_rgb=body)


def dance_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The seed of one dance: its motion (and, in the fixed scene, its body colour)."""
    return np.random.SeedSequence([seed, SPLITS.index(split), index])


def dance_scene(seed: int, split: str, index: int, kind: str) -> Scene | None:
    """The scene of dance ``index`` of ``split`` in a dataset of scene ``kind`` (one of
    :data:`SCENE_KINDS`) generated with ``seed``; None for the fixed scene."""
    if kind == "fixed":
        return None
    stream = np.random.SeedSequence(dance_seed(seed, split, index).entropy, spawn_key=_SCENE_STREAM)
    u = np.random.default_rng(stream).random(_N_DRAWS)
    held_out = kind == "held-out" and split == "test"
    return draw_scene(u, HELD_OUT if held_out else TRAINING)


def floor_materials() -> list[tuple[str, float, float]]:
    """Every (floor style, contrast, tile) any scene can draw, tiled floors first."""
    return [(r.tiled_floor, c, t) for r in (TRAINING, HELD_OUT) for c in r.contrasts
            for t in r.tiles] + [("plain", 0.0, 0.0)]
