"""Opening recording files (ingest.recording_file): regular files only, CSV lines of bounded length."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import RecordingError
from ingest.recording_file import check_regular_file, open_csv


def read_through(path: Path, sizes: list[int], max_line_bytes: int) -> bytes:
    """All of a file's text through ``open_csv``, read in the ``sizes`` given (cycled)."""
    out = b""
    with open_csv(path, max_line_bytes) as f:
        k = 0
        while block := f.read(sizes[k % len(sizes)]):
            out += block
            k += 1
    return out


@settings(max_examples=200, deadline=None, database=None)
@given(
    lengths=st.lists(st.integers(0, 40), max_size=20),
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bound=st.integers(1, 40),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5),
)
def test_a_line_is_refused_exactly_when_it_is_longer_than_the_bound(
    lengths: list[int], ending: bytes, bound: int, sizes: list[int]
) -> None:
    """However the reads fall across lines, a file reads whole unless one of its lines is over the bound.

    Lines end at LF, or at CR in a file without LF. The CR before an LF counts as the
    line's, unless a read ends between the two (the CR then ends the line): a line over
    the bound without its CR is refused, and one within it with its CR read whole.
    """
    data = ending.join(b"9" * n for n in lengths)
    lines = data.split(b"\r" if ending == b"\r" else b"\n")
    with_cr = max(len(line) for line in lines)
    without_cr = max(len(line.removesuffix(b"\r")) for line in lines)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rec.csv"
        path.write_bytes(data)
        if without_cr > bound:
            with pytest.raises(RecordingError, match=f"longer than {bound} bytes"):
                read_through(path, sizes, bound)
        elif with_cr <= bound:
            assert read_through(path, sizes, bound) == data


@pytest.mark.parametrize(
    "pack",
    [gzip.compress, bz2.compress, lzma.compress, lambda data: data],
    ids=["gzip", "bzip2", "xz", "plain"],
)
def test_compressed_text_is_told_by_its_first_bytes_and_bounded_after_decompressing(
    tmp_path: Path, pack: Callable[[bytes], bytes]
) -> None:
    """gzip, bzip2 and xz are read as their text whatever the name; the bound applies to that text."""
    text = b"t,ax,ay,az\n0,0,0,1\n"
    path = tmp_path / "rec.csv"
    path.write_bytes(pack(text))
    assert read_through(path, [7], 64) == text
    path.write_bytes(pack(text + b"1" * 3_000_000 + b",0,0,1\n"))  # about 3 MB inflated, a few KB packed
    with pytest.raises(RecordingError, match=r"rec\.csv: the line at byte 19 is longer than 1048576 bytes"):
        read_through(path, [256 * 1024], 1 << 20)


def test_damaged_compressed_data_is_an_os_error(tmp_path: Path) -> None:
    """A damaged stream raises OSError whatever its compression, as a cut one raises EOFError."""
    path = tmp_path / "rec.csv.xz"
    packed = bytearray(lzma.compress(b"t,ax,ay,az\n" * 1000))
    packed[40:50] = b"\xff" * 10
    path.write_bytes(bytes(packed))
    with pytest.raises(OSError, match="Corrupt input data"):
        read_through(path, [4096], 1 << 20)
    path.write_bytes(gzip.compress(b"t,ax,ay,az\n" * 1000)[:30])
    with pytest.raises(EOFError):
        read_through(path, [4096], 1 << 20)


def test_what_is_not_a_regular_file_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    """A FIFO with no writer would block the first open for ever: it is refused from its stat alone."""
    fifo = tmp_path / "live.csv"
    os.mkfifo(fifo)
    with pytest.raises(RecordingError, match=r"live\.csv: not a regular file .*save it to a file first"):
        check_regular_file(fifo)
    with pytest.raises(RecordingError, match="is a folder"):
        check_regular_file(tmp_path)
    with pytest.raises(RecordingError, match=r"nope\.csv: no such file"):
        check_regular_file(tmp_path / "nope.csv")
    with pytest.raises(RecordingError, match="not a regular file"):
        check_regular_file(Path("/dev/null"))
    (tmp_path / "rec.csv").write_text("t,ax,ay,az\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "rec.csv")
    check_regular_file(tmp_path / "link.csv")  # a link to a file is that file
