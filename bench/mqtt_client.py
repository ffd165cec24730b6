"""``python -m bench.mqtt_client``: what receiving one packet costs paho, before any of sitless's work.

Every live packet reaches the worker (and the recorder) as one MQTT message, so the
client's own cost per message bounds the wearers a worker core can take whatever the
analysis costs: a wearer sends 2 packets a second. This starts an open mosquitto on a
free port (``ingest.broker.BrokerProcess``), subscribes with a client made as the
services make theirs (``ingest.mqtt.make_client``: MQTT 5 where the broker allows it,
QoS 1, a callback that only counts), and has another process publish ``--messages``
messages of a packet's size (28-byte header and 25 samples of 6 bytes, ``ingest.codec``)
as fast as the broker takes them. It prints the receiving process's CPU time per
message (both paho threads) and the wearers at 2 messages a second that one core of it
would carry, the least of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ingest.broker import BrokerEngine, BrokerProcess, free_port
from ingest.mqtt import BrokerAddress, connect, make_client

__all__ = ["main"]

#: A live packet's payload size: the codec's 28-byte header and 25 samples of 3 int16.
PACKET_BYTES = 28 + 25 * 6
TOPIC = "sitless/v1/bench-{i}/imu"

_PUBLISHER = """
import sys
from ingest.mqtt import BrokerAddress, connect, make_client
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = make_client("bench-publisher")
client.max_inflight_messages_set(1000)
connect(client, BrokerAddress(host, port), timeout_s=30)
payload = bytes({size})
infos = [client.publish("sitless/v1/bench-%d/imu" % (i % 100), payload, qos=1) for i in range(n)]
for info in infos:
    info.wait_for_publish(timeout=120)
client.disconnect()
client.loop_stop()
"""


def _one_run(address: BrokerAddress, messages: int) -> float:
    """CPU seconds this process spent receiving ``messages`` messages."""
    got = 0
    done = threading.Event()

    def on_message(_c: object, _u: object, _m: object) -> None:
        nonlocal got
        got += 1
        if got == messages:
            done.set()

    subscribed = threading.Event()
    client = make_client(f"bench-subscriber-{time.monotonic_ns()}", mqtt5=address.mqtt5)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    connect(client, address, timeout_s=30)
    try:
        client.subscribe("sitless/v1/+/imu", qos=1)
        if not subscribed.wait(30):
            raise RuntimeError("no SUBACK from the broker")
        start = time.process_time()
        script = _PUBLISHER.format(size=PACKET_BYTES)
        publisher = subprocess.Popen([sys.executable, "-c", script, address.host, str(address.port), str(messages)])
        if not done.wait(600):
            raise RuntimeError(f"only {got} of {messages} messages arrived")
        cpu_s = time.process_time() - start
        publisher.wait(60)
        return cpu_s
    finally:
        client.disconnect()
        client.loop_stop()


def main(argv: list[str] | None = None) -> int:
    """Print the receiving client's CPU time per message."""
    parser = argparse.ArgumentParser(prog="python -m bench.mqtt_client", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="messages per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the least is reported")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        address = BrokerAddress("127.0.0.1", free_port())
        engine = BrokerEngine.MOSQUITTO
        with BrokerProcess(address, engine=engine, data_dir=Path(folder), open_access=True) as broker:
            best = min(_one_run(broker.address, args.messages) for _ in range(args.repeat))
    per_message_us = best / args.messages * 1e6
    print(
        f"paho receiving {args.messages} QoS 1 messages of {PACKET_BYTES} bytes through mosquitto "
        f"(least of {args.repeat} runs): {per_message_us:.1f} us CPU per message, "
        f"{1e6 / per_message_us:,.0f} messages per core-second, "
        f"{1e6 / per_message_us / 2:,.0f} wearers per core at 2 packets a second"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
