import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vidpred.data.bair import BairDataset, read_sequence
from vidpred.errors import DataError

from ..conftest import tree_digest


def test_items_have_documented_shapes_dtypes_and_ranges(push_root):
    ds = BairDataset(push_root, "train", seq_len=12, train=True)
    assert ds.n_sequences == 6 and len(ds) == 6 * (14 - 12 + 1)
    frames, cond = ds[0]
    assert frames.shape == (12, 3, 64, 64) and frames.dtype == torch.float32
    assert cond.shape == (12, 7) and cond.dtype == torch.float32
    assert 0.0 <= frames.min() and frames.max() <= 1.0 and frames.max() > 0.5
    bf, bc = ds.batch([0, 4, 17])
    assert bf.shape == (3, 12, 3, 64, 64) and bc.shape == (3, 12, 7)
    for j, i in enumerate([0, 4, 17]):
        f, c = ds[i]
        assert torch.equal(bf[j], f) and torch.equal(bc[j], c)


def test_windows_and_conditions_match_the_files(push_root):
    ds = BairDataset(push_root, "train", seq_len=5, train=True)
    s, t0 = divmod(13, ds.n_starts)           # item 13 -> sequence 1, window start 3
    folder = push_root / "train" / "traj_0_to_255.tfrecords" / str(s)
    frames, cond = ds[13]
    png = np.asarray(Image.open(folder / f"{t0 + 2}.png"), np.float32) / 255
    assert torch.allclose(frames[2], torch.from_numpy(png).permute(2, 0, 1))
    actions = np.loadtxt(folder / "actions.csv", delimiter=",", dtype=np.float32)
    ee = np.loadtxt(folder / "endeffector_positions.csv", delimiter=",", dtype=np.float32)
    assert torch.allclose(cond, torch.from_numpy(np.concatenate([actions, ee], 1)[t0:t0 + 5]))


def test_evaluation_order_is_fixed_and_numeric(tmp_path, push_root):
    # SVG-converter variant: groups without ".tfrecords", sequence 10 must come after 9
    src = push_root / "test" / "traj_0_to_255.tfrecords" / "0"
    for k in (10, 9, 2):
        shutil.copytree(src, tmp_path / "test" / "traj_256_to_511" / str(k))
    shutil.copytree(src, tmp_path / "test" / "traj_0_to_255" / "0")
    ds = BairDataset(tmp_path, "test", seq_len=4, train=False)
    names = [f"{p.parent.name}/{p.name}" for p in ds.seqs.paths]
    assert names == ["traj_0_to_255/0", "traj_256_to_511/2", "traj_256_to_511/9",
                     "traj_256_to_511/10"]
    assert len(ds) == 4


def _marked_sequence(folder, n=12):
    """Frames whose pixel value is their index, so the read order is visible."""
    folder.mkdir(parents=True)
    for t in range(n):
        Image.fromarray(np.full((64, 64, 3), t * 10, np.uint8)).save(folder / f"{t}.png")
    np.savetxt(folder / "actions.csv", np.arange(n * 4).reshape(n, 4), delimiter=",")
    np.savetxt(folder / "endeffector_positions.csv", np.zeros((n, 3)), delimiter=",")


def test_frames_are_sorted_numerically_not_lexically(tmp_path):
    _marked_sequence(tmp_path / "s")
    frames, cond = read_sequence(tmp_path / "s")
    assert [int(f[0, 0, 0]) for f in frames] == [t * 10 for t in range(12)]
    assert cond[10, 0] == 40.0


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "5.png").unlink(), r"5\.png: missing frame"),
    (lambda f: (f / "3.png").write_bytes((f / "3.png").read_bytes()[:40]), r"3\.png: unreadable or truncated"),
    (lambda f: Image.new("RGB", (32, 32)).save(f / "2.png"), r"2\.png: image is 32x32, expected 64x64"),
    (lambda f: (f / "actions.csv").unlink(), r"actions\.csv: missing"),
    (lambda f: (f / "actions.csv").write_text("0,0,0,0\n" * 11), r"actions\.csv: 11 rows, expected 12"),
    (lambda f: (f / "endeffector_positions.csv").write_text("0,0\n" * 12),
     r"endeffector_positions\.csv: line 1 has 2 columns, expected 3"),
    (lambda f: (f / "actions.csv").write_text("0,0,0,0\n" * 6 + "a,b,c,d\n" + "0,0,0,0\n" * 5),
     r"actions\.csv: line 7 is not numeric"),
    (lambda f: (f / "actions.csv").write_text("0,0,0,0\n" * 6 + "nan,0,0,0\n" + "0,0,0,0\n" * 5),
     r"actions\.csv: non-finite value on row 7"),
    (lambda f: (f / "3.png").rename(f / "3b.png"), r"3b\.png: not a frame file name"),
    (lambda f: Image.new("L", (64, 64)).save(f / "4.png"), r"4\.png: image mode is L, expected 8-bit RGB"),
])
def test_bad_files_raise_errors_naming_the_file(tmp_path, damage, message):
    folder = tmp_path / "train" / "traj_0_to_255" / "0"
    _marked_sequence(folder)
    damage(folder)
    digest = tree_digest(tmp_path)
    with pytest.raises(DataError, match=message) as info:
        BairDataset(tmp_path, "train", seq_len=4)
    assert str(folder) in str(info.value)
    assert tree_digest(tmp_path) == digest  # nothing in the data directory was touched


