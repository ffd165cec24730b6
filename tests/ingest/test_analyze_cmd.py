"""``sitless analyze`` end to end through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis import Placement
from firmware_sim.motion import generate
from firmware_sim.recording import write_csv
from firmware_sim.scenarios import Activity, Script, Step
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
