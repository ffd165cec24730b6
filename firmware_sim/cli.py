"""The ``sitless sim`` command: run the simulated wearable (or a fleet of them), or write its samples to CSV."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from analysis.settings import Placement
from firmware_sim.params import MotionParams
from firmware_sim.recording import write_csv, write_truth_json
from firmware_sim.scenarios import Script, jitter, scenario, scenario_names, truth
from ingest.mqtt import DEFAULT_BROKER_URL
from ingest.signals import stop_on_signals

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sim`` subcommand to the ``sitless`` parser."""
    parser = sub.add_parser(
        "sim",
        help="run a simulated wearable that publishes a scripted office day",
        description=(
            "Play a scripted day of a simulated accelerometer wearable and publish its packets over "
            "MQTT like a real device (or write the samples to a CSV file with --csv). With --fleet N, "
            "N simulated wearers (fleet-00001...) publish from this one process over a few MQTT connections, "
            "for load tests (bench/fleet.py)."
        ),
    )
    parser.add_argument("--broker", default=DEFAULT_BROKER_URL, help="MQTT broker URL (default: %(default)s)")
    parser.add_argument("--device", default="sim-01", help="device id (default: %(default)s)")
    parser.add_argument(
        "--placement",
        default=Placement.THIGH.value,
        choices=[p.value for p in Placement],
        help="where the sensor is worn",
    )
    parser.add_argument("--scenario", default="office_morning", choices=scenario_names(), help="the scripted day")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per second (60 plays an hour in a minute)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the motion model (default: %(default)s)")
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="vary each step's duration by up to this fraction, from the seed (default: none)",
    )
    parser.add_argument("--loop", action="store_true", help="repeat the scenario until stopped")
    fleet = parser.add_argument_group("fleet (load tests)")
    fleet.add_argument(
        "--fleet",
        type=int,
        metavar="N",
        help="run N simulated wearers fleet-00001... sharing a few distinct motion streams, "
        "each from its own point of the scenario, on a loop (--device, --loop, --drop-prob, "
        "--seq-memory and --csv do not apply)",
    )
    fleet.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="with --fleet: simulated seconds to play (default: until stopped)",
    )
    fleet.add_argument(
        "--connections", type=int, default=4, help="with --fleet: MQTT connections shared by the wearers (default 4)"
    )
    fleet.add_argument(
        "--streams", type=int, default=8, help="with --fleet: distinct simulated wearers behind the fleet (default 8)"
    )
    fleet.add_argument(
        "--packet-samples",
        type=int,
        default=25,
        help="with --fleet: samples per packet (default 25: 0.5 s at 50 Hz, as the wearable sends)",
    )
    fleet.add_argument("--json", action="store_true", help="with --fleet: end with the counters as one JSON line")
    parser.add_argument(
        "--drop-prob",
        type=float,
        default=MotionParams().drop_prob,
        help="probability that a packet is lost (default: %(default)s)",
    )
    parser.add_argument(
        "--seq-memory",
        type=Path,
        metavar="FILE",
        help="the device's non-volatile packet counter, so numbers go on across runs"
        " (default: var/sim/<device>.seq.json)",
    )
    parser.add_argument("--start", metavar="ISO8601", help="device time of the first sample (default: now)")
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="OUT",
        help="write samples to this CSV (t,ax,ay,az) and the ground truth beside it instead of publishing",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sitless sim``; return the exit status."""
    try:
        script = scenario(args.scenario)
        if args.jitter:
            script = jitter(script, args.seed, args.jitter)
        params = MotionParams(drop_prob=args.drop_prob)
        start_s = _parse_start(args.start)
    except ValueError as err:
        print(f"sitless sim: {err}", file=sys.stderr)
        return 2
    placement = Placement(args.placement)
    if args.fleet is not None:
        return _publish_fleet(args, script, placement, start_s)
    if args.csv is not None:
        return _write_csv(script, placement, args.seed, params, args.csv)
    return _publish(args, script, placement, params, start_s)


def _parse_start(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--start must be an ISO 8601 time such as 2025-03-03T09:00:00+01:00, got {text!r}") from None
    return moment.timestamp()  # a naive time is local time


def _write_csv(script: Script, placement: Placement, seed: int, params: MotionParams, path: Path) -> int:
    from firmware_sim.motion import iter_chunks  # numpy-heavy: only for this path

    n = write_csv(iter_chunks(script, placement, seed, params=params), path)
    truth_path = path.with_suffix(".truth.json")
    write_truth_json(truth(script), truth_path)
    hours = script.duration_s / 3600
    print(f"wrote {n} samples ({hours:.2f} h of {script.name}) to {path}; truth in {truth_path}")
    return 0


def _publish(
    args: argparse.Namespace,
    script: Script,
    placement: Placement,
    params: MotionParams,
    start_s: float | None,
) -> int:
    from firmware_sim.device import Device, DeviceSettings  # paho only when publishing
    from ingest.errors import TopicError
    from ingest.mqtt import BrokerAddress

    try:
        settings = DeviceSettings(
            device_id=args.device,
            broker=BrokerAddress.parse(args.broker),
            placement=placement,
            speed=args.speed,
            seed=args.seed,
            loop=args.loop,
            start_s=start_s,
            params=params,
            seq_memory=args.seq_memory or Path("var/sim") / f"{args.device}.seq.json",
        )
    except (ValueError, TopicError) as err:
        print(f"sitless sim: {err}", file=sys.stderr)
        return 2
    device = Device(script, settings)
    log.info(
        "playing %s (%.2f h) as %s on %s at speed %g",
        script.name,
        script.duration_s / 3600,
        args.device,
        args.broker,
        args.speed,
    )
    try:
        with stop_on_signals(device.stop):  # Ctrl-C or SIGTERM: offline status, acks, then out
            stats = device.run()
    except (ConnectionError, ValueError) as err:
        print(f"sitless sim: {err}", file=sys.stderr)
        return 1
    print(
        f"{args.device}: {stats.packets_sent} packets sent, {stats.packets_dropped} dropped, "
        f"{stats.buzzes} buzzes received, {stats.unacked} unacknowledged"
    )
    return 0 if stats.unacked == 0 else 1


def _publish_fleet(args: argparse.Namespace, script: Script, placement: Placement, start_s: float | None) -> int:
    from firmware_sim.fleet import Fleet, FleetSettings  # paho and numpy only when publishing
    from ingest.errors import TopicError
    from ingest.mqtt import BrokerAddress

    try:
        settings = FleetSettings(
            wearers=args.fleet,
            broker=BrokerAddress.parse(args.broker),
            placement=placement,
            speed=args.speed,
            duration_s=args.duration,
            connections=args.connections,
            streams=args.streams,
            packet_samples=args.packet_samples,
            seed=args.seed,
            start_s=start_s,
        )
    except (ValueError, TopicError) as err:
        print(f"sitless sim: {err}", file=sys.stderr)
        return 2
    fleet = Fleet(script, settings)
    log.info("fleet of %d wearers playing %s on %s at speed %g", args.fleet, script.name, args.broker, args.speed)
    try:
        with stop_on_signals(fleet.stop):
            stats = fleet.run()
    except (ConnectionError, ValueError) as err:
        print(f"sitless sim: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(stats)), flush=True)
    else:
        print(
            f"fleet of {stats.wearers}: {stats.packets_sent} packets ({stats.samples_sent} samples) sent, "
            f"{stats.unacked} unacknowledged, at most {stats.max_lag_s:.2f} s behind the clock"
        )
    return 0 if stats.unacked == 0 else 1
