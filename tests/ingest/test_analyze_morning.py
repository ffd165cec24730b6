"""``sitless analyze`` on a short simulated office morning, checked against its truth.

The morning (``firmware_sim``, thigh, 50 Hz, seed 0) is written to a CSV with its truth,
as a new user would make one, and analysed through the CLI. It has what misled the
analysis before: a sensor clipped on after lying on the desk and a few squats (each
read as a blip of sitting), and walks at 1.82 steps/s, whose two steps per 1.1-s
gravity window average out of the window's means as a desk does.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analysis import Placement, Posture
from analysis.posture import capabilities
from firmware_sim import MotionParams, Script, Segment, Step, generate, write_csv, write_truth_json
from firmware_sim.scenarios import Activity
from ingest.cli import main

MIN = 60.0
STEPS = (
    (Activity.NONWEAR, 2 * MIN),
    (Activity.WALKING, 2 * MIN),
    (Activity.STANDING, MIN),
    (Activity.SITTING, 6 * MIN),
    (Activity.FIDGET, 4.0),
    (Activity.SITTING, 6 * MIN),
    (Activity.STANDING, 1.5 * MIN),
    (Activity.WALKING, 2 * MIN),
    (Activity.SITTING, 8 * MIN),
    (Activity.STANDING, MIN),
    (Activity.SQUAT, 20.0),
    (Activity.STANDING, MIN),
    (Activity.WALKING, 2 * MIN),
    (Activity.SITTING, 5 * MIN),
)
#: Two steps per 1.1-s gravity window (a cadence inside MotionParams' 1.8-2.0 steps/s).
CADENCE_HZ = 2 / 1.1
#: Bout and break edges move by the transitions and the look-ahead (docs/validation.md).
EDGE_S = 5.0


def sitting_spans(truth: tuple[Segment, ...]) -> list[tuple[float, float]]:
    """The truth's sitting bouts: sitting and fidget steps joined."""
    spans: list[tuple[float, float]] = []
    for seg in truth:
        if seg.posture is not Posture.SITTING:
            continue
        if spans and spans[-1][1] == seg.start_s:
            spans[-1] = (spans[-1][0], seg.end_s)
        else:
            spans.append((seg.start_s, seg.end_s))
    return spans


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[Segment, ...]]:
    """The morning's CSV (with its truth JSON beside it) and the truth."""
    script = Script("short_morning", tuple(Step(activity, seconds) for activity, seconds in STEPS))
    params = MotionParams(cadence_min_hz=CADENCE_HZ, cadence_max_hz=CADENCE_HZ)
    recording = generate(script, Placement.THIGH, seed=0, rate_hz=50.0, params=params)
    path = tmp_path_factory.mktemp("morning") / "morning.csv"
    write_csv(recording, path)
    write_truth_json(recording.truth, path.with_suffix(".truth.json"))
    return path, recording.truth


