"""The ``sitless`` profile: a do-it-yourself sensor whose notifications carry the sitless packet.

A maker's board (an nRF52 or ESP32 with an accelerometer) implements one GATT service,
specified in ``docs/firmware.md``:

==========  ========================================  ===================  =================================
short name  UUID                                      properties           content
==========  ========================================  ===================  =================================
service     ``48f03676-acb9-421a-8dad-d029ba2cd92c``
packet      ``48f03677-acb9-421a-8dad-d029ba2cd92c``  notify               one IMU packet (``ingest.codec``)
command     ``48f03678-acb9-421a-8dad-d029ba2cd92c``  write                a command (``ingest.payloads.Command``)
clock       ``48f03679-acb9-421a-8dad-d029ba2cd92c``  write                float64 LE Unix epoch seconds
==========  ========================================  ===================  =================================

Each notification is one packet exactly as a wearable publishes it over MQTT
(docs/protocol.md, "IMU packet layout"), so a board can talk to the broker directly or
through the gateway with the same code. The gateway sets the board's clock when it
connects (``clock``), asks for the sample rate with the ``rate`` command and passes
buzz commands on unchanged. The decoder takes the samples, their device times and their
rate from the packet; the gateway publishes them under its own sequence numbers, at
that rate, and aligns the device clock to the host's.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence

from ingest.codec import decode
from ingest.errors import PacketError, ProfileError
from ingest.payloads import Command
from ingest.profiles.base import Samples, Write

__all__ = ["CLOCK_UUID", "COMMAND_UUID", "PACKET_UUID", "PROFILE", "SERVICE_UUID", "SitlessDecoder", "SitlessProfile"]

SERVICE_UUID = "48f03676-acb9-421a-8dad-d029ba2cd92c"
PACKET_UUID = "48f03677-acb9-421a-8dad-d029ba2cd92c"
COMMAND_UUID = "48f03678-acb9-421a-8dad-d029ba2cd92c"
CLOCK_UUID = "48f03679-acb9-421a-8dad-d029ba2cd92c"
#: Local names a board may advertise instead of the service UUID (which takes 18 of the 31 bytes).
NAME_PREFIX = "sitless"
_CLOCK = struct.Struct("<d")


class SitlessDecoder:
    """Decodes notifications of the ``sitless`` profile: one IMU packet each.

    A packet whose sequence number is not past the last one taken (a notification the
    board sent twice, or one that arrived after a later one) is refused: its samples
    are already in, or would go back in time (notifications of one connection arrive in
    order, so only faulty firmware sends them out of order). One decoder serves one
    connection: a board that restarts is connected to again, with a fresh decoder.
    """

    def __init__(self) -> None:
        self._last_seq: int | None = None

    def decode(self, data: bytes) -> Samples:
        """The packet's samples in g (and deg/s), with their device times and the packet's rate.

        A board may stream at another rate than the one asked (one that offers only
        25 Hz): the gateway times the samples at the rate each packet says.

        Raises:
            ProfileError: Not a valid packet (the codec's message says why), or a packet
                repeated or out of order.
        """
        try:
            batch = decode(bytes(data))
        except PacketError as err:
            raise ProfileError(f"not a sitless packet: {err}") from None
        last = self._last_seq
        if last is not None and not 0 < (batch.seq - last) % 2**32 < 2**31:
            raise ProfileError(f"packet {batch.seq} repeated or out of order (the last was {last})")
        self._last_seq = batch.seq
        return Samples(batch.acc_g(), batch.gyro_dps(), batch.times_s(), float(batch.rate_hz))

    def reply(self, data: bytes) -> None:
        """Nothing to take: this sensor has no control point whose answers change decoding."""


class SitlessProfile:
    """The do-it-yourself sensor of ``docs/firmware.md`` (module docstring)."""

    name = "sitless"
    service_uuid = SERVICE_UUID
    notify_uuid = PACKET_UUID
    #: The rates a board must offer (docs/firmware.md): 25 Hz is enough for posture, 50 Hz for repetitions.
    rates_hz: tuple[float, ...] = (25.0, 50.0)
    indicate_uuids: tuple[str, ...] = ()
    rate_uuid: str | None = None

    def for_name(self, local_name: str | None) -> SitlessProfile:
        """Itself: one model."""
        return self

    def matches(self, local_name: str | None, service_uuids: Sequence[str]) -> bool:
        """The service advertised, or a local name starting ``sitless``."""
        if any(u.lower() == SERVICE_UUID for u in service_uuids):
            return True
        return local_name is not None and local_name.lower().startswith(NAME_PREFIX)

    def start(self, rate_hz: float) -> list[Write]:
        """Set the board's clock to the host's, then ask for ``rate_hz``.

        The notifications start when the gateway subscribes to the packet characteristic.
        """
        return [
            Write(CLOCK_UUID, _CLOCK.pack(time.time())),
            Write(COMMAND_UUID, Command("rate", rate_hz=rate_hz).to_json().encode()),
        ]

    def stop(self) -> list[Write]:
        """Nothing: unsubscribing stops the notifications."""
        return []

    def decoder(self, rate_hz: float) -> SitlessDecoder:
        """A decoder (packets carry their own rate and times)."""
        return SitlessDecoder()

    def buzz(self, command: Command) -> list[Write]:
        """The command as it came over MQTT: the board buzzes, lights or beeps as it can."""
        return [Write(COMMAND_UUID, command.to_json().encode())]

    def settled_rate(self, data: bytes) -> float:
        """Never called: the sensor does not report the rate it settled on (``rate_uuid`` is None)."""
        raise ProfileError(f"the {self.name} profile has no rate to read back")


PROFILE = SitlessProfile()
