"""``python -m bench.percall``: the CPU cost of ``Analyzer.update`` per packet by packets per call.

Four simulated thigh wearers (``bench.worker.packet_streams``, 480 packets of 25 samples
each, 4 minutes) are fed to fresh analysers (posture only) one wearer after the other,
1, 2, 4, 8 and 16 packets to a call. The cost per packet falls with the packets per
call as far as each call pays a fixed cost: with one packet a call (the live worker's
usual case) it is the fixed cost plus the work per packet. Each figure is the least of
``--repeat`` runs (other work on the machine only ever adds to it).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from numpy.typing import NDArray

from analysis import AnalysisSettings, Analyzer, Placement
from bench.worker import packet_streams
from ingest.codec import decode

__all__ = ["cost_per_packet", "decoded_streams", "main"]


Packet = tuple[NDArray[np.float64], NDArray[np.float64]]


def _joined(part: list[Packet]) -> Packet:
    """The times and accelerations of consecutive packets as one call's input (joined before timing)."""
    return np.concatenate([p[0] for p in part]), np.concatenate([p[1] for p in part])


def decoded_streams(streams: int = 4, packets: int = 480) -> list[list[Packet]]:
    """Simulated thigh wearers (``bench.worker.packet_streams``), each a list of decoded packets of 25 samples."""
    return [[(b.times_s(), b.acc_g()) for b in map(decode, s)] for s in packet_streams(streams, packets)]


def cost_per_packet(decoded: list[list[Packet]], group: int = 1, *, repeat: int = 3) -> float:
    """CPU microseconds per packet of ``Analyzer.update`` fed ``group`` packets a call, the least of ``repeat`` runs.

    With ``group`` 1 this is also ``bench.fleet``'s yardstick of the machine's speed at
    the time (``machine_us_per_packet``): the same code costs more on a slower day.

    Args:
        decoded: The wearers' packets (:func:`decoded_streams`), fed one wearer after the other.
        group: Packets per call.
        repeat: Runs; the least is returned (other work only ever adds to a run).
    """
    calls = [[_joined(stream[i : i + group]) for i in range(0, len(stream), group)] for stream in decoded]
    best = math.inf
    for _ in range(repeat):
        start = time.process_time()
        for stream_calls in calls:
            analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
            for t_s, acc_g in stream_calls:
                analyzer.update(t_s, acc_g)
        best = min(best, time.process_time() - start)
    return best / sum(len(stream) for stream in decoded) * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the CPU time per packet for each number of packets per call."""
    parser = argparse.ArgumentParser(prog="python -m bench.percall", description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="packets per call")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the least is reported")
    args = parser.parse_args(argv)
    decoded = decoded_streams()
    for group in args.groups:
        us = cost_per_packet(decoded, group, repeat=args.repeat)
        print(f"{group} packet(s) per call: {us:.0f} µs CPU per packet (least of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
