"""Reading research-logger files (ingest.loggers) against the reference values of ``SITLESS_DATA/loggers``.

The sample files and what a maintained reader (or ActiLife) decoded from them are described
in ``loggers/README.md``: a reader is right when it gives the same sample count, values
within one quantisation step and times within one sample period.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from ingest.cli import main
from ingest.errors import RecordingError
from ingest.loggers import LoggerFormat, detect_format
from ingest.recording import RecordingClock, read_chunks
from tests.support import missing

REPO = Path(__file__).resolve().parents[2]
SAMPLES = {
    "ax3_sample.cwa": LoggerFormat.AXIVITY_CWA,
    "gnactv_sample.bin": LoggerFormat.GENEACTIV_BIN,
    "neo.gt3x": LoggerFormat.ACTIGRAPH_GT3X,
    "neo.csv": LoggerFormat.ACTILIFE_CSV,
}
REFERENCES = {"README.md", "ax3_data.npz", "gnactv_data.npz"}
#: neo.csv: ten header lines, then the column names.
NEO_CSV_SKIP = 11


@pytest.fixture(scope="session")
def loggers(recordings: Path) -> Path:
    """The research-logger sample files; skips (or fails where required) when absent."""
    path = recordings / "loggers"
    if not path.is_dir():
        missing(f"the research-logger samples at {path}", "SITLESS_REQUIRE_DATA", "set SITLESS_DATA")
    return path


def read_all(path: Path, chunk_rows: int = 5000) -> tuple[NDArray[np.float64], NDArray[np.float64], RecordingClock]:
    """All samples of a file as ``(epoch_s, acc_g (n, 3), clock)``, read in chunks."""
    clock = RecordingClock()
    chunks = list(read_chunks(path, chunk_rows=chunk_rows, clock=clock))
    assert clock.start_epoch_s is not None
    t = np.concatenate([c.t_s for c in chunks]) + clock.start_epoch_s
    return t, np.concatenate([c.acc_g for c in chunks]), clock


def quantum(values: NDArray[np.float64]) -> float:
    """The quantisation step of recorded values (n, 3): the smallest gap between distinct values of an axis."""
    return min(float(np.diff(np.unique(values[:, k])).min()) for k in range(values.shape[1]))


def neo_reference(loggers: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """neo.csv as ActiLife wrote it: local times (start 2021-12-20 11:55:00, 30 Hz) and g."""
    acc = np.loadtxt(loggers / "neo.csv", delimiter=",", skiprows=NEO_CSV_SKIP)
    start_s = 1_640_001_300.0  # 2021-12-20T11:55:00, the header's Start Date and Start Time
    return start_s + np.arange(acc.shape[0]) / 30.0, acc


@pytest.mark.data
def test_every_file_in_the_folder_is_a_sample_or_a_reference(loggers: Path) -> None:
    """No logger file in the folder goes untested."""
    assert {p.name for p in loggers.iterdir()} == set(SAMPLES) | REFERENCES


@pytest.mark.data
@pytest.mark.parametrize(("name", "fmt"), SAMPLES.items())
def test_format_is_told_by_content(loggers: Path, tmp_path: Path, name: str, fmt: LoggerFormat) -> None:
    """Each sample is recognised, and still is when renamed .dat."""
    assert detect_format(loggers / name) is fmt
    renamed = tmp_path / "recording.dat"
    shutil.copy(loggers / name, renamed)
    assert detect_format(renamed) is fmt


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "reference"), [("ax3_sample.cwa", "ax3_data.npz"), ("gnactv_sample.bin", "gnactv_data.npz")]
)
def test_skdh_formats_match_the_reference(loggers: Path, name: str, reference: str) -> None:
    """Axivity and GENEActiv: same count, values within a quantisation step, times within a period."""
    ref = np.load(loggers / reference)
    t, acc, clock = read_all(loggers / name)
    assert t.shape == ref["time"].shape
    assert acc.shape == ref["accel"].shape
    step = quantum(ref["accel"])
    assert np.abs(acc - ref["accel"]).max() <= step  # one quantisation step
    period_s = float(np.median(np.diff(ref["time"])))
    assert np.abs(t - ref["time"]).max() <= period_s  # one sample period
    assert clock.utc_offset_s is None  # device wall-clock time, no zone stated


@pytest.mark.data
def test_gt3x_matches_the_actilife_export(loggers: Path) -> None:
    """neo.gt3x gives ActiLife's RAW CSV of the same recording: 18004 samples, g to 1/341, local times."""
    t_ref, acc_ref = neo_reference(loggers)
    t, acc, clock = read_all(loggers / "neo.gt3x", chunk_rows=4001)  # odd: chunks split sample pairs
    assert acc.shape == acc_ref.shape == (18004, 3)
    assert np.abs(acc - acc_ref).max() <= 1 / 341  # one count of the 12-bit, 341-per-g samples
    assert clock.utc_offset_s == -6 * 3600  # info.txt TimeZone -06:00:00
    local = t + clock.utc_offset_s
    assert np.abs(local - t_ref).max() <= 1 / 30  # one sample period at 30 Hz


