"""The worker in its message loop gathers a wearer's packets (``WorkerSettings.gather_s``).

Handed over one at a time at the wearable's pace, as the loop takes them, a 50 Hz
wearer's 0.5-s packets are analysed two to a call; none is left waiting once its device
goes quiet; the events are those of packets analysed one by one; and a snapshot saved
while a packet waits claims only what was analysed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import AlertPolicy, Analyzer, Placement
from firmware_sim.motion import generate
from firmware_sim.scenarios import scenario
from ingest.service import Message
from ingest.store import Store
from ingest.worker import Worker, WorkerSettings
from tests.ingest.test_worker import DEVICE, packet_message, packet_messages
from tests.ingest.test_worker_leases import Clock


@pytest.fixture
def looping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers act as in their message loop (``MqttService.looping``), which these tests play by hand."""
    monkeypatch.setattr(Worker, "looping", property(lambda self: True))


@pytest.fixture
def call_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The samples of every ``Analyzer.update`` call, in order."""
    sizes: list[int] = []
    update = Analyzer.update

    def counted(self: Analyzer, t_s: NDArray[np.float64], *args: Any) -> Any:
        sizes.append(len(t_s))
        return update(self, t_s, *args)

    monkeypatch.setattr(Analyzer, "update", counted)
    return sizes


def live(worker: Worker, clock: Clock, messages: list[Message], step_s: float = 0.5) -> None:
    """Hand messages over one at a time as the loop takes them (absorb, tick, flush), a packet's time apart."""
    for m in messages:
        clock.now_s += step_s
        worker.absorb([m])
        worker.tick()
        worker.flush()


def _settings(url: str, **kw: Any) -> WorkerSettings:
    policy = AlertPolicy(max_sitting_s=120.0)  # alerts within the scenario's minutes
    return WorkerSettings(store_url=url, policy=policy, flood_samples_per_s=math.inf, **kw)


@pytest.mark.usefixtures("looping")
def test_live_packets_are_analysed_two_to_a_call_and_none_is_left_waiting(
    any_store_url: str, call_sizes: list[int]
) -> None:
    """41 packets at their pace: 20 calls of two packets; the last one waits for its
    next packet, and, none coming, is analysed once it has waited twice ``gather_s``."""
    clock = Clock()
    worker = Worker(_settings(any_store_url), clock=clock)
    live(worker, clock, [packet_message(s) for s in range(41)])
    assert call_sizes == [50] * 20
    wearer = worker._wearers[DEVICE]
    assert [b.seq for b in wearer.queued] == [40]
    assert 0 < worker.tick_s <= 2 * worker.settings.gather_s  # the loop comes back for it
    clock.now_s += 2 * worker.settings.gather_s
    worker.tick()
    worker.flush()
    assert call_sizes == [50] * 20 + [25]
    assert not wearer.queued
    age = worker.metrics.registry.get_sample_value("sitless_sample_age_seconds_count", {"service": "worker"})
    assert age == 41  # each packet's age at its analysis
    worker.close()


@pytest.mark.usefixtures("looping")
def test_gathered_packets_give_the_events_of_packets_analysed_one_by_one(tmp_path: Path) -> None:
    """All postures at the thigh, with an alert after 2 min of sitting: the same events
    (kinds, times and bodies) whether packets are gathered or each analysed at once."""
    rec = generate(scenario("all_postures"), Placement.THIGH, seed=1)
    messages = packet_messages(rec.t_s + 1.7e9, rec.acc_g)
    found = {}
    for gather_s in (0.5, 0.0):
        url = f"sqlite:///{tmp_path / f'gather-{gather_s}.sqlite'}"
        clock = Clock()
        worker = Worker(_settings(url, gather_s=gather_s), clock=clock)
        live(worker, clock, messages)
        worker.close()
        with Store(url) as store:
            found[gather_s] = [(e.kind, e.t_s, e.body) for e in store.events(DEVICE)]
    assert len(found[0.0]) > 10
    assert {kind for kind, _, _ in found[0.0]} >= {"sitting_bout", "alert"}
    assert found[0.5] == found[0.0]


@pytest.mark.usefixtures("looping")
def test_a_snapshot_saved_while_a_packet_waits_claims_only_what_was_analysed(any_store_url: str) -> None:
    """Packet 2 waits for 3 when the snapshot falls due: the snapshot is saved with seq 1
    and 2 packets counted, and a restarted worker replays 2 and 3 from the store."""
    clock = Clock()
    worker = Worker(_settings(any_store_url, snapshot_every_s=0.0), clock=clock)
    live(worker, clock, [packet_message(s) for s in range(3)])
    assert [b.seq for b in worker._wearers[DEVICE].queued] == [2]
    with Store(any_store_url) as store:
        assert _saved_seq(store) == 1
        assert store.counters("worker")[("worker", DEVICE, "packets")] == 2
    live(worker, clock, [packet_message(3)])
    with Store(any_store_url) as store:
        assert _saved_seq(store) == 3
        assert store.counters("worker")[("worker", DEVICE, "packets")] == 4
    worker.close()


def _saved_seq(store: Store) -> int:
    state = store.load_state(DEVICE)
    assert state is not None
    return state.seq


def test_packets_handed_to_handle_are_analysed_at_once(any_store_url: str, call_sizes: list[int]) -> None:
    """Outside the message loop (a caller of ``handle``) nothing waits: one call per batch."""
    worker = Worker(_settings(any_store_url))
    for s in range(3):
        worker.handle([packet_message(s)])
    assert call_sizes == [25, 25, 25]
    worker.close()
