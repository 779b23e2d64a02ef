"""The BAIR download's TFRecords: framing and checksums, converting to the processed layout, and
the ``bair_tfrecord`` layout, on small files written in the download's exact format."""
import os
import shutil
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from vidpred.cli import main
from vidpred.data.bair import BairDataset
from vidpred.data.bair_tfrecord import (
    BairTFRecordDataset,
    check_tfrecords,
    convert_bair,
)
from vidpred.data.tfrecord import masked_crc32c, read_records
from vidpred.errors import DataError

from ..conftest import tree_digest
from .bair_records import (example_bytes, frame, make_sequence, write_download, write_file,
                           write_split)

# 10 after 2: files sort by number, so traj_0_to_1 is the one validation file
FILES = {"train/traj_0_to_1.tfrecords": 2, "train/traj_10_to_11.tfrecords": 2,
         "train/traj_2_to_3.tfrecords": 2, "test/traj_0_to_1.tfrecords": 2}
SPLIT_OF = {"train/traj_0_to_1.tfrecords": "validate", "train/traj_2_to_3.tfrecords": "train",
            "train/traj_10_to_11.tfrecords": "train", "test/traj_0_to_1.tfrecords": "test"}


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    root = tmp_path_factory.mktemp("bair") / "softmotion30_44k"
    return root, write_download(root, FILES)


