"""``sitless analyze`` per calendar day: local dates from ISO offsets or ``--tz``, and numbered days.

A low-rate synthetic thigh recording (5 Hz, 16 hours) keeps the test quick: walking
teaches the upright, an evening of sitting that shifts on the chair every 8 s (the
steady small angle changes of a waking sitter), a still night of lying on the side, and a
morning of sitting and standing that shift likewise.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from analysis import AnalysisResult
from analysis.events import Alert
from ingest.analyze_summary import summary_text
from ingest.cli import main
from tests.analysis.conftest import synth

GRAVITY = {
    "walking": (0.0, 1.0, 0.0),
    "standing": (0.0, 1.0, 0.0),
    "sitting": (0.0, 0.0, 1.0),
    "shifted": (0.17, 0.0, 0.985),  # the thigh rolled 10 deg on the chair
    "standing2": (0.0, 0.985, 0.17),  # the weight on the other leg
    "lying": (1.0, 0.0, 0.0),  # on the side: the thigh rolled 90 deg from the seat
}


def _shifting(a: str, b: str, seconds: float) -> list[tuple[str, float]]:
    return [(a if i % 2 == 0 else b, 8.0) for i in range(round(seconds / 8.0))]


#: 2026-11-23 16:00 local time (UTC+1) onwards.
START = dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
SEGMENTS = [
    ("walking", 600.0),
    *_shifting("sitting", "shifted", 6 * 3600.0),  # to 22:10
    ("walking", 300.0),
    ("lying", 8 * 3600.0),  # to 06:15
    ("walking", 600.0),
    *_shifting("sitting", "shifted", 3600.0),
    *_shifting("standing", "standing2", 3600.0),
]


def _write(path: Path, *, iso: bool) -> None:
    t, acc = synth(SEGMENTS, gravity=GRAVITY, rate_hz=5.0, noise_g=0.004)
    if iso:
        stamps = [(START + dt.timedelta(seconds=float(x))).isoformat(timespec="milliseconds") for x in t]
    else:
        stamps = [f"{x:.3f}" for x in t]
    rows = "\n".join(f"{s},{a:.4f},{b:.4f},{c:.4f}" for s, (a, b, c) in zip(stamps, acc, strict=True))
    path.write_text("t,ax,ay,az\n" + rows + "\n")


@pytest.fixture(scope="module")
def iso_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("days") / "two_days.csv"
    _write(path, iso=True)
    return path


def _analyze(csv: Path, tmp_path: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "out.json"
    assert main(["analyze", str(csv), "--placement", "thigh", "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def test_days_follow_the_timestamps_offset(iso_csv: Path, tmp_path: Path) -> None:
    """Two local days; the night is in bed, not waking lying or sitting; every second counted once."""
    result = _analyze(iso_csv, tmp_path)
    days = result["days"]
    assert [d["date"] for d in days] == ["2026-11-23", "2026-11-24"]
    first = days[0]
    # 16:00 to midnight local: 8 h.
    assert first["span_s"] == pytest.approx(8 * 3600.0, abs=1.0)
    assert first["sitting_s"] == pytest.approx(6 * 3600.0, abs=120.0)
    # The side-lying night: lying first (thigh rolled from the seat), and in bed.
    assert result["summary"]["lying_s"] == pytest.approx(8 * 3600.0, abs=120.0)
    night = (22200.0, 51900.0)
    assert result["alerts"]
    assert not [a for a in result["alerts"] if night[0] <= a["t_s"] <= night[1]]
    total_bed = sum(d["in_bed_s"] or 0.0 for d in days)
    assert total_bed == pytest.approx(8 * 3600.0, rel=0.05)
    assert result["summary"]["in_bed_s"] == pytest.approx(total_bed, abs=10.0)
    for d in days:
        named = sum(
            v
            for k, v in d.items()
            if k.endswith("_s") and k not in {"start_s", "end_s", "span_s", "covered_s", "unjudged_s"}
        )
        assert named == pytest.approx(d["span_s"], abs=1.0)


def test_tz_option_moves_the_midnight(iso_csv: Path, tmp_path: Path) -> None:
    """In New York the recording starts at 10:00 on the 23rd and the split moves with it."""
    days = _analyze(iso_csv, tmp_path, "--tz", "America/New_York")["days"]
    assert days[0]["date"] == "2026-11-23"
    assert days[0]["span_s"] == pytest.approx(14 * 3600.0, abs=1.0)


def test_unknown_time_zone_is_a_usage_error(iso_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(iso_csv), "--placement", "thigh", "--tz", "Mars/Olympus"]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err


def test_relative_times_give_numbered_days(tmp_path: Path) -> None:
    """Seconds from the start have no calendar: day 1 starts at the first sample, without a date."""
    t, acc = synth([("walking", 60.0), ("sitting", 600.0)], gravity=GRAVITY, rate_hz=5.0)
    csv = tmp_path / "relative.csv"
    csv.write_text(
        "t,ax,ay,az\n" + "\n".join(f"{x:.3f},{a:.4f},{b:.4f},{c:.4f}" for x, (a, b, c) in zip(t, acc, strict=True))
    )
    days = _analyze(csv, tmp_path)["days"]
    assert [(d["day"], d["date"], d["in_bed_s"]) for d in days] == [(1, None, None)]
    assert days[0]["sitting_s"] == pytest.approx(600.0, abs=15.0)


def test_summary_lists_each_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The human summary has a line per day, saying "not measured" for a night it could not judge."""
    t, acc = synth([("walking", 60.0), ("sitting", 600.0)], gravity=GRAVITY, rate_hz=5.0)
    csv = tmp_path / "short.csv"
    csv.write_text(
        "t,ax,ay,az\n" + "\n".join(f"{x:.3f},{a:.4f},{b:.4f},{c:.4f}" for x, (a, b, c) in zip(t, acc, strict=True))
    )
    assert main(["analyze", str(csv), "--placement", "thigh"]) == 0
    out = capsys.readouterr().out
    assert "day 1: awake sitting 10.0 min" in out
    assert "in bed not measured" in out


def test_alerts_in_bed_are_reported_apart() -> None:
    """Alerts set aside in bed are in the JSON's ``in_bed_alerts`` and the summary line, not in ``alerts``."""
    night = Alert(t_s=1900.0, sitting_since_s=100.0, repeat=0, stretch_id="standing_back_bend")
    result = AnalysisResult(
        samples=10,
        duration_s=9.0,
        rate_hz=1.0,
        bouts=(),
        sitting_bouts=(),
        breaks=(),
        alerts=(),
        t0_s=100.0,
        detects=("sitting",),
        in_bed_alerts=(night,),
    )
    data = result.to_json()
    assert data["alerts"] == []
    assert data["in_bed_alerts"] == [{"t_s": 1800.0, "repeat": 0}]
    assert "alerts 0 (and 1 in bed, set aside)" in summary_text(Path("x.csv"), result)
