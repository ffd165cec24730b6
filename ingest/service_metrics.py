"""One service's Prometheus metrics in a registry of its own, and its health.

Each service owns one :class:`ServiceMetrics`: its own registry (no process-wide
singleton, so two services in one process, or one test after another, never mix their
numbers), with the metrics of :data:`~ingest.metric_specs.METRICS` that the service
exports and one label, ``service``. The services hand their own counts over
(:meth:`ServiceMetrics.add_counts`, with the names they already use), and values they
keep anyway (lag, reconnects, queue depth) are read when scraped
(:meth:`ServiceMetrics.read`). :class:`Health` says whether the service works, for the
``/healthz`` route of :class:`~ingest.metrics_server.MetricsServer`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingest.metric_specs import AGE_BUCKETS_S, METRIC_BY_NAME, METRICS, Kind

__all__ = ["Health", "ServiceMetrics"]

log = logging.getLogger(__name__)


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
        if name not in METRIC_BY_NAME:
            raise KeyError(f"no metric {name!r} in METRICS")
        family = self._families.pop(name, None)
        if family is not None:  # read when scraped instead of counted here
            self.registry.unregister(family)
            self._counters = {k: c for k, c in self._counters.items() if k != name}
        self._reads[name] = value


class _Readings(Collector):
    """Yields the values a service keeps itself, read at scrape time."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        service = self._metrics.service
        for name, value in list(self._metrics._reads.items()):
            spec = METRIC_BY_NAME[name]
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
