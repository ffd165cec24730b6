"""The HTTP endpoint of a service's metrics and health check, and its command-line options.

:class:`MetricsServer` serves ``/metrics`` (the Prometheus text format, from
``prometheus_client.make_wsgi_app``) and ``/healthz`` on one port. The library's own
``start_http_server`` answers every path with the metrics and so leaves no room for a
health route; its WSGI app behind a three-line dispatcher, on the standard library's
``wsgiref`` server in a daemon thread, keeps the library's exposition (content
negotiation, gzip) and adds the route. :func:`add_metrics_arguments` and
:func:`metrics_endpoint` give a service's command the ``--metrics-port`` and
``--metrics-host`` options and the :class:`MetricsEndpoint` they name.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from ingest.service_metrics import ServiceMetrics

__all__ = ["DEFAULT_METRICS_HOST", "MetricsEndpoint", "MetricsServer", "add_metrics_arguments", "metrics_endpoint"]

log = logging.getLogger(__name__)

#: Where the metrics listen unless ``--metrics-host`` says otherwise: this machine only.
DEFAULT_METRICS_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """Where the metrics and health endpoints listen.

    Attributes:
        port: TCP port; 0 picks a free one.
        host: Interface to bind; the default keeps them on this machine.
    """

    port: int
    host: str = DEFAULT_METRICS_HOST

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"metrics port must be 0..65535, got {self.port}")


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--metrics-port`` (default off) and ``--metrics-host`` (default 127.0.0.1)."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on /metrics and a health check on /healthz at this port (default off)",
    )
    parser.add_argument(
        "--metrics-host",
        default=DEFAULT_METRICS_HOST,
        help=f"interface for --metrics-port (default {DEFAULT_METRICS_HOST}: this machine only)",
    )


def metrics_endpoint(args: argparse.Namespace) -> MetricsEndpoint | None:
    """The endpoint the options name, or None when ``--metrics-port`` is not given."""
    port: int | None = getattr(args, "metrics_port", None)
    if port is None:
        return None
    return MetricsEndpoint(port, getattr(args, "metrics_host", DEFAULT_METRICS_HOST))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the process at exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` of one service in a daemon thread (module docstring).

    ``/healthz`` answers 200 with ``{"status": "ok", "connected": true, ...}`` while the
    service is connected and its loop runs, else 503 with the same fields.

    Args:
        metrics: The service's metrics.
        endpoint: Where to listen.

    Raises:
        OSError: The port cannot be bound.
    """

    def __init__(self, metrics: ServiceMetrics, endpoint: MetricsEndpoint) -> None:
        self.metrics = metrics
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._httpd = make_server(endpoint.host, endpoint.port, self._app, _Server, handler_class=_QuietHandler)
        self.port: int = self._httpd.server_address[1]
        self.host = endpoint.host
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"metrics-{metrics.service}", daemon=True
        )
        self._thread.start()
        log.info("%s: metrics on http://%s:%d/metrics", metrics.service, endpoint.host, self.port)

    def _app(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            health = self.metrics.health()
            body = json.dumps(health.to_dict()).encode()
            status = "200 OK" if health.ok else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [body]
        if path == "/metrics":
            result: Iterable[bytes] = self._metrics_app(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    def close(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
