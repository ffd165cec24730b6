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
no way to refuse one), so a device posing as another reaches nobody. The service names
(:data:`SERVICE_USERS`) are therefore no device ids.

The rules live here once, as data (:data:`SERVICE_GRANTS`, :data:`DEVICE_GRANTS`):
:func:`acl_rules` writes them as mosquitto's ACL file (``topic`` and ``pattern``
lines, ``%u`` standing for the user name; mosquitto.conf(5), *acl_file*), and
:func:`may` applies them for the embedded broker's amqtt engine (:mod:`ingest.amqtt_auth`).
The embedded broker (``sitless broker``, ``sitless demo``) keeps its logins in a
:class:`Logins` folder written by :func:`write_logins`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ingest.errors import BrokerFolderError, TopicError
from ingest.mosquitto import queue_and_log_lines
from ingest.mqtt import CA_FILE_ENV, PASSWORD_FILE_ENV, BrokerAddress
from ingest.topics import PREFIX, validate_device_id

__all__ = [
    "DEVICE_GRANTS",
    "SERVICE_GRANTS",
    "SERVICE_USERS",
    "Access",
    "BrokerSetup",
    "Logins",
    "TlsFiles",
    "acl_rules",
    "add_login",
    "check_password",
    "may",
    "password_line",
    "reader_command",
    "write_broker_setup",
    "write_logins",
]

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


def folder_error(folder: Path, err: OSError, what: str = "logins folder") -> BrokerFolderError:
    """A :class:`BrokerFolderError` naming ``folder`` and, in one line, what is wrong in it.

    >>> print(folder_error(Path("/b/logins"), IsADirectoryError(21, "Is a directory", "/b/logins/passwd")))
    ... # doctest: +ELLIPSIS
    the broker's logins folder /b/logins cannot be used: /b/logins/passwd is a folder where a file belongs; repair...
    """
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        why = f"a file stands where a folder belongs ({err.filename})"
    elif isinstance(err, IsADirectoryError):
        why = f"{err.filename} is a folder where a file belongs"
    else:
        why = f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)
    return BrokerFolderError(
        f"the broker's {what} {folder} cannot be used: {why}; repair or move it aside"
        " (sitless then makes a new one, with new passwords)"
    )


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """One line of a mosquitto password file, as ``mosquitto_passwd -b`` writes it.

    >>> password_line("alice", "secret", bytes(12)).split("$")[:4]
    ['alice:', '7', '101', 'AAAAAAAAAAAAAAAA']
    """
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS, 64)
    return f"{user}:$7${_PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


