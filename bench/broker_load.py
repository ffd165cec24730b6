"""``python -m bench.broker_load``: what mosquitto costs per packet with many workers' subscriptions.

The path to 100,000 wearers (docs/performance.md) has each worker subscribe to the
devices it holds (``sitless worker --subscribe held``): 100,000 single-device
subscriptions spread over some 34-52 clients. This measures what that costs the broker
against the other ways of spreading a fleet, with no sitless service in the way:

- ``held``: ``--subscribers`` clients share the ``--devices`` ids out, each subscribed
  to ``sitless/v1/<id>/imu`` of its own (in SUBSCRIBE packets of 500 filters, as
  ``ingest.service.ServiceConnection.follow`` sends them); each packet goes to one.
- ``all``: each client subscribes to ``sitless/v1/+/imu`` (the worker's default);
  each packet goes to every client.
- ``shared``: each client subscribes to ``$share/bench/sitless/v1/+/imu`` (MQTT 5
  shared subscriptions); each packet goes to one, whichever the broker picks.

``--recorders R`` adds R clients that stand for sitless recorders, which store every
packet: one subscribed to ``sitless/v1/+/imu``, or with R > 1 a shared subscription
``$share/recorders/sitless/v1/+/imu`` among them, so that each packet goes to one
recorder as well.

One publisher sends a real 25-sample IMU packet (178 bytes, ``bench.worker``) at QoS 1
to the devices in turn at ``--rate`` packets a second for ``--duration`` seconds, never
with more unacknowledged than the broker's Receive Maximum; the clients acknowledge
every delivery. All of them are bare sockets in this one process (``bench.wire``), so
that the load costs a few µs a packet instead of paho's 35. It prints mosquitto's CPU
per packet published (from ``/proc``, over the sending and until the last delivery),
its memory before and after the subscriptions, how long subscribing took, and one JSON
line. ``--secure`` runs mosquitto with sitless's logins and ACLs (the publisher logs in
as ``gateway``, the clients as ``worker``), so that every packet also passes the ACL
checks; without it the broker is open, as in ``bench.fleet``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import selectors
import socket
import struct
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fleet_meter import Meter, child_pid
from bench.wire import PUBACK, PUBLISH, SUBACK, PacketReader, connect, puback, receive_maximum, subscribe, variable_int
from bench.worker import packet_streams
from firmware_sim.fleet import device_ids
from ingest.broker import BrokerEngine, BrokerProcess, free_port
from ingest.mqtt import BrokerAddress
from ingest.service.connection import SUBSCRIBE_CHUNK  # filters per SUBSCRIBE, as the services send them
from ingest.topics import Kind, subscription, topic

__all__ = ["MODES", "BrokerRun", "main", "run"]

MODES = ("held", "all", "shared")
_SHARE_GROUP = "bench"


@dataclass(frozen=True, slots=True)
class BrokerRun:
    """One run's figures (the module docstring says how each is measured).

    Attributes:
        devices: Device ids the packets go to, in turn.
        subscribers: Subscribing clients standing for workers.
        recorders: Clients standing for recorders (each packet to one of them too).
        mode: ``held``, ``all`` or ``shared``.
        secure: Whether mosquitto ran with logins and ACLs.
        rate_hz: Packets a second asked for.
        duration_s: Seconds of sending asked for.
        sent: Packets published and acknowledged.
        delivered: Deliveries the clients received.
        expected: Deliveries due: ``sent`` to the workers (times the workers for
            ``all``), and ``sent`` again with recorders.
        achieved_hz: Packets published per second of sending.
        subscribe_s: Seconds from the first SUBSCRIBE to the last SUBACK.
        subscriptions: Filters subscribed in all.
        broker_cpu_s: mosquitto's CPU from the first packet to the last delivery.
        broker_us_per_packet: ``broker_cpu_s`` per packet published, µs.
        broker_us_per_delivery: ``broker_cpu_s`` per delivery, µs.
        broker_rss_before_mib: mosquitto's memory before the subscriptions, MiB.
        broker_rss_subscribed_mib: Its memory once every SUBACK came, MiB.
        broker_peak_rss_mib: Its peak memory, MiB.
        load_cpu_s: This process's CPU over the same window (the load's own cost).
    """

    devices: int
    subscribers: int
    recorders: int
    mode: str
    secure: bool
    rate_hz: float
    duration_s: float
    sent: int
    delivered: int
    expected: int
    achieved_hz: float
    subscribe_s: float
    subscriptions: int
    broker_cpu_s: float
    broker_us_per_packet: float
    broker_us_per_delivery: float
    broker_rss_before_mib: float
    broker_rss_subscribed_mib: float
    broker_peak_rss_mib: float
    load_cpu_s: float


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024
    return float("nan")


def _open(address: BrokerAddress, client_id: str, user: str | None, password: str | None) -> tuple[PacketReader, int]:
    """A connected socket's reader and the Receive Maximum the broker granted it."""
    sock = socket.create_connection((address.host, address.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect(client_id, user, password))
    reader = PacketReader(sock)
    [(first, body)] = reader.read(1)
    if first >> 4 != 2:
        raise ConnectionError(f"{client_id}: expected a CONNACK, got packet type {first >> 4}")
    return reader, receive_maximum(body)


def _filters(mode: str, ids: list[str], subscribers: int, k: int) -> list[str]:
    """The filters client ``k`` subscribes to (past ``subscribers``: a recorder, ``mode`` being how recorders share)."""
    if k >= subscribers:
        return [subscription(Kind.IMU, share_group="recorders" if mode == "shared" else None)]
    if mode == "held":
        return [topic(d, Kind.IMU) for d in ids[k::subscribers]]
    return [subscription(Kind.IMU, share_group=_SHARE_GROUP if mode == "shared" else None)]


def _subscribe_all(readers: list[PacketReader], filters: list[list[str]]) -> None:
    """Send every client's SUBSCRIBEs at once, then wait for every SUBACK and check each filter was granted."""
    for reader, mine in zip(readers, filters, strict=True):
        chunks = [mine[i : i + SUBSCRIBE_CHUNK] for i in range(0, len(mine), SUBSCRIBE_CHUNK)]
        reader.sock.sendall(b"".join(subscribe(n + 1, chunk) for n, chunk in enumerate(chunks)))
    for reader, mine in zip(readers, filters, strict=True):
        for first, body in reader.read(-(-len(mine) // SUBSCRIBE_CHUNK)):
            packet_id = struct.unpack_from("!H", body, 0)[0]  # then the properties, then a code per filter
            if first >> 4 != SUBACK:
                raise ConnectionError(f"expected a SUBACK, got packet type {first >> 4} (packet id {packet_id})")
            props = body[2]  # no properties expected: one length byte
            refused = [code for code in body[3 + props :] if code >= 0x80]
            if refused:
                raise ConnectionError(f"{len(refused)} filters refused, reason code {refused[0]:#04x}")


def _deliveries(packets: list[tuple[int, bytes]]) -> tuple[int, bytes]:
    """How many of ``packets`` are deliveries, and the PUBACKs that answer them."""
    acks = []
    for first, body in packets:
        if first >> 4 != PUBLISH:
            raise ConnectionError(f"a client got packet type {first >> 4} during the load")
        topic_len = struct.unpack_from("!H", body, 0)[0]
        acks.append(puback(struct.unpack_from("!H", body, 2 + topic_len)[0]))
    return len(acks), b"".join(acks)


def _publishes(ids: list[str], payload: bytes) -> tuple[list[bytes], bytes]:
    """Each device's QoS 1 PUBLISH up to its packet id (fixed header and topic), and what follows the id."""
    heads = []
    for d in ids:
        name = topic(d, Kind.IMU).encode()
        body_len = 2 + len(name) + 2 + 1 + len(payload)
        heads.append(bytes([PUBLISH << 4 | 0x02]) + variable_int(body_len) + struct.pack("!H", len(name)) + name)
    return heads, b"\x00" + payload  # no properties, then the packet


def _send(sock: socket.socket, data: bytes) -> None:
    """Send all of ``data`` on a non-blocking socket (blocking until it is out)."""
    sock.setblocking(True)
    sock.sendall(data)
    sock.setblocking(False)


@dataclass(slots=True)
class _Load:
    """The publisher and the clients of one run, pumped from one loop."""

    publisher: PacketReader
    clients: list[PacketReader]
    window: int  # the most packets unacknowledged: the broker's Receive Maximum
    heads: list[bytes]
    tail: bytes
    sent: int = 0
    acked: int = 0
    delivered: int = 0

    def pump(self, rate_hz: float, total: int, expected: int, drain_timeout_s: float) -> float:
        """Publish ``total`` packets at ``rate_hz`` until ``expected`` deliveries came; return the seconds of sending.

        Raises:
            RuntimeError: A connection closed, or the deliveries did not all come within
                ``drain_timeout_s`` of the last packet.
        """
        with selectors.DefaultSelector() as selector:
            for reader in [self.publisher, *self.clients]:
                reader.sock.setblocking(False)
                selector.register(reader.sock, selectors.EVENT_READ, reader)
            t0 = time.monotonic()
            sending_s = None
            while self.acked < total or self.delivered < expected:
                now = time.monotonic()
                self._publish(min(total, int((now - t0) * rate_hz) + 1) - self.sent)
                if sending_s is None and self.sent == total:
                    sending_s = now - t0
                if sending_s is not None and now - t0 > sending_s + drain_timeout_s:
                    raise RuntimeError(f"{self.delivered} of {expected} deliveries within {drain_timeout_s} s")
                for key, _ in selector.select(timeout=0.001):
                    self._read(key.data)
        return sending_s if sending_s is not None else time.monotonic() - t0

    def _publish(self, due: int) -> None:
        n = min(due, self.window - (self.sent - self.acked))
        if n > 0:
            first, devices = self.sent, len(self.heads)
            _send(
                self.publisher.sock,
                b"".join(
                    self.heads[k % devices] + struct.pack("!H", k % 65535 + 1) + self.tail
                    for k in range(first, first + n)
                ),
            )
            self.sent += n

    def _read(self, reader: PacketReader) -> None:
        data = reader.sock.recv(1 << 18)
        if not data:
            raise RuntimeError("mosquitto closed a connection during the load")
        packets = reader.feed(data)
        if reader is self.publisher:
            self.acked += sum(1 for first, _ in packets if first >> 4 == PUBACK)
        else:
            n, acks = _deliveries(packets)
            self.delivered += n
            _send(reader.sock, acks)


def run(
    devices: int,
    subscribers: int,
    mode: str,
    *,
    rate_hz: float,
    duration_s: float,
    recorders: int = 0,
    secure: bool = False,
    drain_timeout_s: float = 60.0,
) -> BrokerRun:
    """Load a fresh mosquitto as the module docstring says, and measure it.

    Raises:
        ValueError: An unknown mode, fewer devices than clients in ``held``, or nothing to send.
        RuntimeError: mosquitto is missing, did not start, or did not deliver everything
            within ``drain_timeout_s`` of the last packet.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "held" and devices < subscribers:
        raise ValueError(f"held needs at least one device per client: {devices} < {subscribers}")
    total = round(rate_hz * duration_s)
    if total < 1:
        raise ValueError(f"{rate_hz} packets a second for {duration_s} s sends nothing")
    ids = device_ids(devices)
    heads, tail = _publishes(ids, packet_streams(1, 1)[0][0])
    users = ["worker"] * subscribers + ["recorder"] * recorders
    filters = [_filters(mode, ids, subscribers, k) for k in range(subscribers)]
    recorders_mode = "shared" if recorders > 1 else "all"
    filters += [_filters(recorders_mode, ids, subscribers, subscribers + k) for k in range(recorders)]
    expected = total * ((subscribers if mode == "all" else 1) + (1 if recorders else 0))
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="broker-load-")))
        address = BrokerAddress("127.0.0.1", free_port())
        broker = stack.enter_context(
            BrokerProcess(address, engine=BrokerEngine.MOSQUITTO, data_dir=folder, open_access=not secure)
        )
        pid = child_pid("mosquitto")
        if pid is None:
            raise RuntimeError("the mosquitto this bench started was not found among its children")

        def opened(client_id: str, user: str) -> tuple[PacketReader, int]:
            password = None if broker.logins is None else broker.logins.secret(user).read_text().strip()
            reader, window = _open(broker.address, client_id, user if password else None, password)
            stack.callback(reader.sock.close)
            return reader, window

        rss_before = _rss_mib(pid)
        clients = [opened(f"bench-sub-{k}", user)[0] for k, user in enumerate(users)]
        t_sub = time.monotonic()
        _subscribe_all(clients, filters)
        subscribe_s = time.monotonic() - t_sub
        rss_subscribed = _rss_mib(pid)
        publisher, window = opened("bench-pub", "gateway")
        load = _Load(publisher, clients, window, heads, tail)
        meter = Meter({"mosquitto": pid})
        meter.mark()
        cpu0 = time.process_time()
        sending_s = load.pump(rate_hz, total, expected, drain_timeout_s)
        _, [cost] = meter.read()
        load_cpu_s = time.process_time() - cpu0
    return BrokerRun(
        devices=devices,
        subscribers=subscribers,
        recorders=recorders,
        mode=mode,
        secure=secure,
        rate_hz=rate_hz,
        duration_s=duration_s,
        sent=load.sent,
        delivered=load.delivered,
        expected=expected,
        achieved_hz=load.sent / sending_s,
        subscribe_s=subscribe_s,
        subscriptions=sum(map(len, filters)),
        broker_cpu_s=cost.cpu_s,
        broker_us_per_packet=1e6 * cost.cpu_s / load.sent,
        broker_us_per_delivery=1e6 * cost.cpu_s / load.delivered,
        broker_rss_before_mib=rss_before,
        broker_rss_subscribed_mib=rss_subscribed,
        broker_peak_rss_mib=cost.peak_rss_mib,
        load_cpu_s=load_cpu_s,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the loads named on the command line; print a line and a JSON line for each."""
    parser = argparse.ArgumentParser(prog="python -m bench.broker_load", description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[100_000], help="device ids (one run each)")
    parser.add_argument("--subscribers", type=int, default=34, help="subscribing clients (workers)")
    parser.add_argument("--recorders", type=int, default=0, help="clients standing for recorders")
    parser.add_argument("--mode", choices=MODES, nargs="+", default=["held"], help="how the clients subscribe")
    parser.add_argument("--rate", type=float, default=10_000, help="packets published a second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--secure", action="store_true", help="logins and ACLs, as sitless runs mosquitto")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each combination, alternating")
    args = parser.parse_args(argv)
    for _ in range(args.repeat):
        for devices in args.devices:
            for mode in args.mode:
                r = run(
                    devices,
                    args.subscribers,
                    mode,
                    rate_hz=args.rate,
                    duration_s=args.duration,
                    recorders=args.recorders,
                    secure=args.secure,
                )
                print(
                    f"{r.devices:,} devices, {r.subscribers} workers {r.mode}, {r.recorders} recorders"
                    f"{', logins and ACLs' * r.secure}:"
                    f" {r.subscriptions:,} subscriptions in {r.subscribe_s:.2f} s;"
                    f" {r.sent:,} packets at {r.achieved_hz:,.0f}/s, {r.delivered:,} of {r.expected:,} delivered;"
                    f" mosquitto {r.broker_us_per_packet:.1f} µs CPU a packet"
                    f" ({r.broker_us_per_delivery:.1f} a delivery),"
                    f" {r.broker_rss_before_mib:.0f} -> {r.broker_rss_subscribed_mib:.0f} MiB subscribed,"
                    f" peak {r.broker_peak_rss_mib:.0f} MiB; the load itself {r.load_cpu_s:.1f} s CPU",
                    flush=True,
                )
                print(json.dumps(asdict(r)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
