"""Shared pieces of the end-to-end tests: the simulated wearable and store look-ups."""

from __future__ import annotations

import dataclasses

from analysis import Placement
from firmware_sim.device import Device, DeviceSettings
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Activity, Script, Step, scenario
from ingest.mqtt import BrokerAddress
from ingest.store import Store

DEVICE = "e2e-01"
# The quick scenario: 2 min walking, then 35 min seated with fidgets; the alert is due
# 30 min after the sitting bout starts, i.e. at 32 min.
ALERT_DUE_S = 120.0 + 30 * 60.0
# 600x plays the 33-minute script in ~3.5 s of wall time: fast, yet a rate (1,200 packets/s)
# both brokers and the in-process services keep up with.
SPEED = 600.0
#: Walk 2 min, then sit until the wearable is stopped (4 h at most): the sitting bout
#: runs on, and so its alert stays due, however far behind a busy machine leaves the worker.
SIT_ON = Script("sit_on", (Step(Activity.WALKING, 120.0), Step(Activity.SITTING, 4 * 3600.0)))


def device(
    broker: BrokerAddress,
    minutes: float,
    *,
    drop_prob: float = 0.0,
    speed: float = SPEED,
    loop: bool = False,
    script: Script | None = None,
) -> Device:
    """The simulated wearable playing the quick scenario's first ``minutes`` (again and again with ``loop``),
    or the first ``minutes`` of another ``script``."""
    script = (scenario("quick") if script is None else script).truncated(minutes * 60)
    params = dataclasses.replace(MotionParams(), drop_prob=drop_prob)
    settings = DeviceSettings(
        device_id=DEVICE,
        broker=broker,
        placement=Placement.THIGH,
        speed=speed,
        seed=7,
        params=params,
        start_s=1.7e9,
        loop=loop,
    )
    return Device(script, settings)


def events(store_url: str, kind: str) -> list[dict[str, object]]:
    with Store(store_url) as store:
        return [e.body for e in store.events(DEVICE, kinds=[kind])]
