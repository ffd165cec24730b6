"""How often real wearers move by the sleep-stillness rule: the figures behind ``ThighTuning.move_deg``.

A sit-too-long alert at the thigh is held back after ``ThighTuning.hold_s`` without a
*move* (``analysis.stillness``: an epoch whose 5-s mean direction, or one of its 0.1-s
frames, turned more than ``move_deg`` from the epoch before). ``python -m bench.moves``
runs that rule over every labelled segment of the real recordings of ``../shared/data``
and prints, per dataset and label: the segments and their minutes, the moves per
minute, the share of segments with no move at all, the longest stretch without a move
inside any segment (min), and the angle of each 0.1-s frame from the epoch before,
whose median over a still segment is the noise floor the 5-deg rule must stay well
above. Segments under 10 s are left out (two epochs at least), which leaves out every
``spsw_pocket_tug`` segment. No recording there holds a night or a seated stretch of
more than a few minutes, so the hold time itself (``hold_s``) cannot be checked on them.

    python -m bench.moves --move-deg 5 2
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

import numpy as np
from numpy.typing import NDArray

from analysis.frames import Framer
from analysis.settings import PostureTuning, ThighTuning
from analysis.stillness import SleepStillness
from bench.report import markdown_table
from ingest.recording import read_chunks
from tests.conftest import data_dir

__all__ = ["main"]

DATASETS = ("uci_hapt", "spsw_pocket_tug", "mex_thigh")


def _frame_angles(stats: NDArray[np.float64], epoch_frames: int) -> NDArray[np.float64]:
    """Angle of each frame from the mean direction of the epoch before, deg (NaN in the first epoch), shape (m,)."""
    m = stats.shape[0] // epoch_frames * epoch_frames
    sums = stats[:m, 1:4].reshape(-1, epoch_frames, 3)
    mean = sums.sum(axis=1)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    frames = sums / np.maximum(np.linalg.norm(sums, axis=2, keepdims=True), 1e-12)
    cos = np.einsum("ekc,ec->ek", frames[1:], mean[:-1]).ravel()
    return np.concatenate([np.full(epoch_frames, np.nan), np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))])


def _moves(dataset: str, move_deg: float) -> dict[str, list[tuple[float, int, float, float]]]:
    """Per label: ``(minutes, moves, longest still min, median frame angle deg)`` of each labelled segment."""
    frame_s = PostureTuning().frame_s
    out: dict[str, list[tuple[float, int, float, float]]] = defaultdict(list)
    for csv in sorted((data_dir() / dataset).glob("*.csv")):
        meta = json.loads(csv.with_suffix(".json").read_text())
        parts = list(read_chunks(csv))
        t_s = np.maximum.accumulate(np.concatenate([p[0] for p in parts]))  # jitter held, as the analyser does
        acc = np.concatenate([p[1] for p in parts])
        framer = Framer(frame_s)
        still = SleepStillness(frame_s, ThighTuning().epoch_s, move_deg)
        batches = [framer.update(t_s, acc, None), framer.flush()]
        for k, stats in batches:
            still.update(k, stats)
        every = np.concatenate([stats for _, stats in batches])
        angles = _frame_angles(every, still.epoch_frames)
        t0 = float(t_s[0])
        moves = np.asarray(still.moves, dtype=np.float64) * frame_s + t0
        for seg in meta["labels"]:
            label = seg.get("label") or seg.get("exercise")
            a, b = t0 + seg["start_s"], t0 + seg["end_s"]
            if b - a < 10.0:
                continue
            inside = moves[(moves > a + ThighTuning().epoch_s) & (moves <= b)]  # the first epoch has no epoch before
            edges = np.concatenate(([a], inside, [b]))
            ka, kb = int((a - t0) / frame_s), min(int((b - t0) / frame_s), angles.size)
            median = float(np.nanmedian(angles[ka:kb])) if np.isfinite(angles[ka:kb]).any() else float("nan")
            out[str(label)].append(((b - a) / 60, int(inside.size), float(np.diff(edges).max()) / 60, median))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the table for each ``--move-deg``."""
    parser = argparse.ArgumentParser(prog="python -m bench.moves", description=__doc__.splitlines()[0])
    parser.add_argument("--move-deg", type=float, nargs="+", default=[ThighTuning().move_deg])
    args = parser.parse_args(argv)
    if not (data_dir() / "uci_hapt").is_dir():
        print(f"no recordings in {data_dir()} (set SITLESS_DATA)", file=sys.stderr)
        return 1
    for move_deg in args.move_deg:
        rows = []
        for dataset in DATASETS:
            for label, segs in sorted(_moves(dataset, move_deg).items()):
                minutes = sum(s[0] for s in segs)
                moves = sum(s[1] for s in segs)
                still = sum(s[1] == 0 for s in segs)
                medians = [s[3] for s in segs]
                rows.append(
                    [
                        dataset,
                        label,
                        str(len(segs)),
                        f"{minutes:.1f}",
                        f"{moves / minutes:.2f}",
                        f"{still}/{len(segs)}",
                        f"{max(s[2] for s in segs):.1f}",
                        f"{float(np.nanmin(medians)):.2f} / {float(np.nanmedian(medians)):.2f}",
                    ]
                )
        print(f"python -m bench.moves --move-deg {move_deg:g}")
        header = (
            "dataset | label | segments | minutes | moves per min | segments without a move | longest still, min"
            " | frame angle from the epoch before, median per segment: least / median, deg"
        )
        print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
