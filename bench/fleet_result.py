"""The result of one fleet run: ``FleetRun``, and ``step_result``, which judges a step.

``step_result`` turns a run's readings (the fleet's own figures, the samples stored, the
workers' latency histograms, the statuses' ages, the processes' costs) into a
``FleetRun`` with its percentiles, CPU and memory per wearer, and whether the step was
sustained. ``RATE_HZ`` and ``PACKET_SAMPLES`` are the fleet's sample rate and its
default samples per packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.fleet_meter import ProcCost

__all__ = ["PACKET_SAMPLES", "RATE_HZ", "FleetRun", "step_result"]

RATE_HZ = 50.0
PACKET_SAMPLES = 25


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
        p50_latency_s: Median sample-to-analysis latency (``bench.fleet``), s; None when
            not measured.
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
        machine_us_per_packet: The machine's speed just before the run: CPU microseconds
            per packet of the posture analysis fed one packet a call
            (``bench.percall.cost_per_packet``), to compare runs of other days by; None
            when not measured.
        subscribe: The workers' ``--subscribe`` (``all`` or ``held``).
        recorders: Recorder processes (more than one share the packets, ``--share-group``).
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
    machine_us_per_packet: float | None = None
    subscribe: str = "all"
    recorders: int = 1
    procs: list[ProcCost] = field(default_factory=list)


def _bucket_percentile(counts: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile of cumulative bucket counts (None if empty)."""
    bounds = sorted(counts)
    total = counts[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    return next(b for b in bounds if counts[b] >= q * total)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def step_result(
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
    machine_us_per_packet: float | None = None,
    subscribe: str = "all",
    recorders: int = 1,
) -> FleetRun:
    """One step's ``FleetRun`` from its readings, sustained or not by ``max_p99_s`` (``bench.fleet``)."""
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
        machine_us_per_packet=machine_us_per_packet,
        subscribe=subscribe,
        recorders=recorders,
        procs=costs,
    )
