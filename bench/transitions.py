"""Vertical hip displacement and jolt over the labelled postural transitions of a dataset.

For each labelled transition (``source_label`` such as ``STAND_TO_SIT``) of every
recording, the samples are framed at 0.1 s (mean |a| and mean gravity direction per
frame), the transition is taken from 0.5 s before to 0.5 s after its label, and the
still levels from 1 s either side; ``analysis.transitions.hip_displacement_m`` gives
the vertical displacement, untrimmed (every frame counts as active) unless
``--trimmed``. The jolt is the largest departure of a frame's |a| from the still level
before it. The movement intensity is the SD of |a| over a centred 1.2-s window
(``PostureTuning.intensity_window_s``), per frame; a transition's walking run is its
longest run of frames above the walking threshold (0.1 g, ``walk_sd_g``). Printed per
kind of transition: mean +- SD, 5th and 95th percentiles, the smallest jolt and the
longest walking run.

    python -m bench.transitions uci_hapt
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis.transitions import hip_displacement_m
from ingest.recording import read_chunks
from tests.conftest import data_dir

__all__ = ["intensity_g", "main", "measure"]

FRAME_S = 0.1
MARGIN_S = 0.5  # taken either side of the label
LEVEL_FRAMES = 10  # 1 s of still level either side
INTENSITY_FRAMES = 12  # the 1.2-s intensity window
WALK_SD_G = 0.1  # PostureTuning.walk_sd_g


def _frames(t: NDArray[np.float64], acc: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean |a| shape (n,) and unit gravity direction shape (n, 3) per 0.1-s frame."""
    k = np.floor(t / FRAME_S).astype(int)
    n = int(k[-1]) + 1
    count = np.maximum(np.bincount(k, minlength=n), 1)
    mag = np.bincount(k, weights=np.linalg.norm(acc, axis=1), minlength=n) / count
    mean = np.stack([np.bincount(k, weights=acc[:, i], minlength=n) for i in range(3)], axis=1) / count[:, None]
    return mag, mean / np.linalg.norm(mean, axis=1)[:, None]


def intensity_g(t: NDArray[np.float64], acc: NDArray[np.float64]) -> NDArray[np.float64]:
    """SD of |a| over the centred 1.2-s window of each 0.1-s frame, g, shape (frames,); NaN without samples."""
    k = np.floor((t - t[0]) / FRAME_S).astype(int)
    n = int(k[-1]) + 1
    mag = np.linalg.norm(acc, axis=1)
    kernel = np.ones(INTENSITY_FRAMES)
    count = np.convolve(np.bincount(k, minlength=n).astype(np.float64), kernel, mode="same")
    s1 = np.convolve(np.bincount(k, weights=mag, minlength=n), kernel, mode="same")
    s2 = np.convolve(np.bincount(k, weights=mag * mag, minlength=n), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / count
        return np.asarray(np.sqrt(np.maximum(s2 / count - mean * mean, 0.0)), dtype=np.float64)


def _longest_run(flags: NDArray[np.bool_]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _level(mag: NDArray[np.float64], unit: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    g = unit.mean(axis=0)
    return float(mag.mean()), np.asarray(g / np.linalg.norm(g), dtype=np.float64)


def measure(csv: Path, *, trimmed: bool = False) -> list[tuple[str, float, float, float]]:
    """``(source label, displacement m, jolt g, walking run s)`` of each labelled transition of one recording."""
    meta: dict[str, Any] = json.loads(csv.with_suffix(".json").read_text())
    parts = list(read_chunks(csv))
    t = np.concatenate([p[0] for p in parts])
    acc = np.concatenate([p[1] for p in parts])
    mag, unit = _frames(t, acc)
    walking = intensity_g(t, acc) > WALK_SD_G
    out = []
    for seg in meta["labels"]:
        if seg["label"] != "transition":
            continue
        a0 = int((seg["start_s"] - MARGIN_S) / FRAME_S)
        a1 = int((seg["end_s"] + MARGIN_S) / FRAME_S)
        if a0 < LEVEL_FRAMES or a1 + LEVEL_FRAMES > mag.shape[0]:
            continue
        before = _level(mag[a0 - LEVEL_FRAMES : a0], unit[a0 - LEVEL_FRAMES : a0])
        after = _level(mag[a1 : a1 + LEVEL_FRAMES], unit[a1 : a1 + LEVEL_FRAMES])
        active_g = 0.05 if trimmed else -1.0  # the analysis's default; -1 g: every frame counts as active
        z = hip_displacement_m(mag[a0:a1], unit[a0:a1], before, after, FRAME_S, active_g=active_g)
        jolt = float(np.max(np.abs(mag[a0:a1] - before[0])))
        run_s = _longest_run(walking[a0:a1]) * FRAME_S
        out.append((str(seg["source_label"]), z, jolt, run_s))
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure every labelled transition of a dataset; print the figures per kind."""
    parser = argparse.ArgumentParser(prog="python -m bench.transitions", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default="uci_hapt", help="a posture dataset of SITLESS_DATA")
    parser.add_argument("--trimmed", action="store_true", help="trim to the active part, as the analysis does")
    args = parser.parse_args(argv)
    files = sorted((data_dir() / args.dataset).glob("*.csv"))
    if not files:
        print(f"no recordings of {args.dataset} in {data_dir()} (set SITLESS_DATA)", file=sys.stderr)
        return 2
    found: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for csv in files:
        for label, z, jolt, run_s in measure(csv, trimmed=args.trimmed):
            found[label].append((z, jolt, run_s))
    how = "trimmed to the active part" if args.trimmed else "untrimmed"
    print(f"{args.dataset}: {len(files)} recordings, hip displacement {how}")
    heads = f"{'n':>3}  {'mean +- SD':>16}  {'5th pct':>8}  {'95th pct':>8}  {'least jolt':>10}  {'walking run':>11}"
    print(f"  {'transition':<14} {heads}")
    for label, values in sorted(found.items()):
        z_m = np.array([v[0] for v in values])
        least = min(v[1] for v in values)
        run_s = max(v[2] for v in values)
        print(
            f"  {label:<14} {z_m.size:>3}  {z_m.mean():+7.2f} +- {z_m.std():4.2f} m"
            f"  {np.percentile(z_m, 5):+7.2f}  {np.percentile(z_m, 95):+8.2f}  {least:9.3f} g  {run_s:9.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
