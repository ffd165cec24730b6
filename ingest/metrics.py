"""Prometheus metrics and a health check for every service, served over HTTP.

Each service owns one :class:`ServiceMetrics`: its own registry (no process-wide
singleton, so two services in one process, or one test after another, never mix their
numbers). The metrics follow the Prometheus naming conventions
(https://prometheus.io/docs/practices/naming/): a ``sitless_`` prefix, base units in the
name (``_seconds``), ``_total`` on counters, and one label, ``service``.

There is deliberately no per-device label: every label value is a time series of its
own, and Prometheus advises against labels of unbounded cardinality such as user ids
(https://prometheus.io/docs/practices/instrumentation/#do-not-overuse-labels). A
clinic's thousands of wearers would make thousands of series per metric; the counts
per device stay in the store (``Store.add_counts``), where the dashboard reads them.

Nothing here counts a second time what a service already counts: the services hand
their own counts over (:meth:`ServiceMetrics.add_counts`, with the names they already
use), and values they keep anyway (lag, reconnects, queue depth) are read when scraped
(:meth:`ServiceMetrics.read`).

:class:`MetricsServer` serves ``/metrics`` (the Prometheus text format, from
``prometheus_client.make_wsgi_app``) and ``/healthz`` on one port. The library's own
``start_http_server`` answers every path with the metrics and so leaves no room for a
health route; its WSGI app behind a three-line dispatcher, on the standard library's
``wsgiref`` server in a daemon thread, keeps the library's exposition (content
negotiation, gzip) and adds the route.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "AGE_BUCKETS_S",
    "METRICS",
    "Health",
    "MetricSpec",
    "MetricsEndpoint",
    "MetricsServer",
    "ServiceMetrics",
    "ThreadCpu",
    "add_metrics_arguments",
    "metrics_endpoint",
    "stat_cpu_s",
]

log = logging.getLogger(__name__)

#: Where the metrics listen unless ``--metrics-host`` says otherwise: this machine only.
DEFAULT_METRICS_HOST = "127.0.0.1"


class Kind(StrEnum):
    """A metric's Prometheus type."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its name (without ``_total``), type, help text and the service counts that feed it.

    Attributes:
        name: The Prometheus name; a counter's samples get ``_total`` appended, a
            histogram's ``_bucket``, ``_sum`` and ``_count``.
        kind: Counter, gauge or histogram.
        help: What it measures, for the ``# HELP`` line.
        services: The services that export it.
        counts: The names the services count it under (``Worker.counts``, ``Recorder._count``).
    """

    name: str
    kind: Kind
    help: str
    services: tuple[str, ...]
    counts: tuple[str, ...] = ()


_C, _G, _H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM
#: Buckets of the sample-age histogram, s: 50-ms steps up to the 1-s latency bound
#: (docs/performance.md), then coarser ones for a worker catching up on a backlog.
AGE_BUCKETS_S: tuple[float, ...] = (
    *(round(0.05 * i, 2) for i in range(1, 21)),
    1.5,
    2.0,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)
_W, _R, _GW = ("worker",), ("recorder",), ("gateway",)
_WR, _ALL = (*_W, *_R), (*_W, *_R, *_GW)

#: Every metric a sitless service exports (docs/operations.md lists them with their services).
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("sitless_packets_received", _C, "IMU packets taken from the broker, whatever became of them.", _WR),
    MetricSpec(
        "sitless_samples_received",
        _C,
        "IMU samples in packets taken in order (recorder: stored; worker: queued for the analysis).",
        _WR,
    ),
    MetricSpec("sitless_bad_packets", _C, "Packets the codec rejected (counted and skipped).", _WR, ("bad_packets",)),
    MetricSpec("sitless_duplicate_packets", _C, "Packets received again (QoS 1 redelivery).", _WR, ("duplicates",)),
    MetricSpec("sitless_packets_stored", _C, "Packets written to the store for the first time.", _R, ("stored",)),
    MetricSpec("sitless_late_packets", _C, "Packets that arrived after a later one and filled a gap.", _R, ("late",)),
    MetricSpec(
        "sitless_sequence_gaps",
        _C,
        "Gaps in a device's sequence numbers (recorder: seen on arrival; worker: given up waiting for).",
        _WR,
        ("gaps", "gaps_skipped"),
    ),
    MetricSpec(
        "sitless_gaps_filled_from_store",
        _C,
        "Gaps the worker filled with packets the recorder had stored (before giving up on them).",
        _W,
        ("gaps_filled",),
    ),
    MetricSpec(
        "sitless_sequence_restarts", _C, "Devices that started a new sequence (a reset).", _W, ("seq_restarts",)
    ),
    MetricSpec("sitless_alerts", _C, "Sit-too-long alerts raised.", _W, ("alerts",)),
    MetricSpec("sitless_slouch_nudges", _C, "Slouch nudges sent.", _W, ("slouch_nudges",)),
    MetricSpec("sitless_events_published", _C, "Events published on the event topics.", _W),
    MetricSpec(
        "sitless_bad_messages",
        _C,
        "Status, settings or action messages that were not valid, and messages on a topic naming no valid device"
        " (counted and skipped).",
        _WR,
        ("bad_status", "bad_settings", "bad_actions", "bad_topics"),
    ),
    MetricSpec("sitless_duplicate_actions", _C, "User actions received again.", _W, ("duplicate_actions",)),
    MetricSpec(
        "sitless_handling_errors",
        _C,
        "Unexpected errors while handling a message or analysing a device (logged with a traceback).",
        _WR,
        ("errors", "analysis_errors"),
    ),
    MetricSpec(
        "sitless_quarantined_messages", _C, "Messages of quarantined devices, left unanalysed.", _W, ("quarantined",)
    ),
    MetricSpec("sitless_wearers_evicted", _C, "Idle wearers saved and let go of from memory.", _W, ("evicted",)),
    MetricSpec(
        "sitless_devices_handed_over",
        _C,
        "Devices saved and handed over to a worker below its fair share (several workers).",
        _W,
        ("handed_over",),
    ),
    MetricSpec(
        "sitless_flood_deferred_packets",
        _C,
        "Packets of a device past its analysis budget, analysed later than received (held, or left to the store).",
        _W,
        ("flood_deferred",),
    ),
    MetricSpec(
        "sitless_flood_left_to_store_packets",
        _C,
        "Deferred packets past the bound held in memory, analysed from the store when their device catches up.",
        _W,
        ("flood_left_to_store",),
    ),
    MetricSpec(
        "sitless_store_write_failures", _C, "Failed attempts to read or write the store (each is retried).", _WR
    ),
    MetricSpec(
        "sitless_mqtt_reconnects", _C, "Times the broker connection was lost or taken over and made again.", _WR
    ),
    MetricSpec("sitless_client_id_conflicts", _C, "Probes heard from another client using this client id.", _WR),
    MetricSpec("sitless_mqtt_connected", _G, "1 while the MQTT connection is up (gateway: every sensor's).", _ALL),
    MetricSpec(
        "sitless_lag_seconds", _G, "Seconds the newest handled message waited between arrival and handling.", _WR
    ),
    MetricSpec("sitless_inbox_messages", _G, "Messages received and waiting to be handled (bounded queue).", _WR),
    MetricSpec(
        "sitless_mqtt_client_cpu_seconds",
        _C,
        "CPU seconds of the MQTT client (reading, acknowledging, the message callback), in its network thread"
        " or in the loop reading the connection; the rest of process_cpu_seconds is the service's own work.",
        _WR,
    ),
    MetricSpec(
        "sitless_held_packets", _G, "Packets the worker holds: after a gap, queued for the analysis, or deferred.", _W
    ),
    MetricSpec("sitless_wearers", _G, "Wearers analysed in memory.", _W),
    MetricSpec(
        "sitless_sample_age_seconds",
        _H,
        "Seconds from each analysed packet's newest sample (device clock) to the end of its analysis (wall clock).",
        _W,
    ),
    MetricSpec("sitless_leases", _G, "Devices whose lease this worker holds (it analyses them).", _W),
    MetricSpec("sitless_standby_messages", _G, "Messages kept of devices other workers hold, for a take-over.", _W),
    MetricSpec("sitless_ble_notifications", _C, "BLE notifications received from sensors.", _GW),
    MetricSpec("sitless_bad_notifications", _C, "BLE notifications the sensor's profile could not decode.", _GW),
    MetricSpec("sitless_packets_published", _C, "Packets published to the broker (QoS 1).", _GW),
    MetricSpec("sitless_sensor_reconnects", _C, "Times a sensor was connected again after a drop or failure.", _GW),
    MetricSpec("sitless_sensor_connect_failures", _C, "Sensor connection attempts that failed.", _GW),
    MetricSpec("sitless_outbox_packets", _G, "Packets kept on disk until the broker acknowledges them.", _GW),
)

_SPECS = {spec.name: spec for spec in METRICS}


@dataclass(frozen=True, slots=True)
class Health:
    """Whether a service is working: its broker connection is up and its loop runs.

    Attributes:
        connected: The MQTT client is connected.
        running: The loop that handles messages is alive.
        lag_s: Seconds the newest handled message waited (None where a service has no inbox).
    """

    connected: bool
    running: bool
    lag_s: float | None = None

    @property
    def ok(self) -> bool:
        """Connected and running."""
        return self.connected and self.running

    def to_dict(self) -> dict[str, Any]:
        """The ``/healthz`` body.

        >>> Health(True, True, 0.25).to_dict()
        {'status': 'ok', 'connected': True, 'running': True, 'lag_s': 0.25}
        """
        lag = None if self.lag_s is None else round(self.lag_s, 3)
        status = "ok" if self.ok else "unavailable"
        return {"status": status, "connected": self.connected, "running": self.running, "lag_s": lag}


class ServiceMetrics:
    """One service's metrics, in a registry of its own (module docstring).

    Args:
        service: The ``service`` label: ``worker``, ``recorder``, ``gateway``.
        health: Tells whether the service works, for ``/healthz``.
    """

    def __init__(self, service: str, health: Callable[[], Health]) -> None:
        self.service = service
        self.health = health
        self.registry = CollectorRegistry()
        # Every counter of this service exists from the start (at 0), so that rate() sees its first increase.
        self._families: dict[str, Counter] = {}
        self._counters: dict[str, Any] = {}  # by metric name and by the services' count names
        self._histograms: dict[str, Any] = {}
        self._reads: dict[str, Callable[[], float]] = {}
        for spec in METRICS:
            if service not in spec.services:
                continue
            if spec.kind is Kind.COUNTER:
                family = Counter(spec.name, spec.help, ["service"], registry=self.registry)
                self._families[spec.name] = family
                child = family.labels(service=service)
                for key in (spec.name, *spec.counts):
                    self._counters[key] = child
            elif spec.kind is Kind.HISTOGRAM:
                histogram = Histogram(spec.name, spec.help, ["service"], registry=self.registry, buckets=AGE_BUCKETS_S)
                self._histograms[spec.name] = histogram.labels(service=service)
        self.registry.register(_Readings(self))
        ProcessCollector(registry=self.registry)  # CPU, memory, open files (Linux only; empty elsewhere)

    def add(self, name: str, n: float = 1) -> None:
        """Add ``n`` to the counter a metric name or a service's count name stands for.

        Names that no metric of this service exports (bookkeeping counts such as
        ``stale_buzzes``) are ignored.
        """
        child = self._counters.get(name)
        if child is not None and n > 0:
            child.inc(n)

    def add_counts(self, counts: Mapping[tuple[str, str], float]) -> None:
        """Add a service's counts, keyed ``(device_id, name)``, summed over the devices."""
        for (_device_id, name), n in counts.items():
            self.add(name, n)

    def histogram(self, name: str) -> Any:
        """This service's histogram of a name from :data:`METRICS` (``observe(x)`` adds a value).

        Raises:
            KeyError: No histogram of this service has that name.
        """
        return self._histograms[name]

    def read(self, name: str, value: Callable[[], float]) -> None:
        """Export a value the service keeps anyway, read when scraped.

        Args:
            name: A name from :data:`METRICS`.
            value: Returns the counter's total or the gauge's value now.

        Raises:
            KeyError: ``name`` is not in :data:`METRICS`.
        """
        if name not in _SPECS:
            raise KeyError(f"no metric {name!r} in METRICS")
        family = self._families.pop(name, None)
        if family is not None:  # read when scraped instead of counted here
            self.registry.unregister(family)
            self._counters = {k: c for k, c in self._counters.items() if k != name}
        self._reads[name] = value


