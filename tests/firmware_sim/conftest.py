"""Fixtures for the simulated wearable: recordings of every placement and a broker URL."""

from __future__ import annotations

import pytest

from analysis.settings import Placement
from firmware_sim.motion import generate
from firmware_sim.recording import Recording
from firmware_sim.scenarios import ALL_POSTURES
from ingest.mqtt import BrokerAddress


@pytest.fixture(scope="module")
def all_postures() -> dict[Placement, Recording]:
    """The ``all_postures`` scenario at every placement, seed 3."""
    return {placement: generate(ALL_POSTURES, placement, seed=3) for placement in Placement}


@pytest.fixture
def broker_url(broker: BrokerAddress) -> str:
    """The ``mqtt://`` URL of each real broker in turn (embedded amqtt, then mosquitto)."""
    return broker.url
