"""``python -m bench.ids``: the worker's memory while thousands of device ids come and go.

A client that publishes one packet under each of N new device ids (a fleet
powering on, or an attacker) makes the worker build N analyses. This measures the
worker's resident memory (RSS, from ``/proc/self/status``) after each thousand ids
with the given ``--max-wearers`` and idle eviction, so the bound can be read off:

    python -m bench.ids --ids 5000 --max-wearers 1000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ingest.codec import Batch, encode
from ingest.service import Message
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings

_T0_S = 1.7e9


def rss_mib() -> float:
    """This process's resident memory in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(ids: int, max_wearers: int, packets: int) -> list[tuple[int, float, int]]:
    """Feed ``packets`` packets under each of ``ids`` device ids; RSS after each 1,000.

    Returns:
        ``(ids so far, RSS MiB, devices in memory)`` rows.
    """
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    payloads = [encode(Batch(s, _T0_S + 0.5 * s, 50.0, 1 / 4096, acc)) for s in range(packets)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        worker = Worker(WorkerSettings(store_url=f"sqlite:///{folder}/ids.sqlite", max_wearers=max_wearers))
        for i in range(ids):
            worker.handle([Message(topic(f"id-{i}", Kind.IMU), p, 0, 1, 0.0) for p in payloads])
            if (i + 1) % 1000 == 0:
                rows.append((i + 1, rss_mib(), len(worker._wearers)))
        worker.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ids", description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=5000)
    parser.add_argument("--max-wearers", type=int, default=WorkerSettings().max_wearers)
    parser.add_argument("--packets", type=int, default=4, help="packets per id (default 4: 2 s)")
    args = parser.parse_args()
    print(f"RSS before: {rss_mib():.0f} MiB")
    print("| ids | RSS (MiB) | devices in memory |\n|---:|---:|---:|")
    for n, mib, held in run(args.ids, args.max_wearers, args.packets):
        print(f"| {n:,} | {mib:.0f} | {held:,} |")


if __name__ == "__main__":
    main()
