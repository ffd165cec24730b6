"""A wearable's side of MQTT: its packets and status out, its commands in (docs/protocol.md).

The simulated device (``firmware_sim.device``) and the BLE gateway publish through the
same :class:`DeviceLink`, so that every source of packets behaves alike on the wire:

- it connects with a persistent session and a **last will** that sets the retained
  status to ``{"online": false}`` if it vanishes;
- packets go out on ``.../imu`` with QoS 1, and statuses retained on ``.../status``;
  every QoS 1 message is tracked until the broker acknowledges it (a message published
  while the connection is down waits in paho's queue, which has no limit, and is
  acknowledged after the reconnection: the BLE gateway therefore hands its packets over
  only while the link is up, a bounded number at a time, and keeps the rest on disk,
  ``ingest.gateway.publisher``), and :meth:`DeviceLink.close` publishes the offline
  status and waits, up to ``drain_timeout_s``, for every acknowledgement before it
  disconnects;
- commands on ``.../cmd`` are parsed (:class:`~ingest.payloads.Command`) and handed to
  ``on_command``; a malformed one is counted and logged, never raised.

:class:`SequenceMemory` keeps a device's packet sequence numbers going across restarts,
as firmware keeps them in flash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho

from ingest.errors import PayloadError
from ingest.mqtt import BrokerAddress, connect, log_in, make_client
from ingest.payloads import Command, DeviceStatus
from ingest.topics import Kind, topic, validate_device_id

__all__ = ["SEQ_MODULO", "DeviceLink", "SequenceMemory"]

log = logging.getLogger(__name__)

#: Sequence numbers wrap here (the packet header's 32-bit field, ``ingest.codec``).
SEQ_MODULO = 2**32


class DeviceLink:
    """One device's MQTT connection (see the module docstring).

    Args:
        device_id: The device id in the topics (validated).
        broker: Where the MQTT broker listens.
        client_id: MQTT client id; default ``sitless-dev-<device_id>``. Keep it stable:
            the persistent session (and the commands queued in it) goes with it.
        on_command: Called, on paho's network thread, with each valid command.
        drain_timeout_s: How long :meth:`close` waits for outstanding acknowledgements, s.

    Raises:
        TopicError: The device id is not valid in a topic.
    """

    def __init__(
        self,
        device_id: str,
        broker: BrokerAddress,
        *,
        client_id: str | None = None,
        on_command: Callable[[Command], None] | None = None,
        drain_timeout_s: float = 30.0,
    ) -> None:
        validate_device_id(device_id)
        self.device_id = device_id
        self._broker = broker
        self._on_command = on_command
        self._drain_timeout_s = drain_timeout_s
        self._imu_topic = topic(device_id, Kind.IMU)
        self._status_topic = topic(device_id, Kind.STATUS)
        self._cmd_topic = topic(device_id, Kind.CMD)
        self._lock = threading.Condition()
        self._pending: set[int] = set()  # published, not acknowledged yet
        self._acked_early: set[int] = set()  # acknowledged before publish() returned its mid
        self._callbacks: dict[int, Callable[[], None]] = {}  # by mid, for publish_packet's on_acked
        self._bad_commands = 0
        self._client = make_client(
            client_id or f"sitless-dev-{device_id}",
            clean_session=False,
            will=(self._status_topic, DeviceStatus(online=False).to_json(), 1, True),
            mqtt5=broker.mqtt5,
        )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish

    @property
    def connected(self) -> bool:
        """Whether the MQTT connection is up now."""
        return bool(self._client.is_connected())

    @property
    def unacked(self) -> int:
        """QoS 1 messages the broker has not acknowledged yet."""
        with self._lock:
            return len(self._pending)

    @property
    def bad_commands(self) -> int:
        """Command messages that were not valid commands."""
        with self._lock:
            return self._bad_commands

    def connect(self) -> None:
        """Connect (paho then reconnects by itself after a drop).

        Raises:
            ConnectionError: The broker did not answer the first connection.
        """
        connect(self._client, self._broker)

    def start(self) -> None:
        """Start connecting without waiting: the client keeps trying until the broker answers.

        What is published meanwhile waits in the client's memory (the gateway keeps its
        packets on disk instead until the link is up, ``ingest.gateway.publisher``).
        """
        log_in(self._client, self._broker)
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=15)
        self._client.loop_start()

    def publish_packet(self, payload: bytes, on_acked: Callable[[], None] | None = None) -> None:
        """Publish an encoded packet (``ingest.codec.encode``) on the device's ``imu`` topic, QoS 1.

        Args:
            payload: The packet.
            on_acked: Called once the broker has acknowledged it (on paho's network
                thread, or at once if the acknowledgement came first).
        """
        self._publish(self._imu_topic, payload, retain=False, on_acked=on_acked)

    def publish_status(self, status: DeviceStatus) -> None:
        """Publish the device's status, retained, QoS 1."""
        self._publish(self._status_topic, status.to_json(), retain=True)

    def close(self, status: DeviceStatus | None = None) -> None:
        """Go offline: publish ``status`` (default ``{"online": false}``), drain and disconnect.

        A clean disconnect does not fire the last will, hence the explicit offline status.
        """
        self.publish_status(status or DeviceStatus(online=False))
        self.drain()
        self._client.disconnect()
        self._client.loop_stop()

    def drain(self) -> bool:
        """Wait up to ``drain_timeout_s`` for every outstanding acknowledgement; whether all came."""
        deadline = time.monotonic() + self._drain_timeout_s
        with self._lock:
            while self._pending and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            if self._pending:
                log.warning(
                    "%s: %d QoS 1 messages still unacknowledged after %.0f s",
                    self.device_id,
                    len(self._pending),
                    self._drain_timeout_s,
                )
            return not self._pending

    def _publish(
        self, topic_name: str, payload: bytes | str, *, retain: bool, on_acked: Callable[[], None] | None = None
    ) -> None:
        # Published while disconnected, a QoS 1 message waits in paho's queue (rc NO_CONN)
        # and its PUBACK arrives after the reconnection: track it by mid either way.
        info = self._client.publish(topic_name, payload, qos=1, retain=retain)
        with self._lock:
            acked = info.mid in self._acked_early
            if acked:
                self._acked_early.discard(info.mid)
            else:
                self._pending.add(info.mid)
                if on_acked is not None:
                    self._callbacks[info.mid] = on_acked
        if acked and on_acked is not None:
            on_acked()

    def _on_connect(
        self, client: paho.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if not getattr(reason, "is_failure", False):
            client.subscribe(self._cmd_topic, qos=1)

    def _on_publish(self, _client: paho.Client, _userdata: object, mid: int, _reason: object, _props: object) -> None:
        with self._lock:
            if mid in self._pending:
                self._pending.discard(mid)
            else:
                self._acked_early.add(mid)
            callback = self._callbacks.pop(mid, None)
            self._lock.notify_all()
        if callback is not None:
            callback()

    def _on_message(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        try:
            command = Command.parse(bytes(message.payload))
        except PayloadError as err:
            with self._lock:
                self._bad_commands += 1
            log.warning("bad command on %s: %s", message.topic, err)
            return
        if self._on_command is not None:
            self._on_command(command)


class SequenceMemory:
    """The packet counter a device keeps in non-volatile memory, in a small JSON file.

    Like firmware that reserves blocks of sequence numbers in flash (one write per
    block, not per packet), it records a mark a block ahead before using the numbers
    below it, and the exact next number at a clean stop. After a crash the device
    starts at the mark: some numbers go unused (the recorder sees a gap), none is used
    twice (which the store would drop as a duplicate).

    Each write goes to a temporary file, is flushed to the disk (``fsync``) and renamed
    over the file, so that a power loss leaves the old mark or the new one, never a file
    cut short. On a full disk, where the temporary file cannot be written, the mark is
    written over the file's own bytes instead (:meth:`_overwrite`). Should that fail too
    (a copy-on-write file system), the mark on disk still covers half a block: the next
    mark is written when half the block is used, and :meth:`reserve` tries again with
    every later number.

    Each mark is then written to a copy beside the file (``<file>.copy``) the same way.
    A file found cut short or gone (a write over its own bytes torn by a power loss, a
    file deleted by hand) is read from the copy, which holds the same mark or the one
    before, and either covers every number used (:attr:`from_copy` says so). A copy that
    cannot be brought up to date is deleted, so that a stale one is never read. Only with
    both unreadable does the device jump far ahead (:meth:`recover`).

    Args:
        path: The file (created with its folder).
        block: How many sequence numbers one write reserves.
    """

    #: How far past the highest number known :meth:`recover` starts: 2**28 packets are
    #: over four years of one sensor's half-second packets, and a quarter of the 32-bit
    #: space, so the numbers jumped over stay far from wrapping into old ones.
    RECOVERY_JUMP = 2**28

    def __init__(self, path: Path, block: int = 1000) -> None:
        self.path = path
        self.copy = path.with_name(path.name + ".copy")
        self.block = block
        self.reserved = 0  # the mark on disk: numbers below it may be used
        #: Why the last :meth:`load` read the copy (the file was unreadable or gone), else None.
        self.from_copy: str | None = None

    def start(self) -> int:
        """The first sequence number to use now; reserves the block that follows it.

        Raises:
            ValueError: The file exists but does not hold a sequence number.
            OSError: The file cannot be read, or the reservation cannot be written.
        """
        first = self.load()
        self.reserve(first)
        return first

    def load(self) -> int:
        """The number the file says to go on from, else its copy (0 without either); reserves nothing.

        Raises:
            ValueError: The file exists but does not hold a sequence number, nor does its copy.
            OSError: Neither the file nor its copy can be read.
        """
        self.from_copy = None
        try:
            return self._read(self.path)
        except FileNotFoundError:
            if not self.copy.exists():
                return 0  # a first start
            why = f"{self.path} is gone"
        except (ValueError, OSError) as err:
            why = str(err)
            if not self.copy.exists():
                raise
        value = self._read(self.copy)
        self.from_copy = why
        return value

    @staticmethod
    def _read(path: Path) -> int:
        try:
            return int(json.loads(path.read_text())["next_seq"]) % SEQ_MODULO
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"unreadable sequence memory {path}: {err}") from err

    def recover(self, known_next: int) -> int:
        """Where to go on when the file cannot be read: :attr:`RECOVERY_JUMP` past ``known_next``.

        Args:
            known_next: One past the highest number known to be used (the gateway's
                packets still in its outbox), or 0.

        Returns:
            The first number to use; pass it to :meth:`reserve` before using it.
        """
        self.reserved = 0
        return (known_next + self.RECOVERY_JUMP) % SEQ_MODULO

    def reserve(self, seq: int) -> None:
        """Make sure numbers up to ``seq`` are reserved before ``seq`` goes out.

        Raises:
            OSError: The mark could not be written; it is tried again with the next
                number. Until then numbers below the mark on disk are covered, and a
                number past it would be used again after a crash.
        """
        if seq >= self.reserved - self.block // 2 or seq < self.reserved - self.block:  # half used, or wrapped
            self._write(seq + self.block)
            self.reserved = seq + self.block

    def finish(self, next_seq: int) -> None:
        """At a clean stop, remember exactly where to go on.

        Raises:
            OSError: The disk refused the write (the mark reserved before stays).
        """
        self._write(next_seq % SEQ_MODULO)

    def _write(self, next_seq: int) -> None:
        """Write the mark to the file, then to its copy (a copy that cannot take it is deleted).

        Raises:
            OSError: The file could not take the mark, or a stale copy could not be deleted.
        """
        record = json.dumps({"next_seq": next_seq})
        self._store(self.path, record)
        try:
            self._store(self.copy, record)
        except OSError:
            self.copy.unlink(missing_ok=True)  # a stale copy must never be read

    def _store(self, path: Path, record: str) -> None:
        try:
            self._replace(path, record)
        except OSError:
            if not self._overwrite(path, record):
                raise

    @staticmethod
    def _replace(path: Path, record: str) -> None:
        """Write the record to a temporary file, flush it to the disk and rename it over ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with tmp.open("w") as f:
                f.write(record)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(path)  # atomic: a crash leaves the old or the new value
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(path.parent)

    @staticmethod
    def _overwrite(path: Path, record: str) -> bool:
        """Write the record over the file's own bytes (padded with spaces); whether it was.

        A full disk refuses the temporary file, but a file's existing block takes new
        bytes without any new space (not so on copy-on-write file systems: btrfs,
        ZFS). One write of a few dozen bytes lies in one disk sector, which a power
        loss leaves whole on the disks sitless runs on; were it torn, the gateway
        would find the file unreadable and read the copy (:meth:`load`).
        """
        try:
            size = path.stat().st_size
            fd = os.open(path, os.O_WRONLY)
        except OSError:
            return False
        try:
            os.write(fd, record.ljust(size).encode())
            os.fsync(fd)
        except OSError:
            return False
        finally:
            os.close(fd)
        return True


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to the disk, where the system allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # a file system that cannot sync folders: the rename is still atomic
            os.fsync(fd)
    finally:
        os.close(fd)
