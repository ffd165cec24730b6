"""``sitless broker``: the embedded broker (:mod:`ingest.broker`) from the command line.

``sitless broker`` runs it until SIGINT or SIGTERM and says where the services, the
wearables and a user's own MQTT client find their logins. ``sitless broker
--mosquitto-config DIR`` instead writes a mosquitto configuration with logins,
per-device ACLs and TLS into DIR (:mod:`ingest.broker_setup`), says how to use it,
and exits.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from pathlib import Path

from ingest.broker import DEFAULT_DATA_DIR, LOGINS_DIR, BrokerEngine, BrokerProcess
from ingest.broker_setup import SERVICE_USERS, TlsFiles, reader_command, write_broker_setup
from ingest.errors import BrokerFolderError, IngestError
from ingest.mqtt import DEFAULT_PORT, BrokerAddress, url_host
from ingest.signals import stop_on_signals

__all__ = ["register", "run", "tls_files"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``broker`` subcommand."""
    p = sub.add_parser("broker", help="run the embedded MQTT broker (mosquitto when installed, else amqtt)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument(
        "--engine",
        choices=[str(e) for e in BrokerEngine],
        default=str(BrokerEngine.AUTO),
        help="broker to run: mosquitto when installed, else amqtt (auto, the default), or either",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder of the broker's logins ({LOGINS_DIR}/) and of mosquitto's sessions (default {DEFAULT_DATA_DIR})",
    )
    p.add_argument(
        "--anonymous",
        action="store_true",
        help="let any client in, with no logins or ACLs (only on a machine no one else uses)",
    )
    tls = p.add_argument_group(
        "TLS", "Speak TLS (mqtts://) with this certificate: all three are needed, here and with --mosquitto-config."
    )
    tls.add_argument("--tls-cert", type=Path, metavar="PEM", help="the broker's certificate (with --tls-key)")
    tls.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key")
    tls.add_argument("--tls-ca", type=Path, metavar="PEM", help="the CA that signed it (clients verify with it)")
    setup = p.add_argument_group(
        "a mosquitto of your own",
        "Write a mosquitto configuration with logins, per-device ACLs and TLS into DIR, "
        "print how to use it, and exit (ingest/broker_setup.py).",
    )
    setup.add_argument("--mosquitto-config", type=Path, metavar="DIR", help="write the configuration into DIR")
    setup.add_argument("--force", action="store_true", help="replace a configuration already in DIR")
    p.set_defaults(func=run)


def tls_files(args: argparse.Namespace) -> TlsFiles | None:
    """The TLS files given on the command line (``--tls-cert``, ``--tls-key``, ``--tls-ca``); None when none is.

    Raises:
        ValueError: Only some of the three are given.
    """
    given = [args.tls_cert, args.tls_key, args.tls_ca]
    if any(given) and not all(given):
        raise ValueError("TLS needs all three of --tls-cert, --tls-key and --tls-ca")
    return TlsFiles(args.tls_cert, args.tls_key, args.tls_ca) if all(given) else None


def _write_setup(args: argparse.Namespace, tls: TlsFiles | None) -> int:
    """``--mosquitto-config DIR``: write the secured configuration and say how to use it."""
    port = args.port if args.port != DEFAULT_PORT or tls is None else None
    try:
        setup = write_broker_setup(args.mosquitto_config, host=args.host, port=port, tls=tls, force=args.force)
    except BrokerFolderError as err:
        print(f"sitless broker: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # FileExistsError: a configuration is there already, and its message says so
        why = str(err) if err.strerror is None else f"{err.filename}: {err.strerror}"
        print(f"sitless broker: cannot write the configuration into {args.mosquitto_config}: {why}", file=sys.stderr)
        return 1
    scheme, port_used = ("mqtts", port or 8883) if tls else ("mqtt", port or DEFAULT_PORT)
    folder = args.mosquitto_config.resolve()
    ca = f" SITLESS_MQTT_CA_FILE={args.tls_ca.resolve()}" if tls else ""
    print(f"sitless broker: wrote {setup.config}, {setup.acl} and {setup.passwd}")
    print(f"  start it:     mosquitto -c {setup.config}")
    print(
        f"  each service: SITLESS_MQTT_PASSWORD_FILE={folder}/secrets/worker.password{ca} "
        f"sitless worker --broker {scheme}://worker@{url_host(args.host)}:{port_used}"
        "   (likewise recorder, gateway, dashboard)"
    )
    print(f"  a wearable:   mosquitto_passwd {setup.passwd} DEVICE_ID   (it logs in with its device id)")
    print(f"  read events:  {reader_command(args.host, port_used, setup.secrets['reader'], cafile=args.tls_ca)}")
    if tls is None:
        print("  (no TLS: passwords travel in clear text; give --tls-cert, --tls-key and --tls-ca beyond this machine)")
    return 0


def _print_logins(broker: BrokerProcess) -> None:
    """Say where the services, the wearables and a user's own MQTT client find their logins."""
    assert broker.logins is not None
    secrets, host, port = broker.logins.folder / "secrets", broker.address.host, broker.address.port
    cafile = None if broker.tls is None else broker.tls.cafile
    worker = BrokerAddress(host, port, "worker", tls=broker.address.tls, mqtt5=broker.address.mqtt5)
    ca = "" if cafile is None else f" SITLESS_MQTT_CA_FILE={cafile.resolve()}"
    print(f"  logins:       {broker.logins.folder} (no anonymous clients; {', '.join(SERVICE_USERS)})")
    print(
        f"  each service: SITLESS_MQTT_PASSWORD_FILE={secrets}/worker.password{ca} "
        f"sitless worker --broker {shlex.quote(worker.url)}   (likewise recorder, gateway, dashboard)"
    )
    print(f"  a wearable:   mosquitto_passwd {broker.logins.passwd} DEVICE_ID, then restart the broker")
    print(f"  read events:  {reader_command(host, port, broker.logins.secret('reader'), cafile=cafile)}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the broker until SIGINT or SIGTERM (or write a configuration); return the exit status."""
    try:
        tls = tls_files(args)
    except ValueError as err:
        print(f"sitless broker: {err}", file=sys.stderr)
        return 2
    args.host = args.host.removeprefix("[").removesuffix("]")  # [::1] as in a URL: the address ::1
    if args.mosquitto_config is not None:
        return _write_setup(args, tls)
    stop = threading.Event()
    try:
        with stop_on_signals(stop.set):
            broker = BrokerProcess(
                BrokerAddress(args.host, args.port),
                engine=args.engine,
                data_dir=args.data_dir,
                open_access=args.anonymous,
                tls=tls,
            )
            with broker:
                kept = (
                    f", sessions kept in {broker.data_dir}"
                    if broker.engine is BrokerEngine.MOSQUITTO
                    else ", sessions in memory only (lost when it stops)"
                )
                print(f"sitless broker: {broker.engine} on {broker.address.url}{kept}; Ctrl-C stops", flush=True)
                if broker.logins is None:
                    print("sitless broker: anyone may log in and publish anything (--anonymous)", flush=True)
                else:
                    _print_logins(broker)
                while not stop.wait(0.5):
                    if not broker.running:
                        print("sitless broker: the broker exited", file=sys.stderr)  # stop() logs why
                        return 1
    except (RuntimeError, IngestError, ValueError) as err:  # no mosquitto, a broken data folder, a bad address
        print(f"sitless broker: {err}", file=sys.stderr)
        return 1
    return 0
