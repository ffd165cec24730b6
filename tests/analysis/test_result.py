"""Batch results and their JSON (DESIGN.md, "Batch analysis CLI")."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from analysis import AlertPolicy, AnalysisSettings, Placement, ResultBuilder, analyze


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
