"""The file checks both on-disk layouts share: frame numbers, PNGs and numeric CSVs."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidpred.data.files import (
    collect,
    folder_order,
    frame_number,
    numbered_pngs,
    raise_first,
    read_csv,
    read_png,
)
from vidpred.errors import DataError


def test_frame_numbers_sort_numerically_with_an_optional_frame_prefix(tmp_path):
    names = [tmp_path / n for n in ("frame10.png", "frame9.png", "frame0.png", "2.png", "007.png")]
    assert [frame_number(p) for p in names] == [10, 9, 0, 2, 7]
    assert [p.name for p in sorted(names, key=frame_number)] == \
        ["frame0.png", "2.png", "007.png", "frame9.png", "frame10.png"]


@pytest.mark.parametrize("name", ["img_3.png", "frame.png", "3b.png", "frame_3.png", "-1.png",
                                  "Frame3.png", "3.5.png"])
def test_other_file_names_are_errors_naming_the_file(tmp_path, name):
    with pytest.raises(DataError, match=r"not a frame file name") as e:
        frame_number(tmp_path / name)
    assert str(e.value).startswith(f"{tmp_path / name}: ") and "\n" not in str(e.value)


def test_folders_sort_by_their_first_integer():
    names = ["traj_256_to_511", "traj_0_to_255.tfrecords", "10", "9", "extra", "a"]
    assert [p.name for p in sorted(map(Path, names), key=folder_order)] == \
        ["traj_0_to_255.tfrecords", "9", "10", "traj_256_to_511", "a", "extra"]


def test_numbered_pngs_lists_frames_in_order_and_reports_the_rest(tmp_path):
    for name in ("10.png", "9.png", "frame0.png", "0.png", "cover.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    problems = []
    files = numbered_pngs(tmp_path, problems)
    assert list(files) == [0, 9, 10] and files[0].name == "0.png"
    assert problems == [f"{tmp_path / 'cover.png'}: not a frame file name (expected <n>.png or "
                        "frame<n>.png, n an integer)",
                        f"{tmp_path / 'frame0.png'}: frame number 0 also used by 0.png"]


@pytest.mark.parametrize("make, size, message", [
    (lambda p: None, None, "missing image"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\ntruncated"), None, "unreadable or truncated PNG"),
    (lambda p: p.write_text("not an image"), None, "unreadable or truncated PNG"),
    (lambda p: Image.new("L", (8, 4)).save(p), None, "image mode is L, expected 8-bit RGB"),
    (lambda p: Image.new("RGBA", (8, 4)).save(p), None, "image mode is RGBA, expected 8-bit RGB"),
    (lambda p: Image.new("RGB", (8, 4)).save(p), (8, 8), "image is 8x4, expected 8x8"),
])
def test_png_problems_are_one_line_naming_the_file(tmp_path, make, size, message):
    path = tmp_path / "3.png"
    make(path)
    with pytest.raises(DataError) as e:
        read_png(path, size)
    text = str(e.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_png_is_read_as_uint8_hwc(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (4, 8, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "0.png")
    for size in (None, (4, 8)):
        got = read_png(tmp_path / "0.png", size)
        assert got.dtype == np.uint8 and np.array_equal(got, arr)


@pytest.mark.parametrize("text, message", [
    (None, "missing"),
    ("0,0,0\n" * 3, "3 rows, expected 4 (one per frame)"),
    ("0,0,0\n0,0\n0,0,0\n0,0,0\n", "line 2 has 2 columns, expected 3"),
    ("0,0,0\n0,0,0\nx,0,0\n0,0,0\n", "line 3 is not numeric: 'x,0,0'"),
    ("0,0,0\ninf,0,0\n0,0,0\n0,0,0\n", "non-finite value on row 2"),
])
def test_csv_problems_are_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "actions.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DataError) as e:
        read_csv(path, 4, 3)
    assert str(e.value) == f"{path}: {message}"


def test_csv_is_read_as_float32_skipping_blank_lines(tmp_path):
    (tmp_path / "a.csv").write_text("1,2.5,-3\n\n4,5e-1,6\n")
    got = read_csv(tmp_path / "a.csv", 2, 3)
    assert got.dtype == np.float32 and got.tolist() == [[1, 2.5, -3], [4, 0.5, 6]]


def test_collect_and_raise_first(tmp_path):
    problems = []
    assert collect(problems, read_csv, tmp_path / "x.csv", 1, 1) is None
    assert collect(problems, frame_number, tmp_path / "frame4.png") == 4
    assert problems == [f"{tmp_path / 'x.csv'}: missing"]
    raise_first([], "hint")  # nothing to raise
    with pytest.raises(DataError, match=r"^a: b$"):
        raise_first(["a: b"], "hint")
    with pytest.raises(DataError, match=r"^a: b \(and 2 more problems: `check` lists them all\)$"):
        raise_first(["a: b", "c", "d"], "`check`")
