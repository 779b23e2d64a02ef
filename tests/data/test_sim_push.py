import numpy as np
import pytest
from PIL import Image

from vidpred.data.sim_push import PushSpec, generate_push_dataset, sequence_dir

from ..conftest import SMALL_SPEC


def test_generator_writes_the_course_bair_layout(push_root):
    for split, n in (("train", 6), ("validate", 3), ("test", 3)):
        group = push_root / split / "traj_0_to_255.tfrecords"
        seqs = sorted(p.name for p in group.iterdir())
        assert seqs == sorted(str(i) for i in range(n))
        for k in seqs:
            folder = group / k
            assert sorted(int(p.stem) for p in folder.glob("*.png")) == list(range(14))
            img = Image.open(folder / "0.png")
            assert img.size == (64, 64) and img.mode == "RGB"
            actions = np.loadtxt(folder / "actions.csv", delimiter=",")
            ee = np.loadtxt(folder / "endeffector_positions.csv", delimiter=",")
            assert actions.shape == (14, 4) and ee.shape == (14, 3)
            assert np.abs(actions).max() <= 1.0
    assert not list(push_root.rglob("*.partial"))


def test_end_effector_moves_with_the_actions(push_root):
    folder = push_root / "train" / "traj_0_to_255.tfrecords" / "0"
    actions = np.loadtxt(folder / "actions.csv", delimiter=",")
    ee = np.loadtxt(folder / "endeffector_positions.csv", delimiter=",")
    step = np.diff(ee, axis=0)                       # metres moved between frames
    commanded = 0.05 * actions[:-1, :3]              # FetchPush: 5 cm per unit action
    corr = np.corrcoef(step.ravel(), commanded.ravel())[0, 1]
    assert corr > 0.8, corr
    # frames change when the arm moves
    a, b = (np.asarray(Image.open(folder / f"{t}.png"), float) for t in (0, 13))
    assert np.abs(a - b).mean() > 1.0


