"""The camera map learned from pushes: the homography fit, its tensor twin, and the push frames
found in clips."""
import numpy as np
import pytest
import torch

from vidpred.camera import apply_homography, fit_homography, fit_push_map, project, push_frames
from vidpred.errors import DataError

# a table-to-image homography like the push camera's (metres -> pixels, in perspective)
CAMERA = np.array([[-20.0, 95.0, -40.0], [60.0, 10.0, -60.0], [0.3, 0.1, 1.0]])


def test_the_homography_fit_is_exact_on_exact_points():
    for n in (4, 6):                      # 4 points: 8 equations for the 8 degrees of freedom
        src = np.random.default_rng(0).uniform([1.05, 0.45], [1.55, 1.05], (n, 2))
        h = fit_homography(src, apply_homography(CAMERA, src))
        assert np.allclose(h, CAMERA / CAMERA[2, 2], rtol=1e-6, atol=1e-6)


def test_project_is_the_homography_on_tensors():
    xy = np.random.default_rng(1).uniform([1.1, 0.5], [1.5, 1.0], (4, 5, 2))
    got = project(torch.from_numpy(CAMERA), torch.from_numpy(xy).float())
    assert got.dtype == torch.float32 and got.shape == (4, 5, 2)
    assert np.allclose(got.numpy(), apply_homography(CAMERA, xy), atol=1e-3)


def test_push_frames_are_where_the_block_and_the_gripper_move_together():
    L = 6
    grip = torch.zeros(2, L, 2, dtype=torch.float64)
    grip[0, :, 0] = torch.arange(L) * 0.01               # clip 0: the gripper moves along x
    block = torch.full((2, L, 2), 30.0, dtype=torch.float64)
    block[0, 3:, 0] += torch.arange(L - 3) * 2.0          # ...and pushes from frame 3 on
    block[1, 3:, 0] += torch.arange(L - 3) * 2.0          # clip 1: the block moves, the gripper not
    seen = torch.ones(2, L, dtype=torch.bool)
    seen[0, 5] = False                                    # the last move of clip 0 is not seen
    g, d, b = push_frames(grip, block, seen)
    assert g.dtype == np.float64 and g.shape == (1, 2)    # frame 3 only (4 -> 5 unseen)
    assert np.allclose(g, [[0.03, 0.0]]) and np.allclose(d, [[1.0, 0.0]])
    assert np.allclose(b, [[30.0, 30.0]])


def noisy_pushes(rng: np.random.Generator, n: int = 300):
    """n pushes seen through :data:`CAMERA`: the gripper's x-y (n, 2) metres, its unit
    direction (n, 2), and the block's centre (n, 2) pixels, 5 cm ahead of it, with 0.3 px
    noise."""
    grip = rng.uniform([1.1, 0.5], [1.5, 1.0], (n, 2))
    angle = rng.uniform(0, 2 * np.pi, n)
    direction = np.stack([np.cos(angle), np.sin(angle)], 1)
    block = apply_homography(CAMERA, grip + 0.05 * direction) + rng.normal(0, 0.3, (n, 2))
    return grip, direction, block


def test_the_push_map_recovers_camera_and_contact_distance_and_refuses_too_few_pushes():
    grip, direction, block = noisy_pushes(np.random.default_rng(1))
    h, contact, rms = fit_push_map(grip, direction, block)
    assert contact == pytest.approx(0.05, abs=0.005) and rms < 0.6
    with pytest.raises(DataError, match="at least 8"):
        fit_push_map(grip[:5], direction[:5], block[:5])