def analysed(path: Path, tmp_path: Path, placement: str = "thigh") -> dict[str, Any]:
    """The JSON ``sitless analyze`` writes for one recording."""
    out = tmp_path / f"{path.stem}.json"
    assert main(["analyze", str(path), "--placement", placement, "--json", str(out)]) == 0
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.fixture(scope="module")
def result(morning: tuple[Path, tuple[Segment, ...]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The morning's JSON result."""
    return analysed(morning[0], tmp_path_factory.mktemp("result"))


def test_sitting_bouts_are_the_truths_bouts(morning: tuple[Path, tuple[Segment, ...]], result: dict[str, Any]) -> None:
    """Three sitting bouts as in the truth: no bout from the sitting blips of the clip-on and the squats."""
    truth, data = morning[1], result
    got = [(b["start_s"], b["end_s"]) for b in data["sitting_bouts"]]
    assert got == [(pytest.approx(a, abs=EDGE_S), pytest.approx(b, abs=EDGE_S)) for a, b in sitting_spans(truth)]
    assert data["summary"]["sitting_bouts"] == 3


def test_breaks_last_from_the_bout_to_the_next_sitting(
    morning: tuple[Path, tuple[Segment, ...]], result: dict[str, Any]
) -> None:
    """Each break spans the whole upright time between two bouts, squats included."""
    truth, data = morning[1], result
    spans = sitting_spans(truth)
    expected = [(a[1], b[0]) for a, b in itertools.pairwise(spans)]
    got = [(b["start_s"], b["end_s"]) for b in data["breaks"]]
    assert got == [(pytest.approx(a, abs=EDGE_S), pytest.approx(b, abs=EDGE_S)) for a, b in expected]


def test_walking_is_never_nonwear(morning: tuple[Path, tuple[Segment, ...]], result: dict[str, Any]) -> None:
    """Only the time on the desk is non-wear; every walk is walking."""
    truth, data = morning[1], result
    nonwear = [(b["start_s"], b["end_s"]) for b in data["bouts"] if b["posture"] == "nonwear"]
    assert nonwear == [(0.0, pytest.approx(2 * MIN, abs=EDGE_S))]
    walking = [(b["start_s"], b["end_s"]) for b in data["bouts"] if b["posture"] == "walking"]
    for walk in (seg for seg in truth if seg.activity is Activity.WALKING):
        inside = sum(max(0.0, min(e, walk.end_s) - max(s, walk.start_s)) for s, e in walking)
        assert inside >= walk.end_s - walk.start_s - 2 * EDGE_S, walk


def rewrite(
    src: Path, dst: Path, hole: tuple[float, float] | None = None, shift: tuple[float, float] | None = None
) -> Path:
    """Copy a recording CSV without the rows of ``hole``, or with ``t`` moved on by ``shift[1]`` from ``shift[0]``."""
    rows = np.loadtxt(src, delimiter=",", skiprows=1)
    t = rows[:, 0]
    if hole is not None:
        rows = rows[(t < hole[0]) | (t >= hole[1])]
    if shift is not None:
        rows[t >= shift[0], 0] += shift[1]
    np.savetxt(dst, rows, delimiter=",", header="t,ax,ay,az", comments="", fmt="%.4f")
    return dst


def test_gaps_are_gaps_not_a_posture(
    morning: tuple[Path, tuple[Segment, ...]], result: dict[str, Any], tmp_path: Path
) -> None:
    """A 5-min hole and a 2-h one are listed as gaps with their time apart: no other, no sitting."""
    path, whole = morning[0], result
    hole = analysed(rewrite(path, tmp_path / "hole.csv", hole=(1400.0, 1700.0)), tmp_path)
    later = analysed(rewrite(path, tmp_path / "later.csv", shift=(1400.0, 2 * 3600.0)), tmp_path)
    assert [(g["start_s"], g["end_s"]) for g in hole["gaps"]] == [
        (pytest.approx(1400.5, abs=0.2), pytest.approx(1699.5, abs=0.2))
    ]
    assert [(g["start_s"], g["end_s"]) for g in later["gaps"]] == [
        (pytest.approx(1400.0, abs=0.2), pytest.approx(1400.0 + 2 * 3600.0, abs=0.2))
    ]
    assert hole["summary"]["gap_s"] == pytest.approx(299.0, abs=0.3)
    assert later["summary"]["gap_s"] == pytest.approx(2 * 3600.0, abs=0.3)
    for data, covered_s in (
        (hole, whole["recording"]["duration_s"] - 299.0),
        (later, whole["recording"]["duration_s"]),
    ):
        summary = data["summary"]
        assert summary["other_s"] == pytest.approx(whole["summary"]["other_s"], abs=1.0)
        postures_s = sum(summary[f"{p}_s"] for p in Posture)
        assert postures_s == pytest.approx(covered_s, abs=1.0)
        assert postures_s + summary["gap_s"] == pytest.approx(data["recording"]["duration_s"], abs=0.2)
    # The hole was sitting: sitting time loses it, nothing else gains it.
    assert hole["summary"]["sitting_s"] == pytest.approx(whole["summary"]["sitting_s"] - 300.0, abs=2.0)
    assert later["summary"]["sitting_s"] == pytest.approx(whole["summary"]["sitting_s"], abs=2.0)


def test_degenerate_files_fail_alone(
    morning: tuple[Path, tuple[Segment, ...]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One row, one time for every row, or two seconds: one error line each, no JSON; the good file is analysed."""
    bad = {
        "one_row.csv": "t,ax,ay,az\n0,0,0,1\n",
        "one_time.csv": "t,ax,ay,az\n" + "5,0,0,1\n" * 4,
        "two_seconds.csv": "t,ax,ay,az\n" + "".join(f"{i / 20:.2f},0,0,1\n" for i in range(41)),
    }
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    good, _ = morning
    out = tmp_path / "out"
    argv = ["analyze", *(str(tmp_path / n) for n in bad), str(good), "--placement", "thigh", "--json-dir", str(out)]
    assert main(argv) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    for line, name, why in zip(
        errors, bad, ("only 1 sample", "all 4 samples have the same time", "only 2.0 s of data"), strict=True
    ):
        assert name in line
        assert why in line
    assert sorted(p.name for p in out.iterdir()) == ["morning.json"]


@pytest.mark.parametrize("placement", list(Placement))
def test_summary_says_not_measured_for_what_the_placement_cannot_report(
    morning: tuple[Path, tuple[Segment, ...]], placement: Placement, capsys: pytest.CaptureFixture[str]
) -> None:
    """Postures outside ``capabilities``, and slouch off the thorax, read "not measured", never "0.0 min"."""
    path, _ = morning
    short = rewrite(path, path.parent / f"short_{placement}.csv", hole=(600.0, 1e9))
    assert main(["analyze", str(short), "--placement", str(placement)]) == 0
    text = capsys.readouterr().out
    detects = capabilities(placement)
    words = {"sitting": "sitting", "standing": "standing", "lying": "lying", "walking": "walking", "other": "other"}
    words["nonwear"] = "not worn"
    for posture, word in words.items():
        said = f"{word} not measured" in text
        assert said == (posture not in detects), (posture, text)
    assert ("slouching not measured" in text) == (placement not in (Placement.CHEST, Placement.UPPER_BACK))
    assert ("sitting bouts, breaks and alerts not measured" in text) == ("sitting" not in detects)
