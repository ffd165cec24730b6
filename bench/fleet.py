"""``python -m bench.fleet``: a fleet of simulated wearers through mosquitto, workers and a recorder.

Each run starts, in a temporary folder, an open mosquitto on a free localhost port
(``ingest.broker.BrokerProcess``), a SQLite store, a recorder and ``--workers`` K
``sitless worker`` processes (sharing the fleet through device leases when K > 1), then
plays ``sitless sim --fleet N`` (:mod:`firmware_sim.fleet`; each wearer from its own
point of ``--scenario``, ``all_postures`` by default) for ``--duration`` simulated
seconds, and measures:

- **latency**, from a sample to the worker's analysis of it: for every packet it
  analyses, the worker observes the time from the packet's newest sample (device
  clock) to the end of its analysis call (wall clock) in the histogram
  ``sitless_sample_age_seconds``. At speed 1 a fleet's device clock is the wall clock,
  and a packet is sent as its newest sample is taken, so this is the time from the
  wearable through the broker, the worker's queue and the gathering of a wearer's
  packets (``WorkerSettings.gather_s``) to the analysis, whose events go out at the
  same flush. The bench reads the workers' histograms as the measured window opens and
  as the fleet ends; the percentiles are the upper bounds of the 50-ms buckets they
  fall in, so they err high by up to 50 ms. Events themselves do not time the
  pipeline: an event's time is that of the posture change it reports, seconds before
  the bounded look-ahead confirms it. Also reported, as ``p99_status_age_s``: how old
  the newest analysed sample is in the live statuses the worker saves every second
  (``updated_s - t_s`` of ``worker_status``, read twice a second; this adds the time
  since the last analysis, up to a packet's 0.5 s or the gathering's). At other speeds
  neither is measured (null).
- **lost and duplicated samples**: the recorder stores every packet once on
  ``(device, seq)`` and counts redeliveries; samples stored are the ``n`` of every
  stored packet, lost is samples sent minus samples stored after the recorder has
  caught up (or given up after ``--settle`` seconds), duplicated is the recorder's
  duplicates count times 25.
- **CPU and memory** of each service (from ``/proc``): CPU seconds over the measured
  window (warm-up to the fleet's end), peak resident memory, and the workers' memory
  growth over their idle start, per wearer; the fleet's over its whole life
  (``os.wait4``: start-up and encoding its streams included).
- ``--store-rate URL`` instead times the recorder's inserts alone
  (:func:`store_write_rate`), for sizing a PostgreSQL store.

A step is *sustained* when the p99 latency is at most ``--max-p99`` (1 s), nothing was
lost and the fleet itself kept up with its clock (else the load generator, not the
worker, is the limit, and the run says so). ``--ramp`` runs steps of growing N
(``--ramp-factor``) until one is not sustained. The last line printed is one JSON
object; with ``--ramp`` it is the highest sustained step with every step in ``ramp``.

    python -m bench.fleet --wearers 200 --duration 60
    python -m bench.fleet --wearers 200 --duration 60 --ramp --ramp-factor 1.25
    python -m bench.fleet --wearers 400 --duration 60 --workers 2
    python -m bench.fleet --store-rate postgresql://USER@HOST/DB --wearers 1000

With K > 1 the workers share the fleet through device leases in the store (each device
analysed by one worker, every worker receiving every packet: docs/operations.md,
*Several workers*).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from firmware_sim.scenarios import scenario_names
from ingest.broker import BrokerEngine, BrokerProcess, free_port
from ingest.metrics import stat_cpu_s
from ingest.mqtt import BrokerAddress
from ingest.store import Store

__all__ = ["FleetRun", "ProcCost", "main", "run_fleet"]

RATE_HZ = 50.0
PACKET_SAMPLES = 25


@dataclass(frozen=True, slots=True)
class ProcCost:
    """What one process cost over the measured window.

    Attributes:
        name: Which process (``worker-1``, ``recorder``, ``fleet``, ``mosquitto``).
        cpu_s: User plus system CPU seconds over the window.
        cpu_share: ``cpu_s`` over the window's wall seconds (1.0 is one core).
        peak_rss_mib: Peak resident memory, MiB.
        start_rss_mib: Resident memory at the start of the window, MiB (None for the
            fleet, measured over its whole life).
    """

    name: str
    cpu_s: float
    cpu_share: float
    peak_rss_mib: float
    start_rss_mib: float | None


@dataclass(frozen=True, slots=True)
class FleetRun:
    """The result of one fleet run (one step of a ramp).

    Attributes:
        wearers: Simulated wearers.
        workers: Worker processes.
        rate_hz: Sample rate of every wearer.
        packet_samples: Samples per packet.
        duration_s: Simulated seconds played.
        speed: Simulated seconds per wall second.
        scenario: What the wearers do (``firmware_sim.scenarios``), each from its own point.
        p50_latency_s: Median sample-to-analysis latency (module docstring), s; None
            when not measured.
        p99_latency_s: Its 99th percentile.
        max_latency_s: Its maximum (the bucket's upper bound; ``inf`` past the last).
        latency_samples: Packets the percentiles come from.
        p99_status_age_s: 99th percentile of the newest analysed sample's age in the
            saved live statuses, s.
        samples_sent: Samples the fleet published.
        samples_stored: Samples the recorder stored.
        lost: ``samples_sent - samples_stored``.
        duplicated: Samples delivered to the recorder again (QoS 1 redeliveries).
        fleet_max_lag_s: Largest delay of the fleet behind its clock, s.
        sustained: Whether the step met the latency bound, lost nothing and the fleet
            kept pace.
        why: What failed, if anything.
        worker_cpu_s: CPU seconds of all workers over the window.
        worker_mqtt_cpu_s: The part of it their MQTT clients took
            (``sitless_mqtt_client_cpu_seconds``).
        worker_cpu_ms_per_wearer_s: Worker CPU milliseconds per wearer per second.
        wearers_per_worker_core: Wearers one worker core keeps up with, from that CPU
            time (``wearers * window / worker_cpu_s``).
        worker_mem_kib_per_wearer: Workers' memory growth over their idle start per wearer.
        window_s: Wall seconds of the measured window.
        load_avg: The 1, 5 and 15 minute load averages at the start.
        procs: Every process's cost.
    """

    wearers: int
    workers: int
    rate_hz: float
    packet_samples: int
    duration_s: float
    speed: float
    scenario: str
    p50_latency_s: float | None
    p99_latency_s: float | None
    max_latency_s: float | None
    latency_samples: int
    p99_status_age_s: float | None
    samples_sent: int
    samples_stored: int
    lost: int
    duplicated: int
    fleet_max_lag_s: float
    sustained: bool
    why: str
    worker_cpu_s: float
    worker_mqtt_cpu_s: float
    worker_cpu_ms_per_wearer_s: float
    wearers_per_worker_core: float
    worker_mem_kib_per_wearer: float
    window_s: float
    load_avg: tuple[float, float, float]
    procs: list[ProcCost] = field(default_factory=list)


# -- /proc --------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    return stat_cpu_s(Path(f"/proc/{pid}/stat"))


def _status_kib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return float("nan")


def _child_pid(name: str) -> int | None:
    """The pid of this process's child named ``name`` (mosquitto, which BrokerProcess starts)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            if comm == name and text.rsplit(")", 1)[1].split()[1] == me:
                return int(stat.parent.name)
    return None


class _Meter:
    """CPU and memory of a few processes from a start mark."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._cpu0: dict[str, float] = {}
        self._rss0: dict[str, float] = {}
        self._t0 = 0.0

    def mark(self) -> None:
        self._t0 = time.monotonic()
        for name, pid in self._pids.items():
            self._cpu0[name] = _cpu_s(pid)
            self._rss0[name] = _status_kib(pid, "VmRSS") / 1024

    def read(self) -> tuple[float, list[ProcCost]]:
        window_s = time.monotonic() - self._t0
        costs = []
        for name, pid in self._pids.items():
            cpu_s = _cpu_s(pid) - self._cpu0[name]
            costs.append(ProcCost(name, cpu_s, cpu_s / window_s, _status_kib(pid, "VmHWM") / 1024, self._rss0[name]))
        return window_s, costs


def _reap(proc: subprocess.Popen[bytes], wall_s: float) -> ProcCost:
    """Wait for a child and take its whole life's CPU time and peak memory (``os.wait4``)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_s = usage.ru_utime + usage.ru_stime
    return ProcCost("fleet", cpu_s, cpu_s / wall_s, usage.ru_maxrss / 1024, None)


# -- services -----------------------------------------------------------------------


def _sitless(*args: str) -> list[str]:
    return [sys.executable, "-m", "ingest.cli", *args]


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1.0) as answer,
        ):
            if json.loads(answer.read()).get("connected"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} did not report healthy within {timeout_s} s")


