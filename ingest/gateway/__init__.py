"""The BLE gateway: real sensors in over Bluetooth (bleak), sitless packets out over MQTT.

For each sensor of its settings it connects over BLE, decodes the notifications into
samples, cuts them into packets and reconnects with backoff whenever the sensor drops
(:mod:`ingest.gateway.sensor`); each packet is kept on disk under a sequence number
that goes on across restarts, then published, a bounded number at a time, and the
sensor's status with it (:mod:`ingest.gateway.publisher`).

The package's parts: :class:`Gateway` here; its settings and the sensors to stream
(``settings``); one sensor's stream over BLE, and the scan for sensors nearby
(``sensor``); what is kept and published of a sensor (``publisher``). ``sitless
gateway`` (:mod:`ingest.gateway.cmd`) runs it from the command line.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter

from ingest.gateway.sensor import Sensor, scan, write_all
from ingest.gateway.settings import GatewaySettings, SensorSpec, safe_device_id
from ingest.metrics import Health, ServiceMetrics
from ingest.outbox import open_outbox

__all__ = [
    "Gateway",
    "GatewaySettings",
    "SensorSpec",
    "safe_device_id",
    "scan",
    "write_all",
]


class Gateway:
    """Streams every sensor of the settings until :meth:`stop` (module docstring).

    Raises:
        StoreError: The outbox cannot be opened (a damaged one is moved aside: ``ingest.outbox.open_outbox``).
    """

    def __init__(self, settings: GatewaySettings) -> None:
        if not settings.sensors:
            raise ValueError("the gateway needs at least one sensor (--device ADDRESS)")
        ids = [s.id for s in settings.sensors]
        if len(set(ids)) != len(ids):
            raise ValueError(f"two sensors share a device id: {ids}")
        self.settings = settings
        self.counts: Counter[str] = Counter()
        self.outbox = open_outbox(settings.data_dir / "outbox.sqlite")
        self.sensors = [Sensor(spec, settings, self.outbox, self.counts) for spec in settings.sensors]
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.metrics = ServiceMetrics("gateway", self.health)
        for name, count in (
            ("sitless_ble_notifications", "notifications"),
            ("sitless_bad_notifications", "bad_notifications"),
            ("sitless_packets_published", "packets"),
            ("sitless_sensor_reconnects", "reconnects"),
            ("sitless_sensor_connect_failures", "connect_failures"),
            ("sitless_silent_sensors", "silent_sensor"),
            ("sitless_packets_kept_behind", "kept_behind"),
        ):
            self.metrics.read(name, functools.partial(self.counts.__getitem__, count))
        self.metrics.read("sitless_outbox_packets", self.outbox.count)
        self.metrics.read("sitless_mqtt_connected", lambda: self.health().connected)

    def health(self) -> Health:
        """Whether every sensor's MQTT link is up and the gateway runs (``/healthz``)."""
        running = self._loop is not None and self._loop.is_running() and not (self._stop and self._stop.is_set())
        return Health(all(sensor.link.connected for sensor in self.sensors), running)

    async def run(self) -> None:
        """Stream until :meth:`stop`; then flush, go offline and close the outbox.

        A sensor's stream that fails stops the others, which finish (flush, go offline)
        before the outbox closes; then the failure is raised.
        """
        self._loop = asyncio.get_running_loop()
        self._stop = stop = asyncio.Event()
        tasks = [asyncio.ensure_future(sensor.run(stop)) for sensor in self.sensors]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            stop.set()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            self.outbox.close()
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    def stop(self) -> None:
        """Ask :meth:`run` to finish (from any thread)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
