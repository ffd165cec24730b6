"""Fuzzing the recording readers: any file gives valid chunks or a RecordingError, and the CLI goes on.

``sitless analyze`` catches ``RecordingError`` and prints it as one line naming the file
(``ingest.analyze_cmd._analyse``), so that is the only error a reader may raise. Each
format is fed files built to reach deep into its reader, then broken:

- sitless CSV, plain or gzip (whole or cut), in several encodings, with random headers
  and cells (NaN, infinities, numbers past float64, text, ISO-8601 times out of range);
- ActiLife RAW CSV with every header field mutated (rate, date format, start date and
  time, a header line too many or too few);
- ActiGraph .gt3x zips with mutated info.txt, activity.bin and log.bin (records with
  good or bad checksums, scales, metadata and times), and damaged zips;
- the real sample files of ``SITLESS_DATA/loggers``, cut and with bytes changed.

A file that reads must give chunks of the documented shapes, finite, with times that
never go back. Files stay a few KB (the real samples a few hundred), so no example runs
long. Last, ``sitless analyze`` on a folder of fuzzed files and one good recording gives
one result or one error line per file, and exit status 1 exactly when a file failed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.cli import main
from ingest.errors import RecordingError
from ingest.recording import Chunk, RecordingClock, read_chunks
from tests.ingest.test_analyze_cmd import recording
from tests.ingest.test_loggers_gt3x_log import (
    ACTIVITY2_EXAMPLE,
    ACTIVITY_EXAMPLE,
    PARAMETERS_EXAMPLE,
    START_S,
    START_TICKS,
    record,
)
from tests.support import missing

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
#: The real sample files take longer to read (skdh reads a whole .cwa at once).
FUZZ_REAL = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
CHUNK_ROWS = 7
#: A .cwa file: a 1024-byte header, then 512-byte sectors (Open Movement cwa.h).
CWA_HEAD_BYTES, CWA_SECTOR_BYTES = 1024, 512

ACTILIFE_COLUMNS = "Accelerometer X,Accelerometer Y,Accelerometer Z"


@pytest.fixture(scope="session")
def loggers(recordings: Path) -> Path:
    """The research-logger sample files; skips (or fails where required) when absent."""
    path = recordings / "loggers"
    if not path.is_dir():
        missing(f"the research-logger samples at {path}", "SITLESS_REQUIRE_DATA", "set SITLESS_DATA")
    return path


@contextlib.contextmanager
def written(name: str, content: bytes) -> Iterator[Path]:
    """``content`` in a file called ``name`` in a fresh folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        yield path


def read_or_refuse(path: Path, chunk_rows: int = CHUNK_ROWS) -> list[Chunk] | None:
    """Read a file; its chunks must be valid, or a RecordingError is expected (None)."""
    clock = RecordingClock()
    try:
        chunks = list(read_chunks(path, chunk_rows=chunk_rows, clock=clock))
    except RecordingError:
        return None
    last_s = -math.inf
    for chunk in chunks:
        n = chunk.t_s.shape[0]
        assert chunk.t_s.shape == (n,)
        assert chunk.acc_g.shape == (n, 3)
        assert chunk.t_s.dtype == chunk.acc_g.dtype == np.float64
        assert np.all(np.isfinite(chunk.t_s))
        assert np.all(np.isfinite(chunk.acc_g))
        if chunk.gyro_dps is not None:
            assert chunk.gyro_dps.shape == (n, 3)
            assert np.all(np.isfinite(chunk.gyro_dps))
        if n:
            assert np.all(np.diff(chunk.t_s) >= 0)
            assert chunk.t_s[0] >= last_s
            last_s = float(chunk.t_s[-1])
    assert sum(c.t_s.shape[0] for c in chunks) > 0
    assert clock.start_epoch_s is None or math.isfinite(clock.start_epoch_s)
    return chunks


# Cells and encodings


SPECIAL_CELLS = [
    "",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "-1.7976931348623157e308",
    "1e999",
    "-1e999",
    "9" * 400,
    "1e-320",
    "0x10",
    "  1",
    '"',
    "1,5",
    "2026-01-01T00:00:00Z",
    "2026-11-23 08:00:00+01:00",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "2026-13-45",
    "1764057600000",
    "true",
    "\x00",
    "é",
]
cells = st.one_of(
    st.sampled_from(SPECIAL_CELLS),
    st.floats().map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.text(max_size=6),
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]


