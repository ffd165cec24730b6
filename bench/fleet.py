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
- **the machine's speed**, before the services start: the CPU time per packet of the
  posture analysis fed one packet a call (``bench.percall.cost_per_packet``, JSON
  ``machine_us_per_packet``). The shared machine runs the same code up to 1.5 times
  slower on some days than on others; runs of different days compare by it.
- ``--store-rate URL`` instead times the recorder's inserts alone
  (:func:`bench.fleet_store.store_write_rate`), for sizing a PostgreSQL store.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.fleet_meter import Meter, ProcCost, child_pid, reap
from bench.fleet_readings import Latencies, stored_samples, worker_readings
from bench.fleet_report import run_line, run_summary
from bench.fleet_result import PACKET_SAMPLES, FleetRun, step_result
from bench.fleet_services import services, sitless
from bench.fleet_store import store_write_rate
from bench.percall import cost_per_packet, decoded_streams
from firmware_sim.scenarios import scenario_names
from ingest.broker import BrokerEngine, BrokerProcess, free_port
from ingest.mqtt import BrokerAddress
from ingest.store import Store
from ingest.worker.settings import SUBSCRIBE_MODES

__all__ = ["FleetRun", "ProcCost", "main", "run_fleet"]


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
    subscribe: str = "all",
    recorders: int = 1,
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
        subscribe: The workers' ``--subscribe``: ``all`` (every packet to every worker)
            or ``held`` (each packet to the worker holding its device).
        recorders: Recorder processes; more than one share the packets through a shared
            subscription (``sitless recorder --share-group``).

    Returns:
        The measurements.

    Raises:
        RuntimeError: A service did not start, or the fleet failed.
    """
    load_avg = os.getloadavg()
    machine_us = cost_per_packet(decoded_streams(packets=240), 1, repeat=5)  # before any service: the machine now
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
        options += ["--subscribe", subscribe, *([] if gather_s is None else ["--gather-s", str(gather_s)])]
        procs, ports = stack.enter_context(services(folder, address, store_url, workers, options, recorders=recorders))
        worker_ports = [port for name, port in ports.items() if name.startswith("worker")]
        broker_pid = child_pid("mosquitto")
        argv = sitless(
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
        meter = Meter(pids)
        latencies = Latencies(db, since_s=fleet_start_s + warmup_s)
        latencies.start()
        time.sleep(min(warmup_s, duration_s / speed / 2))
        meter.mark()
        readings0 = [worker_readings(port) for port in worker_ports]
        assert fleet.stdout is not None
        with fleet.stdout:
            out = fleet.stdout.read()  # until the fleet ends
        window_s, costs = meter.read()
        ages: dict[float, float] = {}
        mqtt_cpu_s = 0.0
        for port, (ages_before, mqtt_before_s) in zip(worker_ports, readings0, strict=True):
            ages_after, mqtt_after_s = worker_readings(port)
            for bound, n in ages_after.items():
                ages[bound] = ages.get(bound, 0.0) + n - ages_before.get(bound, 0.0)
            mqtt_cpu_s += mqtt_after_s - mqtt_before_s
        costs.append(reap(fleet, time.time() - fleet_start_s))
        latencies.stop()
        if fleet.returncode not in (0, 1):
            raise RuntimeError(f"the fleet exited with {fleet.returncode}: see {folder / 'fleet.log'}")
        stats = json.loads(out.decode().strip().splitlines()[-1])
        deadline = time.monotonic() + settle_s
        while (stored := stored_samples(db)) < stats["samples_sent"] and time.monotonic() < deadline:
            time.sleep(0.2)
        with Store(store_url) as store:
            counters = store.counters("recorder")
        duplicates = sum(n for (_service, _device, name), n in counters.items() if name == "duplicates")
    return step_result(
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
        subscribe=subscribe,
        recorders=recorders,
        machine_us_per_packet=machine_us,
    )


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
        "--subscribe",
        choices=SUBSCRIBE_MODES,
        default="all",
        help="the workers' --subscribe: all (every packet to every worker, the default) or held (each packet to"
        " the worker holding its device)",
    )
    parser.add_argument(
        "--recorders",
        type=int,
        default=1,
        help="recorder processes; more than one share the packets (sitless recorder --share-group)",
    )
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
    if args.wearers < 1 or args.workers < 1 or args.recorders < 1 or args.duration <= 0 or args.ramp_factor <= 1:
        parser.error("--wearers, --workers, --recorders and --duration must be > 0, --ramp-factor > 1")
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
            subscribe=args.subscribe,
            recorders=args.recorders,
        )
        runs.append(run)
        print(run_line(run), flush=True)
        if not args.ramp or not run.sustained or wearers >= args.max_wearers:
            break
        wearers = min(args.max_wearers, max(wearers + 1, round(wearers * args.ramp_factor)))
    sustained = [r for r in runs if r.sustained]
    best = sustained[-1] if sustained else runs[-1]
    summary = run_summary(best)
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
