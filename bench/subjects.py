"""Posture recall per recording, per subject and per labelled segment of a dataset.

``../shared/tools/score.py`` prints one confusion matrix per dataset. ``python -m
bench.subjects`` scores the same way (``sitless analyze``'s bouts sampled on a 0.1-s
grid, 0.5 s ignored at both ends of every labelled segment, ``stairs`` as walking,
unlabelled time not scored) but reports the pieces:

- the recall of each posture and the balanced accuracy of the dataset, as score.py;
- the balanced accuracy of each subject (their recordings pooled): mean and worst;
- the recall of each still segment by its order in the recording (``standing #2``
  is the second labelled standing, with the still posture before it);
- with ``--angles``, each still segment's angle (of its mean acceleration) from the
  walking upright (the mean acceleration of the recording's first labelled walking
  segment), from the recording's first labelled standing, and from the device's long
  axis (``--long-axis``, default x; sign-agnostic); for the stretch before the first
  label (the sensor being put on), ``unlabelled start``, the largest angle of its 1-s
  means.

Options analyse the recordings as another placement (``--placement chest --long-axis
0``), with tuning changed (``--tuning handled_deg=30``), or with each recording's first
walking segment played before its still part (``--walk-first``), as a wearer who walks
to the desk. Each recording is analysed as ``sitless analyze`` does
(``ingest.analyze_cmd.analyze_file``), or, with ``--walk-first``, by
``analysis.analyze`` on the rearranged samples.

    python -m bench.subjects uci_hapt --verbose
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analysis import AnalysisSettings, Placement, PostureTuning, analyze
from analysis.angles import angle_deg, axis_inclination_deg
from ingest.analyze_cmd import analyze_file
from ingest.recording import read_chunks
from tests.conftest import data_dir

__all__ = ["Scored", "balanced_accuracy", "main", "score_recording"]

POSTURES = ("sitting", "standing", "lying", "walking")
STILL = ("sitting", "standing", "lying")
TRUTH_MAP = {"sitting": "sitting", "standing": "standing", "lying": "lying", "walking": "walking", "stairs": "walking"}
EDGE_S = 0.5  # as score.py: label boundary slack at each end of a segment
STEP_S = 0.1  # as score.py: the scoring grid


@dataclass
class Scored:
    """One recording's scores.

    Attributes:
        recording: Its id.
        subject: Its wearer.
        confusion: Seconds of truth by prediction, ``{truth: {predicted: s}}``.
        segments: ``(name, seconds right, seconds scored)`` of each still segment,
            named by its label, its order and the still label before it.
        angles: ``(name, deg from the walking upright, deg from the first standing, deg
            from the long axis)`` of each still segment.
    """

    recording: str
    subject: str
    confusion: dict[str, dict[str, float]] = field(default_factory=dict)
    segments: list[tuple[str, float, float]] = field(default_factory=list)
    angles: list[tuple[str, float, float, float]] = field(default_factory=list)


def _posture_at(bouts: list[dict[str, Any]], t: float) -> str:
    for b in bouts:
        if b["start_s"] <= t < b["end_s"]:
            return str(b.get("posture", "other"))
    return "none"


def balanced_accuracy(confusion: dict[str, dict[str, float]]) -> float:
    """Mean recall over the postures present in ``{truth: {predicted: s}}``.

    >>> balanced_accuracy({"sitting": {"sitting": 9.0, "standing": 1.0}, "walking": {"walking": 5.0}})
    0.95
    """
    recalls = [row.get(truth, 0.0) / sum(row.values()) for truth, row in confusion.items() if sum(row.values())]
    return sum(recalls) / len(recalls) if recalls else float("nan")


def _segment_names(labels: list[dict[str, Any]]) -> list[str | None]:
    """``standing #2 (after sitting)`` for each still segment, ``walking`` for walks, None otherwise."""
    seen: dict[str, int] = defaultdict(int)
    before = "-"
    names: list[str | None] = []
    for seg in labels:
        label = TRUTH_MAP.get(seg["label"])
        if label in STILL:
            seen[label] += 1
            names.append(f"{label} #{seen[label]} (after {before})")
            before = label
        else:
            names.append(label)
    return names


def _read(csv: Path) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    parts = list(read_chunks(csv))
    return np.concatenate([p.t_s for p in parts]), np.concatenate([p.acc_g for p in parts])


