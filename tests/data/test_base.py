"""Every dataset implements the one stated interface, vidpred.data.VideoDataset."""
import pytest
import torch

from vidpred.data import CONDITIONS, LAYOUTS, VideoDataset, make_dataset
from vidpred.data.bair import BairDataset
from vidpred.data.dance import DanceDataset
from vidpred.data.smmnist import SMMNISTDataset, SMMNISTSpec, generate_smmnist
from vidpred.data.synthetic import SyntheticDataset

from .bair_records import write_download


@pytest.fixture(scope="module")
def roots(push_root, dance_root, tmp_path_factory):
    mnist = generate_smmnist(tmp_path_factory.mktemp("mnist"), SMMNISTSpec(test=3, test_len=10))
    records = tmp_path_factory.mktemp("bair_tfrecord")
    write_download(records, {"train/traj_0_to_1.tfrecords": 2, "train/traj_2_to_3.tfrecords": 2,
                             "test/traj_0_to_1.tfrecords": 2}, frames=10)
    return {"bair": push_root, "dance": dance_root, "smmnist": mnist, "synthetic": None,
            "bair_tfrecord": records, "video": _video_root(tmp_path_factory)}


def _video_root(tmp_path_factory):
    """Footage converted by vidpred data video (None without PyAV and PySceneDetect)."""
    try:
        import av  # noqa: F401
        import scenedetect  # noqa: F401
    except ImportError:
        return None
    from vidpred.data.video_convert import VideoSpec, convert_videos

    from .video_clips import write_cut_clip

    d = tmp_path_factory.mktemp("video")
    clip = write_cut_clip(d / "clip.mp4", (100,))
    return convert_videos([clip], d / "data", VideoSpec(window=8), progress=False).root


def _check_batch(ds, layout: str, indices: list[int]) -> None:
    """The Protocol's documented shapes, dtypes and ranges for this layout."""
    frames, cond = ds.batch(indices)
    B, T = len(indices), ds.seq_len
    assert frames.dtype == cond.dtype == torch.float32
    assert frames.ndim == 5 and frames.shape[:2] == (B, T) and frames.shape[2] in (1, 3)
    assert 0.0 <= float(frames.min()) and float(frames.max()) <= 1.0
    kind, dim = CONDITIONS[layout]
    if kind == "vector":
        assert cond.shape == (B, T, dim)
    else:
        assert cond.shape == (B, T, dim, *frames.shape[3:])
        assert 0.0 <= float(cond.min()) and float(cond.max()) <= 1.0


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("split, train", [("train", True), ("validate", False), ("test", False)])
def test_every_layout_gives_a_video_dataset(roots, layout, split, train):
    if layout == "video" and roots["video"] is None:
        pytest.skip("the video layout needs pip install 'vidpred[video]'")
    size = {"dance": (32, 64)}.get(layout, (64, 64))
    ds = make_dataset(roots[layout], layout, split, 8, train=train, image_size=size[0],
                      image_width=size[1], max_sequences=3)
    assert isinstance(ds, VideoDataset)
    assert len(ds) >= 1 and ds.n_sequences >= 1 and ds.seq_len >= 8
    _check_batch(ds, layout, [len(ds) - 1, 0, 0])


def test_the_dataset_classes_implement_the_protocol(roots):
    datasets = [BairDataset(roots["bair"], "test", 6, train=False),
                DanceDataset(roots["dance"], "train", 8, frame_size=(32, 64)),
                SMMNISTDataset(roots["smmnist"], "test", 6, train=False),
                SyntheticDataset("test", 6, n_sequences=2)]
    for ds in datasets:
        assert isinstance(ds, VideoDataset), type(ds).__name__
    assert not isinstance([1, 2], VideoDataset)  # a sized object without batch() is not one
