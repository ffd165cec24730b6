"""Posture classification on synthetic signals: mounting, placements, gaps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from analysis import AnalysisResult, AnalysisSettings, Placement, Posture, analyze
from analysis.posture import rule_for
from analysis.settings import PostureTuning
from firmware_sim.motion import generate
from firmware_sim.scenarios import Activity, Script, Step


def posture_at(result: AnalysisResult, t_s: float) -> Posture:
    return next(b.posture for b in result.bouts if b.start_s <= t_s < b.end_s)


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thigh_works_in_any_mounting_once_walking_was_seen(make_signal: Any, seed: int) -> None:
    """With a random sensor rotation, walking teaches the upright and sitting is found."""
    t, acc = make_signal([("walking", 20.0), ("sitting", 30.0), ("standing", 30.0)], seed=seed)
    result = analyze(t, acc @ random_rotation(seed).T, AnalysisSettings(Placement.THIGH))
    assert posture_at(result, 10.0) is Posture.WALKING
    assert posture_at(result, 35.0) is Posture.SITTING
    assert posture_at(result, 65.0) is Posture.STANDING


def test_waist_tells_sitting_standing_and_lying() -> None:
    """A hip sensor tilted back when seated and flat when lying (Vähä-Ypyä et al. 2018).

    Simulated with ``firmware_sim`` (random mounting): the sit-down moves the hips down
    as a real one does, which an instantaneous change of orientation would not.
    """
    script = Script(
        "waist",
        (
            Step(Activity.WALKING, 20.0),
            Step(Activity.STANDING, 20.0),
            Step(Activity.SITTING, 20.0),
            Step(Activity.LYING, 20.0),
        ),
    )
    rec = generate(script, Placement.WAIST, seed=1, rate_hz=20.0)
    result = analyze(rec.t_s, rec.acc_g, AnalysisSettings(Placement.WAIST))
    assert [posture_at(result, s) for s in (10.0, 30.0, 50.0, 70.0)] == [
        Posture.WALKING,
        Posture.STANDING,
        Posture.SITTING,
        Posture.LYING,
    ]


def test_wrist_reports_walking_or_other_only(make_signal: Any) -> None:
    """The wrist cannot tell still postures apart and says so."""
    t, acc = make_signal([("sitting", 20.0), ("walking", 20.0), ("standing", 20.0)])
    result = analyze(t, acc, AnalysisSettings(Placement.WRIST))
    assert {b.posture for b in result.bouts} == {Posture.WALKING, Posture.OTHER}
    assert posture_at(result, 30.0) is Posture.WALKING
    assert not result.sitting_bouts


def test_gap_in_data_is_a_gap_not_a_posture(make_signal: Any) -> None:
    """Seconds without samples are reported as a gap, not guessed (the posture reaches half a window in)."""
    t, acc = make_signal([("sitting", 60.0)])
    keep = (t < 20.0) | (t > 30.0)
    result = analyze(t[keep], acc[keep], AnalysisSettings(Placement.THIGH))
    assert not [b for b in result.bouts if b.start_s <= 25.0 < b.end_s]
    assert [(g.start_s, g.end_s) for g in result.gaps] == [pytest.approx((20.5, 29.5), abs=0.11)]
    assert posture_at(result, 10.0) is Posture.SITTING


@pytest.mark.parametrize("placement", list(Placement))
def test_every_placement_has_a_rule(placement: Placement) -> None:
    """All six placements of DESIGN.md are accepted."""
    rule = rule_for(placement)
    assert (rule.sit_deg is None) == (placement is Placement.WRIST)


def test_tuning_rejects_nonpositive_values() -> None:
    """Tuning knobs check themselves."""
    with pytest.raises(ValueError, match="walk_sd_g"):
        PostureTuning(walk_sd_g=0.0)
    with pytest.raises(ValueError, match="calm_window_s"):
        PostureTuning(calm_window_s=90.0)  # longer than the non-wear window it leads into
    with pytest.raises(ValueError, match="long_axis"):
        AnalysisSettings(Placement.THIGH, long_axis=3)
