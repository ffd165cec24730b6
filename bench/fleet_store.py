"""The store's write rate: how fast a store takes the recorder's packet inserts alone.

``store_write_rate`` is behind ``python -m bench.fleet --store-rate URL``, for sizing a
PostgreSQL (or SQLite) store without a broker, workers or a fleet.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.fleet_result import PACKET_SAMPLES, RATE_HZ
from ingest.store import Store

__all__ = ["store_write_rate"]


def store_write_rate(store_url: str, wearers: int = 1000, rounds: int = 20, batch: int = 500) -> dict[str, Any]:
    """How fast a store takes raw packets as the recorder writes them, for sizing the database.

    ``wearers * rounds`` real 25-sample packets (ids ``storebench-NNNNN``, deleted first)
    go to :meth:`ingest.store.Store.add_batches` in transactions of ``batch`` (the
    recorder's most per flush), interleaved one packet per wearer per round as live.

    Returns:
        ``packets_per_s`` and ``wearers_at_50hz`` (packets per second over 2), with the
        sizes, the CPU seconds of this process and the load average.
    """
    import numpy as np

    from ingest.codec import Batch, encode
    from ingest.store import BatchRow

    acc = np.zeros((PACKET_SAMPLES, 3), np.int16)
    payload = encode(Batch(0, 0.0, RATE_HZ, 1 / 4096, acc))
    ids = [f"storebench-{w:05d}" for w in range(wearers)]
    rows = [
        BatchRow(ids[w], r, 1.7e9 + r * PACKET_SAMPLES / RATE_HZ, PACKET_SAMPLES, RATE_HZ, payload)
        for r in range(rounds)
        for w in range(wearers)
    ]
    load_avg = os.getloadavg()
    with Store(store_url) as store:
        for device_id in ids:
            store.delete_device(device_id)
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(0, len(rows), batch):
            store.add_batches(rows[i : i + batch])
        wall_s = time.perf_counter() - w0
        cpu_s = time.process_time() - c0
        for device_id in ids:
            store.delete_device(device_id)
    rate = len(rows) / wall_s
    return {
        "store": store_url.split(":", 1)[0],
        "packets": len(rows),
        "batch": batch,
        "wall_s": round(wall_s, 3),
        "client_cpu_s": round(cpu_s, 3),
        "packets_per_s": round(rate),
        "wearers_at_50hz": round(rate / 2),
        "load_avg": [round(x, 2) for x in load_avg],
    }