def table(draw: st.DrawFn, columns: int, *, rising: bool) -> str:
    """Up to 30 rows: ``columns`` cells each (now and then one more or fewer), the first a rising time when asked."""
    rows = []
    t = draw(st.sampled_from([0.0, 1.7e9, 1.7e12, -1e308]))
    for _ in range(draw(st.integers(0, 30))):
        width = columns + draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, -1]))
        row = draw(st.lists(cells, min_size=max(width, 0), max_size=max(width, 0)))
        if rising and row and draw(st.integers(0, 4)):
            t += draw(st.sampled_from([0.02, 0.0, 1.0, 1e300]))
            row[0] = repr(t)
        rows.append(",".join(row))
    return "\n".join(rows)


def encode_text(draw: st.DrawFn, text: str) -> bytes:
    """The text in a random encoding (unencodable characters replaced), maybe cut."""
    data = text.encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    return data[: draw(st.integers(0, len(data)))] if draw(st.integers(0, 5)) == 0 else data


def compress(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """Plain (``.csv``), gzip or cut gzip (``.csv.gz``)."""
    how = draw(st.sampled_from(["plain", "plain", "gzip", "cut"]))
    if how == "plain":
        return ".csv", data
    packed = gzip.compress(data)
    if how == "cut":
        packed = packed[: draw(st.integers(0, len(packed) - 1))]
    return ".csv.gz", packed


# sitless CSV


@st.composite
def sitless_csvs(draw: st.DrawFn) -> tuple[str, bytes]:
    """A sitless CSV: a real or random header and random cells, encoded, maybe gzipped."""
    header = draw(
        st.sampled_from(
            ["t,ax,ay,az", "t,ax,ay,az,gx,gy,gz", "t,ax,ay", "t,ax,ay,az,gx", " t, ax, ay, az", "t,t,ax,ay,az"]
        )
        | st.text(max_size=20)
    )
    text = header + "\n" + table(draw, header.count(",") + 1, rising=True) + draw(st.sampled_from(["", "\n", "\r\n"]))
    return compress(draw, encode_text(draw, text))


@FUZZ
@given(sitless_csvs())
@example((".csv", b"t,ax,ay,az\n-1e308,0,0,1\n1e308,0,0,1\n"))  # relative times used to overflow to inf
@example((".csv", b"t,ax,ay,az\n2026-01-01T00:00:00Z,0,0,1\n0001-01-01,0,0,1\n"))  # OutOfBoundsDatetime
@example((".csv", b"t,ax,ay,az\n0,1e308,1e308,1e308\n"))  # |a| overflowed (a numpy warning)
def test_sitless_csv_reads_or_raises_recording_error(case: tuple[str, bytes]) -> None:
    """Random sitless CSVs: valid chunks or RecordingError."""
    suffix, content = case
    with written("rec" + suffix, content) as path:
        read_or_refuse(path)


# ActiLife RAW CSV


@st.composite
def actilife_csvs(draw: st.DrawFn) -> tuple[str, bytes]:
    """An ActiLife RAW CSV export with each header field kept, changed or dropped."""
    rate = draw(st.sampled_from(["30", "100", "0", "00", "0.5", "9" * 400, "1", ""]))
    # "M/d/y/yy" names the year twice: strptime's own regex fails on it (re.error)
    date_format = draw(st.sampled_from(["M/d/yyyy", "dd.MM.yyyy", "yyyy-MM-dd", "%Q", "y", "%", "", "M/d/y/yy"]))
    start_time = draw(st.sampled_from(["11:55:00", "23:59:59", "25:00:00", "", "11:55"]) | st.text(max_size=8))
    start_date = draw(st.sampled_from(["12/20/2021", "20.12.2021", "2021-12-20", "1/1/0001", "12/31/9999", "0"]))
    lines = [
        f"------------ Data File Created By ActiGraph GT3X+ ActiLife v6.13.4 Firmware v2.5.0 "
        f"date format {date_format} at {rate} Hz  Filter Normal -----------",
        "Serial Number: NEO1C04110003",
        f"Start Time {start_time}",
        f"Start Date {start_date}",
        "Epoch Period (hh:mm:ss) 00:00:00",
        "Download Time 12:09:58",
        "Download Date 12/20/2021",
        "Current Memory Address: 0",
        "Current Battery Voltage: 4.26     Mode = 12",
        "--------------------------------------------------",
    ]
    if draw(st.integers(0, 4)) == 0:  # a header line too many or too few
        at = draw(st.integers(1, len(lines) - 1))
        lines = lines[:at] + lines[at + 1 :] if draw(st.booleans()) else [*lines[:at], "extra", *lines[at:]]
    columns = draw(
        st.sampled_from(
            [ACTILIFE_COLUMNS, f"Timestamp,{ACTILIFE_COLUMNS}", "Accelerometer X,Accelerometer Y", "x,y,z", ""]
        )
    )
    text = "\n".join([*lines, columns]) + "\n" + table(draw, columns.count(",") + 1, rising=False) + "\n"
    return compress(draw, encode_text(draw, text))


@FUZZ
@given(actilife_csvs())
@example((".csv", f"-- Data File Created By ActiGraph date format M/d/yyyy at 0 Hz\n{ACTILIFE_COLUMNS}\n".encode()))
def test_actilife_csv_reads_or_raises_recording_error(case: tuple[str, bytes]) -> None:
    """ActiLife CSVs with mutated headers and random cells: valid chunks or RecordingError.

    The example (0 Hz) used to give infinite times; it now fails on its header.
    """
    suffix, content = case
    with written("neo" + suffix, content) as path:
        read_or_refuse(path)


def test_an_actilife_rate_of_0_hz_is_a_clear_error(tmp_path: Path) -> None:
    """A header saying ``at 0 Hz`` is refused with the rate it gives."""
    path = tmp_path / "zero.csv"
    header = [
        "--- Data File Created By ActiGraph GT3X+ ActiLife v6.13.4 date format M/d/yyyy at 0 Hz  Filter Normal ---",
        "Start Time 11:55:00",
        "Start Date 12/20/2021",
    ]
    path.write_text("\n".join(header + ["-"] * 7 + [ACTILIFE_COLUMNS, "0,0,1"]) + "\n")
    with pytest.raises(RecordingError, match=r"sample rate must be 0\.01 to 100000 Hz, got 0$"):
        list(read_chunks(path))


# ActiGraph .gt3x


INFO_VALUES = {
    "Serial Number": ["MOS2E12345678", "NEO1C04110003", "CLE", "XYZ", ""],
    "Sample Rate": ["30", "100", "0", "-30", "nan", "inf", "1e-320", "9" * 400, "abc"],
    "Start Date": [str(START_TICKS), "0", "-1", "9" * 40, "3155378975999999999", "abc"],
    "TimeZone": ["-06:00:00", "05:30", "99:99:99", "?", ""],
    "Acceleration Scale": ["256", "341.0", "0", "-1", "nan", "inf", "1e-320", "abc"],
}


@st.composite
def info_txts(draw: st.DrawFn) -> bytes:
    """info.txt with each field present or not, and valid or not."""
    lines = []
    for key, values in INFO_VALUES.items():
        if draw(st.integers(0, 5)):
            lines.append(f"{key}: {draw(st.sampled_from(values) | st.text(max_size=6))}")
    return "\n".join(lines).encode()


@st.composite
def log_records(draw: st.DrawFn) -> bytes:
    """A log.bin: records of every kind sitless reads, their times mostly rising, some damaged."""
    t = START_S + draw(st.sampled_from([0, -START_S, 2**32 - 1 - START_S - 10]))
    out = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from([0x00, 0x1A, 0x1A, 0x15, 0x06, 0x03]) | st.integers(0, 255))
        if kind == 0x1A:
            payload = draw(st.sampled_from([ACTIVITY2_EXAMPLE, b"\x01", b""]) | st.binary(max_size=48))
        elif kind == 0x00:
            payload = draw(st.sampled_from([ACTIVITY_EXAMPLE, b"\x01"]) | st.binary(max_size=48))
        elif kind == 0x15:
            scale = draw(st.integers(0, 2**32 - 1))
            payload = struct.pack("<HHI", 0, 55, scale) + draw(st.binary(max_size=16))
        elif kind == 0x06:
            meta = draw(
                st.sampled_from(
                    [
                        {"MetadataType": "LocalTimeLog", "UsedUtc": True},
                        {"MetadataType": "SubjectTimeLog", "UtcOffset": "-99:00:00"},
                        {"MetadataType": "SubjectTimeLog", "UtcOffset": 5},
                        [1, 2],
                    ]
                )
            )
            payload = json.dumps(meta).encode()
        else:
            payload = draw(st.binary(max_size=16))
        t = max(0, min(2**32 - 1, t + draw(st.sampled_from([1, 1, 1, 0, -1, 5]))))
        rec = record(kind, t, payload)
        if draw(st.integers(0, 9)) == 0:  # a damaged byte (checksum, separator, size)
            at = draw(st.integers(0, len(rec) - 1))
            rec = rec[:at] + bytes([draw(st.integers(0, 255))]) + rec[at + 1 :]
        out.append(rec + b"\x00" * draw(st.sampled_from([0, 0, 3])))
    if draw(st.booleans()):
        out.insert(0, PARAMETERS_EXAMPLE)
    log = b"".join(out)
    return log[: draw(st.integers(0, len(log)))] if draw(st.integers(0, 5)) == 0 else log


