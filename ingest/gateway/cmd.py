"""``sitless gateway``: the BLE gateway (:mod:`ingest.gateway`) from the command line.

``sitless gateway --scan`` lists the sensors nearby that a profile recognises
(``ingest.profiles``). ``sitless gateway --device
ADDRESS[,profile=NAME][,id=ID][,placement=P][,rate=HZ]`` (repeatable) streams each
sensor until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

from bleak.exc import BleakError

from analysis.settings import Placement
from ingest.errors import IngestError, MetricsServerError
from ingest.gateway import Gateway, GatewaySettings, SensorSpec
from ingest.gateway.sensor import failure_text, scan
from ingest.metrics import MetricsServer, add_metrics_arguments, metrics_endpoint
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress
from ingest.profiles import PROFILES

__all__ = ["register", "run"]


def _sensor(text: str) -> SensorSpec:
    """One ``--device`` value: ``ADDRESS[,profile=NAME][,id=ID][,placement=P][,rate=HZ]``."""
    address, *options = text.split(",")
    fields: dict[str, Any] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key == "profile":
            fields["profile"] = value
        elif key == "id":
            fields["device_id"] = value
        elif key == "placement":
            fields["placement"] = Placement(value)
        elif key == "rate":
            fields["rate_hz"] = float(value)
        else:
            raise argparse.ArgumentTypeError(f"unknown option {key!r} in --device {text!r}")
    try:
        return SensorSpec(address.strip(), **fields)
    except (ValueError, IngestError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``gateway`` subcommand."""
    p = sub.add_parser(
        "gateway",
        help="stream real BLE sensors to the broker",
        description="List the BLE sensors sitless knows nearby (--scan), or stream them to the MQTT broker. "
        f"Profiles: {', '.join(sorted(PROFILES))}. docs/sensors.md says how to wear and set up each.",
    )
    p.add_argument("--scan", action="store_true", help="list the sensors nearby that a profile recognises, then exit")
    p.add_argument("--scan-s", type=float, default=10.0, help="how long to scan, s (default 10)")
    p.add_argument(
        "--device",
        type=_sensor,
        action="append",
        default=[],
        metavar="ADDRESS[,profile=NAME][,id=ID][,placement=P][,rate=HZ]",
        help="a sensor to stream (repeatable)",
    )
    p.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    p.add_argument("--data-dir", type=Path, default=Path("var/gateway"), help="outbox and sequence numbers")
    add_metrics_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan, or stream until SIGINT or SIGTERM."""
    if args.scan:
        try:
            rows = asyncio.run(scan(args.scan_s))
        except (BleakError, OSError) as err:
            print(f"sitless gateway: cannot scan: {failure_text(err)}", file=sys.stderr)
            return 1
        for address, name, rssi, profile in rows:
            print(f"{address}  {rssi:4d} dBm  {profile:10s}  {name or ''}")
        if not rows:
            print("no sensor sitless knows was found", file=sys.stderr)
        return 0
    try:
        gateway = Gateway(GatewaySettings(BrokerAddress.parse(args.broker), tuple(args.device), args.data_dir))
    except (ValueError, IngestError) as err:
        print(f"sitless gateway: {err}", file=sys.stderr)
        return 2

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, gateway.stop)
        await gateway.run()

    endpoint = metrics_endpoint(args)
    with contextlib.ExitStack() as stack:
        if endpoint is not None:
            try:
                stack.enter_context(MetricsServer(gateway.metrics, endpoint))
            except MetricsServerError:
                gateway.outbox.close()  # run(), which closes it, never runs
                raise
        asyncio.run(main())
    return 0
