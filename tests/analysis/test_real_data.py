"""Posture, bouts and alerts on real labelled recordings (``SITLESS_DATA``).

Whole-dataset figures come from ``../shared/tools/score.py`` (docs/validation.md);
these tests pin a few recordings so a regression shows up in ``pytest -m data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import AlertPolicy, AnalysisResult, AnalysisSettings, Placement, Posture, analyze
from bench.stretched import evaluate

pytestmark = pytest.mark.data
SCORED = {"sitting", "standing", "lying", "walking"}


def recall(result: AnalysisResult, labels: list[dict[str, Any]], edge_s: float = 0.5) -> dict[str, float]:
    """Fraction of each labelled posture's time (0.1 s grid, edges ignored) predicted right."""
    hits: dict[str, list[int]] = {}
    starts = np.array([b.start_s for b in result.bouts])
    postures = [str(b.posture) for b in result.bouts]
    for seg in labels:
        if seg["label"] not in SCORED:
            continue
        for t in np.arange(seg["start_s"] + edge_s, seg["end_s"] - edge_s, 0.1):
            got = postures[int(np.searchsorted(starts, t, side="right")) - 1]
            h = hits.setdefault(seg["label"], [0, 0])
            h[0] += got == seg["label"]
            h[1] += 1
    return {k: h / n for k, (h, n) in hits.items()}


def segment(
    t: NDArray[np.float64], acc: NDArray[np.float64], labels: list[dict[str, Any]], label: str, index: int = 0
) -> NDArray[np.float64]:
    """Samples of the index-th labelled segment of a kind, edges trimmed by 0.5 s."""
    seg = [s for s in labels if s["label"] == label][index]
    keep = (t >= seg["start_s"] + 0.5) & (t < seg["end_s"] - 0.5)
    return acc[keep]


