"""The error types raised by ``ingest``: one family, translated at each boundary."""

from __future__ import annotations

__all__ = [
    "BrokerFolderError",
    "IngestError",
    "MetricsServerError",
    "PacketError",
    "PayloadError",
    "ProfileError",
    "RecordingError",
    "StoreError",
    "StoreRefusedError",
    "TopicError",
]


class IngestError(Exception):
    """Base class of every error raised by the ``ingest`` package."""


class PacketError(IngestError):
    """A binary IMU packet is malformed: wrong length, version, flags or values."""


class PayloadError(IngestError):
    """A JSON payload (status, action, cmd) is malformed, too large or nested too deeply."""


class ProfileError(IngestError):
    """A BLE notification of a sensor does not decode: wrong length, header or values."""


class TopicError(IngestError):
    """A device id or MQTT topic does not follow the ``sitless/v1/<device>/<kind>`` scheme."""


class StoreError(IngestError):
    """The store could not be opened, read or written."""


class StoreRefusedError(IngestError):
    """The store refused the values of a read or a write (a text PostgreSQL cannot hold, a number out of range).

    Not a :class:`StoreError`, which the services wait out and try again: no retry of the
    same values can succeed, so the message that brought them is counted and skipped.
    """


class MetricsServerError(IngestError):
    """The metrics endpoint cannot listen where it was told: its port is taken, or its host is not this machine's."""


class RecordingError(IngestError):
    """A recording file cannot be read or holds no usable samples."""


class BrokerFolderError(IngestError):
    """A broker's data folder or logins folder cannot be used: a file where a folder belongs, unreadable files."""
