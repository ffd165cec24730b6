"""What ``python -m bench.fleet`` prints of a run: one line per step and the final JSON summary.

``run_line`` says a step's latency, samples, CPU and memory and its verdict in one line;
``run_summary`` is the step as a JSON-ready dictionary, its floats rounded and its
processes keyed by name.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bench.fleet_result import FleetRun

__all__ = ["run_line", "run_summary"]


def run_line(r: FleetRun) -> str:
    """One step in one line: latency, samples, worker CPU and memory, every process, the verdict."""
    p99 = "n/a" if r.p99_latency_s is None else f"{r.p99_latency_s:.2f} s"
    status_age = "n/a" if r.p99_status_age_s is None else f"p99 {r.p99_status_age_s:.3f} s"
    procs = ", ".join(f"{c.name} {c.cpu_share:.2f} core/{c.peak_rss_mib:.0f} MiB" for c in r.procs)
    verdict = "sustained" if r.sustained else f"NOT sustained ({r.why})"
    mqtt_share = f"{r.worker_mqtt_cpu_s / r.worker_cpu_s:.0%}" if r.worker_cpu_s > 0 else "n/a"
    machine = "" if r.machine_us_per_packet is None else f", machine {r.machine_us_per_packet:.0f} µs a packet"
    return (
        f"{r.wearers} wearers, {r.workers} worker(s) subscribed to {r.subscribe}"
        f"{f', {r.recorders} recorders sharing' if r.recorders > 1 else ''}: p99 {p99}"
        f" over {r.latency_samples} packets"
        f" (status age {status_age}), "
        f"sent {r.samples_sent}, stored {r.samples_stored}, lost {r.lost}, duplicated {r.duplicated}; "
        f"worker {r.worker_cpu_ms_per_wearer_s:.3f} ms CPU per wearer-second "
        f"({r.wearers_per_worker_core:.0f} wearers per worker core; MQTT client {mqtt_share}), "
        f"{r.worker_mem_kib_per_wearer:.0f} KiB per wearer; {procs}; load {r.load_avg[0]:.2f}{machine}: {verdict}"
    )


def run_summary(r: FleetRun) -> dict[str, Any]:
    """The step for the JSON line: floats rounded, processes keyed by name."""
    out = asdict(r)
    out["procs"] = {
        c["name"]: {k: None if v is None else round(v, 3) for k, v in c.items() if k != "name"} for c in out["procs"]
    }
    for key, value in out.items():
        if isinstance(value, float):
            out[key] = round(value, 4)
    return out
