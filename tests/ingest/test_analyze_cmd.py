"""``sitless analyze`` end to end through the real CLI entry point."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis import AnalysisResult, Placement
from firmware_sim.motion import generate
from firmware_sim.recording import write_csv
from firmware_sim.scenarios import Activity, Script, Step
from ingest import analyze_cmd
from ingest.cli import main


def recording(tmp_path: Path, name: str, sitting_s: float = 120.0) -> Path:
    """A thigh recording: 30 s standing then sitting, 20 Hz, seeded noise."""
    rate = 20.0
    rng = np.random.default_rng(0)
    n_stand, n_sit = int(30 * rate), int(sitting_s * rate)
    acc = np.concatenate([np.tile([0.0, 1.0, 0.0], (n_stand, 1)), np.tile([0.0, 0.0, 1.0], (n_sit, 1))])
    acc += rng.normal(0, 0.01, acc.shape)
    t = np.arange(acc.shape[0]) / rate
    path = tmp_path / name
    np.savetxt(path, np.column_stack([t, acc]), delimiter=",", header="t,ax,ay,az", comments="", fmt="%.3f")
    return path


def test_json_dir_writes_one_file_per_input(tmp_path: Path) -> None:
    """--json-dir writes DIR/<stem>.json for each recording, in the DESIGN.md shape."""
    files = [recording(tmp_path, "a.csv", sitting_s=100.0), recording(tmp_path, "b.csv", sitting_s=200.0)]
    out = tmp_path / "out"
    status = main(
        [
            "analyze",
            *map(str, files),
            "--placement",
            "thigh",
            "--json-dir",
            str(out),
            "--max-sitting-min",
            "2",
            "--chunk-rows",
            "500",
        ]
    )
    assert status == 0
    a = json.loads((out / "a.json").read_text())
    b = json.loads((out / "b.json").read_text())
    assert [x["posture"] for x in a["bouts"]] == ["standing", "sitting"]
    assert a["alerts"] == []
    assert len(b["alerts"]) == 1
    assert b["alerts"][0]["kind"] == "sit_too_long"
    assert b["recording"]["samples"] == 4600


def test_summary_on_stdout_and_bad_file_keeps_going(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json a summary is printed; a bad file gets one error line and exit status 1."""
    good = recording(tmp_path, "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("t,ax\n0,1\n")
    status = main(["analyze", str(bad), str(good), "--placement", "thigh"])
    captured = capsys.readouterr()
    assert status == 1
    assert "good.csv" in captured.out
    assert "sitting" in captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1
    assert "bad.csv" in errors[0]


def test_json_single_output(tmp_path: Path) -> None:
    """--json OUT writes the one file's result."""
    out = tmp_path / "r.json"
    assert main(["analyze", str(recording(tmp_path, "x.csv")), "--placement", "waist", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["summary"]["breaks"] == 0


def test_bad_policy_option_is_a_usage_error(tmp_path: Path) -> None:
    """A non-positive --min-break-s is refused with exit status 2."""
    assert main(["analyze", str(recording(tmp_path, "x.csv")), "--placement", "thigh", "--min-break-s", "0"]) == 2


def tilted_waist(tmp_path: Path) -> Path:
    """A waist sensor mounted at random (seeded): 20 s standing, then 60 s seated."""
    script = Script("calibrate", (Step(Activity.STANDING, 20.0), Step(Activity.SITTING, 60.0)))
    path = tmp_path / "waist.csv"
    write_csv(generate(script, Placement.WAIST, seed=4, rate_hz=20.0), path)
    return path


def test_calibrate_at_gives_the_upright_reference(tmp_path: Path) -> None:
    """--calibrate-at: the 5 s of standing from that time are the upright, whatever the mounting."""
    path = tilted_waist(tmp_path)
    out = tmp_path / "cal.json"
    argv = ["analyze", str(path), "--placement", "waist", "--json", str(out), "--chunk-rows", "300"]
    assert main([*argv, "--calibrate-at", "2"]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert abs(summary["sitting_s"] - 60.0) < 2.0  # edges move by up to the 3.2 s look-ahead
    # At least the 13 s after the calibration completes are standing; before it, the
    # mounting is unknown and the result depends on it.
    assert 13.0 - 2.0 <= summary["standing_s"] <= 20.0 + 2.0
    assert main([*argv, "--calibrate-at", "-1"]) == 2


def test_min_sitting_bout_is_reported(tmp_path: Path) -> None:
    """--min-sitting-bout-s drops short bouts from the counts and says what it used."""
    out = tmp_path / "x.json"
    path = recording(tmp_path, "x.csv", sitting_s=40.0)
    argv = ["analyze", str(path), "--placement", "thigh", "--json", str(out)]
    assert main([*argv, "--min-sitting-bout-s", "60"]) == 0
    data = json.loads(out.read_text())
    assert data["sitting_bouts"] == []
    assert data["summary"]["min_sitting_bout_s"] == 60.0
    assert data["summary"]["sitting_s"] > 35.0
    assert data["detects"][:2] == ["sitting", "standing"]


def test_min_run_is_taken_and_reported(tmp_path: Path) -> None:
    """--min-run-s is the policy's minimum posture run, echoed in the summary."""
    out = tmp_path / "x.json"
    path = recording(tmp_path, "x.csv", sitting_s=40.0)
    assert main(["analyze", str(path), "--placement", "thigh", "--json", str(out), "--min-run-s", "4"]) == 0
    assert json.loads(out.read_text())["summary"]["min_run_s"] == 4.0
    assert main(["analyze", str(path), "--placement", "thigh", "--min-run-s", "0"]) == 2


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """sitless --version prints the distribution's version and exits 0."""
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"sitless {version('sitless')}\n"


def test_json_dir_keeps_inputs_with_one_name_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """a/day.csv and b/day.csv give day.json and day-2.json, in argument order, and say which went where."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = recording(tmp_path / "a", "day.csv", sitting_s=100.0)
    second = recording(tmp_path / "b", "day.csv", sitting_s=200.0)
    out = tmp_path / "out"
    argv = ["analyze", str(first), str(second), "--placement", "thigh", "--json-dir", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{first}: result in {out / 'day.json'}", f"{second}: result in {out / 'day-2.json'}"]
    assert json.loads((out / "day.json").read_text())["source"] == str(first)
    assert json.loads((out / "day-2.json").read_text())["source"] == str(second)
    assert json.loads((out / "day-2.json").read_text())["recording"]["samples"] == 4600
    # Run again in the other order: each input finds its own earlier result and replaces it.
    assert main(["analyze", str(second), str(first), "--placement", "thigh", "--json-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["day-2.json", "day.json"]
    assert json.loads((out / "day-2.json").read_text())["source"] == str(second)


def test_json_dir_does_not_replace_another_inputs_earlier_result(tmp_path: Path) -> None:
    """A day.json an earlier run wrote for another file, or not written by sitless, is kept."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "day.json").write_text('{"source": "elsewhere/day.csv"}\n')
    (out / "day-2.json").write_text("notes, not JSON\n")
    path = recording(tmp_path, "day.csv")
    assert main(["analyze", str(path), "--placement", "thigh", "--json-dir", str(out)]) == 0
    assert (out / "day.json").read_text() == '{"source": "elsewhere/day.csv"}\n'
    assert (out / "day-2.json").read_text() == "notes, not JSON\n"
    assert json.loads((out / "day-3.json").read_text())["source"] == str(path)


def test_json_dir_takes_a_deeply_nested_file_for_anothers_and_goes_on(tmp_path: Path) -> None:
    """An existing a.json of ``[[[...`` is no earlier result of a.csv: it is kept, and both inputs get results.

    Reading it ended the run with a RecursionError before b.csv was analysed.
    """
    out = tmp_path / "out"
    out.mkdir()
    nested = "[" * 100_000 + "]" * 100_000
    (out / "a.json").write_text(nested)
    a, b = recording(tmp_path, "a.csv"), recording(tmp_path, "b.csv")
    assert main(["analyze", str(a), str(b), "--placement", "thigh", "--json-dir", str(out)]) == 0
    assert (out / "a.json").read_text() == nested
    assert json.loads((out / "a-2.json").read_text())["source"] == str(a)
    assert json.loads((out / "b.json").read_text())["source"] == str(b)


def test_a_pipe_or_a_folder_is_refused_at_once_and_the_next_file_analysed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO with no writer (it would block an open for ever) and a folder are each one error line; exit status 1."""
    fifo = tmp_path / "live.csv"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    good = recording(tmp_path, "good.csv")
    assert main(["analyze", str(fifo), str(folder), str(good), "--placement", "thigh"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"sitless analyze: {fifo}: not a regular file (a pipe, FIFO or device): recordings are read more than once;"
        " save it to a file first",
        f"sitless analyze: {folder}: is a folder, not a recording file",
    ]
    assert "good.csv: 3000 samples" in captured.out


def test_an_unexpected_error_in_one_file_is_one_line_and_the_next_file_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug met in one file (here a RecursionError) is said as one, in one line, and the run goes on; exit status 1."""
    bad, good = recording(tmp_path, "bad.csv"), recording(tmp_path, "good.csv")
    real = analyze_cmd.analyze_file

    def analyze_file(path: Path, *args: Any, **kwargs: Any) -> AnalysisResult:
        if path == bad:
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(analyze_cmd, "analyze_file", analyze_file)
    assert main(["analyze", str(bad), str(good), "--placement", "thigh"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"sitless analyze: {bad}: unexpected RecursionError (maximum recursion depth exceeded): a bug in sitless,"
        " please report it"
    ]
    assert "good.csv: 3000 samples" in captured.out


def retimed(tmp_path: Path, name: str, times: list[str]) -> Path:
    """The thigh recording of ``recording`` with its t column replaced by ``times``."""
    rows = recording(tmp_path, "plain.csv").read_text().splitlines()
    path = tmp_path / name
    path.write_text("\n".join([rows[0]] + [f"{t},{r.split(',', 1)[1]}" for t, r in zip(times, rows[1:], strict=False)]))
    return path


@pytest.mark.parametrize(
    ("first", "start_unix_s", "start_iso"),
    [
        ("iso", 1764057600.0, "2025-11-25T09:00:00.000+01:00"),
        ("epoch", 1764057600.0, "2025-11-25T08:00:00.000+00:00"),
        ("relative", None, None),
    ],
)
def test_json_keeps_the_source_and_the_absolute_start(
    tmp_path: Path, first: str, start_unix_s: float | None, start_iso: str | None
) -> None:
    """The JSON names its input as given and the recording's start: Unix time and ISO-8601 with the offset."""
    n = 3000  # rows of recording(): 150 s at 20 Hz
    if first == "iso":
        nine = dt.datetime(2025, 11, 25, 9, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        times = [(nine + dt.timedelta(seconds=i / 20)).isoformat() for i in range(n)]
    elif first == "epoch":
        times = [f"{1764057600 + i / 20:.3f}" for i in range(n)]
    else:
        times = [f"{5 + i / 20:.3f}" for i in range(n)]
    path = retimed(tmp_path, "day.csv", times)
    out = tmp_path / "day.json"
    assert main(["analyze", str(path), "--placement", "thigh", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["source"] == str(path)
    assert data["start_unix_s"] == start_unix_s
    assert data["start_iso"] == start_iso
    assert data["recording"]["samples"] == n


def test_m_s2_and_epoch_ms_are_detected_said_and_overridable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file in m/s² with Unix-ms times reads like the same file in g and s, says so, and the flags override."""
    plain = recording(tmp_path, "plain.csv")
    rows = [r.split(",") for r in plain.read_text().splitlines()[1:]]
    phone = tmp_path / "phone.csv"
    phone.write_text(
        "t,ax,ay,az\n"
        + "\n".join(
            f"{1764057600000 + round(float(t) * 1000)},{float(x) * 9.80665:.5f},{float(y) * 9.80665:.5f},"
            f"{float(z) * 9.80665:.5f}"
            for t, x, y, z in rows
        )
        + "\n"
    )
    out, ref = tmp_path / "phone.json", tmp_path / "plain.json"
    assert main(["analyze", str(plain), "--placement", "thigh", "--json", str(ref)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["analyze", str(phone), "--placement", "thigh", "--json", str(out)]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert str(phone) in line
    assert "m/s2" in line
    assert "milliseconds" in line
    data, expected = json.loads(out.read_text()), json.loads(ref.read_text())
    assert data["assumed"] == {"units": "m/s2", "time": "epoch_ms"}
    assert expected["assumed"] == {}
    assert data["start_unix_s"] == 1764057600.0
    assert data["bouts"] == expected["bouts"]
    assert data["summary"] == expected["summary"]
    # Told the units, sitless believes the flag and assumes only what it was not told.
    assert main(["analyze", str(phone), "--placement", "thigh", "--json", str(out), "--units", "g"]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert "m/s2" not in line
    assert json.loads(out.read_text())["assumed"] == {"time": "epoch_ms"}
    # Unix milliseconds told to be seconds are past the year 9999: an error that names the flag.
    assert main(["analyze", str(phone), "--placement", "thigh", "--time-unit", "s"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "phone.csv" in line
    assert "--time-unit" in line


def test_milliseconds_from_the_start_are_detected_said_and_overridable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Times in milliseconds from the start (a logger's ``millis()``: 0, 20, 40...) read like
    the same file in seconds, and say so. Read as seconds, as they were, 50 Hz became one
    sample every 20 s: a day's bouts and summary from minutes of data, with no warning."""
    plain = recording(tmp_path, "plain.csv")
    rows = [r.split(",") for r in plain.read_text().splitlines()[1:]]
    logger = tmp_path / "logger.csv"
    logger.write_text("t,ax,ay,az\n" + "\n".join(f"{round(float(t) * 1000)},{x},{y},{z}" for t, x, y, z in rows) + "\n")
    out, ref = tmp_path / "logger.json", tmp_path / "plain.json"
    assert main(["analyze", str(plain), "--placement", "thigh", "--json", str(ref)]) == 0
    assert main(["analyze", str(logger), "--placement", "thigh", "--json", str(out)]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert "logger.csv" in line
    assert "milliseconds from the start" in line
    data, expected = json.loads(out.read_text()), json.loads(ref.read_text())
    assert data["assumed"] == {"time": "relative_ms"}
    assert data["start_unix_s"] is None
    assert data["bouts"] == expected["bouts"]
    assert data["summary"] == expected["summary"]
    # Told they are seconds, sitless believes the flag.
    assert main(["analyze", str(logger), "--placement", "thigh", "--json", str(out), "--time-unit", "s"]) == 0
    assert json.loads(out.read_text())["assumed"] == {}


def test_dropped_rows_are_counted_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rows with an empty, NaN or infinite cell are dropped, counted in the JSON and noted in one stderr line."""
    rows = recording(tmp_path, "plain.csv").read_text().splitlines()
    holes = {10: "", 20: "nan", 30: "inf", 40: "-inf"}  # 4 of 3000 rows
    lines = [rows[0]]
    for i, row in enumerate(rows[1:]):
        t, _, rest = row.partition(",")
        lines.append(f"{t},{holes[i]},{rest.split(',', 1)[1]}" if i in holes else row)
    path = tmp_path / "holey.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "holey.json"
    assert main(["analyze", str(path), "--placement", "thigh", "--json", str(out), "--chunk-rows", "25"]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"sitless analyze: {path}: dropped 4 rows (0.1%) with missing or non-finite values"
    data = json.loads(out.read_text())
    assert data["dropped_rows"] == 4
    assert data["recording"]["samples"] == 2996
    assert main(["analyze", str(tmp_path / "plain.csv"), "--placement", "thigh", "--json", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert json.loads(out.read_text())["dropped_rows"] == 0


def test_nothing_listening_on_the_broker_port_fails_at_once_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """calibrate and session against a port nobody listens on: a refusal, said in one line, exit 1."""
    from ingest.broker import free_port

    url = f"mqtt://127.0.0.1:{free_port()}"
    for argv in (["calibrate", "--device", "desk-07"], ["session", "--device", "desk-07", "--exercise", "any"]):
        assert main([*argv, "--broker", url]) == 1
        captured = capsys.readouterr()
        (line,) = captured.err.splitlines()
        # "refused" comes from the first attempt; waiting out the timeout would say "within 10 s".
        assert line.startswith(f"sitless {argv[0]}: no MQTT broker at {url}: Connection refused")
        assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["recorder", "--store", "mysql://db/sitless"],
            "sitless recorder: unsupported store URL scheme 'mysql'",
        ),
        (
            ["worker", "--store", "postgresql://sitless:secret@db/sitless"],
            "sitless worker: a store URL must not carry a password",
        ),
        (["worker", "--broker", "http://127.0.0.1:1883"], "sitless worker: broker URL must start with mqtt://"),
        (["recorder", "--broker", "mqtt://127.0.0.1:99999"], "sitless recorder: bad port in broker URL"),
        (["calibrate", "--device", "d", "--broker", "ws://x"], "sitless calibrate: broker URL must start with mqtt://"),
    ],
)
def test_a_bad_store_or_broker_url_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A bad --store or --broker URL is said in one line, without a traceback, before anything connects."""
    assert main(argv) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith(message)


def test_a_store_whose_folder_cannot_be_made_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store path under a file is a StoreError, said in one line."""
    (tmp_path / "file").write_text("")
    assert main(["recorder", "--store", f"sqlite:///{tmp_path}/file/sitless.sqlite"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("sitless recorder: cannot open store")


def test_jobs_give_the_same_results_as_one_at_a_time(tmp_path: Path) -> None:
    """--jobs 2 writes the same JSON files, a bad file among them still reported, as --jobs 1."""
    files = [recording(tmp_path, f"r{k}.csv", sitting_s=60.0 + 30 * k) for k in range(3)]
    bad = tmp_path / "bad.csv"
    bad.write_text("t,ax,ay,az\n")
    results = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        argv = ["analyze", *map(str, files[:2]), str(bad), str(files[2]), "--placement", "thigh"]
        assert main([*argv, "--json-dir", str(out), "--jobs", str(jobs)]) == 1
        results[jobs] = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    assert sorted(results[1]) == ["r0.json", "r1.json", "r2.json"]
    assert results[1] == results[2]
    assert main(["analyze", str(files[0]), "--placement", "thigh", "--jobs", "0"]) == 2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_line_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal a progress line is drawn and cleared; --quiet, or a pipe, draws none."""
    files = [str(recording(tmp_path, f"r{k}.csv")) for k in range(2)]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["analyze", *files, "--placement", "thigh"]) == 0
    assert "2/2 files" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["analyze", *files, "--placement", "thigh", "--quiet"]) == 0
    assert "files" not in quiet.getvalue()
    monkeypatch.undo()
    assert main(["analyze", *files, "--placement", "thigh"]) == 0
    assert "files" not in capsys.readouterr().err