@contextlib.contextmanager
def _services(
    folder: Path, broker: BrokerAddress, store_url: str, workers: int, worker_options: Sequence[str] = ()
) -> Iterator[tuple[dict[str, subprocess.Popen[bytes]], dict[str, int]]]:
    """A recorder and ``workers`` workers, healthy (connected and subscribed) on return, with their metrics ports."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        names = ["recorder"] + [f"worker-{k}" for k in range(1, workers + 1)]
        ports: dict[str, int] = {}
        for name in names:
            ports[name] = port = free_port()
            cmd = name.split("-")[0]
            argv = _sitless(cmd, "--broker", broker.url, "--store", store_url, "--client-id", f"bench-{name}")
            argv += ["--metrics-port", str(port)]
            if cmd == "worker":
                argv += ["--worker-id", f"bench-{name}", *worker_options]
            with (folder / f"{name}.log").open("wb") as log:
                procs[name] = subprocess.Popen(argv, stdout=log, stderr=log)
        for name in names:
            _wait_healthy(ports[name], procs[name])
        time.sleep(0.3)  # health says connected; the SUBACK follows within a round trip
        yield procs, ports
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- store readings -----------------------------------------------------------------


class _Latencies:
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


def _worker_readings(port: int) -> tuple[dict[float, float], float]:
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


def _bucket_percentile(counts: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile of cumulative bucket counts (None if empty)."""
    bounds = sorted(counts)
    total = counts[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    return next(b for b in bounds if counts[b] >= q * total)


def _stored_samples(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        (n,) = conn.execute("SELECT coalesce(sum(n), 0) FROM batches WHERE device_id LIKE 'fleet-%'").fetchone()
    return int(n)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- one run ------------------------------------------------------------------------


def run_fleet(
    wearers: int,
    duration_s: float,
    *,
    workers: int = 1,
    speed: float = 1.0,
    warmup_s: float = 10.0,
    settle_s: float = 60.0,
    max_p99_s: float = 1.0,
    connections: int = 4,
    scenario: str = "all_postures",
    keep: Path | None = None,
    recognition: bool = True,
    gather_s: float | None = None,
    packet_samples: int = PACKET_SAMPLES,
) -> FleetRun:
    """Run one fleet through mosquitto, ``workers`` workers and a recorder (module docstring).

    Args:
        wearers: Simulated wearers.
        duration_s: Simulated seconds the fleet plays.
        workers: Worker processes (sharing the fleet through device leases when more than one).
        speed: Simulated seconds per wall second (latency is measured at 1 only).
        warmup_s: Wall seconds from the fleet's start left out of the measurements.
        settle_s: Most wall seconds to wait after the fleet for the recorder to catch up.
        max_p99_s: The latency bound of a sustained step, s.
        connections: MQTT connections of the fleet.
        scenario: What the fleet's wearers do.
        keep: Folder for the broker, store and logs (kept); None for a temporary one.
        recognition: Whether the workers look for exercise done unprompted (False:
            ``sitless worker --no-recognition``, to measure what the recogniser costs).
        gather_s: The workers' ``--gather-s`` (None: their default).
        packet_samples: Samples per packet the fleet sends (25: 0.5 s at 50 Hz).

    Returns:
        The measurements.

    Raises:
        RuntimeError: A service did not start, or the fleet failed.
    """
    load_avg = os.getloadavg()
    with contextlib.ExitStack() as stack:
        folder = keep if keep is not None else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleet-")))
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "store.sqlite"
        store_url = f"sqlite:///{db}"
        Store(store_url).close()  # made and migrated once, before two services race to do it
        address = BrokerAddress("127.0.0.1", free_port())
        stack.enter_context(
            BrokerProcess(address, engine=BrokerEngine.MOSQUITTO, data_dir=folder / "broker", open_access=True)
        )
        options = [] if recognition else ["--no-recognition"]
        if gather_s is not None:
            options += ["--gather-s", str(gather_s)]
        procs, ports = stack.enter_context(_services(folder, address, store_url, workers, options))
        worker_ports = [port for name, port in ports.items() if name.startswith("worker")]
        broker_pid = _child_pid("mosquitto")
        argv = _sitless(
            "sim",
            "--fleet",
            str(wearers),
            "--broker",
            address.url,
            "--scenario",
            scenario,
            "--duration",
            str(duration_s),
            "--speed",
            str(speed),
            "--connections",
            str(connections),
            "--packet-samples",
            str(packet_samples),
            "--json",
        )
        fleet_start_s = time.time()
        with (folder / "fleet.log").open("wb") as err:
            fleet = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        pids = {name: p.pid for name, p in procs.items()}
        if broker_pid is not None:
            pids["mosquitto"] = broker_pid
        meter = _Meter(pids)
        latencies = _Latencies(db, since_s=fleet_start_s + warmup_s)
        latencies.start()
        time.sleep(min(warmup_s, duration_s / speed / 2))
        meter.mark()
        readings0 = [_worker_readings(port) for port in worker_ports]
        assert fleet.stdout is not None
        with fleet.stdout:
            out = fleet.stdout.read()  # until the fleet ends
        window_s, costs = meter.read()
        ages: dict[float, float] = {}
        mqtt_cpu_s = 0.0
        for port, (ages_before, mqtt_before_s) in zip(worker_ports, readings0, strict=True):
            ages_after, mqtt_after_s = _worker_readings(port)
            for bound, n in ages_after.items():
                ages[bound] = ages.get(bound, 0.0) + n - ages_before.get(bound, 0.0)
            mqtt_cpu_s += mqtt_after_s - mqtt_before_s
        costs.append(_reap(fleet, time.time() - fleet_start_s))
        latencies.stop()
        if fleet.returncode not in (0, 1):
            raise RuntimeError(f"the fleet exited with {fleet.returncode}: see {folder / 'fleet.log'}")
        stats = json.loads(out.decode().strip().splitlines()[-1])
        deadline = time.monotonic() + settle_s
        while (stored := _stored_samples(db)) < stats["samples_sent"] and time.monotonic() < deadline:
            time.sleep(0.2)
        with Store(store_url) as store:
            counters = store.counters("recorder")
        duplicates = sum(n for (_service, _device, name), n in counters.items() if name == "duplicates")
    return _result(
        wearers=wearers,
        workers=workers,
        duration_s=duration_s,
        speed=speed,
        scenario=scenario,
        max_p99_s=max_p99_s,
        stats=stats,
        stored=stored,
        duplicates=duplicates,
        packet_samples=packet_samples,
        ages=ages,
        mqtt_cpu_s=mqtt_cpu_s,
        status_ages=latencies.values,
        window_s=window_s,
        costs=costs,
        load_avg=load_avg,
    )


def _result(
    *,
    wearers: int,
    workers: int,
    duration_s: float,
    speed: float,
    scenario: str,
    max_p99_s: float,
    stats: dict[str, Any],
    stored: int,
    duplicates: int,
    packet_samples: int,
    ages: dict[float, float],
    mqtt_cpu_s: float,
    status_ages: list[float],
    window_s: float,
    costs: list[ProcCost],
    load_avg: tuple[float, float, float],
) -> FleetRun:
    live = speed == 1.0
    p99 = _bucket_percentile(ages, 0.99) if live else None
    lost = stats["samples_sent"] - stored
    why = []
    if live and (p99 is None or p99 > max_p99_s):
        why.append(f"p99 latency {p99} s > {max_p99_s} s")
    if lost:
        why.append(f"{lost} samples lost")
    if stats["max_lag_s"] > 0.5:
        why.append(f"the fleet fell {stats['max_lag_s']:.1f} s behind its clock")
    worker_costs = [c for c in costs if c.name.startswith("worker")]
    worker_cpu_s = sum(c.cpu_s for c in worker_costs)
    growth_kib = sum(c.peak_rss_mib - (c.start_rss_mib or 0.0) for c in worker_costs) * 1024
    return FleetRun(
        wearers=wearers,
        workers=workers,
        rate_hz=RATE_HZ,
        packet_samples=packet_samples,
        duration_s=duration_s,
        speed=speed,
        scenario=scenario,
        p50_latency_s=_bucket_percentile(ages, 0.5) if live else None,
        p99_latency_s=p99,
        max_latency_s=_bucket_percentile(ages, 1.0) if live else None,
        latency_samples=round(max(ages.values(), default=0.0)) if live else 0,
        p99_status_age_s=_percentile(status_ages, 0.99) if live else None,
        samples_sent=stats["samples_sent"],
        samples_stored=stored,
        lost=lost,
        duplicated=duplicates * packet_samples,
        fleet_max_lag_s=stats["max_lag_s"],
        sustained=not why,
        why="; ".join(why),
        worker_cpu_s=worker_cpu_s,
        worker_mqtt_cpu_s=mqtt_cpu_s,
        worker_cpu_ms_per_wearer_s=1000 * worker_cpu_s / window_s / wearers,
        wearers_per_worker_core=wearers * window_s / worker_cpu_s if worker_cpu_s > 0 else float("inf"),
        worker_mem_kib_per_wearer=growth_kib / wearers,
        window_s=window_s,
        load_avg=load_avg,
        procs=costs,
    )


# -- the store's write rate -----------------------------------------------------------


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


# -- command line -------------------------------------------------------------------


def _line(r: FleetRun) -> str:
    p99 = "n/a" if r.p99_latency_s is None else f"{r.p99_latency_s:.2f} s"
    status_age = "n/a" if r.p99_status_age_s is None else f"p99 {r.p99_status_age_s:.3f} s"
    procs = ", ".join(f"{c.name} {c.cpu_share:.2f} core/{c.peak_rss_mib:.0f} MiB" for c in r.procs)
    verdict = "sustained" if r.sustained else f"NOT sustained ({r.why})"
    mqtt_share = f"{r.worker_mqtt_cpu_s / r.worker_cpu_s:.0%}" if r.worker_cpu_s > 0 else "n/a"
    return (
        f"{r.wearers} wearers, {r.workers} worker(s): p99 {p99} over {r.latency_samples} packets"
        f" (status age {status_age}), "
        f"sent {r.samples_sent}, stored {r.samples_stored}, lost {r.lost}, duplicated {r.duplicated}; "
        f"worker {r.worker_cpu_ms_per_wearer_s:.3f} ms CPU per wearer-second "
        f"({r.wearers_per_worker_core:.0f} wearers per worker core; MQTT client {mqtt_share}), "
        f"{r.worker_mem_kib_per_wearer:.0f} KiB per wearer; {procs}; load {r.load_avg[0]:.2f}: {verdict}"
    )


def _summary(r: FleetRun) -> dict[str, Any]:
    out = asdict(r)
    out["procs"] = {
        c["name"]: {k: None if v is None else round(v, 3) for k, v in c.items() if k != "name"} for c in out["procs"]
    }
    for key, value in out.items():
        if isinstance(value, float):
            out[key] = round(value, 4)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the fleet benchmark; print a line per step and one JSON line at the end."""
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.splitlines()[0])
    parser.add_argument("--wearers", type=int, default=200, help="wearers (the first step with --ramp)")
    parser.add_argument("--duration", type=float, default=60.0, help="simulated seconds per run (default 60)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated s per wall s; latency only at 1")
    parser.add_argument("--warmup", type=float, default=10.0, help="wall s left out at the start (default 10)")
    parser.add_argument("--settle", type=float, default=60.0, help="most s to wait for the recorder (default 60)")
    parser.add_argument("--max-p99", type=float, default=1.0, help="latency bound of a sustained step, s")
    parser.add_argument("--connections", type=int, default=4, help="MQTT connections of the fleet (default 4)")
    parser.add_argument("--ramp", action="store_true", help="grow the fleet until a step is not sustained")
    parser.add_argument("--ramp-factor", type=float, default=1.25, help="wearers of a step over the last (1.25)")
    parser.add_argument("--max-wearers", type=int, default=20_000, help="stop the ramp here")
    parser.add_argument("--keep", type=Path, help="keep the broker, store and logs of the (last) run here")
    parser.add_argument(
        "--no-recognition", action="store_true", help="workers leave out the recogniser of exercise done unprompted"
    )
    parser.add_argument("--gather-s", type=float, help="the workers' --gather-s (default: theirs)")
    parser.add_argument(
        "--scenario",
        choices=scenario_names(),
        default="all_postures",
        help="what the wearers do, each from its own point (default all_postures: a posture or exercise a minute or"
        " three; office_morning: mostly sitting)",
    )
    parser.add_argument(
        "--packet-samples", type=int, default=PACKET_SAMPLES, help="samples per packet the fleet sends (default 25)"
    )
    parser.add_argument(
        "--store-rate",
        metavar="URL",
        help="instead, time the recorder's packet inserts into this store (postgresql://...) for --wearers",
    )
    args = parser.parse_args(argv)
    if args.store_rate is not None:
        print(json.dumps(store_write_rate(args.store_rate, args.wearers)), flush=True)
        return 0
    if args.wearers < 1 or args.workers < 1 or args.duration <= 0 or args.ramp_factor <= 1:
        parser.error("--wearers, --workers and --duration must be > 0, --ramp-factor > 1")
    runs: list[FleetRun] = []
    wearers = args.wearers
    while True:
        run = run_fleet(
            wearers,
            args.duration,
            workers=args.workers,
            speed=args.speed,
            warmup_s=args.warmup,
            settle_s=args.settle,
            max_p99_s=args.max_p99,
            connections=args.connections,
            scenario=args.scenario,
            keep=None if args.keep is None else args.keep / f"{wearers}-wearers",
            recognition=not args.no_recognition,
            gather_s=args.gather_s,
            packet_samples=args.packet_samples,
        )
        runs.append(run)
        print(_line(run), flush=True)
        if not args.ramp or not run.sustained or wearers >= args.max_wearers:
            break
        wearers = min(args.max_wearers, max(wearers + 1, round(wearers * args.ramp_factor)))
    sustained = [r for r in runs if r.sustained]
    best = sustained[-1] if sustained else runs[-1]
    summary = _summary(best)
    if args.ramp:
        summary["highest_sustained_wearers"] = best.wearers if sustained else 0
        summary["highest_sustained_per_worker"] = round(best.wearers / best.workers) if sustained else 0
        summary["ramp"] = [
            {"wearers": r.wearers, "p99_latency_s": r.p99_latency_s, "lost": r.lost, "sustained": r.sustained}
            for r in runs
        ]
    print(json.dumps(summary), flush=True)
    return 0 if best.sustained else 1


if __name__ == "__main__":
    sys.exit(main())
