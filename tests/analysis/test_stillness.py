"""Sleep-like stillness at the thigh: alerts held back in bed, live and in batch (``analysis.stillness``)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from analysis import AnalysisSettings, Analyzer, Placement, analyze
from analysis.events import Alert, Event
from analysis.stillness import SleepStillness
from bench.days import truth_alerts
from bench.scoring import ALERT_TOLERANCE_S, alerts_within
from firmware_sim import Activity, Script, Step, generate, truth
from firmware_sim.scenarios import in_bed_windows

MIN = 60.0
CHUNK_S = 0.5
SEED = 4
A = Activity


def _day_and_night() -> Script:
    """Office sitting past 30 min, a fidget every 8 min; in bed, 50 min on the back with the legs out, then a side."""
    office = []
    for _ in range(4):
        office += [Step(A.SITTING, 8 * MIN), Step(A.FIDGET, 5.0)]
    return Script(
        "day_and_night",
        (
            Step(A.WALKING, 180.0),
            Step(A.STANDING, 30.0),
            *office,
            Step(A.SITTING, 3 * MIN),
            Step(A.STANDING, 30.0),
            Step(A.WALKING, 120.0),
            Step(A.STANDING, 30.0),
            Step(A.SITTING, 40.0, in_bed=True),
            Step(A.SUPINE, 50 * MIN, in_bed=True),
            Step(A.SIDE_LEFT, 20 * MIN, in_bed=True),
            Step(A.SITTING, 40.0, in_bed=True),
            Step(A.STANDING, 30.0),
            Step(A.WALKING, 60.0),
        ),
    )


def _live(t_s: np.ndarray, acc_g: np.ndarray, settings: AnalysisSettings) -> list[Event]:
    """The events of a live worker fed ``CHUNK_S`` of samples at a time."""
    analyzer = Analyzer(settings)
    events: list[Event] = []
    edges = np.searchsorted(t_s, np.arange(t_s[0], t_s[-1] + CHUNK_S, CHUNK_S))
    for a, b in itertools.pairwise([*edges.tolist(), t_s.size]):
        events += analyzer.update(t_s[a:b], acc_g[a:b])
    return events + analyzer.flush()


@pytest.fixture(scope="module")
def day() -> tuple[Script, np.ndarray, np.ndarray]:
    """The script and its thigh recording."""
    script = _day_and_night()
    rec = generate(script, Placement.THIGH, seed=SEED)
    return script, rec.t_s, rec.acc_g


def test_thigh_night_on_the_back_raises_no_alert_live_and_the_office_still_alerts(
    day: tuple[Script, np.ndarray, np.ndarray],
) -> None:
    """Fed in 0.5-s chunks, 50 min on the back with straight legs raise no alert; the office bout is alerted on time."""
    script, t_s, acc_g = day
    alerts = [e.t_s - t_s[0] for e in _live(t_s, acc_g, AnalysisSettings(Placement.THIGH)) if isinstance(e, Alert)]
    beds = in_bed_windows(truth(script))
    assert alerts_within(alerts, beds) == 0, alerts
    expected = truth_alerts(script)
    assert len(expected) == 1  # the office bout's, at 30 min; none in bed
    assert alerts == pytest.approx(expected, abs=ALERT_TOLERANCE_S)


def test_thigh_night_on_the_back_raises_no_alert_in_batch(day: tuple[Script, np.ndarray, np.ndarray]) -> None:
    """``sitless analyze`` of the same day: no alert in bed, set aside or not, and the office one on time."""
    script, t_s, acc_g = day
    result = analyze(t_s, acc_g, AnalysisSettings(Placement.THIGH))
    found = [a.t_s - result.t0_s for a in result.alerts + result.in_bed_alerts]
    assert alerts_within(found, in_bed_windows(truth(script))) == 0, found
    assert found == pytest.approx(truth_alerts(script), abs=ALERT_TOLERANCE_S)


def test_a_restart_in_bed_keeps_the_held_alert(day: tuple[Script, np.ndarray, np.ndarray]) -> None:
    """A snapshot taken asleep holds the held alert and the moves; restored, the stream goes on as uninterrupted."""
    _, t_s, acc_g = day
    settings = AnalysisSettings(Placement.THIGH)
    whole = Analyzer(settings)
    expected = [e.to_dict() for e in whole.update(t_s, acc_g) + whole.flush()]
    first = Analyzer(settings)
    cut = int(np.searchsorted(t_s, t_s[0] + (3.5 + 35 + 1.5 + 40) * MIN))  # 40 min on the back
    events = first.update(t_s[:cut], acc_g[:cut])
    snapshot = json.loads(json.dumps(first.snapshot()))
    hold = snapshot["detectors"]["posture"]["state"]["bouts"]["hold"]
    assert hold["held_k"] is not None  # the alert due 30 min into the bed's bout is held
    second = Analyzer.restore(settings, snapshot)
    events += second.update(t_s[cut:], acc_g[cut:]) + second.flush()
    assert [e.to_dict() for e in events] == expected


def test_a_move_is_a_turn_past_5_deg_of_an_epoch_or_of_one_frame() -> None:
    """A 5-s epoch is a move when its mean, or one of its frames, turns past 5 deg from the epoch before."""

    def frames(*directions: list[float]) -> np.ndarray:
        stats = np.zeros((len(directions), 4))
        stats[:, 0], stats[:, 1:4] = 1.0, directions
        return stats

    flat, tilted = [0.0, 0.0, 1.0], [0.0, np.sin(np.radians(8.0)), np.cos(np.radians(8.0))]
    still = SleepStillness(frame_s=0.1, epoch_s=5.0, move_deg=5.0)
    still.update(0, frames(*[flat] * 100))
    assert still.moves == []
    still.update(100, frames(*[flat] * 20, tilted, *[flat] * 29))  # one frame turned 8 deg, the mean 0.16 deg
    assert still.moves == [150]
    chunked = SleepStillness(frame_s=0.1, epoch_s=5.0, move_deg=5.0)
    for k in range(0, 150, 7):  # the same frames in chunks of 7
        chunk = frames(*[flat] * 100, *[flat] * 20, tilted, *[flat] * 29)[k : k + 7]
        chunked.update(k, chunk)
    assert chunked.moves == still.moves
