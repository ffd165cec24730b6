"""Prometheus metrics and a health check for every service, served over HTTP.

Each service owns one :class:`ServiceMetrics` (:mod:`ingest.service_metrics`): its own
registry (no process-wide singleton, so two services in one process, or one test after
another, never mix their numbers). The metrics (:data:`METRICS`,
:mod:`ingest.metric_specs`) follow the Prometheus naming conventions
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
(:meth:`ServiceMetrics.read`). :class:`ThreadCpu` (:mod:`ingest.thread_cpu`) measures
the MQTT client's own CPU time.

:class:`MetricsServer` (:mod:`ingest.metrics_server`) serves ``/metrics`` (the
Prometheus text format, from ``prometheus_client.make_wsgi_app``) and ``/healthz`` on
one port, beside the library's exposition (content negotiation, gzip).
"""

from __future__ import annotations

from ingest.metric_specs import AGE_BUCKETS_S, METRICS, MetricSpec
from ingest.metrics_server import MetricsEndpoint, MetricsServer, add_metrics_arguments, metrics_endpoint
from ingest.service_metrics import Health, ServiceMetrics
from ingest.thread_cpu import ThreadCpu, stat_cpu_s

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
