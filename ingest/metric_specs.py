"""The metrics a sitless service exports: name, Prometheus type, help text and the counts that feed them.

:data:`METRICS` lists every metric of the worker, the recorder and the gateway
(docs/operations.md lists them with their services). The names follow the Prometheus
naming conventions (https://prometheus.io/docs/practices/naming/): a ``sitless_``
prefix, base units in the name (``_seconds``), ``_total`` on counters. Each
:class:`MetricSpec` also names the counts a service already keeps under its own names
(``Worker.counts``, ``Recorder._count``), so that nothing is counted a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AGE_BUCKETS_S", "METRICS", "METRIC_BY_NAME", "Kind", "MetricSpec"]


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
    MetricSpec(
        "sitless_silent_sensors",
        _C,
        "Times a sensor connected but sending no samples (silence_timeout_s) was disconnected to connect again.",
        _GW,
    ),
    MetricSpec(
        "sitless_packets_kept_behind",
        _C,
        "Packets kept on disk only, the broker away or the publish window full; published from the outbox later.",
        _GW,
    ),
    MetricSpec("sitless_outbox_packets", _G, "Packets kept on disk until the broker acknowledges them.", _GW),
)

#: Every metric of :data:`METRICS`, by its name.
METRIC_BY_NAME = {spec.name: spec for spec in METRICS}
