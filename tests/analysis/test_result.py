"""Batch results and their JSON (DESIGN.md, "Batch analysis CLI")."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import AlertPolicy, AnalysisSettings, Placement, Posture, ResultBuilder, analyze


def test_builder_over_chunks_equals_analyze(make_signal: Any) -> None:
    """ResultBuilder over chunks gives the same result as analyze in one go."""
    t, acc = make_signal([("walking", 30.0), ("sitting", 200.0), ("walking", 30.0)], rate_hz=25.0)
    cfg = AnalysisSettings(Placement.THIGH, policy=AlertPolicy(max_sitting_s=120.0, min_break_s=20.0))
    builder = ResultBuilder(cfg)
    for part in np.array_split(np.arange(t.size), 7):
        builder.feed(t[part], acc[part])
    assert builder.finish() == analyze(t, acc, cfg)


def test_json_has_the_design_keys_and_relative_times(make_signal: Any) -> None:
    """The JSON follows DESIGN.md; times count from the first sample even for epoch input."""
    t, acc = make_signal([("standing", 30.0), ("sitting", 200.0), ("walking", 80.0)], rate_hz=25.0, t0_s=1.7e9)
    cfg = AnalysisSettings(Placement.THIGH, policy=AlertPolicy(max_sitting_s=120.0))
    out = json.loads(json.dumps(analyze(t, acc, cfg).to_json()))
    assert {"recording", "bouts", "sitting_bouts", "alerts", "exercises", "summary"} <= out.keys()
    assert out["recording"]["samples"] == t.size
    assert abs(out["recording"]["rate_hz"] - 25.0) < 1e-6
    assert out["bouts"][0]["start_s"] == 0.0
    assert [b["posture"] for b in out["bouts"]] == ["standing", "sitting", "walking"]
    assert out["alerts"][0]["kind"] == "sit_too_long"
    assert abs(out["alerts"][0]["t_s"] - 150.0) < 1.0  # 30 s standing + 120 s sitting
    summary = out["summary"]
    assert summary["breaks"] == 1
    assert abs(summary["sitting_s"] - 200.0) < 1.0  # edges move by under the 1-s look-ahead
    assert abs(summary["longest_sitting_s"] - 200.0) < 1.0
    assert out["exercises"] == []


@pytest.mark.parametrize(
    ("t_s", "why"),
    [
        (np.array([]), "no usable samples"),
        (np.array([5.0]), "only 1 sample"),
        (np.full(4, 5.0), "all 4 samples have the same time"),
        (np.arange(41) / 20.0, "only 2.0 s of data; a posture needs at least 3.2 s"),
        (np.array([0.0, 10.0]), "only 1.1 s of data"),  # a sample each side of a 10-s hole
    ],
)
def test_a_recording_too_short_to_judge_is_flagged_and_empty(t_s: NDArray[np.float64], why: str) -> None:
    """One sample, one time or a couple of seconds: no postures are made up, and the result says why."""
    acc = np.tile([0.0, 0.0, 1.0], (t_s.size, 1))
    result = analyze(t_s, acc, AnalysisSettings(Placement.THIGH))
    assert result.problem is not None
    assert result.problem.startswith(why)
    assert (result.bouts, result.sitting_bouts, result.breaks, result.gaps, result.alerts) == ((), (), (), (), ())
    assert result.samples == t_s.size


def test_enough_data_is_judged(make_signal: Any) -> None:
    """Four seconds of sitting are enough for a posture."""
    t, acc = make_signal([("sitting", 4.0)])
    result = analyze(t, acc, AnalysisSettings(Placement.THIGH))
    assert result.problem is None
    assert [b.posture for b in result.bouts] == [Posture.SITTING]


def test_gaps_are_listed_apart_and_tile_the_recording_with_the_bouts(make_signal: Any) -> None:
    """A 5-min hole is in ``gaps`` and ``gap_s``, not in any posture; duration spans it, the rate does not."""
    t, acc = make_signal([("walking", 60.0), ("sitting", 10 * 60.0), ("walking", 120.0)], rate_hz=20.0)
    keep = (t < 300.0) | (t >= 600.0)
    result = analyze(t[keep], acc[keep], AnalysisSettings(Placement.THIGH))
    out = json.loads(json.dumps(result.to_json()))
    assert [(g["start_s"], g["end_s"]) for g in out["gaps"]] == [pytest.approx((300.5, 599.5), abs=0.1)]
    spans = sorted(
        [(b["start_s"], b["end_s"]) for b in out["bouts"]] + [(g["start_s"], g["end_s"]) for g in out["gaps"]]
    )
    assert spans[0][0] == 0.0
    assert all(a[1] == pytest.approx(b[0]) for a, b in itertools.pairwise(spans))
    assert spans[-1][1] == pytest.approx(t[-1], abs=0.1)
    summary = out["summary"]
    assert summary["gap_s"] == pytest.approx(299.0, abs=0.2)
    assert summary["gaps"] == 1
    assert summary["other_s"] == 0.0
    assert summary["sitting_s"] == pytest.approx(600.0 - 299.0, abs=2.0)
    assert out["recording"]["duration_s"] == pytest.approx(t[-1])
    assert out["recording"]["rate_hz"] == pytest.approx(20.0, rel=0.01)


def test_breaks_in_the_json_last_until_the_next_sitting(make_signal: Any) -> None:
    """A 3-min stand and walk between two bouts is a 3-min break, not a 1-min one."""
    t, acc = make_signal([("sitting", 120.0), ("standing", 60.0), ("walking", 120.0), ("sitting", 120.0)])
    out = analyze(t, acc, AnalysisSettings(Placement.THIGH)).to_json()
    assert [(b["start_s"], b["end_s"]) for b in out["breaks"]] == [
        (pytest.approx(120.0, abs=1.0), pytest.approx(300.0, abs=1.0))
    ]
    assert len(out["sitting_bouts"]) == 2
