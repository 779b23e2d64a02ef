"""The block locator on constructed frames in the push scene's colours, where the answer is
known: the block's colour read, its pixels weighed, its centroid and its visibility."""
import pytest
import torch

from vidpred.vision import (
    BlockLocator,
    centroid,
    min_mass,
    read_colour,
    visible,
)

TABLE = torch.tensor([0.88, 0.88, 0.88])
BACKGROUND = torch.tensor([115, 220, 146]) / 255
ARM = torch.tensor([0.086, 0.506, 0.767])


def scene(rgb, rows=slice(20, 28), cols=slice(30, 38)) -> torch.Tensor:
    """A (3, 64, 64) push-like frame: table, background strip, a blue arm with a grey gripper,
    its edge blended into the table, and a block of colour ``rgb`` (top lit, side shaded)."""
    f = TABLE[:, None, None].repeat(1, 64, 64)
    f[:, :8] = BACKGROUND[:, None, None]
    f[:, 8:30, 4:14] = 0.7 * ARM[:, None, None]
    f[:, 8:30, 14] = (0.35 * ARM + 0.5 * TABLE)[:, None]     # anti-aliased edge: a blend
    f[:, 30:36, 6:12] = 0.55                                  # the gripper, grey
    if rgb is not None:
        block = torch.tensor(rgb, dtype=torch.float32)
        f[:, rows, cols] = 0.95 * block[:, None, None]
        r0 = rows.start + (rows.stop - rows.start) // 2
        f[:, r0:rows.stop, cols] = 0.5 * block[:, None, None]  # the shaded side
    return f


COLOURS = [(1.0, 0.2, 0.1), (1.0, 0.85, 0.1), (0.7, 0.1, 1.0), (1.0, 0.1, 0.6), (0.2, 1.0, 0.05)]


@pytest.mark.parametrize("rgb", COLOURS)
def test_the_block_of_any_bright_colour_is_found_and_nothing_else(rgb):
    frame = scene(rgb)
    loc = BlockLocator.read(frame)
    assert bool(loc.found)
    want = torch.tensor(rgb) / sum(rgb)
    assert torch.allclose(loc.colour, want, atol=0.01)  # shading does not change the chroma
    w = loc.weights(frame)
    truth = torch.zeros(64, 64)
    truth[20:28, 30:38] = 1
    assert torch.equal(w, truth)  # table, background, arm and its blended edge weigh nothing
    block = loc.locate(frame)
    # pixel centres at +0.5: columns 30..37 -> x = 34.0, rows 20..27 -> y = 24.0
    assert torch.allclose(block.xy, torch.tensor([34.0, 24.0]))
    assert float(block.mass) == 64 and bool(block.visible)


def test_a_block_in_the_scenes_colours_is_not_found():
    for rgb in ((0.95, 0.95, 0.9), tuple(BACKGROUND.tolist()), tuple(ARM.tolist())):
        frame = scene(rgb)
        loc = BlockLocator.read(frame)
        assert not bool(loc.found) and float(loc.weights(frame).sum()) == 0


def test_visibility_needs_a_blocks_worth_of_pixels_scaled_with_the_image():
    assert min_mass(64, 64) == 20 and min_mass(32, 64) == 10 and min_mass(128, 128) == 80
    loc = BlockLocator.of_rgb([1.0, 0.2, 0.1])
    mostly_hidden = scene((1.0, 0.2, 0.1), rows=slice(20, 24), cols=slice(30, 34))  # 16 pixels
    assert not bool(loc.locate(mostly_hidden).visible)
    assert bool(loc.locate(scene((1.0, 0.2, 0.1), rows=slice(20, 25), cols=slice(30, 34))).visible)
    assert bool(visible(torch.tensor(5.0), 32, 32)) and not bool(visible(torch.tensor(4.9), 32, 32))


def test_a_glimpse_of_two_pixels_tells_the_colour_where_a_lower_weight_counts_as_found():
    """The block layer reads a block the arm hides but for a few pixels: its colour is right,
    found only with a lower ``least``; a frame without the block finds nothing at any."""
    rgb = (0.7, 0.1, 1.0)
    glimpse = scene(rgb, rows=slice(20, 21), cols=slice(30, 32))               # 2 pixels
    assert not bool(BlockLocator.read(glimpse).found)
    loc = BlockLocator.read(glimpse, least=1.0)
    assert bool(loc.found)
    assert torch.allclose(loc.colour, torch.tensor(rgb) / sum(rgb), atol=0.01)
    assert float(loc.weights(glimpse).sum()) == 2
    assert not bool(BlockLocator.read(scene(None), least=1.0).found)
    assert min_mass(32, 32, least=1.0) == 0.25 and not bool(visible(torch.tensor(2.0), 64, 64))


def test_each_clip_of_a_batch_gets_its_own_colour_read_from_its_frames():
    red, yellow = scene(COLOURS[0]), scene(COLOURS[1], rows=slice(40, 48), cols=slice(10, 18))
    hidden = scene(None)
    # clip 0: the block hidden in its first frame, seen in the second; clip 1: seen in both
    clips = torch.stack([torch.stack([hidden, red]), torch.stack([yellow, yellow])])
    loc = BlockLocator.read(clips)
    assert loc.found.tolist() == [True, True]
    block = loc.locate(clips)
    assert block.visible.tolist() == [[False, True], [True, True]]
    assert torch.allclose(block.xy[1], torch.tensor([[14.0, 44.0], [14.0, 44.0]]))
    # the red clip's locator does not see the yellow block
    assert float(loc.weights(torch.stack([yellow[None], red[None]]))[0].sum()) == 0
    colour, found = read_colour(hidden[None, None])
    assert not bool(found[0])


def test_centroid_of_one_pixel_is_its_centre():
    w = torch.zeros(2, 8, 10)
    w[0, 2, 5] = 1.0
    xy, mass = centroid(w)
    assert xy[0].tolist() == [5.5, 2.5] and mass.tolist() == [1.0, 0.0]
    assert xy[1].tolist() == [5.0, 4.0]  # no weight: the image's centre


def test_the_locator_in_small_pieces_gives_what_it_gives_at_once(monkeypatch):
    # five clips of blocks of different colours in different places, and one clip with none:
    # each clip's colour comes from its own frames whatever the pieces the math is split into
    clips = torch.stack([torch.stack([scene(rgb, rows=slice(10 + 2 * t, 18 + 2 * t))
                                      for t in range(4)]) for rgb in COLOURS + [None]])
    whole_colour, whole_found = read_colour(clips)
    whole = BlockLocator.read(clips).weights(clips)
    # pieces of 4 + 2 clips for the colours, 16 + 8 frames (across clips) for the weights
    monkeypatch.setattr("vidpred.vision.CHUNK_PIXELS", 16 * 64 * 64)
    colour, found = read_colour(clips)
    assert torch.equal(found, whole_found) and found.tolist() == [True] * 5 + [False]
    assert torch.allclose(colour, whole_colour, atol=1e-6)
    weights = BlockLocator.read(clips).weights(clips)
    assert torch.equal(weights, whole)
    assert weights[:5].sum((-2, -1)).eq(64).all() and weights[5].sum() == 0
    # one colour for every frame of a batch broadcasts as before
    one = BlockLocator.of_rgb(COLOURS[0]).weights(clips)
    assert torch.equal(one[0], whole[0]) and one[1:5].sum() == 0
