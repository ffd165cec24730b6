"""``python -m bench.percall``: the CPU cost of ``Analyzer.update`` per packet by packets per call.

Four simulated thigh wearers (``bench.worker.packet_streams``, 480 packets of 25 samples
each, 4 minutes) are fed to fresh analysers (posture only) one wearer after the other,
1, 2, 4, 8 and 16 packets to a call. The cost per packet falls with the packets per
call as far as each call pays a fixed cost: with one packet a call (the live worker's
usual case) it is the fixed cost plus the work per packet.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from analysis import AnalysisSettings, Analyzer, Placement
from bench.worker import packet_streams
from ingest.codec import decode

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Print the CPU time per packet for each number of packets per call."""
    parser = argparse.ArgumentParser(prog="python -m bench.percall", description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="packets per call")
    args = parser.parse_args(argv)
    streams = packet_streams(4, 480)
    packets = [[(b.times_s(), b.acc_g()) for b in map(decode, s)] for s in streams]
    for group in args.groups:
        start = time.process_time()
        n = 0
        for stream in packets:
            analyzer = Analyzer(AnalysisSettings(Placement.THIGH))
            for i in range(0, len(stream), group):
                part = stream[i : i + group]
                analyzer.update(np.concatenate([p[0] for p in part]), np.concatenate([p[1] for p in part]))
                n += len(part)
        print(f"{group} packet(s) per call: {(time.process_time() - start) / n * 1e6:.0f} µs CPU per packet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
