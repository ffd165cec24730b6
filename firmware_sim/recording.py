"""Simulated recordings in memory and on disk (the ``t,ax,ay,az`` CSV of DESIGN.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from analysis.settings import Placement
from firmware_sim.scenarios import Segment

__all__ = ["Chunk", "Recording", "write_csv", "write_truth_json"]


@dataclass(frozen=True, slots=True, eq=False)
class Chunk:
    """A run of consecutive samples from :func:`firmware_sim.motion.iter_chunks`.

    Samples are grouped in packets of ``packet_samples``; packet ``j`` of the chunk holds
    samples ``j * packet_samples`` to ``(j + 1) * packet_samples`` (the last may be short).

    Attributes:
        first_sample: Session index of the first sample (a multiple of ``packet_samples``).
        packet_samples: Samples per packet.
        t_s: True sample times, seconds from the start of the script, shape (n,).
        acc_g: Acceleration in g, sensor axes, shape (n, 3).
        dropped: Whether each packet is lost on the way, shape (ceil(n / packet_samples),).
    """

    first_sample: int
    packet_samples: int
    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    dropped: NDArray[np.bool_]

    @property
    def first_packet(self) -> int:
        """Session index (sequence number) of the chunk's first packet."""
        return self.first_sample // self.packet_samples

    def kept(self) -> NDArray[np.bool_]:
        """Per-sample mask of the samples whose packet arrives, shape (n,)."""
        return np.repeat(~self.dropped, self.packet_samples)[: self.t_s.shape[0]]


@dataclass(frozen=True, slots=True, eq=False)
class Recording:
    """Simulated samples with their ground truth.

    Attributes:
        t_s: Sample times, seconds from the start of the script, shape (n,); the samples
            of dropped packets are missing.
        acc_g: Acceleration in g, sensor axes, shape (n, 3), float64.
        truth: Ground-truth segments tiling ``[0, duration]`` of the script.
        placement: Where the sensor was worn.
        rate_hz: Nominal sample rate.
    """

    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    truth: tuple[Segment, ...]
    placement: Placement
    rate_hz: float

    def __post_init__(self) -> None:
        if self.t_s.ndim != 1 or self.acc_g.shape != (self.t_s.shape[0], 3):
            raise ValueError(f"need t_s (n,) and acc_g (n, 3), got {self.t_s.shape} and {self.acc_g.shape}")


def write_csv(source: Recording | Iterable[Chunk], path: Path | str) -> int:
    """Write samples as the ``t,ax,ay,az`` CSV that ``sitless analyze`` reads.

    ``t`` is seconds from the first written sample (4 decimals), accelerations are g
    (4 decimals). Chunks are written as they come, so a day-long script streamed from
    :func:`firmware_sim.motion.iter_chunks` needs little memory; dropped packets leave gaps.

    Args:
        source: A recording, or chunks (their dropped packets are skipped).
        path: The CSV file to write.

    Returns:
        The number of samples written.
    """
    parts: Iterable[tuple[NDArray[np.float64], NDArray[np.float64]]]
    if isinstance(source, Recording):
        parts = [(source.t_s, source.acc_g)]
    else:
        parts = ((chunk.t_s[chunk.kept()], chunk.acc_g[chunk.kept()]) for chunk in source)
    written = 0
    t0_s: float | None = None
    with Path(path).open("w", encoding="ascii", newline="") as out:
        out.write("t,ax,ay,az\n")
        for t_s, acc_g in parts:
            if t_s.shape[0] == 0:
                continue
            if t0_s is None:
                t0_s = float(t_s[0])
            np.savetxt(out, np.column_stack([t_s - t0_s, acc_g]), fmt="%.4f", delimiter=",")
            written += t_s.shape[0]
    return written


def write_truth_json(truth: Iterable[Segment], path: Path | str) -> None:
    """Write the ground truth as JSON labels like the sidecars of ``../shared/data``.

    The file holds ``{"label_type": "posture", "labels": [{start_s, end_s, label,
    activity}]}`` where ``label`` is the posture the analysis should report; the
    segments of a programme exercise also name it (``exercise``, a programme id).
    """
    labels = []
    for seg in truth:
        label = {"start_s": seg.start_s, "end_s": seg.end_s, "label": str(seg.posture), "activity": str(seg.activity)}
        if seg.exercise is not None:
            label["exercise"] = str(seg.exercise.exercise)
        labels.append(label)
    Path(path).write_text(json.dumps({"label_type": "posture", "labels": labels}, indent=1) + "\n", encoding="utf-8")