def _walk_first(
    csv: Path, meta: dict[str, Any], settings: AnalysisSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first walking segment, then the still part before it: bouts and the labels shifted to match."""
    t, acc = _read(csv)
    walk_seg = next(seg for seg in meta["labels"] if seg["label"] == "walking")
    walk = acc[(t >= walk_seg["start_s"]) & (t < walk_seg["end_s"])]
    first = meta["labels"][0]["start_s"]  # the wearer is standing: the phone is on
    still = acc[(t >= first) & (t < walk_seg["start_s"])]
    joined = np.concatenate([walk, still])
    rate = float(meta["sample_rate_hz"])
    offset = walk.shape[0] / rate - first
    labels = [
        {**seg, "start_s": seg["start_s"] + offset, "end_s": seg["end_s"] + offset}
        for seg in meta["labels"]
        if seg["end_s"] <= walk_seg["start_s"]
    ]
    result = analyze(np.arange(joined.shape[0]) / rate, joined, settings)
    return result.to_json()["bouts"], labels


def _angles(
    csv: Path, labels: list[dict[str, Any]], names: list[str | None], long_axis: int
) -> list[tuple[str, float, float, float]]:
    t, acc = _read(csv)

    def mean_direction(seg: dict[str, Any]) -> NDArray[np.float64] | None:
        keep = (t >= seg["start_s"] + EDGE_S) & (t < seg["end_s"] - EDGE_S)
        if not keep.any():
            return None
        g = acc[keep].mean(axis=0)
        return np.asarray(g / np.linalg.norm(g), dtype=np.float64)

    walk = next((seg for seg in labels if seg["label"] == "walking"), None)
    stand = next((seg for seg in labels if seg["label"] == "standing"), None)
    upright = None if walk is None else mean_direction(walk)
    standing = None if stand is None else mean_direction(stand)
    if upright is None or standing is None:
        return []
    out = []
    if labels:  # the stretch before the first label, by 1-s means: how far the sensor was turned
        seconds = [(float(s), s + 1.0 + 2 * EDGE_S) for s in np.arange(-EDGE_S, labels[0]["start_s"] - 1.0 - EDGE_S)]
        means = [d for a, b in seconds if (d := mean_direction({"start_s": a, "end_s": b})) is not None]
        if means:
            degs = [(angle_deg(d, upright), angle_deg(d, standing), axis_inclination_deg(d, long_axis)) for d in means]
            out.append(("unlabelled start", *(max(col) for col in zip(*degs, strict=True))))
    for seg, name in zip(labels, names, strict=True):
        if name is not None and name != "walking" and (direction := mean_direction(seg)) is not None:
            axis_deg = axis_inclination_deg(direction, long_axis)
            out.append((name, angle_deg(direction, upright), angle_deg(direction, standing), axis_deg))
    return out


def score_recording(
    csv: Path, settings: AnalysisSettings, *, walk_first: bool = False, angles: int | None = None
) -> Scored:
    """Analyse one labelled recording and score it as ``score.py`` does.

    Args:
        csv: The recording; its sidecar ``.json`` beside it.
        settings: The analysis settings (placement included).
        walk_first: Play the first walking segment before the still part.
        angles: Also measure each still segment's angles, with this long axis (0, 1, 2).

    Returns:
        The recording's confusion, its still segments' recall and, with ``angles``, their angles.
    """
    meta = json.loads(csv.with_suffix(".json").read_text())
    if walk_first:
        bouts, labels = _walk_first(csv, meta, settings)
    else:
        bouts, labels = analyze_file(csv, settings).to_json()["bouts"], meta["labels"]
    bouts = sorted(bouts, key=lambda b: b["start_s"])
    scored = Scored(meta["recording_id"], str(meta.get("subject", meta["recording_id"])))
    names = _segment_names(labels)
    for seg, name in zip(labels, names, strict=True):
        truth = TRUTH_MAP.get(seg["label"])
        if truth is None:
            continue
        row = scored.confusion.setdefault(truth, {})
        right = total = 0.0
        t = seg["start_s"] + EDGE_S
        while t < seg["end_s"] - EDGE_S:  # the grid score.py walks, float steps and all
            got = _posture_at(bouts, t)
            row[got] = row.get(got, 0.0) + STEP_S
            right += STEP_S * (got == truth)
            total += STEP_S
            t += STEP_S
        if name is not None and name != "walking" and total:
            scored.segments.append((name, right, total))
    if angles is not None:
        scored.angles = _angles(csv, meta["labels"], _segment_names(meta["labels"]), angles)
    return scored


def _pool(confusions: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    pooled: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for conf in confusions:
        for truth, row in conf.items():
            for got, s in row.items():
                pooled[truth][got] += s
    return {k: dict(v) for k, v in pooled.items()}


def _job(args: tuple[Path, AnalysisSettings | None, bool, int | None]) -> Scored:
    csv, settings, walk_first, angles = args
    if settings is None:
        meta = json.loads(csv.with_suffix(".json").read_text())
        settings = AnalysisSettings(Placement(meta["placement_id"]))
    return score_recording(csv, settings, walk_first=walk_first, angles=angles)


def _tuning(pairs: Sequence[str]) -> PostureTuning:
    changes: dict[str, float] = {}
    names = {f.name for f in dataclasses.fields(PostureTuning)}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in names:
            raise SystemExit(f"--tuning: PostureTuning has no {name!r} (it has {', '.join(sorted(names))})")
        changes[name] = float(value)
    return dataclasses.replace(PostureTuning(), **changes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.subjects", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default="uci_hapt", help="a posture dataset of SITLESS_DATA")
    parser.add_argument("--placement", type=Placement, help="analyse as this placement (default: each sidecar's)")
    parser.add_argument("--long-axis", type=int, choices=(0, 1, 2), help="the device axis along the body segment")
    parser.add_argument("--tuning", nargs="*", default=[], metavar="NAME=VALUE", help="PostureTuning changes")
    parser.add_argument("--walk-first", action="store_true", help="play the first walk before the still part")
    parser.add_argument("--first", type=int, help="only the first N recordings (sorted by id)")
    parser.add_argument("--recording", nargs="+", default=[], help="only these recordings (ids)")
    parser.add_argument("--angles", action="store_true", help="still segments' angles from the walking upright")
    parser.add_argument("--over-deg", type=float, default=11.6, help="with --angles: count segments this far off")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--verbose", action="store_true", help="one line per recording")
    return parser


def _print_report(args: argparse.Namespace, results: list[Scored]) -> None:
    pooled = _pool([s.confusion for s in results])
    recalls = {p: pooled[p].get(p, 0.0) / sum(pooled[p].values()) for p in POSTURES if p in pooled}
    print("recall: " + ", ".join(f"{p} {r:.3f}" for p, r in recalls.items()), end="")
    print(f"; balanced accuracy {balanced_accuracy(pooled):.3f}")
    if args.verbose:
        for s in results:
            print(f"  {s.recording:>16} {balanced_accuracy(s.confusion):.3f}")
    by_subject: dict[str, list[Scored]] = defaultdict(list)
    for s in results:
        by_subject[s.subject].append(s)
    subjects = {k: balanced_accuracy(_pool([s.confusion for s in v])) for k, v in sorted(by_subject.items())}
    worst = min(subjects, key=lambda k: subjects[k])
    mean = sum(subjects.values()) / len(subjects)
    print(f"per subject ({len(subjects)}): mean {mean:.3f}, worst {subjects[worst]:.3f} ({worst})")
    if args.verbose:
        for subject, score in subjects.items():
            print(f"  {subject:>8} {score:.3f}")
    segments: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for s in results:
        for name, right, total in s.segments:
            segments[name][0] += right
            segments[name][1] += total
    print("still segments in recording order (recall pooled over the recordings that have them):")
    for name, (right, total) in segments.items():  # in the order the first recording has them
        print(f"  {name:<30} {right / total:.3f}  ({total / 60:.1f} min)")
    if args.angles:
        axis = "xyz"[args.long_axis or 0]
        print(f"angles of the still segments, deg, from: the walking upright; the first standing; the {axis} axis")
        angles: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for s in results:
            for name, *degs in s.angles:
                angles[name].append((degs[0], degs[1], degs[2]))
        for name, values in angles.items():
            cols = [[v[i] for v in values] for i in range(3)]
            over = sum(v >= args.over_deg for v in cols[0])
            spans = "; ".join(f"{min(c):5.1f} - {max(c):5.1f}" for c in cols)
            print(f"  {name:<30} {spans}  ({len(values)}, {over} >= {args.over_deg:g} from the walking upright)")


def main(argv: list[str] | None = None) -> int:
    """Score every recording of a dataset; print the pooled, per-subject and per-segment figures."""
    args = _parser().parse_args(argv)
    folder = data_dir() / args.dataset
    files = sorted(folder.glob("*.csv"))[: args.first]
    if args.recording:
        files = [f for f in files if f.stem in args.recording]
    if not files:
        print(f"no recordings in {folder} (set SITLESS_DATA)", file=sys.stderr)
        return 2
    settings = None
    if args.placement is not None or args.long_axis is not None or args.tuning:
        meta = json.loads(files[0].with_suffix(".json").read_text())
        placement = args.placement or Placement(meta["placement_id"])
        settings = AnalysisSettings(placement, tuning=_tuning(args.tuning), long_axis=args.long_axis)
    angles = (args.long_axis or 0) if args.angles else None
    jobs = [(csv, settings, args.walk_first, angles) for csv in files]
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        results = list(pool.map(_job, jobs))
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"python -m bench.subjects {shown}, {dt.date.today().isoformat()}: {len(files)} recordings")
    _print_report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