@pytest.fixture(scope="module")
def converted(download, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "bair"
    result = convert_bair(download[0], out, workers=1, progress=False)
    return out, result


def _png(path):
    return np.asarray(Image.open(path))


def test_masked_crc32c_matches_the_published_values():
    # CRC32C check value of "123456789" (RFC 3720), masked as TFRecord does
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32
    assert masked_crc32c(b"") == 0xA282EAD8


def test_conversion_writes_the_frames_and_vectors_of_every_record(download, converted):
    src, written = download
    out, result = converted
    assert result.converted == 8 and result.skipped == 0 and result.problems == []
    for rel, seqs in written.items():
        group = out / SPLIT_OF[rel] / rel.split("/")[1]
        assert sorted(p.name for p in group.iterdir()) == ["0", "1"]
        for k, seq in enumerate(seqs):
            folder = group / str(k)
            assert sorted(int(p.stem) for p in folder.glob("*.png")) == list(range(30))
            for t in (0, 17, 29):
                assert np.array_equal(_png(folder / f"{t}.png"), seq["aux1"][t])
            actions = np.loadtxt(folder / "actions.csv", delimiter=",", dtype=np.float32)
            ee = np.loadtxt(folder / "endeffector_positions.csv", delimiter=",", dtype=np.float32)
            assert np.array_equal(actions, seq["action"])  # bit-exact float32
            assert np.array_equal(ee, seq["endeffector_pos"])
    # and the bair layout reads it: validate holds the first file by number
    ds = BairDataset(out, "validate", seq_len=12, train=False, cache=False)
    assert [p.parent.name for p in ds.seqs.paths] == ["traj_0_to_1.tfrecords"] * 2


def test_camera_main(download, tmp_path):
    src, written = download
    convert_bair(src, tmp_path / "out", camera="main", validate_files=0, workers=1, progress=False)
    folder = tmp_path / "out" / "train" / "traj_0_to_1.tfrecords" / "1"
    seq = written["train/traj_0_to_1.tfrecords"][1]
    assert np.array_equal(_png(folder / "5.png"), seq["main"][5])
    assert not np.array_equal(seq["main"][5], seq["aux1"][5])
    assert not (tmp_path / "out" / "validate").exists()


def _single_file_download(root, seqs, **kw):
    write_file(root / "train" / "traj_0_to_2.tfrecords", seqs, **kw)
    write_file(root / "test" / "traj_0_to_0.tfrecords", seqs[:1])


@pytest.fixture
def three(download):
    return download[1]["train/traj_0_to_1.tfrecords"] + download[1]["train/traj_2_to_3.tfrecords"][:1]


def _damaged(tmp_path, three, damage):
    src = tmp_path / "src"
    _single_file_download(src, three)
    path = src / "train" / "traj_0_to_2.tfrecords"
    data = bytearray(path.read_bytes())
    path.write_bytes(damage(data))
    return src, path


def test_a_truncated_file_keeps_the_records_before_the_cut(tmp_path, three):
    src, path = _damaged(tmp_path, three, lambda d: d[:len(d) - 1000])
    digest = tree_digest(src)
    r = convert_bair(src, tmp_path / "out", validate_files=0, workers=1, progress=False)
    n = len(example_bytes(three[2]))
    assert r.problems == [f"{path}: record 2: truncated: the file ends {n + 4 - 1000} bytes into "
                          f"a record of {n} data bytes + 4 checksum bytes"]
    assert r.converted == 3  # records 0, 1 and the test file's
    group = tmp_path / "out" / "train" / "traj_0_to_2.tfrecords"
    assert sorted(p.name for p in group.iterdir()) == ["0", "1"]
    assert tree_digest(src) == digest  # the source is never written


def test_a_flipped_byte_is_a_checksum_error_and_the_next_records_are_kept(tmp_path, three):
    n = len(frame(example_bytes(three[0])))

    def flip(d):
        d[n + 12 + 5000] ^= 0x01    # inside record 1's data
        return d

    src, path = _damaged(tmp_path, three, flip)
    r = convert_bair(src, tmp_path / "out", validate_files=0, workers=1, progress=False)
    assert r.problems == [f"{path}: record 1: data checksum mismatch (corrupt record)"]
    group = tmp_path / "out" / "train" / "traj_0_to_2.tfrecords"
    assert sorted(p.name for p in group.iterdir()) == ["0", "2"]
    assert np.array_equal(_png(group / "2" / "3.png"), three[2]["aux1"][3])

    def flip_length(d):
        d[n + 2] ^= 0x10            # record 1's length
        return d

    src, path = _damaged(tmp_path / "b", three, flip_length)
    r = convert_bair(src, tmp_path / "b" / "out", validate_files=0, workers=1, progress=False)
    assert r.problems == [f"{path}: record 1: length checksum mismatch (corrupt header; the "
                          "records after it cannot be located)"]


@pytest.mark.parametrize("kw, message", [
    ({"drop": ("7/action",)}, "missing key '7/action'"),
    ({"drop": ("29/image_aux1/encoded",)}, "missing key '29/image_aux1/encoded'"),
    ({"replace": {"4/image_aux1/encoded": bytes(12000)}},
     "key '4/image_aux1/encoded' has 12000 bytes, expected 12288"),
    ({"replace": {"2/endeffector_pos": b"abc"}},
     "key '2/endeffector_pos' is a bytes_list, expected a float_list"),
])
def test_a_bad_example_names_the_key(tmp_path, three, kw, message):
    src = tmp_path / "src"
    write_file(src / "train" / "traj_0_to_2.tfrecords", three[:1])
    path = src / "train" / "traj_0_to_2.tfrecords"
    with path.open("ab") as f:
        f.write(frame(example_bytes(three[1], **kw)))
    write_file(src / "test" / "traj_0_to_0.tfrecords", three[:1])
    r = convert_bair(src, tmp_path / "out", validate_files=0, workers=1, progress=False)
    assert r.problems == [f"{path}: record 1: {message}" + (" (raw RGB 64x64x3)" if "bytes," in
                                                            message else "")]
    assert check_tfrecords(src) == r.problems
    assert r.converted == 2


def test_a_rerun_skips_finished_sequences_and_redoes_unfinished_ones(download, tmp_path):
    src = download[0]
    out = tmp_path / "out"
    convert_bair(src, out, workers=1, progress=False)
    kept = out / "train" / "traj_2_to_3.tfrecords" / "0" / "0.png"
    stamp = kept.stat().st_mtime_ns
    # an interrupted run: one sequence never renamed into place, one half-written folder
    victim = out / "test" / "traj_0_to_1.tfrecords" / "1"
    shutil.rmtree(victim)
    partial = victim.with_name(".partial-1")
    partial.mkdir()
    (partial / "0.png").write_bytes(b"half")
    r = convert_bair(src, out, workers=1, progress=False)
    assert (r.converted, r.skipped, r.problems) == (1, 7, [])
    assert not partial.exists() and (victim / "29.png").is_file()
    assert kept.stat().st_mtime_ns == stamp
    # other settings would mix cameras or splits in one folder
    with pytest.raises(DataError, match=r"vidpred_convert\.json: .* was converted with other "
                                        r"settings .*\"camera\": \"aux1\""):
        convert_bair(src, out, camera="main", workers=1, progress=False)


def test_bair_tfrecord_layout_gives_the_converted_layouts_tensors(download, converted, monkeypatch):
    src, out = download[0], converted[0]
    for split, seq_len, train in [("train", 12, True), ("validate", 12, False), ("test", 30, False)]:
        a = BairTFRecordDataset(src, split, seq_len, train=train)
        b = BairDataset(out, split, seq_len, train=train, cache=False)
        assert len(a) == len(b) and a.n_sequences == b.n_sequences
        assert [p.relative_to(p.parents[1]) for p in a.seqs.paths] == \
               [p.relative_to(p.parents[1]) for p in b.seqs.paths]  # <file name>/<k>
        idx = list(range(len(a)))
        fa, ca = a.batch(idx)
        fb, cb = b.batch(idx)
        assert torch.equal(fa, fb) and torch.equal(ca, cb)
        assert isinstance(a.seqs.frames, torch.Tensor) and a.seqs.frames.dtype == torch.uint8
    # a second open maps the cache and decodes nothing
    import vidpred.data.bair_tfrecord as bt

    def no_decoding(*a, **k):
        raise AssertionError("decoded records although the cache is fresh")

    monkeypatch.setattr(bt, "decode_example", no_decoding)
    again = BairTFRecordDataset(src, "train", 12, train=True)
    assert torch.equal(again.batch([0, 5])[0], BairDataset(out, "train", 12, cache=False).batch([0, 5])[0])


def test_bair_tfrecord_layout_reports_damage_and_a_bad_split(tmp_path, three):
    src, path = _damaged(tmp_path, three, lambda d: d[:len(d) - 10])
    with pytest.raises(DataError, match=r"traj_0_to_2\.tfrecords: record 2: truncated"):
        BairTFRecordDataset(src, "train", 12, validate_files=0)
    with pytest.raises(DataError, match="at most 0 can be held out"):
        BairTFRecordDataset(src, "train", 12, validate_files=1)
    with pytest.raises(DataError, match="no \\*.tfrecords files"):
        BairTFRecordDataset(tmp_path / "src" / "train", "train", 12)


def test_training_runs_on_the_bair_tfrecord_layout(download, tmp_path):
    from vidpred.config import check_config
    from vidpred.training.loop import train

    from ..conftest import tiny_config

    cfg = tiny_config(download[0], iterations=2, iters_per_epoch=2, val_sequences=2,
                      tensorboard=False)
    cfg.data.layout = "bair_tfrecord"
    check_config(cfg)
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.iteration == 2 and np.isfinite(result.best_psnr)


def test_cli_convert_and_check_exit_1_listing_every_problem(tmp_path, three, capsys):
    src, path = _damaged(tmp_path, three, lambda d: d[:len(d) - 10])
    out = tmp_path / "out"
    assert main(["data", "convert-bair", str(src), "--out", str(out), "--validate-files", "0",
                 "--workers", "2", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert f"{path}: record 2: truncated" in captured.out
    assert "converted 3 sequences" in captured.out and "1 damaged record in" in captured.err
    assert main(["data", "check", "--layout", "bair_tfrecord", "--quiet", str(src)]) == 1
    assert f"{path}: record 2: truncated" in capsys.readouterr().out
    # the intact records are in place; a re-run converts nothing more
    assert main(["data", "convert-bair", str(src), "--out", str(out), "--validate-files", "0",
                 "--quiet"]) == 1
    assert "converted 0 sequences" in capsys.readouterr().out
    assert main(["data", "convert-bair", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")]) == 2
    assert "BAIR download root does not exist" in capsys.readouterr().err


def test_records_are_read_back_as_written(tmp_path, three):
    path = tmp_path / "f.tfrecords"
    payloads = [b"", b"x" * 300, example_bytes(three[0])]
    path.write_bytes(b"".join(frame(p) for p in payloads))
    assert [(r.index, r.data, r.problem) for r in read_records(path)] == \
           [(i, p, None) for i, p in enumerate(payloads)]
    assert [(r.index, r.data) for r in read_records(path, skip={1})] == \
           [(0, b""), (1, None), (2, payloads[2])]
    assert struct.unpack("<Q", path.read_bytes()[:8]) == (0,)
    assert os.path.getsize(path) == sum(len(p) + 16 for p in payloads)


def test_write_split_names_files_as_the_download_and_a_record_may_hold_aux1_alone(tmp_path):
    """benchmarks/bair_full_size.py writes the aux1 camera only: the reader takes it."""
    seqs = [make_sequence(np.random.default_rng(i), frames=13) for i in range(5)]
    for s in seqs:
        del s["main"]
    size = write_split(tmp_path / "train", iter(seqs), 5, per_file=2)
    write_split(tmp_path / "test", iter(seqs), 1)
    names = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert names == ["traj_0_to_1.tfrecords", "traj_2_to_3.tfrecords", "traj_4_to_4.tfrecords"]
    assert size == sum(p.stat().st_size for p in (tmp_path / "train").iterdir())
    ds = BairTFRecordDataset(tmp_path, "train", 12, train=False)  # traj_0_to_1 is validation
    aux1 = torch.from_numpy(seqs[4]["aux1"][:12]).permute(0, 3, 1, 2)
    assert torch.equal(ds.seqs.frames[2, :12], aux1)
    with pytest.raises(DataError, match="missing key '0/image_main/encoded'"):
        BairTFRecordDataset(tmp_path, "test", 12, camera="main")


def test_config_knows_the_layout_and_its_key():
    from vidpred.config import Config, config_problems

    cfg = Config()
    cfg.apply_overrides(["data.layout=bair_tfrecord", "validate_files=-1", "model.cond_dim=3"])
    assert config_problems(cfg) == [
        "data.validate_files=-1: must be >= 0",
        "model.cond_kind='vector', model.cond_dim=3: the bair_tfrecord layout gives vector "
        "conditions of size 7; set model.cond_kind=vector model.cond_dim=7 (or model.cond_dim=0 "
        "for none)"]


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads /proc/self/smaps")
@pytest.mark.parametrize("released", [True, False])
def test_the_cache_is_built_without_holding_the_split_in_memory(download, tmp_path, monkeypatch,
                                                                released):
    """While the cache is filled, the frames written so far are written out and unmapped, so the
    resident part of the new file stays at about one record; without that (the control) it grows
    to the whole split."""
    import vidpred.data.bair_tfrecord as bt
    from vidpred.data import frame_cache

    from .test_bair import _resident_bytes

    src = tmp_path / "download"
    shutil.copytree(download[0], src)  # a new cache entry
    resident, release = [], frame_cache._release

    def spy(arrays):
        if released:
            release(arrays)
        resident.append(_resident_bytes(arrays["frames"].filename))

    monkeypatch.setattr(frame_cache, "_release", spy)
    monkeypatch.setattr(bt, "RELEASE_EVERY", 1)
    ds = BairTFRecordDataset(src, "train", 12, train=True)
    record = ds.seqs.frames[0].numel()
    assert len(resident) == ds.n_sequences == 4
    if released:
        assert max(resident) <= record // 8
    else:
        assert resident[-1] >= 4 * record