@st.composite
def gt3x_files(draw: st.DrawFn) -> bytes:
    """A .gt3x zip with info.txt and activity.bin or log.bin (or neither), maybe damaged."""
    entries = {}
    if draw(st.integers(0, 9)):
        entries["info.txt"] = draw(info_txts())
    layout = draw(st.sampled_from(["activity.bin", "log.bin", "log.bin", "neither"]))
    if layout == "activity.bin":
        entries[layout] = draw(st.sampled_from([ACTIVITY_EXAMPLE * 3, b""]) | st.binary(max_size=64))
    elif layout == "log.bin":
        entries[layout] = draw(log_records())
    buffer = io.BytesIO()
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    data = buffer.getvalue()
    damage = draw(st.sampled_from(["none", "none", "none", "cut", "flip"]))
    if damage == "cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    return data


def _gt3x(info: str, log: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("info.txt", info)
        zf.writestr("log.bin", log)
    return buffer.getvalue()


#: Regressions: a Start Date past float64 (OverflowError), a rate of 1e-320 Hz and an
#: Acceleration Scale of 1e-320 (infinite times and samples), and records of 40 samples
#: at 30 Hz, whose times ran into the next record's.
_ONE_RECORD = record(0x1A, START_S, struct.pack("<3h", 1, 2, 3) * 40)
_TWO_RECORDS = _ONE_RECORD + record(0x1A, START_S + 1, struct.pack("<3h", 1, 2, 3) * 40)


@FUZZ
@given(gt3x_files())
@example(_gt3x(f"Sample Rate: 30\nStart Date: {'9' * 400}\nSerial Number: NEO", _ONE_RECORD))
@example(_gt3x(f"Sample Rate: 1e-320\nStart Date: {START_TICKS}\nSerial Number: NEO", _ONE_RECORD))
@example(_gt3x(f"Sample Rate: 30\nStart Date: {START_TICKS}\nAcceleration Scale: 1e-320", _ONE_RECORD))
@example(_gt3x(f"Sample Rate: 30\nStart Date: {START_TICKS}\nSerial Number: NEO", _TWO_RECORDS))
def test_gt3x_reads_or_raises_recording_error(content: bytes) -> None:
    """Random .gt3x zips: valid chunks or RecordingError."""
    with written("rec.gt3x", content) as path:
        read_or_refuse(path)


@pytest.mark.parametrize(
    ("info", "log", "message"),
    [
        (f"Sample Rate: 30\nStart Date: {'9' * 40}\nSerial Number: NEO", _ONE_RECORD, "Start Date must be .NET ticks"),
        (f"Sample Rate: 1e-320\nStart Date: {START_TICKS}\nSerial Number: NEO", _ONE_RECORD, "Sample Rate must be"),
        (f"Sample Rate: 30\nStart Date: {START_TICKS}\nAcceleration Scale: 1e-320", _ONE_RECORD, "no accelerometer"),
        (f"Sample Rate: 30\nStart Date: {START_TICKS}\nSerial Number: NEO", _TWO_RECORDS, "starts before the last"),
    ],
)
def test_gt3x_headers_and_records_past_their_range_are_clear_errors(
    tmp_path: Path, info: str, log: bytes, message: str
) -> None:
    """Each regression of the fuzzing, as the one-line error it now gives."""
    path = tmp_path / "bad.gt3x"
    path.write_bytes(_gt3x(info, log))
    with pytest.raises(RecordingError, match=message):
        list(read_chunks(path))


# The real sample files, cut and changed


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """The bytes cut, with a few bytes changed, or with bytes added at the end."""
    how = draw(st.sampled_from(["cut", "flip", "flip", "extend"]))
    if how == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "extend":
        return data + draw(st.binary(min_size=1, max_size=600))
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        # Half the changes in the first KB, where the headers are.
        at = draw(st.integers(0, min(len(out), 1024) - 1) | st.integers(0, len(out) - 1))
        out[at] = draw(st.integers(0, 255))
    return bytes(out)


@pytest.mark.data
@pytest.mark.parametrize("name", ["neo.gt3x", "neo.csv", "ax3_sample.cwa", "gnactv_sample.bin"])
@FUZZ_REAL
@given(data=st.data())
def test_damaged_real_files_read_or_raise_recording_error(loggers: Path, name: str, data: st.DataObject) -> None:
    """The real sample of each format, cut or with bytes changed (the CSV also gzipped)."""
    content = (loggers / name).read_bytes()
    if name == "neo.csv":
        content = content[:20_000]  # a few hundred rows: the header is what matters
        if data.draw(st.booleans(), label="gzip"):
            content, name = gzip.compress(content), "neo.csv.gz"
    elif name == "ax3_sample.cwa":
        content = content[: CWA_HEAD_BYTES + 40 * CWA_SECTOR_BYTES]  # 40 whole sectors still make a .cwa
    broken = data.draw(damaged(content), label="broken")
    with written(name, broken) as path:
        read_or_refuse(path, chunk_rows=4096)


def _geneactiv_cases(content: bytes) -> dict[str, bytes]:
    lines = content.split(b"\n")
    return {
        # Each of these crashed (a segmentation fault) or hung the whole process in
        # scikit-digital-health's reader before ingest.loggers.check_geneactiv.
        "cut in the header": content[:962],
        "cut after the calibration": content[:1252],
        "a line break added to the header": content[:308] + b"\n" + content[309:],
        "a page missing": b"\n".join(lines[:-11]),
        "a damaged sample": content.replace(b"F2202700B000", b"F22027\x0000B000", 1),
        "a page label damaged": content.replace(b"Page Time:", b"Page Tine:", 1),
    }


@pytest.mark.data
@pytest.mark.parametrize("case", list(_geneactiv_cases(b"")))
def test_a_damaged_geneactiv_file_is_refused_before_its_reader_runs(loggers: Path, case: str) -> None:
    content = _geneactiv_cases((loggers / "gnactv_sample.bin").read_bytes())[case]
    with written("gnactv_sample.bin", content) as path, pytest.raises(RecordingError, match=r"GENEActiv \.bin file"):
        list(read_chunks(path))


# sitless analyze on a folder of fuzzed files


@st.composite
def fuzzed_files(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """Two or three fuzzed files of any format, named as their format would be."""
    out = []
    for k in range(draw(st.integers(2, 3))):
        kind = draw(st.sampled_from(["csv", "actilife", "gt3x"]))
        if kind == "gt3x":
            out.append((f"f{k}.gt3x", draw(gt3x_files())))
        else:
            suffix, content = draw(sitless_csvs() if kind == "csv" else actilife_csvs())
            out.append((f"f{k}{suffix}", content))
    return out


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzed_files())
def test_analyze_goes_on_past_bad_files_and_exits_1(files: list[tuple[str, bytes]]) -> None:
    """Each file gets its result or one error line; a good recording among them is analysed; status 1 on any error."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = []
        for name, content in files:
            (root / name).write_bytes(content)
            paths.append(root / name)
        good = recording(root, "good.csv")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(
                ["analyze", *map(str, [*paths, good]), "--placement", "thigh", "--json-dir", str(root / "out")]
            )
    results = [line for line in out.getvalue().splitlines() if ": result in " in line]
    errors = [line for line in err.getvalue().splitlines() if line.startswith("sitless analyze: ")]
    assert f"{good}: result in" in "\n".join(results)
    for path in paths:
        named = [line for line in results + errors if line.startswith((f"{path}:", f"sitless analyze: {path}:"))]
        assert len(named) == 1, (path, out.getvalue(), err.getvalue())
    assert len(results) + len(errors) == len(paths) + 1
    assert status == (1 if errors else 0)
