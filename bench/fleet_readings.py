"""What a fleet run reads from its services while it runs: latencies, worker metrics, stored samples.

``Latencies`` polls the ages of the worker's saved live statuses in the SQLite store,
``worker_readings`` takes a worker's sample-age histogram and MQTT client CPU time from
its Prometheus metrics, and ``stored_samples`` counts the fleet's samples the recorder
stored.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Latencies", "stored_samples", "worker_readings"]


class Latencies:
    """Polls the worker's saved live statuses and collects ``updated_s - t_s``."""

    def __init__(self, db: Path, since_s: float, every_s: float = 0.5) -> None:
        self._db = db
        self._since_s = since_s
        self._every_s = every_s
        self._seen_s = 0.0
        self.values: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="latency-poll", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._read()

    def _poll(self) -> None:
        while not self._stop.wait(self._every_s):
            self._read()

    def _read(self) -> None:
        query = (
            "SELECT updated_s, json_extract(status, '$.t_s') FROM worker_status "
            "WHERE updated_s > ? AND device_id LIKE 'fleet-%'"
        )
        with contextlib.closing(sqlite3.connect(f"file:{self._db}?mode=ro", uri=True, timeout=5)) as conn:
            rows = conn.execute(query, (max(self._seen_s, self._since_s),)).fetchall()
        for updated_s, t_s in rows:
            if t_s is not None:
                self.values.append(updated_s - t_s)
            self._seen_s = max(self._seen_s, updated_s)


def worker_readings(port: int) -> tuple[dict[float, float], float]:
    """A worker's ``sitless_sample_age_seconds`` (cumulative counts by upper bound) and MQTT client CPU seconds."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    ages: dict[float, float] = {}
    mqtt_cpu_s = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if family.name == "sitless_sample_age_seconds" and sample.name.endswith("_bucket"):
                ages[float(sample.labels["le"])] = sample.value
            elif sample.name == "sitless_mqtt_client_cpu_seconds_total":
                mqtt_cpu_s = sample.value
    return ages, mqtt_cpu_s


def stored_samples(db: Path) -> int:
    """Samples of the fleet's wearers the recorder stored in the SQLite store ``db``."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        (n,) = conn.execute("SELECT coalesce(sum(n), 0) FROM batches WHERE device_id LIKE 'fleet-%'").fetchone()
    return int(n)