def joined(
    parts: list[tuple[NDArray[np.float64], float]], rate_hz: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Repeat each real segment end to end to last the given seconds; times at rate_hz."""
    accs = []
    for acc, seconds in parts:
        n = int(seconds * rate_hz)
        accs.append(np.resize(acc, (n, 3)))
    acc_all = np.concatenate(accs)
    return np.arange(acc_all.shape[0]) / rate_hz, acc_all


UCI_FIRST = ("exp05_user03", "exp06_user03", "exp07_user04", "exp08_user04", "exp09_user05", "exp10_user05")


def pooled(results: list[tuple[AnalysisResult, list[dict[str, Any]], float]]) -> dict[str, float]:
    """Recall per posture pooled over recordings (label times shifted by an offset)."""
    hits: dict[str, list[float]] = {}
    for result, labels, offset in results:
        shifted = [{**seg, "start_s": seg["start_s"] + offset, "end_s": seg["end_s"] + offset} for seg in labels]
        for label, r in recall(result, shifted).items():
            n = sum(1 for seg in shifted if seg["label"] == label)
            h = hits.setdefault(label, [0.0, 0.0])
            h[0] += r * n
            h[1] += n
    return {k: h / n for k, (h, n) in hits.items()}


def test_uci_waist_recordings_walking_and_lying_right(dataset: Any) -> None:
    """uci_hapt waist: every posture right although the still ones come before any walk.

    Sit/stand transitions decide (docs/validation.md); pooled over the first six
    development recordings this measured walking 1.00, lying 0.97, sitting and
    standing above 0.9.
    """
    results = []
    for rec in UCI_FIRST:
        t, acc, meta = dataset("uci_hapt", rec)
        results.append((analyze(t, acc, AnalysisSettings(Placement.WAIST)), meta["labels"], 0.0))
    got = pooled(results)
    assert got["walking"] > 0.95
    assert got["lying"] > 0.9
    assert got["sitting"] > 0.85
    assert got["standing"] > 0.85


def test_uci_waist_with_learned_reference(dataset: Any) -> None:
    """With the wearer's walking seen first, the still postures are mostly right.

    Each recording's first real walking segment is put before its still part, the way a
    wearer walks to the desk; pooled over the first six development recordings this
    measured standing 0.96, sitting 0.66, lying 1.00 (upright sitting after lying is
    the known miss, see docs/validation.md).
    """
    results = []
    for rec in UCI_FIRST:
        t, acc, meta = dataset("uci_hapt", rec)
        walk_seg = next(seg for seg in meta["labels"] if seg["label"] == "walking")
        walk = acc[(t >= walk_seg["start_s"]) & (t < walk_seg["end_s"])]
        first = meta["labels"][0]["start_s"]  # the wearer is standing: the phone is on
        still = acc[(t >= first) & (t < walk_seg["start_s"])]
        seq = np.concatenate([walk, still])
        offset = walk.shape[0] / meta["sample_rate_hz"] - first
        labels = [seg for seg in meta["labels"] if seg["end_s"] <= walk_seg["start_s"]]
        result = analyze(np.arange(seq.shape[0]) / meta["sample_rate_hz"], seq, AnalysisSettings(Placement.WAIST))
        results.append((result, labels, offset))
    got = pooled(results)
    assert got["standing"] > 0.6
    assert got["lying"] > 0.95
    assert got["sitting"] > 0.85


def test_spsw_pocket_sitting_and_walking(dataset: Any) -> None:
    """Pocket (thigh) sit-walk-sit sequences of one subject: seated ends and walking are found.

    Subject s02's nine recordings measured walking 1.00 and sitting 1.00.
    """
    results = []
    for i in range(1, 10):
        t, acc, meta = dataset("spsw_pocket_tug", f"s02_{i:02d}")
        results.append((analyze(t, acc, AnalysisSettings(Placement.THIGH)), meta["labels"], 0.0))
    got = pooled(results)
    assert got["walking"] > 0.95
    assert got["sitting"] > 0.85


def test_long_real_sitting_gives_one_alert_and_walk_gives_a_break(dataset: Any) -> None:
    """Real waist sitting repeated to 35 min alerts once at ~30 min; a real 70 s walk is a break."""
    t, acc, meta = dataset("uci_hapt", "exp07_user04")
    labels = meta["labels"]
    walk = segment(t, acc, labels, "walking")
    sit = segment(t, acc, labels, "sitting")
    rate = meta["sample_rate_hz"]
    seq_t, seq_acc = joined([(walk, 20.0), (sit, 35 * 60.0), (walk, 70.0), (sit, 5 * 60.0)], rate)
    result = analyze(seq_t, seq_acc, AnalysisSettings(Placement.WAIST, policy=AlertPolicy()))
    assert len(result.alerts) == 1
    # The bout starts within the 1.5 s look-ahead of the sitting start (20 s).
    assert result.alerts[0].t_s == pytest.approx(20.0 + 30 * 60.0, abs=2.0)
    assert len(result.breaks) == 1
    assert result.breaks[0].start_s == pytest.approx(20.0 + 35 * 60.0, abs=2.0)
    assert len(result.sitting_bouts) == 2
    assert result.sitting_bouts[0].end_s - result.sitting_bouts[0].start_s == pytest.approx(35 * 60.0, abs=3.0)
    assert result.summary()["sitting_s"] == pytest.approx(40 * 60.0, rel=0.02)
    assert {b.posture for b in result.bouts} <= {Posture.WALKING, Posture.SITTING}


@pytest.mark.parametrize(("recording", "seed"), [("exp46_user23", 2), ("exp46_user23", 5), ("exp59_user29", 1)])
def test_real_recordings_stretched_to_office_lengths(recordings: Path, recording: str, seed: int) -> None:
    """uci_hapt recordings lengthened to 1-2 h (``bench.stretched``): sitting time within
    3%, every sit-too-long alert within 2 min and none false. These wearers sit or lie
    motionless for long stretches, which a 20-s non-wear window took for a desk."""
    got = evaluate(recordings / "uci_hapt" / f"{recording}.csv", seed)
    assert got.result.truth_alerts >= 2
    assert got.result.passed, got.result
