"""``sitless worker``: the analysis worker (:mod:`ingest.worker`) from the command line.

Its options: the service's (broker, store, client id), the placement assumed until a
device names one, the alert policy (``ingest.policy_args``), daily working hours and an
MQTT 5 shared-subscription group, the worker's id, lease time and hand-over pace for
several workers sharing a fleet (:mod:`ingest.ownership`), and each device's analysis
budget, which keeps a flooding device from starving the others (:mod:`ingest.worker`).
The wearer's own settings, chosen on the dashboard, replace the policy's limit and hours
for that wearer (``docs/protocol.md``, ``settings``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from analysis import Placement
from ingest.metrics import metrics_endpoint
from ingest.mqtt import BrokerAddress
from ingest.policy_args import add_policy_arguments, alert_policy, slouch_policy
from ingest.service import add_service_arguments, serve
from ingest.worker import Worker, WorkerSettings
from ingest.worker.settings import SUBSCRIBE_MODES

__all__ = ["local_utc_offset_h", "register", "run", "working_hours"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``worker`` subcommand."""
    p = sub.add_parser("worker", help="analyse every wearer live: postures, sitting bouts, alerts")
    defaults = WorkerSettings()
    add_service_arguments(p, client_id="sitless-worker")
    p.add_argument(
        "--placement",
        choices=[str(p) for p in Placement],
        default="thigh",
        help="placement assumed until a device's status names one (default thigh)",
    )
    add_policy_arguments(p)
    p.add_argument(
        "--working-hours",
        type=working_hours,
        metavar="START-END",
        help="raise alerts only between these local clock hours, e.g. 9-17 or 8:30-17:30 (default: any time)",
    )
    p.add_argument(
        "--share-group",
        help="MQTT 5 shared-subscription group (mosquitto, EMQX, HiveMQ); spreads packets, not devices:"
        " several workers share a fleet through leases instead (--lease-s)",
    )
    p.add_argument(
        "--worker-id",
        default="",
        help="the owner named in this worker's device leases (default: the client id and the host name)",
    )
    p.add_argument(
        "--subscribe",
        choices=SUBSCRIBE_MODES,
        default=defaults.subscribe,
        help="all: every device's packets, keeping those of devices other workers hold for a take-over;"
        " held: only those of the devices this worker holds, so that each packet goes to one worker"
        " (devices found through their retained status; every worker of a fleet alike; default all)",
    )
    p.add_argument(
        "--lease-s",
        type=float,
        default=10.0,
        help="seconds a device lease lasts unless renewed; a dead worker's devices move to another"
        " within about 4/3 of it (default 10)",
    )
    p.add_argument(
        "--standby-messages",
        type=int,
        default=240,
        help="most messages kept per device another worker holds, to take it over from: enough for"
        " 10 s of snapshots and 4/3 of a lease at the wearers' packet rate (default 240: 2 min at 50 Hz)",
    )
    p.add_argument(
        "--handover-after",
        type=int,
        default=defaults.handover_after,
        help="lease renewals in a row above its fair share before a worker hands devices over to the others"
        f" (default {defaults.handover_after})",
    )
    p.add_argument(
        "--handover-step",
        type=int,
        default=defaults.handover_step,
        help=f"most devices a worker hands over per lease renewal (default {defaults.handover_step})",
    )
    p.add_argument(
        "--handover-cooldown-leases",
        type=float,
        default=defaults.handover_cooldown_leases,
        help="leases a worker waits before it claims back a device it handed over"
        f" (default {defaults.handover_cooldown_leases:g})",
    )
    p.add_argument(
        "--flood-samples-per-s",
        type=float,
        default=defaults.flood_samples_per_s,
        help="each device's analysis budget in samples per second; a device sending faster, once its burst"
        " is spent, waits behind the others ('inf': no limit;"
        f" default {defaults.flood_samples_per_s:g}, 1,000x real time at 50 Hz)",
    )
    p.add_argument(
        "--flood-burst-samples",
        type=int,
        default=defaults.flood_burst_samples,
        help="samples a device may have analysed beyond that rate before it waits, e.g. a gateway catching up"
        f" (default {defaults.flood_burst_samples}: an hour at 50 Hz)",
    )
    p.add_argument(
        "--flood-max-deferred-samples",
        type=int,
        default=defaults.flood_max_deferred_samples,
        help="most samples of a device kept in memory while it waits; later ones are analysed from the store"
        f" (default {defaults.flood_max_deferred_samples}: 20 min at 50 Hz)",
    )
    p.add_argument(
        "--gather-s",
        type=float,
        default=defaults.gather_s,
        help="a device's packets are analysed together once they span this much of its stream: each packet's"
        " newest sample is analysed up to this much later, and the worker spends about 40%% less per packet"
        f" (0: every packet at once; default {defaults.gather_s:g})",
    )
    p.add_argument(
        "--no-recognition",
        action="store_true",
        help="do not look for programme exercise done without a guided session (saves the recogniser's CPU)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the worker until SIGINT or SIGTERM; 2 for option values out of range."""
    broker = BrokerAddress.parse(args.broker)  # a bad URL is the CLI's one-line error (status 1)
    try:
        policy = alert_policy(args, working_hours=args.working_hours, utc_offset_h=local_utc_offset_h())
        slouch = slouch_policy(args)
        settings = WorkerSettings(
            broker=broker,
            store_url=args.store,
            client_id=args.client_id,
            placement=Placement(args.placement),
            policy=policy,
            slouch=slouch,
            share_group=args.share_group,
            worker_id=args.worker_id,
            subscribe=args.subscribe,
            lease_s=args.lease_s,
            standby_messages=args.standby_messages,
            handover_after=args.handover_after,
            handover_step=args.handover_step,
            handover_cooldown_leases=args.handover_cooldown_leases,
            flood_samples_per_s=args.flood_samples_per_s,
            flood_burst_samples=args.flood_burst_samples,
            flood_max_deferred_samples=args.flood_max_deferred_samples,
            gather_s=args.gather_s,
            recognition=not args.no_recognition,
        )
    except ValueError as err:
        print(f"sitless worker: {err}", file=sys.stderr)
        return 2
    return serve(Worker(settings), metrics_endpoint(args))  # the worker saves every device's state as it closes


def working_hours(text: str) -> tuple[float, float]:
    """Parse ``START-END`` local clock hours (``9-17``, ``8:30-17:30``) into hours as floats.

    >>> working_hours("8:30-17")
    (8.5, 17.0)

    Raises:
        argparse.ArgumentTypeError: Not two clock times, or the same time twice.
    """

    def hour(part: str) -> float:
        hh, _, mm = part.strip().partition(":")
        h, m = int(hh), int(mm or 0)
        if not (0 <= h <= 24 and 0 <= m < 60 and h * 60 + m <= 24 * 60):
            raise ValueError(part)
        return h + m / 60.0

    try:
        start, end = (hour(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START-END clock hours such as 9-17 or 8:30-17:30, got {text!r}"
        ) from None
    if start == end or start >= 24.0:
        raise argparse.ArgumentTypeError(
            f"working hours must start before 24:00 and end at another hour, e.g. 9-17, got {text!r}"
        )
    return start, end


def local_utc_offset_h() -> float:
    """This machine's current offset from UTC in hours (its local time zone, now)."""
    offset = datetime.now().astimezone().utcoffset()
    return 0.0 if offset is None else offset.total_seconds() / 3600.0
