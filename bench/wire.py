"""Just enough of MQTT 5 on a bare socket to load a broker from one Python process.

paho costs 35 µs of CPU or more per QoS 1 message (``python -m bench.mqtt_client``), so
a load of tens of thousands of messages a second through it would need more cores than
the broker under test. ``bench.broker_load`` instead sends ready-made PUBLISH packets
and reads its deliveries with the functions here: a few µs a message. Packet layouts
are those of the MQTT 5.0 standard (OASIS, 2019), sections 1.5.5 (variable byte
integer), 2.1 (fixed header), 2.2.2 (properties), 3.1-3.4 (CONNECT, CONNACK, PUBLISH,
PUBACK) and 3.8-3.9 (SUBSCRIBE, SUBACK). This is a load generator, not a client: no keep-alive, no
reconnection, no QoS 2.
"""

from __future__ import annotations

import socket
import struct

__all__ = [
    "PacketReader",
    "connect",
    "puback",
    "publish",
    "receive_maximum",
    "subscribe",
    "variable_int",
]

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
_RECEIVE_MAXIMUM = 0x21
# CONNACK property identifiers by the size of their value (MQTT 5.0, section 2.2.2.2).
_ONE_BYTE = {0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A}
_TWO_BYTES = {0x13, 0x21, 0x22, 0x23}
_FOUR_BYTES = {0x02, 0x11, 0x18, 0x27}
_PREFIXED = {0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F}  # a string or binary with its 2-byte length


def variable_int(n: int) -> bytes:
    """``n`` as a variable byte integer (MQTT 5.0, section 1.5.5).

    >>> variable_int(127), variable_int(321)
    (b'\\x7f', b'\\xc1\\x02')
    """
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + variable_int(len(body)) + body


def connect(client_id: str, user: str | None = None, password: str | None = None) -> bytes:
    """A CONNECT with a clean start, no keep-alive and no properties."""
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    body = _string("MQTT") + bytes([5, flags]) + struct.pack("!H", 0) + variable_int(0) + _string(client_id)
    body += (_string(user) if user is not None else b"") + (_string(password) if password is not None else b"")
    return _packet(CONNECT, 0, body)


def publish(topic: str, packet_id: int, payload: bytes) -> bytes:
    """A QoS 1 PUBLISH with no properties."""
    return _packet(PUBLISH, 0x02, _string(topic) + struct.pack("!H", packet_id) + variable_int(0) + payload)


def puback(packet_id: int) -> bytes:
    """A PUBACK of success (reason code and properties left out, as the standard allows).

    >>> puback(258)
    b'@\\x02\\x01\\x02'
    """
    return bytes([PUBACK << 4, 2]) + struct.pack("!H", packet_id)


def subscribe(packet_id: int, filters: list[str]) -> bytes:
    """A SUBSCRIBE of ``filters``, each at QoS 1."""
    body = struct.pack("!H", packet_id) + variable_int(0) + b"".join(_string(f) + b"\x01" for f in filters)
    return _packet(SUBSCRIBE, 0x02, body)


def receive_maximum(connack: bytes) -> int:
    """The Receive Maximum a CONNACK's body grants (65,535 when it names none).

    Raises:
        ConnectionError: The broker refused the connection.
        ValueError: A property this parser does not know.
    """
    if connack[1] != 0:
        raise ConnectionError(f"the broker refused the connection: reason code {connack[1]:#04x}")
    end, i = _read_variable_int(connack, 2)
    end += i
    while i < end:
        ident = connack[i]
        i += 1
        if ident == _RECEIVE_MAXIMUM:
            return int(struct.unpack_from("!H", connack, i)[0])
        if ident in _ONE_BYTE:
            i += 1
        elif ident in _TWO_BYTES:
            i += 2
        elif ident in _FOUR_BYTES:
            i += 4
        elif ident in _PREFIXED:
            i += 2 + struct.unpack_from("!H", connack, i)[0]
        elif ident == 0x26:  # a user property: two strings
            for _ in range(2):
                i += 2 + struct.unpack_from("!H", connack, i)[0]
        elif ident == 0x0B:
            _, i = _read_variable_int(connack, i)
        else:
            raise ValueError(f"unknown CONNACK property {ident:#04x}")
    return 65535


def _read_variable_int(data: bytes | bytearray, i: int) -> tuple[int, int]:
    """The variable byte integer at ``i`` and the index after it (``-1`` when it is not all there)."""
    value = shift = 0
    while i < len(data):
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
    return 0, -1


class PacketReader:
    """Splits the bytes read from a socket into MQTT packets: ``(first byte, body)`` pairs."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The packets completed by ``data``."""
        buf = self._buffer
        buf += data
        packets = []
        start = 0
        while len(buf) - start >= 2:
            length, body = _read_variable_int(buf, start + 1)
            if body < 0 or body + length > len(buf):
                break
            packets.append((buf[start], bytes(buf[body : body + length])))
            start = body + length
        del buf[:start]
        return packets

    def read(self, count: int) -> list[tuple[int, bytes]]:
        """Block until ``count`` whole packets have arrived (hand-shakes, before any load).

        Raises:
            ConnectionError: The broker closed the connection first.
        """
        got = self.feed(b"")
        while len(got) < count:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the broker closed the connection")
            got += self.feed(data)
        if len(got) > count:
            raise ValueError(f"{len(got) - count} packets more than the {count} awaited")
        return got
