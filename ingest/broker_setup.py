"""A mosquitto set up for a shared network: logins, per-device ACLs, TLS, sessions kept, queues sized.

``sitless broker --mosquitto-config DIR`` writes, into ``DIR``:

- ``mosquitto.conf``: one listener (TLS when a certificate and key are given), no
  anonymous clients, the password and ACL files below, persistence in ``DIR/data`` and
  the queue limits of the embedded broker (:mod:`ingest.mosquitto`: mosquitto's default
  of 1,000 queued messages drops QoS 1 bursts to a slow subscriber);
- ``acl``: who may read and write what (:func:`acl_rules`);
- ``passwd``: a login for each sitless service (:data:`SERVICE_USERS`), with a random
  password, hashed as ``mosquitto_passwd`` does (:func:`password_line`), so that no
  password is ever on a command line;
- ``secrets/USER.password``: each service's password, readable by its owner only, for
  ``SITLESS_MQTT_PASSWORD_FILE`` (``ingest.mqtt``).

A wearable logs in with its device id as user name (add one with ``mosquitto_passwd
DIR/passwd DEVICE_ID``): it may publish only its own ``imu`` and ``status`` and read
only its own ``cmd``. mosquitto drops a publish the ACL does not allow (MQTT 3.1.1 has
no way to refuse one), so a device posing as another reaches nobody.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ingest.mosquitto import queue_and_log_lines
from ingest.topics import PREFIX

__all__ = ["SERVICE_USERS", "BrokerSetup", "TlsFiles", "acl_rules", "password_line", "write_broker_setup"]

#: mosquitto 2's password hash: PBKDF2-HMAC-SHA512 with a 12-byte salt and 101 rounds, as
#: ``mosquitto_passwd`` writes it (``user:$7$101$<salt>$<hash>``, both base64).
_PBKDF2_ROUNDS = 101
_SALT_BYTES = 12

#: The logins of the sitless services, and what each does. Device ids must differ from them.
SERVICE_USERS: dict[str, str] = {
    "worker": "the analysis worker: reads every device's samples, status, actions and settings; "
    "writes events and commands",
    "recorder": "the recorder: reads every device's samples and status",
    "gateway": "a BLE gateway: writes the samples and status of the sensors it bridges, reads their commands",
    "dashboard": "the dashboard and sitless session or calibrate: write actions and settings, read events",
    "reader": "read-only: the events, for a user's own MQTT client (mosquitto_sub)",
}


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of a mosquitto password file, as ``mosquitto_passwd -b`` writes it.

    >>> password_line("alice", "secret", bytes(12)).split("$")[:4]
    ['alice:', '7', '101', 'AAAAAAAAAAAAAAAA']
    """
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS, 64)
    return f"{user}:$7${_PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def acl_rules() -> str:
    """The ACL file: each service's topics, then the pattern every device (user = device id) follows.

    >>> print(acl_rules().splitlines()[-1])
    pattern read sitless/v1/%u/cmd
    """
    p, svc = PREFIX, "topic readwrite sitless/svc/#"  # every service's liveness probe (ingest.service)
    rules = {
        "worker": [
            f"topic read {p}/+/imu",
            f"topic read {p}/+/status",
            f"topic read {p}/+/action",
            f"topic read {p}/+/settings",
            f"topic write {p}/+/event",
            f"topic write {p}/+/cmd",
            svc,
        ],
        "recorder": [f"topic read {p}/+/imu", f"topic read {p}/+/status", svc],
        "gateway": [f"topic write {p}/+/imu", f"topic readwrite {p}/+/status", f"topic read {p}/+/cmd", svc],
        "dashboard": [f"topic write {p}/+/action", f"topic write {p}/+/settings", f"topic read {p}/+/event"],
        "reader": [f"topic read {p}/+/event"],
    }
    lines = ["# Written by sitless broker --mosquitto-config; see ingest/broker_setup.py.", ""]
    for user, topics in rules.items():
        lines += [f"# {SERVICE_USERS[user]}", f"user {user}", *topics, ""]
    lines += [
        "# Every wearable logs in with its device id: its own samples and status, its own commands.",
        f"pattern write {p}/%u/imu",
        f"pattern readwrite {p}/%u/status",
        f"pattern read {p}/%u/cmd",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The broker's TLS certificate (PEM), its key, and the CA that clients verify it with."""

    certfile: Path
    keyfile: Path
    cafile: Path


@dataclass(frozen=True, slots=True)
class BrokerSetup:
    """What :func:`write_broker_setup` wrote."""

    config: Path
    acl: Path
    passwd: Path
    secrets: dict[str, Path]


def write_broker_setup(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    tls: TlsFiles | None = None,
    run_as_root: bool | None = None,
    force: bool = False,
) -> BrokerSetup:
    """Write a secured mosquitto configuration into ``folder`` (see the module docstring).

    Args:
        folder: Where to write; made if missing. Must be absolute-able (it is resolved).
        host: Address to listen on (127.0.0.1 unless other machines must reach it).
        port: TCP port; default 8883 with TLS, 1883 without.
        tls: Certificate, key and CA for TLS; None: no TLS (logins travel in clear text:
            only on a trusted network).
        run_as_root: Add ``user root`` (mosquitto otherwise drops to user ``mosquitto``);
            default: when this process runs as root.
        force: Replace a configuration already in ``folder`` (new passwords for every
            service); otherwise that is refused.

    Returns:
        The files written.

    Raises:
        FileExistsError: ``folder`` holds a configuration already and ``force`` is not set.
    """
    folder = folder.resolve()
    config = folder / "mosquitto.conf"
    if config.exists() and not force:
        raise FileExistsError(f"{config} exists; --force replaces it (and gives every service a new password)")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    keys = folder / "secrets"
    keys.mkdir(mode=0o700, exist_ok=True)
    written: dict[str, Path] = {}
    hashed: list[str] = []
    for user in SERVICE_USERS:
        password = secrets.token_urlsafe(24)
        hashed.append(password_line(user, password))
        written[user] = _private(keys / f"{user}.password", password + "\n")
    passwd = _private(folder / "passwd", "\n".join(hashed) + "\n")
    acl = folder / "acl"
    acl.write_text(acl_rules(), encoding="utf-8")
    port = port or (8883 if tls else 1883)
    lines = [
        "# Written by sitless broker --mosquitto-config; see ingest/broker_setup.py.",
        f"listener {port} {host}",
        "allow_anonymous false",
        f"password_file {passwd}",
        f"acl_file {acl}",
    ]
    if tls is not None:
        lines += [
            f"certfile {tls.certfile.resolve()}",
            f"keyfile {tls.keyfile.resolve()}",
            f"cafile {tls.cafile.resolve()}",
        ]
    lines += [
        "persistence true",
        f"persistence_location {folder / 'data'}/",
        *queue_and_log_lines(),
    ]
    if run_as_root if run_as_root is not None else os.geteuid() == 0:
        lines.append("user root")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return BrokerSetup(config, acl, passwd, written)


def _private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (made so before anything is written to it)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path
