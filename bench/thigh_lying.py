"""Lying from the thigh on real recordings: the angles behind the cut-points, and the floor exercises.

``python -m bench.thigh_lying`` (``SITLESS_DATA``, default ``../shared/data``) prints

1. the inclination of seated thighs from each recording's own walking upright
   (``spsw_pocket_tug``: phones in trouser pockets; labelled sitting stretches over
   0.5 s), which ``ThighTuning.knee_up_deg`` must stay above;
2. the inclination of the ``mex_thigh`` floor exercises from the subject's own
   thigh-vertical posture (their all-fours exercise, prone punches);
3. the share of floor-exercise time (``mex_thigh``, all but prone punches) that
   ``analysis.analyze`` reads as each posture: as ``sitting analyze`` does (the file
   alone: these recordings hold no walking or standing, so no upright reference), and
   with the subject's own reference (five still seconds of their all-fours recording
   put in front, calibrated as standing: the thigh is vertical in both).

The first two are what ``analysis.thigh`` cites; the third is the validation in
``docs/validation.md``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from analysis import AnalysisSettings, Placement, analyze

Seconds = defaultdict[str, float]

_EXERCISES = ("ex01", "ex02", "ex03", "ex04", "ex05", "ex07")
_NAMES = {
    "ex01": "knee rolling",
    "ex02": "bridging",
    "ex03": "pelvic tilt",
    "ex04": "clam",
    "ex05": "extension in lying",
    "ex07": "superman",
}


def _load(csv: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    raw = np.loadtxt(csv, delimiter=",", skiprows=1)
    return raw[:, 0].copy(), raw[:, 1:4].copy()


def _unit(a: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = a / np.linalg.norm(a, axis=-1, keepdims=True)
    return out


def _deg(u: NDArray[np.float64], ref: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.degrees(np.arccos(np.clip(u @ ref, -1.0, 1.0)))
    return out


def seated_inclinations(root: Path) -> NDArray[np.float64]:
    """Inclination (deg) of each seated stretch of ``spsw_pocket_tug`` from its recording's walking."""
    out: list[float] = []
    for csv in sorted((root / "spsw_pocket_tug").glob("*.csv")):
        meta = json.loads(csv.with_suffix(".json").read_text())
        t, acc = _load(csv)
        walking = np.zeros(t.size, dtype=bool)
        for seg in meta["labels"]:
            if seg["label"] == "walking":
                walking |= (t >= seg["start_s"]) & (t < seg["end_s"])
        if walking.sum() < 50:
            continue
        ref = _unit(acc[walking].mean(axis=0))
        for seg in meta["labels"]:
            if seg["label"] == "sitting" and seg["end_s"] - seg["start_s"] > 0.5:
                m = (t >= seg["start_s"]) & (t < seg["end_s"])
                out.append(float(_deg(_unit(acc[m].mean(axis=0)), ref)))
    return np.asarray(out)


def _vertical(root: Path, subject: str) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """The subject's all-fours recording (thigh vertical), or ``None``."""
    csv = root / "mex_thigh" / f"{subject}_ex06_1.csv"
    return _load(csv) if csv.is_file() else None


def exercise_inclinations(root: Path) -> dict[str, NDArray[np.float64]]:
    """Per exercise: inclination (deg) of every sample from the subject's thigh-vertical posture."""
    out: dict[str, list[NDArray[np.float64]]] = {ex: [] for ex in _EXERCISES}
    for csv in sorted((root / "mex_thigh").glob("*.csv")):
        subject, ex = csv.stem.split("_")[:2]
        vertical = _vertical(root, subject)
        if ex not in out or vertical is None:
            continue
        ref = _unit(np.median(vertical[1], axis=0))
        out[ex].append(_deg(_unit(_load(csv)[1]), ref))
    return {ex: np.concatenate(v) for ex, v in out.items() if v}


def floor_shares(root: Path, *, own_reference: bool) -> tuple[Seconds, dict[str, Seconds]]:
    """Seconds per posture over the floor exercises, in all and per exercise."""
    settings = AnalysisSettings(Placement.THIGH)
    total: defaultdict[str, float] = defaultdict(float)
    per: dict[str, defaultdict[str, float]] = {ex: defaultdict(float) for ex in _EXERCISES}
    for csv in sorted((root / "mex_thigh").glob("*.csv")):
        subject, ex = csv.stem.split("_")[:2]
        if ex not in per:
            continue
        t, acc = _load(csv)
        calibrate_at = None
        shift = 0.0
        vertical = _vertical(root, subject) if own_reference else None
        if vertical is not None:
            # Five still seconds of the subject's thigh-vertical posture, then the exercise.
            vt, va = vertical
            keep = vt < vt[0] + 8.0
            shift = float(vt[keep][-1] - vt[0]) + 0.04
            t = np.concatenate([vt[keep] - vt[0], t - t[0] + shift])
            acc = np.concatenate([va[keep], acc])
            calibrate_at = 1.0
        result = analyze(t, acc, settings, calibrate_at_s=calibrate_at)
        for b in result.bouts:
            start = max(b.start_s - result.t0_s, shift)
            end = b.end_s - result.t0_s
            if end > start:
                total[str(b.posture)] += end - start
                per[ex][str(b.posture)] += end - start
    return total, per


def _shares(c: Seconds) -> str:
    n = sum(c.values()) or 1.0
    postures = ("lying", "sitting", "standing", "walking", "other")
    return ", ".join(f"{p} {100 * c.get(p, 0.0) / n:.0f}%" for p in postures)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SITLESS_DATA", "../shared/data")))
    args = ap.parse_args()
    root: Path = args.data
    seated = seated_inclinations(root)
    pct = np.percentile(seated, [50, 95, 99, 100])
    print(
        f"spsw_pocket_tug seated thighs from their walking upright: n={seated.size}, "
        f"median {pct[0]:.1f}, p95 {pct[1]:.1f}, p99 {pct[2]:.1f}, max {pct[3]:.1f} deg"
    )
    print("mex_thigh exercises from the subject's thigh-vertical posture (share of samples):")
    for ex, incl in exercise_inclinations(root).items():
        print(
            f"  {ex} {_NAMES[ex]:<19} median {np.median(incl):5.1f} deg, "
            f">=100 deg {np.mean(incl >= 100):.2f}, >=110 deg {np.mean(incl >= 110):.2f}"
        )
    for own in (False, True):
        total, per = floor_shares(root, own_reference=own)
        label = "with the subject's own reference" if own else "each file alone (sitless analyze)"
        print(f"floor exercises, {label}: {_shares(total)} of {sum(total.values()):.0f} s")
        for ex, c in per.items():
            print(f"  {ex} {_NAMES[ex]:<19} {_shares(c)}")


if __name__ == "__main__":
    main()
