from __future__ import annotations

import itertools

import pytest

from analysis.settings import Posture
from firmware_sim.scenarios import SCENARIOS, Activity, Script, Step, jitter, scenario, truth


def _sitting_bouts(script: Script) -> list[float]:
    """Lengths of runs of sitting postures (fidgets included), seconds."""
    bouts, run = [], 0.0
    for seg in truth(script):
        if seg.posture is Posture.SITTING:
            run += seg.end_s - seg.start_s
        elif run:
            bouts.append(run)
            run = 0.0
    return [*bouts, run] if run else bouts


def test_named_scenarios_exist() -> None:
    """The scenarios the CLI offers are there, and unknown names are refused."""
    assert {"office_morning", "quick", "all_postures"} <= set(SCENARIOS)
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario("nope")


def test_office_morning_has_long_bouts_and_breaks() -> None:
    """About 3.5 h with sitting bouts over 30 min that contain fidgets, and every activity of a desk day."""
    script = scenario("office_morning")
    assert 3.2 * 3600 < script.duration_s < 3.8 * 3600
    assert sum(bout > 30 * 60 for bout in _sitting_bouts(script)) >= 2
    activities = {step.activity for step in script.steps}
    assert {Activity.SITTING, Activity.FIDGET, Activity.STANDING, Activity.WALKING, Activity.STRETCH} <= activities
    assert all(step.duration_s <= 10 for step in script.steps if step.activity is Activity.FIDGET)


def test_quick_walks_first_then_sits_past_the_threshold() -> None:
    """The demo walks 1-2 min, then sits over 30 min, so an alert comes within a minute at speed 60."""
    script = scenario("quick")
    walk_start = next(seg for seg in truth(script) if seg.activity is Activity.WALKING)
    assert 60 <= walk_start.end_s - walk_start.start_s <= 150
    first_sit = next(seg for seg in truth(script) if seg.posture is Posture.SITTING)
    assert (first_sit.start_s + 30 * 60) / 60 < 60  # wall seconds at speed 60
    assert _sitting_bouts(script)[0] > 30 * 60


def test_truth_tiles_the_script() -> None:
    """Truth segments are contiguous from 0 to the script's end."""
    for script in SCENARIOS.values():
        segments = truth(script)
        assert segments[0].start_s == 0.0
        assert all(a.end_s == b.start_s for a, b in itertools.pairwise(segments))
        assert segments[-1].end_s == pytest.approx(script.duration_s)


def test_jitter_is_seeded() -> None:
    """The same seed gives the same variant; another seed another; activities keep their order."""
    base = scenario("office_morning")
    a, b, c = jitter(base, 1), jitter(base, 1), jitter(base, 2)
    assert a == b
    assert a != c
    assert [s.activity for s in a.steps] == [s.activity for s in base.steps]
    assert all(0.85 <= x.duration_s / y.duration_s <= 1.15 for x, y in zip(a.steps, base.steps, strict=True))


def test_truncated_cuts_the_last_step() -> None:
    """A truncated script lasts exactly as asked."""
    script = scenario("quick").truncated(125.0)
    assert script.duration_s == 125.0
    assert script.steps[-1] == Step(Activity.SITTING, 5.0)


def test_bad_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        Step(Activity.SITTING, 0.0)
    with pytest.raises(ValueError, match="no steps"):
        Script("empty", ())
