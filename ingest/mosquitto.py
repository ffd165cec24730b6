"""The embedded broker's mosquitto configuration: durable sessions, deliberate queue limits.

When mosquitto is installed the embedded broker (:class:`ingest.broker.BrokerProcess`)
runs it with a configuration sitless writes itself into the broker's data folder. Unlike
amqtt, mosquitto keeps the QoS 1 messages in flight to a client whose connection drops
and delivers them again when it comes back, and with persistence on it writes its
sessions (subscriptions, queued and in-flight QoS 1 messages of ``clean_session=False``
clients, retained messages) to a file: at each autosave and when stopped with SIGTERM.
A broker restarted on the same data folder and port reads that file back. A broker
killed outright (SIGKILL, power cut) comes back with its last autosave: what it
acknowledged since is gone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.mqtt import BrokerAddress

if TYPE_CHECKING:  # ingest.broker_setup imports this module
    from ingest.broker_setup import Logins, TlsFiles

__all__ = [
    "AUTOSAVE_INTERVAL_S",
    "MAX_INFLIGHT_MESSAGES",
    "MAX_PACKET_SIZE",
    "MAX_QUEUED_BYTES",
    "MAX_QUEUED_MESSAGES",
    "config_path",
    "find_mosquitto",
    "log_path",
    "mosquitto_config",
    "persistence_path",
    "queue_and_log_lines",
]

# Seconds between two saves of the sessions: the most a broker killed outright can lose.
# A save rewrites the whole file in mosquitto's one thread (measured with mosquitto 2.0.11:
# 65,759 queued packets, a 16.7 MB file, in 0.15 s), so a recorder away for long makes
# frequent saves costly; 5 s is 10 packets of one wearer, against mosquitto's default 30 min.
AUTOSAVE_INTERVAL_S = 5
# Per-client queue of a client that is away or slow. The default of 1,000 drops QoS 1
# bursts to a slow subscriber (STACK.md). One wearer sends 2 packets/s (25 samples at
# 50 Hz), so a million is 5.8 days of one wearer or 83 min of a hundred.
MAX_QUEUED_MESSAGES = 1_000_000
# The same queue in payload bytes: a million IMU packets of 178 bytes is 170 MiB.
MAX_QUEUED_BYTES = 256 * 2**20
# QoS 1 messages sent to one client and not yet acknowledged. The recorder acknowledges
# a batch once it is stored, so this is also the most one of its store writes takes.
MAX_INFLIGHT_MESSAGES = 100
# The largest MQTT packet any client may send; a client that sends a larger one is
# disconnected (mosquitto.conf(5), max_packet_size). sitless's largest messages are a
# packet of 1,024 samples with gyro (12,316 bytes) and a JSON payload of 64 KiB, so a
# quarter of a MiB leaves room for the topic and headers while a single message can no
# longer take a queue's whole ``MAX_QUEUED_BYTES`` from the others.
MAX_PACKET_SIZE = 256 * 2**10

_SYSTEM_MOSQUITTO = Path("/usr/sbin/mosquitto")  # Debian's; /usr/sbin is not on every PATH


def find_mosquitto() -> Path | None:
    """The mosquitto executable: on ``PATH``, else Debian's ``/usr/sbin/mosquitto``, else None."""
    found = shutil.which("mosquitto")
    if found is not None:
        return Path(found)
    return _SYSTEM_MOSQUITTO if os.access(_SYSTEM_MOSQUITTO, os.X_OK) else None


def persistence_path(data_dir: Path, port: int) -> Path:
    """The sessions file of the broker on ``port``: one per port, so brokers never share one."""
    return data_dir / f"mosquitto-{port}.db"


def config_path(data_dir: Path, port: int) -> Path:
    """Where the configuration of the broker on ``port`` is written (afresh at each start)."""
    return data_dir / f"mosquitto-{port}.conf"


def log_path(data_dir: Path, port: int) -> Path:
    """Where the broker on ``port`` logs (errors and warnings, emptied at each start)."""
    return data_dir / f"mosquitto-{port}.log"


def mosquitto_config(
    address: BrokerAddress,
    data_dir: Path,
    *,
    run_as_root: bool,
    logins: Logins | None = None,
    tls: TlsFiles | None = None,
) -> str:
    """The mosquitto configuration of the embedded broker.

    One TCP listener on the address, speaking TLS with ``tls``; with ``logins``, no
    anonymous clients, their password file and their ACL file (:mod:`ingest.broker_setup`),
    else anonymous access with no ACLs (tests that need an open broker); persistence in
    ``data_dir`` with an autosave every :data:`AUTOSAVE_INTERVAL_S`, and the queue limits
    above.

    Args:
        address: Where the broker listens.
        data_dir: The folder of the sessions file; must be absolute, since mosquitto
            reads it relative to wherever it was started.
        run_as_root: Add ``user root``: run as root, mosquitto otherwise drops to user
            ``mosquitto``, which cannot write a folder root made (STACK.md).
        logins: The logins and ACLs to enforce; None: let anyone in.
        tls: The listener's certificate, key and CA; None: plain TCP.

    Returns:
        The configuration file's text.

    Raises:
        ValueError: ``data_dir`` is relative or holds a line break.

    >>> print(mosquitto_config(BrokerAddress("127.0.0.1", 1883), Path("/srv/broker"), run_as_root=False))
    ... # doctest: +ELLIPSIS
    # Written by sitless at each start of its embedded broker; edits are overwritten.
    listener 1883 127.0.0.1
    allow_anonymous true
    persistence true
    persistence_location /srv/broker/
    persistence_file mosquitto-1883.db
    autosave_interval 5
    ...
    """
    if not data_dir.is_absolute():
        raise ValueError(f"the broker's data folder must be an absolute path, got {data_dir}")
    if "\n" in str(data_dir) or "\r" in str(data_dir):
        raise ValueError(f"the broker's data folder must not hold a line break: {data_dir!r}")
    lines = [
        "# Written by sitless at each start of its embedded broker; edits are overwritten.",
        f"listener {address.port} {address.host}",
        *(
            ["allow_anonymous true"]
            if logins is None
            else ["allow_anonymous false", f"password_file {logins.passwd}", f"acl_file {logins.acl}"]
        ),
        *(
            []
            if tls is None
            else [
                f"certfile {tls.certfile.resolve()}",
                f"keyfile {tls.keyfile.resolve()}",
                f"cafile {tls.cafile.resolve()}",
            ]
        ),
        "persistence true",
        f"persistence_location {data_dir}/",
        f"persistence_file {persistence_path(data_dir, address.port).name}",
        f"autosave_interval {AUTOSAVE_INTERVAL_S}",
        *queue_and_log_lines(),
    ]
    if run_as_root:
        lines.append("user root")
    return "\n".join(lines) + "\n"


def queue_and_log_lines() -> list[str]:
    """The queue and packet limits above, and errors and warnings logged to stderr: every sitless mosquitto's."""
    return [
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
        f"max_packet_size {MAX_PACKET_SIZE}",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