@pytest.mark.data
def test_actilife_csv_plain_and_gzip_read_the_same(loggers: Path, tmp_path: Path) -> None:
    """The RAW CSV export and its gzip (named .csv.gz, or not) give ActiLife's values and times."""
    t_ref, acc_ref = neo_reference(loggers)
    gz = tmp_path / "neo.csv.gz"
    gz.write_bytes(gzip.compress((loggers / "neo.csv").read_bytes()))
    renamed = tmp_path / "neo.txt"
    shutil.copy(gz, renamed)
    for path in (loggers / "neo.csv", gz, renamed):
        t, acc, clock = read_all(path, chunk_rows=1000)
        assert acc.shape == acc_ref.shape
        assert np.array_equal(acc, acc_ref)
        assert np.abs(t - t_ref).max() <= 1 / 30  # one sample period
        assert clock.utc_offset_s is None


@pytest.mark.data
def test_analyze_reads_every_sample(loggers: Path, tmp_path: Path) -> None:
    """``sitless analyze`` exits 0 with a result for each sample file."""
    out = tmp_path / "out"
    status = main(["analyze", *(str(loggers / n) for n in SAMPLES), "--placement", "thigh", "--json-dir", str(out)])
    assert status == 0
    counts = {p.stem: json.loads(p.read_text())["recording"]["samples"] for p in out.glob("*.json")}
    # neo.gt3x and neo.csv agree; the second keeps its own result file
    assert counts == {"ax3_sample": 58800, "gnactv_sample": 900, "neo": 18004, "neo-2": 18004}


def cut(source: Path, dest: Path, fraction: float = 0.5, extra: int = 0) -> Path:
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction) + extra])
    return dest


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ax3_sample.cwa", "truncated .cwa file"),
        ("gnactv_sample.bin", "GENEActiv .bin file"),
        ("neo.gt3x", "cannot read ActiGraph .gt3x file"),
        ("neo.csv.gz", "cannot read ActiLife RAW CSV file"),
    ],
)
def test_a_truncated_file_is_an_error_and_the_next_file_is_analysed(
    loggers: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    """A cut file gets one error line naming it; the good file after it still gets its result."""
    if name.endswith(".gz"):
        whole = tmp_path / "whole.csv.gz"
        whole.write_bytes(gzip.compress((loggers / "neo.csv").read_bytes()))
        bad = cut(whole, tmp_path / name)
    else:
        bad = cut(loggers / name, tmp_path / name, extra=1)  # mid-sector, mid-page, mid-zip
    with pytest.raises(RecordingError, match=re.escape(message)):
        list(read_chunks(bad))
    status = main(["analyze", str(bad), str(loggers / "neo.gt3x"), "--placement", "thigh"])
    captured = capsys.readouterr()
    assert status == 1
    (error,) = captured.err.strip().splitlines()
    assert str(bad) in error
    assert message in error
    assert "neo.gt3x: 18004 samples" in captured.out


def test_content_that_contradicts_the_extension_is_an_error(tmp_path: Path) -> None:
    """A sitless CSV named .cwa is not taken for an Axivity file."""
    path = tmp_path / "x.cwa"
    path.write_text("t,ax,ay,az\n0,0,0,1\n")
    with pytest.raises(RecordingError, match=r"not an Axivity \.cwa file"):
        list(read_chunks(path))


def test_gzip_sitless_csv_reads_and_a_cut_one_is_an_error(tmp_path: Path) -> None:
    """A sitless CSV in .csv.gz reads as the plain file does; a cut gzip is a RecordingError."""
    rows = "".join(f"{i / 10},0,0,1\n" for i in range(2000))
    path = tmp_path / "rec.csv.gz"
    path.write_bytes(gzip.compress(f"t,ax,ay,az\n{rows}".encode()))
    (chunk,) = read_chunks(path)
    assert chunk.t_s.size == 2000
    cut(path, tmp_path / "cut.csv.gz")
    with pytest.raises(RecordingError, match=r"cut\.csv\.gz: cannot read"):
        list(read_chunks(tmp_path / "cut.csv.gz"))


def test_the_cli_does_not_import_the_logger_readers() -> None:
    """skdh takes seconds to import: it is loaded only when a .cwa or .bin file is read."""
    code = "import sys, ingest.cli; sys.exit(bool({'skdh', 'ingest.loggers', 'ingest.gt3x'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0


def test_an_actilife_csv_with_a_timestamp_column_reads_by_its_header(tmp_path: Path) -> None:
    """Times come from the header (date format d/M/yyyy here) and rate; a Timestamp column is not read."""
    header = [
        "------------ Data File Created By ActiGraph wGT3XBT ActiLife v6.13.4 Firmware v1.9.2 date format d/M/yyyy "
        "at 100 Hz  Filter Normal -----------",
        "Serial Number: MOS2E00000000",
        "Start Time 23:59:59",
        "Start Date 31/12/2023",
        "Epoch Period (hh:mm:ss) 00:00:00",
        "Download Time 10:00:00",
        "Download Date 2/1/2024",
        "Current Memory Address: 0",
        "Current Battery Voltage: 4.10     Mode = 12",
        "--------------------------------------------------",
        "Timestamp,Accelerometer X,Accelerometer Y,Accelerometer Z",
    ]
    rows = [f"31/12/2023 23:59:59.{i:02d}0,0.0{i},0.5,-1.0" for i in range(3)]
    path = tmp_path / "wgt3x.csv"
    path.write_text("\n".join(header + rows) + "\n")
    t, acc, _ = read_all(path)
    assert t.tolist() == pytest.approx([1_704_067_199.0, 1_704_067_199.01, 1_704_067_199.02])
    assert acc.tolist() == [[0.0, 0.5, -1.0], [0.01, 0.5, -1.0], [0.02, 0.5, -1.0]]