class Access(StrEnum):
    """What a login may do on a topic, as mosquitto's ACL file names it."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"

    def allows(self, wanted: Access) -> bool:
        """Whether this grant allows ``wanted`` (READ or WRITE)."""
        return self is Access.READWRITE or self is wanted


_P = PREFIX
_SVC = (Access.READWRITE, "sitless/svc/#")  # every service's liveness probe (ingest.service)
#: Each service's topics (mosquitto ``topic`` lines under ``user``).
SERVICE_GRANTS: dict[str, tuple[tuple[Access, str], ...]] = {
    "worker": (
        (Access.READ, f"{_P}/+/imu"),
        (Access.READ, f"{_P}/+/status"),
        (Access.READ, f"{_P}/+/action"),
        (Access.READ, f"{_P}/+/settings"),
        (Access.WRITE, f"{_P}/+/event"),
        (Access.WRITE, f"{_P}/+/cmd"),
        _SVC,
    ),
    "recorder": ((Access.READ, f"{_P}/+/imu"), (Access.READ, f"{_P}/+/status"), _SVC),
    "gateway": (
        (Access.WRITE, f"{_P}/+/imu"),
        (Access.READWRITE, f"{_P}/+/status"),
        (Access.READ, f"{_P}/+/cmd"),
        _SVC,
    ),
    # Writing status lets a deletion clear a wearable's retained status (ingest.actions.clear_retained).
    "dashboard": (
        (Access.WRITE, f"{_P}/+/action"),
        (Access.WRITE, f"{_P}/+/settings"),
        (Access.WRITE, f"{_P}/+/status"),
        (Access.READ, f"{_P}/+/event"),
    ),
    "reader": ((Access.READ, f"{_P}/+/event"),),
}
#: What every wearable may, ``%u`` being its user name, which is its device id (mosquitto ``pattern`` lines).
DEVICE_GRANTS: tuple[tuple[Access, str], ...] = (
    (Access.WRITE, f"{_P}/%u/imu"),
    (Access.READWRITE, f"{_P}/%u/status"),
    (Access.READ, f"{_P}/%u/cmd"),
)


def acl_rules() -> str:
    """The ACL file: each service's topics, then the pattern every device (user = device id) follows.

    >>> print(acl_rules().splitlines()[-1])
    pattern read sitless/v1/%u/cmd
    """
    lines = ["# Written by sitless; see ingest/broker_setup.py.", ""]
    for user, grants in SERVICE_GRANTS.items():
        lines += [f"# {SERVICE_USERS[user]}", f"user {user}", *(f"topic {a} {t}" for a, t in grants), ""]
    lines += [
        "# Every wearable logs in with its device id: its own samples and status, its own commands.",
        *(f"pattern {a} {t}" for a, t in DEVICE_GRANTS),
    ]
    return "\n".join(lines) + "\n"


def may(user: str, topic_filter: str, wanted: Access) -> bool:
    """Whether a login may publish to a topic (WRITE) or subscribe to a filter (READ).

    The same rules as :func:`acl_rules` gives mosquitto, for the amqtt engine
    (:mod:`ingest.amqtt_auth`). A filter is allowed only when every topic it matches is:
    a device may subscribe to its own ``cmd`` but not to ``sitless/v1/+/cmd``. A user
    name that is no valid device id (it holds a wildcard or a slash) gets no device
    rules, as mosquitto does for ``%u`` patterns.

    >>> may("desk-07", "sitless/v1/desk-07/imu", Access.WRITE)
    True
    >>> may("desk-07", "sitless/v1/desk-08/imu", Access.WRITE)
    False
    >>> may("reader", "sitless/v1/+/event", Access.READ), may("reader", "sitless/v1/#", Access.READ)
    (True, False)
    """
    grants = list(SERVICE_GRANTS.get(user, ()))
    if _is_device_id(user):
        grants += [(a, t.replace("%u", user)) for a, t in DEVICE_GRANTS]
    return any(access.allows(wanted) and _covers(pattern, topic_filter) for access, pattern in grants)


def _is_device_id(user: str) -> bool:
    try:
        validate_device_id(user)
    except TopicError:
        return False
    return True


def _covers(pattern: str, topic_filter: str) -> bool:
    """Whether every topic that ``topic_filter`` matches also matches ``pattern`` (both may hold + and #).

    >>> _covers("a/+/c", "a/b/c"), _covers("a/+/c", "a/+/c"), _covers("a/b/c", "a/+/c"), _covers("a/#", "a/+/c")
    (True, True, False, True)
    """
    want = topic_filter.split("/")
    for i, level in enumerate(pattern.split("/")):
        if level == "#":
            return True
        if i >= len(want) or want[i] == "#" or (level != "+" and level != want[i]):
            return False
    return len(want) == len(pattern.split("/"))


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


@dataclass(frozen=True, slots=True)
class Logins:
    """A folder of broker logins: ``passwd`` (mosquitto's format), ``acl`` and ``secrets/USER.password``.

    Both engines of the embedded broker read the same files: mosquitto through its
    ``password_file`` and ``acl_file``, amqtt through :mod:`ingest.amqtt_auth`.
    """

    folder: Path

    @property
    def passwd(self) -> Path:
        """The password file, one ``user:$7$...`` line per login."""
        return self.folder / "passwd"

    @property
    def acl(self) -> Path:
        """The ACL file (:func:`acl_rules`)."""
        return self.folder / "acl"

    def secret(self, user: str) -> Path:
        """The file holding a login's password (mode 0600), for ``SITLESS_MQTT_PASSWORD_FILE``."""
        return self.folder / "secrets" / f"{user}.password"

    def users(self) -> dict[str, str]:
        """Each login's password hash, from :attr:`passwd` (empty when there is none).

        Raises:
            BrokerFolderError: :attr:`passwd` is a folder, unreadable or not UTF-8 text.
        """
        try:
            text = self.passwd.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError as err:
            raise BrokerFolderError(
                f"the broker's password file {self.passwd} is not UTF-8 text (one user:$7$... line per login);"
                " repair it or move its folder aside (sitless then makes new logins)"
            ) from err
        except OSError as err:
            raise folder_error(self.folder, err) from err
        pairs = (line.strip().split(":", 1) for line in text.splitlines() if line.strip() and line[0] != "#")
        return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}  # user and hash

    def address(self, broker: BrokerAddress, user: str) -> BrokerAddress:
        """``broker`` with ``user``'s login, its password read from its secret file as a service reads it."""
        url = BrokerAddress(broker.host, broker.port, user, tls=broker.tls, mqtt5=broker.mqtt5).url
        env = {PASSWORD_FILE_ENV: str(self.secret(user))} | ({CA_FILE_ENV: broker.ca_file} if broker.ca_file else {})
        return BrokerAddress.parse(url, env)


def write_logins(folder: Path, *, fresh: bool = False) -> Logins:
    """Make sure ``folder`` has a login for every service, and the ACL file; return them.

    Logins already there are kept (a service started earlier goes on with its password),
    unless ``fresh``, which gives every service a new password and drops every other
    login. The ACL file is written afresh each time.

    Args:
        folder: Where the logins live; made if missing (0700).
        fresh: Start from no logins at all.

    Returns:
        The logins.

    Raises:
        BrokerFolderError: ``folder`` or a file in it is not what it should be (a file
            where a folder belongs, or the other way round), or cannot be read or written.
    """
    logins = Logins(folder.resolve())
    try:
        logins.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fresh:
            logins.passwd.unlink(missing_ok=True)
        for user in SERVICE_USERS:
            add_login(logins, user, fresh=fresh)
        logins.acl.write_text(acl_rules(), encoding="utf-8")
    except OSError as err:
        raise folder_error(logins.folder, err) from err
    return logins


def add_login(logins: Logins, user: str, *, fresh: bool = False) -> Path:
    """Give ``user`` a login with a random password, unless it has one; return its secret file.

    A wearable's user name is its device id (:data:`DEVICE_GRANTS`). mosquitto reads the
    password file when it starts (or on SIGHUP); amqtt at the next login once it changed.

    Raises:
        TopicError: ``user`` is neither a service nor a valid device id.
        BrokerFolderError: The logins folder cannot be read or written (:func:`write_logins`).
    """
    if user not in SERVICE_USERS:
        validate_device_id(user)
    secret = logins.secret(user)
    if not fresh and user in logins.users() and secret.is_file():
        return secret
    try:
        secret.parent.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        _private(secret, password + "\n")
        others = [f"{u}:{h}" for u, h in logins.users().items() if u != user]
        _private(logins.passwd, "\n".join([*others, password_line(user, password)]) + "\n")
    except OSError as err:
        raise folder_error(logins.folder, err) from err
    return secret


def reader_command(host: str, port: int, secret: Path, *, cafile: Path | None = None) -> str:
    """A ``mosquitto_sub`` line that reads every wearable's events with the read-only login.

    The password is read from its file by the shell when the line runs, so it is not
    written into the line (it is on that ``mosquitto_sub``'s command line while it runs).

    >>> print(reader_command("127.0.0.1", 1883, Path("/b/secrets/reader.password")))
    mosquitto_sub -h 127.0.0.1 -p 1883 -u reader -P "$(cat /b/secrets/reader.password)" -t 'sitless/v1/+/event' -v
    """
    ca = f" --cafile {cafile.resolve()}" if cafile is not None else ""
    return f"mosquitto_sub -h {host} -p {port}{ca} -u reader -P \"$(cat {secret})\" -t '{PREFIX}/+/event' -v"


def check_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches a mosquitto 2 hash (``$7$ROUNDS$SALT$HASH``, :func:`password_line`).

    Other formats (mosquitto 1.x's ``$6$``) never match.

    >>> check_password(password_line("a", "secret").split(":", 1)[1], "secret")
    True
    """
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(digest))
    return hmac.compare_digest(mine, digest)


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
    logins = write_logins(folder, fresh=True)
    passwd, acl = logins.passwd, logins.acl
    written = {user: logins.secret(user) for user in SERVICE_USERS}
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
