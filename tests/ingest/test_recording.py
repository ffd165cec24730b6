"""Reading recording CSVs in chunks (ingest.recording)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import RecordingError
from ingest.recording import read_ahead, read_chunks


def write(tmp_path: Path, text: str, name: str = "rec.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def read_all(path: Path, chunk_rows: int = 2) -> tuple[np.ndarray, np.ndarray]:
    parts = list(read_chunks(path, chunk_rows=chunk_rows))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_seconds_are_made_relative_and_chunked(tmp_path: Path) -> None:
    """Times count from the first sample; chunks join up to the whole file, gyro too."""
    path = write(tmp_path, "t,ax,ay,az,gx,gy,gz\n10.0,0,0,1,1,2,3\n10.5,0,1,0,1,2,3\n11.0,1,0,0,0,0,0\n")
    t, acc = read_all(path)
    assert t.tolist() == [0.0, 0.5, 1.0]
    assert acc.tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    gyro = np.concatenate([c.gyro_dps for c in read_chunks(path, chunk_rows=2) if c.gyro_dps is not None])
    assert gyro.tolist() == [[1, 2, 3], [1, 2, 3], [0, 0, 0]]


def test_files_without_gyro_give_none(tmp_path: Path) -> None:
    path = write(tmp_path, "t,ax,ay,az\n0,0,0,1\n1,0,0,1\n")
    assert [c.gyro_dps for c in read_chunks(path)] == [None]


def test_a_row_with_a_missing_gyro_value_is_dropped_and_a_partial_gyro_refused(tmp_path: Path) -> None:
    """Gyro values are checked as acceleration is; gyro needs all three axes."""
    path = write(tmp_path, "t,ax,ay,az,gx,gy,gz\n0,0,0,1,1,2,3\n0.5,0,0,1,,2,3\n1,0,0,1,4,5,6\n")
    (chunk,) = read_chunks(path)
    assert chunk.t_s.tolist() == [0.0, 1.0]
    assert chunk.gyro_dps is not None
    assert chunk.gyro_dps.tolist() == [[1, 2, 3], [4, 5, 6]]
    bad = write(tmp_path, "t,ax,ay,az,gx\n0,0,0,1,1\n", name="partial.csv")
    with pytest.raises(RecordingError, match="gyro needs all of gx, gy, gz"):
        list(read_chunks(bad))
    text = write(tmp_path, "t,ax,ay,az,gx,gy,gz\n0,0,0,1,1,2,3\n0.5,0,0,1,1,fast,3\n", name="text.csv")
    with pytest.raises(RecordingError, match=r"row 2: column 'gy' is not a number: 'fast'"):
        list(read_chunks(text))


def test_iso_timestamps(tmp_path: Path) -> None:
    """ISO-8601 times are read as seconds from the first sample."""
    path = write(
        tmp_path,
        "t,ax,ay,az\n2024-05-01T09:00:00Z,0,0,1\n2024-05-01T09:00:00.020Z,0,0,1\n2024-05-01T09:00:01+00:00,0,0,1\n",
    )
    t, _ = read_all(path)
    assert t == pytest.approx([0.0, 0.02, 1.0])


def test_rows_with_missing_values_are_dropped(tmp_path: Path) -> None:
    """A row with an empty cell is skipped, the rest is kept."""
    t, _ = read_all(write(tmp_path, "t,ax,ay,az\n0,0,0,1\n0.1,,0,1\n0.2,0,0,1\n"))
    assert t.tolist() == [0.0, 0.2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,ax,ay\n0,0,0\n", "missing column"),
        ("t,ax,ay,az\n0,0,0,1\n0.1,abc,0,1\n", "row 2: column 'ax' is not a number"),
        ("t,ax,ay,az\n0,0,0,1\n1,0,0,1\n2,0,0,1\n0.5,0,0,1\n", "row 4: time goes backwards"),
        ("t,ax,ay,az\n", "no usable samples"),
        ("", "cannot read"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    """Each kind of bad file raises RecordingError with the file name."""
    path = write(tmp_path, text)
    with pytest.raises(RecordingError, match=message) as info:
        read_all(path)
    assert "rec.csv" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a RecordingError naming it."""
    with pytest.raises(RecordingError, match=r"nope\.csv"):
        read_all(tmp_path / "nope.csv")


def test_a_bad_value_late_in_the_file_is_named_after_the_good_chunks(tmp_path: Path) -> None:
    """Numbers are read as floats directly; a bad cell in a later chunk still names its row."""
    rows = [f"{i * 0.02:.2f},0,0,1" for i in range(9)] + ["0.18,0,x1,1"]
    path = write(tmp_path, "t,ax,ay,az\n" + "\n".join(rows) + "\n")
    chunks = read_chunks(path, chunk_rows=4)
    good = [next(chunks), next(chunks)]  # rows 1-8 arrive before the bad one is met
    assert sum(len(c.t_s) for c in good) == 8
    with pytest.raises(RecordingError, match=r"row 10: column 'ay' is not a number: 'x1'"):
        list(chunks)


def test_float_and_text_reading_agree(tmp_path: Path) -> None:
    """The fast float path gives the same numbers as converting the text."""
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, (500, 3)).round(3)
    lines = [f"{i / 50:.3f},{a},{b},{c}" for i, (a, b, c) in enumerate(values)]
    path = write(tmp_path, "t,ax,ay,az\n" + "\n".join(lines) + "\n")
    t, acc = read_all(path, chunk_rows=64)
    np.testing.assert_array_equal(acc, values)
    np.testing.assert_allclose(t, np.arange(500) / 50, atol=1e-12)


def test_read_ahead_keeps_the_order_and_the_values(tmp_path: Path) -> None:
    """Chunks read ahead on a second thread are the chunks read in line."""
    lines = [f"{i / 50:.3f},{i % 7},0,1" for i in range(1000)]
    path = write(tmp_path, "t,ax,ay,az\n" + "\n".join(lines) + "\n")
    direct = list(read_chunks(path, chunk_rows=64))
    ahead = list(read_ahead(read_chunks(path, chunk_rows=64), depth=3))
    assert len(ahead) == len(direct) == 16
    for (t1, a1, _), (t2, a2, _) in zip(direct, ahead, strict=True):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(a1, a2)


def test_read_ahead_raises_the_readers_error_after_the_good_chunks(tmp_path: Path) -> None:
    """A bad value met on the reading thread reaches the caller, with the chunks before it first."""
    rows = [f"{i * 0.02:.2f},0,0,1" for i in range(9)] + ["0.18,0,x1,1"]
    path = write(tmp_path, "t,ax,ay,az\n" + "\n".join(rows) + "\n")
    chunks = read_ahead(read_chunks(path, chunk_rows=4))
    assert sum(len(c.t_s) for c in [next(chunks), next(chunks)]) == 8
    with pytest.raises(RecordingError, match=r"row 10: column 'ay' is not a number"):
        next(chunks)


def test_read_ahead_stops_its_thread_and_the_source_when_closed_early() -> None:
    """Leaving early stops the reading thread and closes the source iterator."""
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    items = read_ahead(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()
    assert closed.is_set()
    assert not any(t.name == "sitless-read-ahead" for t in threading.enumerate())


def test_read_ahead_needs_a_positive_depth() -> None:
    with pytest.raises(ValueError, match="depth must be > 0"):
        next(read_ahead(iter([1]), depth=0))