def test_same_seed_gives_the_same_sequences_whatever_the_worker_count(push_root, tmp_path):
    spec = PushSpec(train=2, validate=0, test=0, seq_len=SMALL_SPEC.seq_len, seed=SMALL_SPEC.seed)
    other = generate_push_dataset(tmp_path / "again", spec, workers=1, progress=False)
    for i in range(2):
        a, b = sequence_dir(push_root, "train", i), sequence_dir(other, "train", i)
        for name in ("0.png", "13.png", "actions.csv", "endeffector_positions.csv"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    different = generate_push_dataset(tmp_path / "seed8", PushSpec(train=1, validate=0, test=0,
                                      seq_len=SMALL_SPEC.seq_len, seed=8), workers=1, progress=False)
    assert (sequence_dir(different, "train", 0) / "actions.csv").read_bytes() != \
        (sequence_dir(push_root, "train", 0) / "actions.csv").read_bytes()


def test_cached_dataset_is_reused_and_a_different_spec_refused(push_root):
    import pytest

    before = (push_root / "vidpred_dataset.json").stat().st_mtime_ns
    assert generate_push_dataset(push_root, SMALL_SPEC, progress=False) == push_root
    assert (push_root / "vidpred_dataset.json").stat().st_mtime_ns == before
    from vidpred.errors import DataError

    with pytest.raises(DataError, match="other settings"):
        generate_push_dataset(push_root, PushSpec(train=7, seq_len=14, seed=7), progress=False)


def test_unusable_gl_backend_is_a_clear_error(monkeypatch):
    import pytest

    from vidpred.data.gl import select_gl_backend
    from vidpred.errors import SimulatorError

    monkeypatch.setenv("MUJOCO_GL", "no-such-backend")
    with pytest.raises(SimulatorError, match="MUJOCO_GL=no-such-backend cannot render here.*libosmesa6"):
        select_gl_backend()


def test_random_action_share_gives_smooth_random_sequences(tmp_path):
    import json

    spec = PushSpec(train=2, validate=0, test=0, seq_len=14, seed=7, random_action_share=1.0)
    root = generate_push_dataset(tmp_path / "random", spec, workers=1, progress=False)
    assert json.loads((root / "vidpred_dataset.json").read_text())["random_action_share"] == 1.0
    assert "random_action_share" not in PushSpec().record()  # older datasets still match
    moves = np.concatenate([np.loadtxt(sequence_dir(root, "train", i) / "actions.csv",
                                       delimiter=",")[:, :3] for i in range(2)])
    assert np.abs(moves).max() <= 1.0 and moves.std() > 0.3
    # smooth: each action is correlated with the next
    corr = np.corrcoef(moves[:-1].ravel(), moves[1:].ravel())[0, 1]
    assert corr > 0.5, corr


def test_red_block_colours_are_red_and_found_by_the_locator(tmp_path):
    import json

    import torch

    from vidpred.vision import BlockLocator

    spec = PushSpec(train=3, validate=0, test=0, seq_len=2, seed=3, block_colours="red")
    root = generate_push_dataset(tmp_path / "red", spec, workers=1, progress=False)
    assert json.loads((root / "vidpred_dataset.json").read_text())["block_colours"] == "red"
    assert "block_colours" not in PushSpec().record()  # the default is not recorded
    for i in range(3):
        folder = sequence_dir(root, "train", i)
        truth = np.load(folder / "objects.npz")
        rgb = truth["block_rgb"]
        assert rgb[0] == 1.0 and rgb[1:].max() <= 0.3  # red to magenta
        frames = torch.from_numpy(np.stack([np.asarray(Image.open(folder / f"{t}.png"))
                                            for t in range(2)])).permute(0, 3, 1, 2) / 255
        locator = BlockLocator.read(frames)
        # the block found by colour exactly where the simulator draws it, unless the arm hides
        # it (less than a block's worth of pixels in the two frames: not found at all)
        assert bool(locator.found) == (truth["block_mask"].sum() >= 20)
        if locator.found:
            weights = locator.weights(frames)
            assert torch.equal(weights > 0.5, torch.from_numpy(truth["block_mask"]))


def test_block_colours_keep_apart_from_the_scenes():
    import torch

    from vidpred.data.sim_push import LIT_GAIN, block_colour, distinct_colour
    from vidpred.vision import MIN_SEPARATION, scene_distance

    rng = np.random.default_rng(0)
    colours = np.stack([block_colour(rng) for _ in range(300)])
    for rgb in (colours, np.minimum(LIT_GAIN * colours, 1.0)):  # shaded and lit faces
        c = torch.from_numpy(rgb / rgb.sum(1, keepdims=True))
        assert float(scene_distance(c).min()) >= MIN_SEPARATION
    assert (colours.max(1) == 1.0).all() and colours.std(0).min() > 0.2  # bright, varied
    # near white, the background's green and the arm's blue are refused
    for rgb in ([1.0, 0.95, 0.9], [0.45, 1.0, 0.6], [0.1, 0.6, 1.0]):
        assert not distinct_colour(np.array(rgb))
    with pytest.raises(ValueError, match="choose one of any, red"):
        block_colour(rng, "blue")


def test_objects_file_holds_the_block_and_the_arm_of_every_frame(push_root):
    import torch

    from vidpred.data.objects import read_objects
    from vidpred.vision import BlockLocator, centroid, min_mass

    folder = sequence_dir(push_root, "test", 0)
    with np.load(folder / "objects.npz") as z:
        assert set(z.files) == {"block_mask", "arm_mask", "block_centre", "block_visible",
                                "block_rgb"}
        truth = {k: z[k] for k in z.files}
    assert truth["block_mask"].shape == truth["arm_mask"].shape == (14, 64, 64)
    assert truth["block_mask"].dtype == bool and truth["block_centre"].shape == (14, 2)
    assert read_objects(folder).keys() == {"block_mask", "arm_mask", "block_visible", "block_centre"}
    pixels = truth["block_mask"].sum((1, 2))
    assert np.array_equal(truth["block_visible"], pixels >= min_mass(64, 64))
    assert truth["arm_mask"].sum((1, 2)).min() > 100  # the arm is always in view
    assert not (truth["arm_mask"] & truth["block_mask"]).any()
    frames = torch.from_numpy(np.stack([np.asarray(Image.open(folder / f"{t}.png"))
                                        for t in range(14)])).permute(0, 3, 1, 2) / 255
    seen = truth["block_visible"]
    # the mask is the block's colour, and the projected centre lies inside the block
    weights = BlockLocator.read(frames).weights(frames)
    assert torch.equal(weights[seen] > 0.5, torch.from_numpy(truth["block_mask"][seen]))
    xy = centroid(torch.from_numpy(truth["block_mask"]).float())[0].numpy()
    whole = pixels > 0.8 * pixels.max()
    assert np.abs(xy[whole] - truth["block_centre"][whole]).max() < 1.0
    # the arm's pixels are the robot's greys and blue, never the block's colour
    assert float(weights[torch.from_numpy(truth["arm_mask"])].max()) == 0.0
