"""Reading recording CSVs in chunks (ingest.recording)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.errors import RecordingError
from ingest.recording import AccUnit, RecordingClock, TimeUnit, read_ahead, read_chunks


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


def test_blank_lines_are_dropped_rows_and_keep_the_row_numbers_true(tmp_path: Path) -> None:
    """Blank lines count as dropped rows, and a bad value after them is named on its own line.

    The value that is not a number makes the reader read its chunk again as text,
    skipping the rows already done: blank lines before it used to shift that skip, so
    that rows were read twice and the file was called unsorted.
    """
    rows = [f"{i * 0.02:.2f},0,0,1" for i in range(8)]
    lines = ["t,ax,ay,az", *rows[:3], "", *rows[3:6], "", *rows[6:], "0.16,0,abc,1", "0.18,0,0,1"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(RecordingError, match=r"row 11: column 'ay' is not a number: 'abc'"):
        read_all(path, chunk_rows=4)
    assert lines[11] == "0.16,0,abc,1"  # row 11 is the file's line 12, the header being row 0
    clock = RecordingClock()
    good = write(tmp_path, path.read_text().replace("abc", "0"), name="good.csv")
    t = np.concatenate([c[0] for c in read_chunks(good, chunk_rows=4, clock=clock)])
    assert t.tolist() == pytest.approx([i * 0.02 for i in range(10)])
    assert (clock.rows, clock.dropped_rows) == (12, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,ax,ay\n0,0,0\n", "missing column"),
        ("t,ax,ay,az\n0,0,0,1\n0.1,abc,0,1\n", "row 2: column 'ax' is not a number"),
        ("t,ax,ay,az\n0,0,0,1\n1,0,0,1\n2,0,0,1\n0.5,0,0,1\n", "row 4: time goes backwards"),
        ("t,ax,ay,az\n0,0,0,1\n1,0,0,1\n1e12,0,0,1\n", "row 3: time 1000000000000.0 is too far from the first"),
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


def test_units_are_decided_from_the_first_chunk_and_applied_to_all(tmp_path: Path) -> None:
    """m/s² and Unix milliseconds seen in the first chunk are converted in every chunk, and noted."""
    lines = [f"{1764057600000 + 20 * i},0,0,{9.80665 * (1 + 0.5 * (i >= 4)):.5f}" for i in range(8)]
    path = write(tmp_path, "t,ax,ay,az\n" + "\n".join(lines) + "\n")
    clock = RecordingClock()
    chunks = list(read_chunks(path, chunk_rows=4, clock=clock))
    t = np.concatenate([c.t_s for c in chunks])
    acc = np.concatenate([c.acc_g for c in chunks])
    np.testing.assert_allclose(t, np.arange(8) * 0.02, atol=1e-9)
    np.testing.assert_allclose(acc[:, 2], [1.0] * 4 + [1.5] * 4, atol=1e-6)
    assert clock.assumed == {"units": "m/s2", "time": "epoch_ms"}
    assert clock.start_epoch_s == 1764057600.0


def test_units_told_are_not_second_guessed(tmp_path: Path) -> None:
    """With the units given, no detection runs: relative milliseconds, and m/s² forced."""
    path = write(tmp_path, "t,ax,ay,az\n0,0,0,9.80665\n20,0,0,9.80665\n40,0,0,9.80665\n")
    clock = RecordingClock()
    (chunk,) = read_chunks(path, clock=clock, acc_unit=AccUnit.G, time_unit=TimeUnit.MS)
    assert chunk.t_s.tolist() == pytest.approx([0.0, 0.02, 0.04])
    assert chunk.acc_g[:, 2].tolist() == [9.80665] * 3
    assert clock.assumed == {}
    assert clock.start_epoch_s is None
    (chunk,) = read_chunks(write(tmp_path, "t,ax,ay,az\n0,0,0,1\n", "g.csv"), acc_unit=AccUnit.MS2)
    assert chunk.acc_g[0, 2] == pytest.approx(1 / 9.80665)


@pytest.mark.parametrize(
    ("t", "acc", "expected"),
    [
        ("1764057600.00,1764057600.02", "0,0,1", {}),  # Unix seconds, g
        ("0,20", "0,0,1", {"time": "relative_ms"}),  # milliseconds from the start
        ("100,101", "0,0,1", {}),  # seconds from the start at 1 Hz: stays seconds
        ("0,0.02", "0,0,9.81", {"units": "m/s2"}),
        ("0,0.02", "0,0,3.0", {}),  # hard movement in g stays g
    ],
)
def test_unit_detection_edges(tmp_path: Path, t: str, acc: str, expected: dict[str, str]) -> None:
    """Only a median |a| near 9.8 is m/s², and only times stepping like milliseconds (Unix or relative) are ms."""
    times = t.split(",")
    path = write(tmp_path, "t,ax,ay,az\n" + "\n".join(f"{x},{acc}" for x in times) + "\n")
    clock = RecordingClock()
    list(read_chunks(path, clock=clock))
    assert clock.assumed == expected


def test_times_past_the_year_9999_are_an_error(tmp_path: Path) -> None:
    """Huge times that do not step like milliseconds are refused, naming the row and the way out."""
    path = write(tmp_path, "t,ax,ay,az\n1764057600000,0,0,1\n1764057600000.001,0,0,1\n")
    with pytest.raises(RecordingError, match=r"row 1: time 1764057600000 s is after the year 9999.*--time-unit"):
        list(read_chunks(path))


def test_dropped_rows_are_counted_on_both_reading_paths(tmp_path: Path) -> None:
    """Empty, NaN and infinite cells are counted whether the chunk was read as floats or as text."""
    text = "t,ax,ay,az\n0,0,0,1\n0.1,,0,1\n0.2,0,NaN,1\n0.3,0,0,inf\n0.4,0,0,1\n0.5,0,x,1\n"
    clock = RecordingClock()
    chunks = read_chunks(write(tmp_path, text), chunk_rows=5, clock=clock)
    assert [c.t_s.tolist() for c in [next(chunks)]] == [[0.0, 0.4]]  # the first chunk, read as floats
    assert (clock.rows, clock.dropped_rows) == (5, 3)
    with pytest.raises(RecordingError, match="row 6"):
        next(chunks)
    clock = RecordingClock()
    with pytest.raises(RecordingError, match=r"no usable samples \(all 2 rows have missing or non-finite values\)"):
        list(read_chunks(write(tmp_path, "t,ax,ay,az\n0,,0,1\n1,0,nan,1\n", "empty.csv"), clock=clock))


@pytest.mark.parametrize(
    ("name", "packed"),
    [("rec.csv", True), ("download", True), ("rec.csv.gz", True), ("rec.csv.gz", False)],
    ids=["gzip-named-csv", "gzip-no-suffix", "gzip-named-gz", "plain-named-gz"],
)
def test_a_csv_is_read_gzipped_or_not_by_its_first_bytes_not_its_name(tmp_path: Path, name: str, packed: bool) -> None:
    """A gzipped CSV saved without ``.gz`` (or a plain one named ``.gz``) reads like any other."""
    text = b"t,ax,ay,az\n0,0,0,1\n0.5,0,1,0\n1,1,0,0\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if packed else text)
    t, acc = read_all(path)
    np.testing.assert_array_equal(t, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(acc, [[0, 0, 1], [0, 1, 0], [1, 0, 0]])


@pytest.mark.parametrize("first", ["1" * 400_000, "2026-11-23T08:00:00" + "0" * 60], ids=["400-KB-digits", "65-chars"])
def test_a_first_time_too_long_to_be_one_is_refused_in_a_short_message(tmp_path: Path, first: str) -> None:
    """No time is over 64 characters: a longer first ``t`` is refused, not parsed as a date, and quoted cut short.

    Parsed as a date, 400 KB of digits took 7 s and 800 KB over 15 (the parser's time
    grew with the square of the length), and the message quoted all of it.
    """
    path = write(tmp_path, f"t,ax,ay,az\n{first},0,0,1\n1,0,0,1\n")
    with pytest.raises(RecordingError, match=rf"rec\.csv: the first time, column 't', is {len(first)} characters"):
        read_all(path)
    with pytest.raises(RecordingError) as info:
        read_all(path)
    assert len(str(info.value)) < 300  # the path, the words and 80 characters of the value


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("where", ["first-row", "later-row"])
def test_a_line_over_a_mib_is_refused_in_a_short_message(tmp_path: Path, packed: bool, where: str) -> None:
    """A 3 MB line (NUL bytes, as a sparse file holds) is refused after its first MiB, its bytes unquoted.

    pandas held such a line whole: 300 MB of NULs took 4.1 GB and wrote a 1.26 GB message.
    """
    rows = "".join(f"{i * 0.02:.2f},0,0,1\n" for i in range(200)) if where == "later-row" else ""
    text = ("t,ax,ay,az\n" + rows).encode() + b"\0" * 3_000_000 + b"\n0,0,0,1\n"
    path = tmp_path / "rec.csv"
    path.write_bytes(gzip.compress(text) if packed else text)
    with pytest.raises(RecordingError, match=r"rec\.csv: the line at byte \d+ is longer than 1048576 bytes") as info:
        read_all(path, chunk_rows=50)
    assert len(str(info.value)) < 300


def test_long_values_are_quoted_cut_short(tmp_path: Path) -> None:
    """A long cell that is not a number, or not a timestamp, is named by its first 80 characters, not whole."""
    rows = "t,ax,ay,az\n0,0,0,1\n0.5," + "x" * 500_000 + ",0,1\n"
    with pytest.raises(RecordingError, match=r"row 2: column 'ax' is not a number: 'xxxx") as info:
        read_all(write(tmp_path, rows))
    assert len(str(info.value)) < 300
    stamps = "t,ax,ay,az\n2026-11-23T08:00:00Z,0,0,1\n2026-11-23T08:00:01" + "0" * 500_000 + "Z,0,0,1\n"
    with pytest.raises(RecordingError, match="neither seconds nor ISO-8601 timestamps") as info:
        read_all(write(tmp_path, stamps, "iso.csv"))
    assert len(str(info.value)) < 400
    assert "\n" not in str(info.value)  # pandas' advice on formats is left out: one line


@pytest.mark.parametrize("pack", [bz2.compress, lzma.compress], ids=["bzip2", "xz"])
def test_bzip2_and_xz_csvs_are_read_by_their_first_bytes(tmp_path: Path, pack: Callable[[bytes], bytes]) -> None:
    """bzip2 and xz CSVs read as gzip ones do, whatever their name."""
    path = tmp_path / "download"
    path.write_bytes(pack(b"t,ax,ay,az\n0,0,0,1\n0.5,0,1,0\n"))
    t, acc = read_all(path)
    np.testing.assert_array_equal(t, [0.0, 0.5])
    np.testing.assert_array_equal(acc, [[0, 0, 1], [0, 1, 0]])
