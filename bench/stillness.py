"""How still a worn sensor gets, against one on a desk: the figures behind the non-wear rule.

Non-wear (``PostureTuning.nonwear_range_g``) is the range (max - min, the largest of
the three axes) of the 1-s mean acceleration over a window. ``python -m
bench.stillness`` measures that range, frame by frame (0.1 s) as the analysis does:

- on real worn recordings: the stillest window inside any labelled segment of each
  posture of ``uci_hapt`` (waist) and each exercise of ``mex_thigh`` (thigh), for each
  ``--window-s``;
- on the simulated desk: the range of every window of the desk time of
  ``office_morning`` (``firmware_sim``, seeds 1-3, every placement), 5 s at either
  end left out;
- on still sitting with white noise of a given SD added (50 Hz, thigh, seed 1): the
  share of the time ``analysis.analyze`` calls non-wear;
- the movement intensity (SD of |a| over 1.2 s, ``bench.transitions.intensity_g``) of
  the labelled frames of ``uci_hapt`` and ``spsw_pocket_tug`` (0.5 s left out at each
  end of a segment), per label: 5th, 50th and 95th percentiles, against the still
  (0.03 g) and walking (0.1 g) thresholds.

    python -m bench.stillness --window-s 20 10
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from analysis import AnalysisSettings, Placement, Posture, analyze
from bench.transitions import FRAME_S as _INTENSITY_FRAME_S
from bench.transitions import intensity_g
from firmware_sim import generate, scenario, truth
from ingest.recording import read_chunks
from tests.conftest import data_dir

__all__ = ["main", "window_ranges"]

FRAME_S = 0.1
MEAN_FRAMES = 11  # the 1-s gravity window: 2 x 5 frames either side of the frame, and the frame
NOISE_MG = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
DESK_EDGE_S = 5.0  # left out at each end of the desk time: the sensor being put down and picked up


def window_ranges(t: NDArray[np.float64], acc: NDArray[np.float64], window_s: float) -> NDArray[np.float64]:
    """Range of the 1-s mean acceleration over the window ending at each 0.1-s frame, g.

    Args:
        t: Sample times, s, shape (n,).
        acc: Accelerations, g, shape (n, 3).
        window_s: Window length, s.

    Returns:
        One range per frame from the first full window on, shape (frames,); NaN where a
        frame or a window has no samples.
    """
    k = np.floor((t - t[0]) / FRAME_S).astype(int)
    n = int(k[-1]) + 1
    count = np.bincount(k, minlength=n).astype(np.float64)
    sums = np.stack([np.bincount(k, weights=acc[:, i], minlength=n) for i in range(3)], axis=1)
    kernel = np.ones(MEAN_FRAMES)
    c = np.convolve(count, kernel, mode="same")
    mean = np.stack([np.convolve(sums[:, i], kernel, mode="same") for i in range(3)], axis=1) / c[:, None]
    mean[c == 0] = np.nan
    width = round(window_s / FRAME_S)
    if mean.shape[0] < width:
        return np.zeros(0)
    views = np.lib.stride_tricks.sliding_window_view(mean, width, axis=0)  # (frames, 3, width)
    return np.asarray((views.max(axis=2) - views.min(axis=2)).max(axis=1), dtype=np.float64)


def _read(csv: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    parts = list(read_chunks(csv))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _stillest(dataset: str, window_s: float) -> dict[str, float]:
    """The smallest window range inside any labelled segment of each label (or exercise), g."""
    best: dict[str, float] = defaultdict(lambda: np.inf)
    for csv in sorted((data_dir() / dataset).glob("*.csv")):
        meta = json.loads(csv.with_suffix(".json").read_text())
        t, acc = _read(csv)
        for seg in meta["labels"]:
            name = seg.get("label") or seg.get("exercise")
            if name in (None, "transition", "stairs", "walking"):
                continue
            keep = (t >= seg["start_s"]) & (t < seg["end_s"])
            if keep.sum() < 2:
                continue
            ranges = window_ranges(t[keep], acc[keep], window_s)
            ranges = ranges[np.isfinite(ranges)]
            if ranges.size:
                best[name] = min(best[name], float(ranges.min()))
    return dict(best)


def _desk(window_s: float) -> tuple[float, float]:
    """Smallest and largest window range over the simulated desk time, g."""
    script = scenario("office_morning")
    desk = [(s.start_s, s.end_s) for s in truth(script) if s.posture is Posture.NONWEAR]
    found: list[float] = []
    for seed in (1, 2, 3):
        for placement in Placement:
            rec = generate(script, placement, seed=seed)
            t = rec.t_s - rec.t_s[0]
            for a, b in desk:
                keep = (t >= a + DESK_EDGE_S) & (t < b - DESK_EDGE_S)
                ranges = window_ranges(t[keep], rec.acc_g[keep], window_s)
                found += ranges[np.isfinite(ranges)].tolist()
    return min(found), max(found)


def _noise_nonwear(noise_mg: float, minutes: float = 5.0) -> float:
    """Share of still thigh sitting with white noise of this SD (50 Hz) that reads as non-wear."""
    rng = np.random.default_rng(1)
    t = np.arange(int(minutes * 60 * 50)) / 50.0
    acc = np.tile([0.0, 0.0, 1.0], (t.size, 1)) + rng.normal(0.0, noise_mg / 1000, (t.size, 3))
    result = analyze(t, acc, AnalysisSettings(Placement.THIGH))
    nonwear = sum(b.end_s - b.start_s for b in result.bouts if b.posture is Posture.NONWEAR)
    return float(nonwear / (t[-1] - t[0]))


def _intensities(dataset: str) -> dict[str, NDArray[np.float64]]:
    """Movement intensity of every labelled frame (edges left out), by label, g."""
    found: dict[str, list[NDArray[np.float64]]] = defaultdict(list)
    for csv in sorted((data_dir() / dataset).glob("*.csv")):
        meta = json.loads(csv.with_suffix(".json").read_text())
        t, acc = _read(csv)
        sd = intensity_g(t, acc)
        frame_t = t[0] + (np.arange(sd.shape[0]) + 0.5) * _INTENSITY_FRAME_S
        for seg in meta["labels"]:
            name = seg.get("label")
            if name in (None, "transition"):
                continue
            keep = (frame_t >= seg["start_s"] + 0.5) & (frame_t < seg["end_s"] - 0.5)
            found["walking" if name == "stairs" else name].append(sd[keep][np.isfinite(sd[keep])])
    return {k: np.concatenate(v) for k, v in found.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the stillest worn windows, the desk's windows and the noise sweep."""
    parser = argparse.ArgumentParser(prog="python -m bench.stillness", description=__doc__.splitlines()[0])
    parser.add_argument("--window-s", type=float, nargs="+", default=[20.0, 10.0], help="window lengths, s")
    args = parser.parse_args(argv)
    if not (data_dir() / "uci_hapt").is_dir():
        print(f"no recordings in {data_dir()} (set SITLESS_DATA)", file=sys.stderr)
        return 2
    for window_s in args.window_s:
        print(f"range of the 1-s mean acceleration over {window_s:g}-s windows, mg")
        for dataset in ("uci_hapt", "mex_thigh"):
            stillest = _stillest(dataset, window_s)
            print(f"  {dataset} stillest worn window: " + ", ".join(f"{k} {1000 * v:.1f}" for k, v in stillest.items()))
        low, high = _desk(window_s)
        print(f"  simulated desk (office_morning, seeds 1-3, every placement): {1000 * low:.1f}-{1000 * high:.1f}")
    print("still thigh sitting with white noise (50 Hz, 5 min): share read as non-wear")
    print("  " + ", ".join(f"{mg:g} mg {_noise_nonwear(mg):.2f}" for mg in NOISE_MG))
    print("movement intensity of the labelled frames (SD of |a| over 1.2 s), g: 5th / 50th / 95th percentile")
    for dataset in ("uci_hapt", "spsw_pocket_tug"):
        parts = []
        for name, sd in _intensities(dataset).items():
            low, mid, high = np.percentile(sd, [5, 50, 95])
            parts.append(f"{name} {low:.3f} / {mid:.3f} / {high:.3f}")
        print(f"  {dataset}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
