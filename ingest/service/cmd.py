"""Every service's command line: the options they all take, and :func:`serve`, which runs one until a signal."""

from __future__ import annotations

import argparse
import contextlib
import signal
from typing import TYPE_CHECKING

from ingest.errors import MetricsServerError
from ingest.metrics import MetricsEndpoint, MetricsServer, add_metrics_arguments
from ingest.mqtt import DEFAULT_BROKER_URL
from ingest.signals import stop_on_signals
from ingest.store import add_store_argument

if TYPE_CHECKING:  # ingest.service imports this module
    from ingest.service import MqttService

__all__ = ["add_service_arguments", "serve"]


def add_service_arguments(parser: argparse.ArgumentParser, client_id: str) -> None:
    """Add the options every MQTT service takes: ``--broker``, ``--store``, ``--client-id``, ``--metrics-port``."""
    parser.add_argument("--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker URL (default {DEFAULT_BROKER_URL})")
    add_store_argument(parser)
    parser.add_argument(
        "--client-id", default=client_id, help=f"MQTT client id; the broker keeps the session under it ({client_id})"
    )
    add_metrics_arguments(parser)


def serve(service: MqttService, metrics: MetricsEndpoint | None = None) -> int:
    """Run a service in this thread until SIGINT or SIGTERM; it closes itself on the way out.

    Args:
        service: The service to run.
        metrics: Where to serve its metrics and health check (:mod:`ingest.metrics`); None for nowhere.

    Returns:
        The exit status, 0.

    Raises:
        MetricsServerError: The metrics endpoint cannot be bound; the service is closed first.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals(service.stop, (signal.SIGTERM,)))
        if metrics is not None:
            try:
                stack.enter_context(MetricsServer(service.metrics, metrics))
            except MetricsServerError:
                service.close()  # built by the caller (its store is open), and run() that would close it never runs
                raise
        with contextlib.suppress(KeyboardInterrupt):
            service.run()
    return 0
