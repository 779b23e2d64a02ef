"""Scenes of the built-in dances: drawn per dance from the seed, never a training scene outside
training, and the held-out preset outside the training ranges. No rendering here."""
from __future__ import annotations

import colorsys
from dataclasses import asdict, fields

import pytest

from vidpred.data.dance_scenes import HELD_OUT, TRAINING, Scene, dance_scene
from vidpred.data.sim_dance import DanceSpec

SPEC = DanceSpec()  # the default dataset: 40 training dances, 1 validation, 5 test
CONTINUOUS = ("light_azimuth", "light_elevation", "light_diffuse", "ambient", "camera_distance",
              "camera_height", "body_scale")


def _scenes(seed: int, split: str, n: int, kind: str = "varied") -> list[Scene]:
    return [dance_scene(seed, split, i, kind) for i in range(n)]


def _saturation(scene: Scene) -> float:
    return colorsys.rgb_to_hsv(*scene.floor_rgb)[1]


def _within(x: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= x <= bounds[1]


def test_a_scene_is_a_function_of_seed_split_and_index():
    assert dance_scene(0, "train", 3, "varied") == dance_scene(0, "train", 3, "varied")
    assert dance_scene(0, "train", 3, "varied") != dance_scene(1, "train", 3, "varied")
    assert dance_scene(0, "train", 3, "varied") != dance_scene(0, "test", 3, "varied")
    assert dance_scene(0, "train", 0, "fixed") is None


def test_the_dances_of_one_set_have_different_scenes():
    scenes = _scenes(0, "train", SPEC.train)
    for name in CONTINUOUS:
        assert len({getattr(s, name) for s in scenes}) == len(scenes), name
    # the discrete choices are all used, plain floors included
    assert {s.floor for s in scenes} == {"checker", "plain"}
    assert {s.tile for s in scenes if s.floor == "checker"} == set(TRAINING.tiles)
    assert len({s.contrast for s in scenes if s.floor == "checker"}) >= 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_and_test_scenes_are_never_a_training_scene(seed):
    train = _scenes(seed, "train", SPEC.train)
    others = _scenes(seed, "val", 1) + _scenes(seed, "test", SPEC.test)
    for s in others:
        assert s not in train
        # stronger: not one continuous value is shared with any training scene
        for name in CONTINUOUS:
            assert getattr(s, name) not in {getattr(t, name) for t in train}, name


def test_varied_scenes_stay_in_the_training_ranges():
    for s in _scenes(0, "train", 200) + _scenes(0, "test", 50):
        assert s.floor in (TRAINING.tiled_floor, "plain")
        if s.floor != "plain":
            assert s.tile in TRAINING.tiles and s.contrast in TRAINING.contrasts
        assert _within(_saturation(s), TRAINING.floor_saturation)
        assert _within(s.camera_distance, TRAINING.camera_distance)
        assert _within(s.camera_height, TRAINING.camera_height)
        assert _within(s.body_scale, TRAINING.body_scale)


def test_held_out_test_scenes_fall_outside_the_training_ranges():
    train_scenes = _scenes(0, "train", 500)
    for s in _scenes(0, "test", 200, "held-out"):
        assert s.floor == "grid" and s.floor not in {t.floor for t in train_scenes}
        assert _saturation(s) == 0 < TRAINING.floor_saturation[0]  # grey: no training floor is
        assert s.tile > max(TRAINING.tiles)
        assert s.camera_distance > TRAINING.camera_distance[1]
        assert s.body_scale < TRAINING.body_scale[0]
    assert min(HELD_OUT.tiles) > max(TRAINING.tiles)
    assert HELD_OUT.camera_distance[0] > TRAINING.camera_distance[1]
    assert HELD_OUT.body_scale[1] < TRAINING.body_scale[0]


def test_held_out_changes_only_the_test_dances_and_only_the_held_out_settings():
    for split, n in (("train", 5), ("val", 1)):
        assert _scenes(0, split, n, "held-out") == _scenes(0, split, n)
    shared = {"body_rgb", "light_azimuth", "light_elevation", "light_diffuse", "ambient",
              "camera_height"}
    assert shared < {f.name for f in fields(Scene)}
    for varied, held in zip(_scenes(0, "test", 5), _scenes(0, "test", 5, "held-out")):
        a, b = asdict(varied), asdict(held)
        assert {k: a[k] for k in shared} == {k: b[k] for k in shared}
        assert varied.camera_distance != held.camera_distance