def test_every_problem_is_listed_and_the_first_one_raised(tmp_path, push_root, capsys):
    from vidpred.data.bair import check_dataset

    folder = tmp_path / "train" / "traj_0_to_255" / "0"
    _marked_sequence(folder)
    (folder / "5.png").unlink()
    (folder / "actions.csv").write_text("0,0,0,0\n" * 11)
    (folder / "frame2.png").write_bytes((folder / "2.png").read_bytes())
    assert check_dataset(tmp_path) == [
        f"{folder / 'frame2.png'}: frame number 2 also used by 2.png",
        f"{folder / '5.png'}: missing frame (frames must be numbered 0..11 without gaps)",
        f"{folder / 'actions.csv'}: 11 rows, expected 12 (one per frame)"]
    with pytest.raises(DataError, match=r"^\S*frame2\.png: .* \(and 2 more problems: `vidpred data "
                                        r"check` lists them all\)$"):
        read_sequence(folder)
    assert check_dataset(push_root, progress=True) == []
    assert "checking train" in capsys.readouterr().err  # the progress bar goes to stderr


def test_missing_and_empty_splits_are_clear_errors(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="empty split"):
        BairDataset(tmp_path, "train", seq_len=4)
    with pytest.raises(DataError, match="no 'validate' split folder .found: train"):
        BairDataset(tmp_path, "validate", seq_len=4)
    with pytest.raises(DataError, match="does not exist"):
        BairDataset(tmp_path / "nowhere", "train", seq_len=4)


def test_sequences_shorter_than_the_window_are_refused(push_root):
    with pytest.raises(DataError, match="14 frames, but windows of 20"):
        BairDataset(push_root, "test", seq_len=20, train=False)


def test_decoded_frames_are_cached_and_the_cache_follows_the_files(tmp_path, push_root, monkeypatch):
    import vidpred.data.bair as bair

    root = tmp_path / "push"
    shutil.copytree(push_root, root)
    first = BairDataset(root, "train", seq_len=12)

    def no_decoding(*a, **k):
        raise AssertionError("decoded PNGs although the cache is fresh")

    with monkeypatch.context() as m:
        m.setattr(bair, "read_sequence", no_decoding)
        again = BairDataset(root, "train", seq_len=12)
    assert torch.equal(first.seqs.frames, again.seqs.frames)
    assert torch.equal(first.seqs.cond, again.seqs.cond)

    # a rewritten frame makes the entry stale: decoded again, with the new pixels
    png = first.seqs.paths[0] / "3.png"
    img = np.array(Image.open(png))
    Image.fromarray(255 - img).save(png)
    changed = BairDataset(root, "train", seq_len=12)
    assert torch.equal(changed.seqs.frames[0, 3], torch.from_numpy(255 - img).permute(2, 0, 1))
    # and a frame broken after caching is reported, not served from the cache
    png.write_bytes(png.read_bytes()[:40])
    with pytest.raises(DataError, match="3.png"):
        BairDataset(root, "train", seq_len=12)