class ThreadCpu:
    """The CPU seconds of one thread's work, summed over the threads that did it in turn.

    The MQTT client's network thread is started with each connection (paho's
    ``loop_start``) and ends with its ``loop_stop``. The thread notes itself
    (:meth:`enter`, from a callback it runs); before a thread is stopped, :meth:`retire`
    banks its time; the same work done in another thread is added (:meth:`add`). Read
    from ``/proc/self/task`` (Linux, as the process's own ``process_cpu_seconds``);
    elsewhere only what is added counts.

    >>> cpu = ThreadCpu()
    >>> cpu.enter()
    >>> cpu.seconds() >= 0.0
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tid: int | None = None
        self._banked_s = 0.0  # of the threads before
        self._last_s = 0.0  # of the current thread, as last read

    def enter(self) -> None:
        """Measure the calling thread from now on; a thread measured before has ended (its time as last read)."""
        tid = threading.get_native_id()
        if tid == self._tid:  # as on every message: nothing to change (only this thread sets it to itself)
            return
        with self._lock:
            if tid != self._tid:
                self._banked_s += self._last_s
                self._tid, self._last_s = tid, 0.0

    def retire(self) -> None:
        """Bank the measured thread's time, before it is stopped."""
        with self._lock:
            self._read()
            self._banked_s += self._last_s
            self._tid, self._last_s = None, 0.0

    def add(self, seconds: float) -> None:
        """Count the CPU seconds of such work done in another thread."""
        with self._lock:
            self._banked_s += seconds

    def seconds(self) -> float:
        """CPU seconds of the threads measured so far, and of the work added."""
        with self._lock:
            self._read()
            return self._banked_s + self._last_s

    def _read(self) -> None:
        if self._tid is None:
            return
        with contextlib.suppress(OSError):  # not Linux, or the thread ended: its time as last read
            self._last_s = stat_cpu_s(Path(f"/proc/self/task/{self._tid}/stat"))


def stat_cpu_s(path: Path) -> float:
    """User plus system CPU seconds in a Linux ``/proc`` stat file, a process's or a thread's (proc(5)).

    Raises:
        OSError: No such file (not Linux, or the process or thread has ended).
    """
    fields = path.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold anything
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _Readings(Collector):
    """Yields the values a service keeps itself, read at scrape time."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        service = self._metrics.service
        for name, value in list(self._metrics._reads.items()):
            spec = _SPECS[name]
            try:
                v = float(value())
            except Exception:  # a scrape must not fail for one value; the service goes on
                log.debug("could not read %s", name, exc_info=True)
                continue
            family: Metric = (
                CounterMetricFamily(name, spec.help, labels=["service"])
                if spec.kind is Kind.COUNTER
                else GaugeMetricFamily(name, spec.help, labels=["service"])
            )
            family.add_metric([service], v)  # type: ignore[attr-defined]
            yield family


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
