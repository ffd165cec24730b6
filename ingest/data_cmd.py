"""``sitless export``, ``delete``, ``prune`` and ``store-copy``: the data out of sitless, gone, kept a while, or moved.

- ``sitless export --device ID`` writes everything the store holds about one wearable
  into one ZIP file (:mod:`ingest.export`): its samples as CSV that ``sitless analyze``
  reads again, its events as JSON Lines, and its settings, status and counts. An
  existing file is kept unless ``--force`` is given; the archive is written whole or not
  at all (:mod:`ingest.outfile`), so a failed export leaves the old file and no part.
- ``sitless delete --device ID`` deletes it: first the status and settings the MQTT
  broker keeps retained for the device, so that no service stores them again, then every
  row of the store (:func:`ingest.actions.delete_device`, as the dashboard deletes).
  It asks to type the device id unless ``--yes`` is given; ``--no-broker`` deletes from
  the store alone. A sensor that still streams is stored again from then on: stop it first.
- ``sitless store-copy --from URL --to URL`` copies a whole store into another
  (:mod:`ingest.store.copier`): a SQLite file into PostgreSQL as an office grows.
- ``sitless prune --keep-days N`` deletes every wearable's raw packets stored more than N
  days ago that the analysis worker has analysed (``Store.prune_batches``): run daily, it
  keeps raw data for a limited time; events, settings and the analysis state stay.

The dashboard's Settings page, *Your data*, exports and deletes the wearable picked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from ingest.actions import delete_device
from ingest.errors import IngestError, StoreError
from ingest.export import ExportSummary, write_export
from ingest.mqtt import DEFAULT_BROKER_URL, BrokerAddress
from ingest.outfile import exists_message, write_file
from ingest.store import Store, add_store_argument, parse_store_url
from ingest.store.copier import check_source, copy_store
from ingest.topics import validate_device_id

__all__ = ["pick_device", "register"]


def pick_device(store_url: str, named: str | None) -> str:
    """The wearable a command is for: the one named, which the store must know, else the store's only one.

    Raises:
        ValueError: The name is no valid device id, or the store does not know it, or
            none is named and the store has not exactly one; the message lists the store's.
        IngestError: The store cannot be read.
    """
    if named is not None:
        validate_device_id(named)
    with Store(store_url, read_only=True) as store:
        known = sorted(store.devices())
        if named is not None and (named in known or store.max_seq(named) is not None):
            return named
    has = f"the store has: {', '.join(known) or 'none'}"
    if named is not None:
        raise ValueError(f"no device {named!r} in the store ({has})")
    if len(known) != 1:
        raise ValueError(f"name the device with --device ({has})")
    return known[0]


def _when(t_s: float | None) -> str:
    return "-" if t_s is None else dt.datetime.fromtimestamp(t_s, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _said(summary: ExportSummary) -> str:
    """What an export holds, in one line."""
    span = f" from {_when(summary.earliest_t_s)} to {_when(summary.latest_t_s)}" if summary.samples else ""
    gyro = f", {summary.gyro_samples:,} with angular rate" if summary.gyro_samples else ""
    missing = sum(z - a + 1 for a, z in summary.missing)
    lost = f"; {missing:,} sequence numbers missing between them (lost, or skipped by a restart)" if missing else ""
    return f"{summary.packets:,} packets, {summary.samples:,} samples{gyro}{span}, {summary.events:,} events{lost}"


def export(args: argparse.Namespace) -> int:
    """Run ``sitless export``."""
    try:
        device = pick_device(args.store, args.device)
        out: Path = args.out if args.out is not None else Path(f"sitless-{device}.zip")
        if out.is_dir():
            out = out / f"sitless-{device}.zip"
        if out.exists() and not args.force:
            raise OSError(exists_message(out))
        with Store(args.store, read_only=True) as store:
            summary = write_file(out, lambda f: write_export(store, device, f), replace=args.force)
    except (IngestError, ValueError, OSError) as err:
        print(f"sitless export: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {_said(summary)}")
    return 0


def _confirmed(device: str) -> bool:
    """Whether the user typed the device id at the prompt."""
    if not sys.stdin.isatty():
        print(f"sitless delete: add --yes to delete {device}'s data without being asked", file=sys.stderr)
        return False
    print(f"This deletes every stored packet, event, setting and status of {device}; it cannot be undone.")
    try:
        typed = input(f"Type {device} to confirm: ")
    except EOFError:
        typed = ""
    if typed.strip() != device:
        print("Nothing deleted.")
        return False
    return True


def delete(args: argparse.Namespace) -> int:
    """Run ``sitless delete``."""
    try:
        validate_device_id(args.device)
        broker = None if args.no_broker else BrokerAddress.parse(args.broker)
        with Store(args.store, read_only=True) as store:
            store.devices()  # a store that cannot be read fails here, before anything is asked or deleted
        if not args.yes and not _confirmed(args.device):
            return 1
        try:
            rows = delete_device(args.store, args.device, broker)
        except ConnectionError as err:
            raise ConnectionError(
                f"{err}; nothing deleted (add --no-broker to delete from the store alone, "
                "leaving the broker's retained status and settings)"
            ) from err
        except StoreError as err:
            if broker is None:
                raise
            raise StoreError(
                f"{err}; the broker's retained status and settings of {args.device} are deleted, nothing of the"
                " store: run the same command again, with --no-broker, to delete the stored data"
            ) from err
    except (IngestError, ValueError, ConnectionError) as err:
        print(f"sitless delete: {err}", file=sys.stderr)
        return 1
    where = "the store" if broker is None else "the store, and its retained messages from the broker"
    print(f"deleted {rows:,} rows of {args.device} from {where}")
    if rows == 0:
        print(f"(the store held nothing of {args.device})")
    return 0


def prune(args: argparse.Namespace) -> int:
    """Run ``sitless prune``."""
    try:
        if not args.keep_days >= 0:
            raise ValueError(f"--keep-days must be 0 or more, got {args.keep_days:g}")
        if not Store.exists(args.store):
            raise ValueError(f"no store at {args.store}: nothing to prune")
        with Store(args.store) as store:
            deleted = store.prune_batches(args.keep_days * 86_400.0)
    except (IngestError, ValueError) as err:
        print(f"sitless prune: {err}", file=sys.stderr)
        return 1
    print(
        f"deleted {deleted:,} raw packets stored more than {args.keep_days:g} days ago and already analysed; "
        "events, settings and the analysis state stay"
    )
    return 0


def store_copy(args: argparse.Namespace) -> int:
    """Run ``sitless store-copy``."""
    try:
        source, target = parse_store_url(args.source), parse_store_url(args.target)
        same = (
            source.path.resolve() == target.path.resolve()
            if source.path is not None and target.path is not None
            else source.url == target.url
        )
        if same:
            raise ValueError(f"--from and --to name the same store, {source}")
        if not Store.exists(args.source):
            raise ValueError(f"no store at {args.source}: nothing to copy")
        with Store(args.source, read_only=True) as reader:
            check_source(reader)  # before the target is made
            with Store(args.target) as writer:
                done = copy_store(reader, writer)
    except (IngestError, ValueError) as err:
        print(f"sitless store-copy: {err}", file=sys.stderr)
        return 1
    for table in done:
        kept = table.read - table.added
        note = f" ({kept:,} held already)" if kept else ""
        print(f"{table.table}: {table.added:,} of {table.read:,} rows copied{note}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``export``, ``delete``, ``prune`` and ``store-copy`` subcommands."""
    p = sub.add_parser(
        "export",
        help="write one wearable's data to a ZIP file: samples (CSV), events (JSON Lines), settings",
        description="Write everything the store holds about one wearable to one ZIP file: samples.csv "
        "(t, ax, ay, az: `sitless analyze` reads it), gyro.csv when the sensor sent angular rate, "
        "events.jsonl and wearer.json (status, settings, counts, what the samples cover).",
    )
    add_store_argument(p)
    p.add_argument("--device", help="the wearable (default: the only one in the store)")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="the ZIP file, or a folder for it (default sitless-DEVICE.zip)"
    )
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=export)
    p = sub.add_parser(
        "delete",
        help="delete everything of one wearable: the store's rows and the broker's retained messages",
        description="Delete every stored packet, event, setting and status of one wearable, and the status "
        "and settings the MQTT broker keeps retained for it. Stop the sensor first: data it still sends "
        "is stored again.",
    )
    add_store_argument(p)
    p.add_argument("--device", required=True, help="the wearable's device id")
    p.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    p.add_argument("--no-broker", action="store_true", help="delete from the store only; the broker keeps its own")
    p.add_argument("--yes", action="store_true", help="do not ask for the device id to confirm")
    p.set_defaults(func=delete)
    p = sub.add_parser(
        "prune",
        help="delete the raw packets stored more than --keep-days ago that the worker has analysed",
        description="Delete every wearable's raw packets stored more than --keep-days ago, once the analysis "
        "worker's saved state includes them; events, settings, statuses and counts stay. Run it daily "
        "(cron, a systemd timer) to keep raw data for a limited time.",
    )
    add_store_argument(p)
    p.add_argument("--keep-days", type=float, required=True, metavar="DAYS", help="days of raw packets to keep")
    p.set_defaults(func=prune)
    p = sub.add_parser(
        "store-copy",
        help="copy one store into another, e.g. a SQLite file into PostgreSQL",
        description="Copy the packets, events, analysis states, statuses, settings and counters of one store "
        "into another (created or migrated as needed). Stop the services first, and start them on the new "
        "store after. Rows the target holds already are kept: a copy cut short is run again.",
    )
    p.add_argument("--from", dest="source", required=True, metavar="URL", help="the store to copy")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="the store to copy into")
    p.set_defaults(func=store_copy)