def _resident_bytes(path) -> int:
    """Resident bytes of this process's mappings of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split()[0] and ":" not in line.split()[0]:
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1]) * 1024
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="MADV_POPULATE_READ is Linux")
def test_cached_frames_are_mapped_in_at_open(tmp_path, monkeypatch):
    """A cache hit maps the whole (small) array in at open, before any batch reads it; with
    populating off (the control) nothing is resident until a read touches it."""
    from vidpred.data import frame_cache

    frames = np.random.default_rng(0).integers(0, 255, (64, 4, 3, 64, 64), dtype=np.uint8)
    (tmp_path / "split").mkdir()
    (tmp_path / "split" / "a.txt").write_text("source")
    frame_cache.cached_arrays(tmp_path / "split", {"t": 1}, lambda: {"frames": frames})  # write

    def open_hit() -> tuple[np.ndarray, int]:
        hit = frame_cache.cached_arrays(tmp_path / "split", {"t": 1}, lambda: {"frames": frames})
        assert isinstance(hit["frames"], np.memmap)
        return hit["frames"], _resident_bytes(hit["frames"].filename)

    monkeypatch.setattr(frame_cache, "POPULATE_MAX_BYTES", 0)
    _, lazy = open_hit()
    monkeypatch.setattr(frame_cache, "POPULATE_MAX_BYTES", 2**30)
    populated, resident = open_hit()
    assert lazy < frames.nbytes // 4
    assert resident >= frames.nbytes
    assert np.array_equal(populated, frames)


def test_a_large_split_is_decoded_into_the_cache_a_few_sequences_at_a_time(
        tmp_path, push_root, monkeypatch):
    """Beyond STREAM_BYTES the split never sits whole in memory: sequences go straight into the
    cache's memory-mapped files, and the arrays equal those of the in-memory path."""
    import vidpred.data.bair as bair

    whole = BairDataset(push_root, "train", seq_len=12, cache=False)
    root = tmp_path / "push"
    shutil.copytree(push_root, root)
    monkeypatch.setattr(bair, "STREAM_BYTES", 1)
    monkeypatch.setattr(bair, "RELEASE_EVERY", 2)

    def in_memory(*a, **k):
        raise AssertionError("decoded the whole split into memory")

    monkeypatch.setattr(bair, "_decode", in_memory)
    streamed = BairDataset(root, "train", seq_len=12)
    assert torch.equal(streamed.seqs.frames, whole.seqs.frames)
    assert torch.equal(streamed.seqs.cond, whole.seqs.cond)
    # a sequence shorter than the first is named (the streamed arrays have the first's length)
    seq = streamed.seqs.paths[1]
    last = max(int(p.stem) for p in seq.glob("*.png"))
    (seq / f"{last}.png").unlink()
    for name in ("actions.csv", "endeffector_positions.csv"):
        rows = (seq / name).read_text().splitlines()
        (seq / name).write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(DataError, match=f"{seq}: .*first sequence has"):
        BairDataset(root, "train", seq_len=12)


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads /proc/self/smaps")
def test_a_large_memory_map_drops_the_pages_batches_read_from_the_process(tmp_path, monkeypatch):
    """Random windows of a split larger than memory would otherwise map it all into the
    process's RSS; after each read budget the pages are dropped, and the data reads the same."""
    from vidpred.data import frame_cache

    a = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype=np.uint8,
                                  shape=(16, 2**20))
    a[:] = 7
    a.flush()
    del a
    m = np.load(tmp_path / "f.npy", mmap_mode="c")
    monkeypatch.setattr(frame_cache, "POPULATE_MAX_BYTES", 0)
    monkeypatch.setattr(frame_cache, "RESIDENT_READ_BYTES", 8 * 2**20)
    pages = frame_cache.PageBudget(m)
    for i in range(7):                      # 7 MiB read: within the budget, still mapped
        assert int(m[i].sum()) == 7 * 2**20
        pages.read(2**20)
    assert _resident_bytes(m.filename) >= 7 * 2**20
    assert int(m[7].sum()) == 7 * 2**20
    pages.read(2**20)                       # the budget is spent: the pages are dropped
    assert _resident_bytes(m.filename) < 2**20
    assert int(m[3].sum()) == 7 * 2**20     # and read again from the file
    del m
    small = np.load(tmp_path / "f.npy", mmap_mode="c")
    monkeypatch.setattr(frame_cache, "POPULATE_MAX_BYTES", 2**30)
    pages = frame_cache.PageBudget(small)   # a map under the size where pages are dropped
    assert int(small[:8].sum()) == 8 * 7 * 2**20
    pages.read(64 * 2**20)
    assert _resident_bytes(small.filename) >= 8 * 2**20   # left alone: its pages stay mapped
