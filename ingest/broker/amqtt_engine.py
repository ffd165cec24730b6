"""The embedded broker's amqtt engine: its configuration, and amqtt run in this process.

:class:`ingest.broker.BrokerProcess` runs it in a child process of its own
(``python -m ingest.broker``, the package's ``__main__``), which only then imports
amqtt.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

from ingest.broker_setup import TlsFiles
from ingest.mqtt import BrokerAddress

__all__ = ["broker_config", "serve"]

log = logging.getLogger(__name__)


def broker_config(host: str, port: int, logins: Path | None = None, tls: TlsFiles | None = None) -> dict[str, Any]:
    """Amqtt configuration: one TCP listener (TLS with ``tls``), logins and ACLs, no logging or $SYS plugins.

    With ``logins`` (a :class:`ingest.broker_setup.Logins` folder) only its logins get in,
    each held to its topics (:mod:`ingest.amqtt_auth`). Without, any client that gives a
    user name (and any password) gets in: amqtt keeps the session of a
    ``clean_session=False`` client across reconnects, with its subscriptions and queued
    QoS 1 messages, only when the client is not anonymous (amqtt 0.12.1,
    ``Broker._session_monitor``), and that session is what lets a recorder or worker
    restart without losing a packet.
    """
    plugins: dict[str, dict[str, Any]] = (
        {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}}
        if logins is None
        else {
            "ingest.amqtt_auth.PasswordFilePlugin": {"logins": str(logins)},
            "ingest.amqtt_auth.AclPlugin": {},
        }
    )
    listener: dict[str, Any] = {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}
    if tls is not None:  # amqtt 0.12.1: ListenerConfig's ssl, certfile, keyfile and cafile
        listener |= {"ssl": True, "certfile": str(tls.certfile), "keyfile": str(tls.keyfile), "cafile": str(tls.cafile)}
    return {"listeners": {"default": listener}, "plugins": plugins}


def serve(address: BrokerAddress, logins: Path | None = None, tls: TlsFiles | None = None) -> None:
    """Run amqtt in this process until SIGINT or SIGTERM (``logins`` and ``tls``: :func:`broker_config`)."""
    from ingest.amqtt_auth import SitlessBroker  # imported here: only the broker process needs amqtt

    for noisy in ("transitions", "amqtt"):  # per-connection chatter at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def _main() -> None:
        broker = SitlessBroker(broker_config(address.host, address.port, logins, tls))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        quiet_start = logging.getLogger("amqtt.broker")
        quiet_start.setLevel(logging.CRITICAL)  # a failed start logs a traceback; its error is said once, by the caller
        try:
            await broker.start()
        finally:
            quiet_start.setLevel(logging.NOTSET)
        log.info("MQTT broker listening on %s", address.url)
        await stop.wait()
        await broker.shutdown()

    asyncio.run(_main())
