"""The HTTP endpoint of a service's metrics and health check, and its command-line options.

:class:`MetricsServer` serves ``/metrics`` (the Prometheus text format, from
``prometheus_client.make_wsgi_app``) and ``/healthz`` on one port. The library's own
``start_http_server`` answers every path with the metrics and so leaves no room for a
health route; its WSGI app behind a three-line dispatcher, on the standard library's
``wsgiref`` server in a daemon thread, keeps the library's exposition (content
negotiation, gzip) and adds the route. :func:`add_metrics_arguments` and
:func:`metrics_endpoint` give a service's command the ``--metrics-port`` and
``--metrics-host`` options and the :class:`MetricsEndpoint` they name.

A scrape is one short request, and the endpoint costs its service no more than a few of
them: a connection lasts at most :data:`CONNECTION_TIMEOUT_S` (5 s) in all, silent or
not, and at most :data:`MAX_CONNECTIONS` (32) are served at once, each by a thread; one
more is closed as soon as it is accepted. A client that opens connections and sends
nothing thus holds no more than 32 of the process's file descriptors, and only for a
while, never those its service needs for the store and the broker. While such a client
keeps all 32 busy, scrapes are turned away too: what it can deny is the metrics, not
the service. Should accepting fail for want of file descriptors (EMFILE, ENFILE: the
rest of the process used them up), the server rests :data:`ACCEPT_BACKOFF_S` before it
tries again; ``socketserver`` would try again at once, and the pending connection keeps
the socket readable, so it spun at full CPU. A health check or a metric that raises is
logged through this module's logger (one line per 10 s, :mod:`ingest.troubles`) and
answered 503 (``/healthz``) or 500 (``/metrics``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app

from ingest.errors import MetricsServerError
from ingest.service_metrics import ServiceMetrics
from ingest.troubles import RateLimitedLog

__all__ = [
    "ACCEPT_BACKOFF_S",
    "CONNECTION_TIMEOUT_S",
    "DEFAULT_METRICS_HOST",
    "MAX_CONNECTIONS",
    "MetricsEndpoint",
    "MetricsServer",
    "add_metrics_arguments",
    "metrics_endpoint",
]

log = logging.getLogger(__name__)

#: Where the metrics listen unless ``--metrics-host`` says otherwise: this machine only.
DEFAULT_METRICS_HOST = "127.0.0.1"
#: Seconds a connection may last in all, and so stay silent: a scrape is answered in a few
#: milliseconds (3 ms measured beside 31 silent connections), a probe's client gives up
#: after 1 s (Kubernetes' default ``timeoutSeconds``); the rest is room for a slow network.
CONNECTION_TIMEOUT_S = 5.0
#: Connections served at once; one more is closed as soon as it is accepted. A Prometheus
#: server, a probe and a person with curl need a few; 32 threads and descriptors are
#: little beside a service's limit of 1024 descriptors (systemd's default soft limit).
MAX_CONNECTIONS = 32
#: Seconds the server rests after accepting failed for want of file descriptors.
ACCEPT_BACKOFF_S = 0.25
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


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


def _port(text: str) -> int:
    """The type of ``--metrics-port``: a TCP port, in the range :class:`MetricsEndpoint` checks.

    Raises:
        argparse.ArgumentTypeError: Not a whole number, or outside 0..65535.
    """
    try:
        return MetricsEndpoint(int(text)).port
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a port: {text!r} (use 0..65535)") from err


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--metrics-port`` (default off) and ``--metrics-host`` (default 127.0.0.1)."""
    parser.add_argument(
        "--metrics-port",
        type=_port,
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


_Request = socket.socket | tuple[bytes, socket.socket]  # socketserver's type; a TCP server's is its socket


class _QuietHandler(WSGIRequestHandler):
    """Logs each request through this module's logger at DEBUG, not on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingMixIn, WSGIServer):
    """The WSGI server of :class:`MetricsServer`: a thread per connection, few connections, none for long.

    Each connection's socket times out after ``timeout_s`` without data, and
    :meth:`service_actions`, which ``serve_forever`` calls at least every 0.5 s, shuts
    down those open longer than that in all (a client that sends a byte now and then).

    Args:
        address: ``(host, port)`` to listen on.
        timeout_s: Seconds a connection may last.
        max_connections: Connections served at once.
        troubles: Where refused connections and failed accepts are logged.

    Raises:
        OSError: The address cannot be bound.
    """

    daemon_threads = True  # a slow scraper never holds the process at exit
    # The listen backlog (socketserver's default is 5): a burst of connections waits to be
    # accepted, and past the cap closed, instead of having its SYNs dropped and sent again
    # a second later; 100 connections in a row took 10 s with 5, 1 s with 64.
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], *, timeout_s: float, max_connections: int, troubles: RateLimitedLog
    ) -> None:
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self._troubles = troubles
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}  # each open connection, and when it must end
        super().__init__(address, _QuietHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as err:
            if err.errno in _OUT_OF_DESCRIPTORS:  # socketserver drops it and selects again, which returns at once
                self._troubles.warning("accept", "metrics: cannot accept a connection: %s", err)
                time.sleep(ACCEPT_BACKOFF_S)
            raise

    def process_request(self, request: _Request, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._troubles.warning(
                "full",
                "metrics: %d connections open; closing one more from %s",
                self.max_connections,
                client_address[0],
            )
            self.shutdown_request(request)
            return
        sock = cast(socket.socket, request)
        sock.settimeout(self.timeout_s)
        with self._lock:
            self._deadlines[sock] = time.monotonic() + self.timeout_s
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: the caller closes the socket
            self._slots.release()
            raise

    def process_request_thread(self, request: _Request, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def shutdown_request(self, request: _Request) -> None:
        with self._lock:  # forgotten before it is closed: a closed socket's descriptor may be a new one's already
            self._deadlines.pop(cast(socket.socket, request), None)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        self.end_connections(time.monotonic())

    def end_connections(self, due: float = math.inf) -> None:
        """Shut down the connections that must end by ``due`` (monotonic seconds; all by default).

        Their threads then read the end of the stream, or fail to write, and finish.
        """
        with self._lock:
            for sock, deadline in self._deadlines.items():
                if deadline <= due:
                    with contextlib.suppress(OSError):  # already shut down, or reset by the client
                        sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: _Request, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, OSError):  # a client gone silent (timed out) or away (reset): nothing to do but close
            log.debug("metrics: connection from %s ended: %s", client_address[0], err)
        else:
            self._troubles.warning("request", "metrics: a request from %s failed", client_address[0], exc_info=True)


_StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` of one service in a daemon thread (module docstring).

    ``/healthz`` answers 200 with ``{"status": "ok", "connected": true, ...}`` while the
    service is connected and its loop runs, else 503 with the same fields; 503 with
    ``{"status": "error"}`` too when the service's health check raises.

    Args:
        metrics: The service's metrics.
        endpoint: Where to listen.
        timeout_s: Seconds a connection may last (:data:`CONNECTION_TIMEOUT_S`).
        max_connections: Connections served at once (:data:`MAX_CONNECTIONS`).

    Raises:
        MetricsServerError: The endpoint cannot be bound: its port is taken, or its host
            is not an address of this machine.
        ValueError: ``timeout_s`` is not positive or ``max_connections`` is below 1.
    """

    def __init__(
        self,
        metrics: ServiceMetrics,
        endpoint: MetricsEndpoint,
        *,
        timeout_s: float = CONNECTION_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        self.metrics = metrics
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._troubles = RateLimitedLog(log)
        try:
            self._httpd = _Server(
                (endpoint.host, endpoint.port),
                timeout_s=timeout_s,
                max_connections=max_connections,
                troubles=self._troubles,
            )
        except OSError as err:  # taken (EADDRINUSE), not this machine's (EADDRNOTAVAIL), unknown (gaierror)
            raise MetricsServerError(
                f"cannot serve metrics on {endpoint.host}:{endpoint.port}: {err.strerror or err}"
            ) from err
        self._httpd.set_app(self._app)
        self.port: int = self._httpd.server_address[1]
        self.host = endpoint.host
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"metrics-{metrics.service}", daemon=True
        )
        self._thread.start()
        log.info("%s: metrics on http://%s:%d/metrics", metrics.service, endpoint.host, self.port)

    def _app(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            return self._route(path, environ, start_response)
        except Exception:  # the service's own check or reader failed: logged here, not printed by wsgiref
            self._troubles.warning(path, "%s: %s failed", self.metrics.service, path, exc_info=True)
        if path == "/healthz":
            start_response(
                "503 Service Unavailable", [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
            )
            return [b'{"status": "error"}']
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [b"the metrics cannot be read: see the service's log\n"]

    def _route(self, path: str, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
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
        """Stop serving, end the connections still open and release the port."""
        self._httpd.shutdown()
        self._httpd.end_connections()  # so that their threads, which server_close waits for, end now
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
