"""Workers sharing devices through leases, fed messages directly: who analyses what, and take-overs.

Each worker gets its own clock, moved by hand, for the renewal cadence; a lease is made
to expire by claiming it again for 0 s, never by waiting.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import pytest

from ingest.codec import decode
from ingest.mqtt import BrokerAddress
from ingest.service import Message
from ingest.store import BatchRow, Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from ingest.worker.cmd import register, run
from tests.ingest.test_worker import DEVICE, packet_message
from tests.support import mqtt_client, wait_until


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def worker(store_url: str, name: str, clock: Clock, **options: Any) -> Worker:
    settings = WorkerSettings(store_url=store_url, client_id=f"w-{name}", worker_id=name, lease_s=10.0, **options)
    return Worker(settings, clock=clock)


def packets(seqs: range, device_id: str = DEVICE) -> list[Message]:
    return [dataclasses.replace(packet_message(s), topic=topic(device_id, Kind.IMU)) for s in seqs]


def packets_counted(store_url: str) -> int:
    with Store(store_url) as store:
        return store.counters("worker").get(("worker", DEVICE, "packets"), 0)


def test_a_device_is_analysed_by_the_worker_that_claimed_it_first(any_store_url: str) -> None:
    """Both workers hear the device; the first to claim it analyses it, the other only keeps its messages."""
    clock = Clock()
    a, b = worker(any_store_url, "a", clock), worker(any_store_url, "b", clock)
    a.handle(packets(range(0, 4)))
    b.handle(packets(range(0, 4)))
    assert a.ownership.held == {DEVICE}
    assert b.ownership.held == set()
    assert DEVICE in a._wearers
    assert DEVICE not in b._wearers
    assert b.ownership.standby_messages() == 4
    a.close()
    b.close()


def test_a_take_over_goes_on_from_the_snapshot_with_the_kept_messages(any_store_url: str) -> None:
    """No recorder stores anything: the worker taking a device over catches up from the messages
    it kept, after the dead worker's last snapshot, and every packet is counted once."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a), worker(any_store_url, "b", clock_b)
    a.handle(packets(range(0, 40)))
    b.handle(packets(range(0, 40)))
    a.flush(force=True)  # a's last snapshot, after packet 39
    a.handle(packets(range(40, 60)))  # analysed, never saved: a dies here
    b.handle(packets(range(40, 60)))
    with Store(any_store_url) as store:
        store.claim_leases("a", [DEVICE], 0.0)  # a stopped renewing: its lease expires
    clock_b.now_s += 10.0  # b's next renewal is due
    b.handle(packets(range(60, 80)))
    assert b.ownership.held == {DEVICE}
    assert b._wearers[DEVICE].seq == 79
    b.close()
    assert packets_counted(any_store_url) == 80  # 40 in a's snapshot, 40 analysed by b
    with Store(any_store_url) as store:
        assert store.counters("worker").get(("worker", DEVICE, "gaps_skipped"), 0) == 0
        assert store.leases() == {}  # b let go of it as it closed


def test_a_worker_that_lost_its_lease_stops_analysing_and_saves_nothing(
    any_store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker stalled past its lease finds the device taken: it lets it go without writing over
    the new owner's state, and keeps its messages again."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a), worker(any_store_url, "b", clock_b)
    a.handle(packets(range(0, 20)))
    b.handle(packets(range(0, 20)))
    with Store(any_store_url) as store:
        store.claim_leases("a", [DEVICE], 0.0)
    clock_b.now_s += 10.0
    b.handle(packets(range(20, 30)))  # b takes it over from a's first snapshot
    assert b.ownership.held == {DEVICE}
    a.handle(packets(range(20, 30)))  # a wakes up; its save is refused
    a.flush(force=True)
    assert DEVICE not in a._wearers
    assert a.ownership.held == set()
    assert "another worker's now" in caplog.text
    b.close()
    a.close()
    with Store(any_store_url) as store:
        state = store.load_state(DEVICE)
    assert state is not None
    assert state.status["worker"] == "b"
    assert packets_counted(any_store_url) == 30


def test_workers_starting_together_split_the_fleet(any_store_url: str) -> None:
    """Two workers present before the wearers come each take a fair share, and a third
    worker's share is taken over when it dies; a worker alone takes them all."""
    clock = Clock()
    a, b = worker(any_store_url, "a", clock), worker(any_store_url, "b", clock)
    a.flush()  # both present (their first renewal)
    b.flush()
    fleet = [f"d{i}" for i in range(6)]
    burst = [m for d in fleet for m in packets(range(0, 2), d)]
    a.handle(burst)
    b.handle(burst)
    for _ in range(3):  # devices refused in a race are claimed at the next renewals
        clock.now_s += 10.0
        a.flush()
        b.flush()
    assert a.ownership.held | b.ownership.held == set(fleet)
    assert len(a.ownership.held) == len(b.ownership.held) == 3
    with Store(any_store_url) as store:
        store.claim_leases("b", [*b.ownership.held, "worker/b"], 0.0)  # b dies
    clock.now_s += 10.0
    a.flush()
    assert a.ownership.held == set(fleet)
    a.close()
    b.close()


def counted(store_url: str) -> dict[str, int]:
    """Packets counted in saved snapshots, per device."""
    with Store(store_url) as store:
        return {d: n for (_, d, name), n in store.counters("worker").items() if name == "packets"}


def test_a_worker_that_joins_is_handed_its_fair_share(any_store_url: str) -> None:
    """A worker alone holds four wearers; a second one starts and hears them. At the second
    renewal in a row above its share the first saves and hands over two, the newcomer goes
    on from their snapshots with the messages it kept, and every packet is counted once."""
    clock = Clock()
    a, b = worker(any_store_url, "a", clock), worker(any_store_url, "b", clock)
    fleet = [f"d{i}" for i in range(4)]

    def burst(seqs: range) -> list[Message]:
        return [m for d in fleet for m in packets(seqs, d)]

    a.handle(burst(range(0, 20)))
    assert a.ownership.held == set(fleet)
    b.handle(burst(range(0, 20)))  # b present from here on; it keeps the messages of a's devices
    assert b.ownership.held == set()
    clock.now_s += 10.0
    a.handle(burst(range(20, 40)))
    b.handle(burst(range(20, 40)))
    assert a.ownership.held == set(fleet)  # above its share once: not yet
    assert a.ownership.handing_over == set()
    clock.now_s += 10.0
    a.handle(burst(range(40, 60)))  # the second time: two saved and handed over
    assert len(a.ownership.held) == 2
    handed = set(fleet) - a.ownership.held
    assert not handed & set(a._wearers)
    b.handle(burst(range(40, 60)))  # b's renewal: it claims them and catches up
    assert b.ownership.held == handed
    clock.now_s += 10.0
    for _ in range(3):  # nothing moves any more
        a.handle(burst(range(60, 80)))
        b.handle(burst(range(60, 80)))
        clock.now_s += 10.0
    assert a.ownership.held == set(fleet) - handed
    assert b.ownership.held == handed
    for device_id in handed:
        assert b._wearers[device_id].seq == 79
    a.close()
    b.close()
    assert counted(any_store_url) == dict.fromkeys(fleet, 80)


def _two_workers_renewing(
    url: str, devices: int, renewals: int = 6, **options: Any
) -> tuple[Worker, Worker, list[str], list[tuple[int, int]]]:
    """Workers a and b hear ``devices`` wearers, then renew every 10 s: how many each holds after each renewal."""
    clock = Clock()
    a, b = worker(url, "a", clock, **options), worker(url, "b", clock, **options)
    fleet = [f"d{i}" for i in range(devices)]
    burst = [m for d in fleet for m in packets(range(0, 2), d)]
    a.handle(burst)
    b.handle(burst)
    splits = []
    for _ in range(renewals):
        clock.now_s += 10.0
        a.flush()
        b.flush()
        splits.append((len(a.ownership.held), len(b.ownership.held)))
    return a, b, fleet, splits


def test_an_uneven_split_stays_as_it_is(any_store_url: str) -> None:
    """Five wearers on two workers: three and two, and no device moves at later renewals."""
    a, b, fleet, splits = _two_workers_renewing(any_store_url, 5)
    assert splits[2:] == [(3, 2)] * 4
    assert a.ownership.held | b.ownership.held == set(fleet)
    a.close()
    b.close()


def test_a_few_devices_are_handed_over_at_a_time(any_store_url: str) -> None:
    """With one device per hand-over (``handover_step``), a worker above its share by two
    hands them over one at a time, each after two renewals above its share."""
    a, b, _, splits = _two_workers_renewing(any_store_url, 4, handover_step=1)
    assert [held_a for held_a, _ in splits] == [4, 3, 3, 2, 2, 2]
    assert len(b.ownership.held) == 2
    a.close()
    b.close()


def test_a_larger_step_hands_the_whole_excess_over_at_once(any_store_url: str) -> None:
    """Eight wearers on two workers with two devices per hand-over: the excess of four goes
    two at a time, the next two only after another two renewals above the share."""
    a, b, _, splits = _two_workers_renewing(any_store_url, 8, handover_step=2)
    assert [held_a for held_a, _ in splits] == [8, 6, 6, 4, 4, 4]
    assert len(b.ownership.held) == 4
    a.close()
    b.close()


def test_hand_over_waits_for_the_renewals_it_is_told_to(any_store_url: str) -> None:
    """With ``handover_after=3`` the first hand-over comes at the third renewal above the share, not the second."""
    a, b, _, splits = _two_workers_renewing(any_store_url, 4, handover_after=3)
    assert [held_a for held_a, _ in splits] == [4, 4, 2, 2, 2, 2]
    a.close()
    b.close()


def test_the_hand_over_options_reach_the_settings() -> None:
    """``--handover-*`` default to the settings' defaults; values out of range are refused (status 2)."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["worker"])
    defaults = WorkerSettings()
    assert (args.handover_after, args.handover_step, args.handover_cooldown_leases) == (
        defaults.handover_after,
        defaults.handover_step,
        defaults.handover_cooldown_leases,
    )
    assert (defaults.handover_after, defaults.handover_step, defaults.handover_cooldown_leases) == (2, 8, 3.0)
    args = parser.parse_args(["worker", "--handover-step", "0"])
    assert run(args) == 2
    for bad in ({"handover_after": 0}, {"handover_step": 0}, {"handover_cooldown_leases": -1.0}):
        with pytest.raises(ValueError, match="handover"):
            WorkerSettings(**bad)  # type: ignore[arg-type]


def test_a_device_handed_over_is_not_claimed_back_while_the_newcomer_catches_up(any_store_url: str) -> None:
    """The newcomer misses its renewals for a while (its presence lapses, so the census
    counts one worker): the worker that handed devices over does not take them back for
    a few leases, and takes them over as usual once they stay unowned past that."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a), worker(any_store_url, "b", clock_b)
    fleet = [f"d{i}" for i in range(4)]
    burst = [m for d in fleet for m in packets(range(0, 2), d)]
    a.handle(burst)
    b.handle(burst)
    for _ in range(2):
        clock_a.now_s += 10.0
        a.flush()
    assert len(a.ownership.held) == 2  # two handed over, not yet claimed by b
    with Store(any_store_url) as store:
        store.claim_leases("b", ["worker/b"], 0.0)  # b stalls: its presence lapses
    clock_a.now_s += 10.0
    a.flush()
    assert len(a.ownership.held) == 2  # within the cool-down of 3 leases
    clock_a.now_s += 30.0
    a.flush()
    assert a.ownership.held == set(fleet)  # b never came back for them: a takes them over
    a.close()
    b.close()


# --- workers subscribed only to the devices they hold (--subscribe held) -------------------

FLEET = [f"held-{i}" for i in range(4)]


def status_message(device_id: str) -> Message:
    return Message(topic(device_id, Kind.STATUS), b'{"online": true, "placement": "thigh"}', 0, 1, 0.0)


def followed(w: Worker) -> set[str]:
    """The devices whose packets the worker subscribes to, one subscription each."""
    imu = {t for t, _ in w.subscriptions if t.endswith("/imu")}
    assert "sitless/v1/+/imu" not in imu  # never every device's
    return {t.split("/")[2] for t in imu}


def record(store_url: str, messages: list[Message], device_id: str = DEVICE) -> None:
    """Store packets as the recorder does."""
    rows = [BatchRow.of_packet(device_id, decode(m.payload), m.payload) for m in messages]
    with Store(store_url) as store:
        store.add_batches(rows)


@pytest.mark.e2e
@pytest.mark.parametrize("subscribe", ["all", "held"])
def test_workers_started_together_are_counted_before_either_hears_a_device(
    mosquitto_broker: BrokerAddress, any_store_url: str, subscribe: str
) -> None:
    """Each takes its presence lease before it connects, so that the first to hear a fleet
    counts the other in its fair share instead of taking every device it heard (the other
    would then hold none until hand-overs evened them out, a few devices at a time)."""
    started = []
    for name in ("a", "b"):
        settings = WorkerSettings(
            broker=mosquitto_broker, store_url=any_store_url, client_id=f"w-{name}", worker_id=name, subscribe=subscribe
        )
        started.append(Worker(settings))
        started[-1].start()
    try:
        with Store(any_store_url) as store:
            assert store.lease_census() == (2, 0)  # both present, before any message
        fleet = [f"together-{i}" for i in range(6)]
        kind = Kind.STATUS if subscribe == "held" else Kind.IMU  # held finds devices by status
        body = status_message(fleet[0]).payload if subscribe == "held" else packet_message(0).payload
        with mqtt_client("fleet-statuses", mosquitto_broker) as client:
            for info in [client.publish(topic(d, kind), body, qos=1) for d in fleet]:
                info.wait_for_publish(60)

        def leased() -> dict[str, set[str]]:
            with Store(any_store_url) as store:
                return {n: {d for d, lease in store.leases().items() if lease.owner == n and d in fleet} for n in "ab"}

        wait_until(lambda: sum(map(len, leased().values())) == len(fleet), what="every device leased")
        assert min(map(len, leased().values())) >= 1, leased()  # shared from the first claims on
    finally:
        for w in started:
            w.close()


def test_held_workers_find_devices_by_their_status_and_follow_only_those_they_hold(any_store_url: str) -> None:
    """Two workers hear the retained statuses of four devices, a first (it claims them all):
    within a few renewals a hands two over, and each subscribes to the packets of its two alone."""
    clock = Clock()
    a, b = (worker(any_store_url, n, clock, subscribe="held") for n in ("a", "b"))
    statuses = [status_message(d) for d in FLEET]
    a.handle(statuses)
    assert a.ownership.held == set(FLEET)
    assert followed(a) == set(FLEET)
    b.handle(statuses)
    assert b.ownership.held == set()
    for _ in range(4):  # renewals: a finds itself above its share twice, hands two over, b claims them
        clock.now_s += 10.0
        a.handle([])
        b.handle([])
    assert len(a.ownership.held) == len(b.ownership.held) == 2
    assert a.ownership.held | b.ownership.held == set(FLEET)
    assert not a.ownership.held & b.ownership.held
    assert followed(a) == a.ownership.held
    assert followed(b) == b.ownership.held
    a.close()
    b.close()


def test_a_held_take_over_catches_up_from_the_store(any_store_url: str) -> None:
    """Worker b never hears a packet of the device a holds: when a dies, b claims the lapsed
    lease at its next renewal, follows the device, and goes on from a's snapshot with the
    packets the recorder stored; every packet is counted once."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a, subscribe="held"), worker(any_store_url, "b", clock_b, subscribe="held")
    a.handle([status_message(DEVICE)])
    assert a.ownership.held == {DEVICE}
    b.handle([status_message(DEVICE)])
    assert b.ownership.held == set()
    assert followed(b) == set()
    sent = packets(range(0, 60))
    record(any_store_url, sent)
    a.handle(sent[:40])
    a.flush(force=True)  # a's last snapshot, after packet 39
    a.handle(sent[40:])  # analysed, never saved: a dies here
    with Store(any_store_url) as store:
        store.claim_leases("a", [DEVICE], 0.0)  # a stopped renewing: its lease expires
    clock_b.now_s += 10.0
    b.handle([])  # its renewal takes the device over and catches up from the store
    assert b.ownership.held == {DEVICE}
    assert followed(b) == {DEVICE}
    assert b._wearers[DEVICE].seq == 59
    b.handle(packets(range(60, 80)))
    b.close()
    assert packets_counted(any_store_url) == 80  # 40 in a's snapshot, 40 analysed by b


def test_a_held_worker_that_stops_leaves_its_leases_expired_for_others_to_find(any_store_url: str) -> None:
    """A stopped worker's leases stay in the store, expired: a worker that never heard of the
    devices (no status reached it) finds and claims them there."""
    clock = Clock()
    a = worker(any_store_url, "a", clock, subscribe="held")
    a.handle([status_message(d) for d in FLEET])
    assert a.ownership.held == set(FLEET)
    a.close()
    with Store(any_store_url) as store:
        leases = store.leases()
    assert set(leases) == set(FLEET)
    assert all(lease.expires_in_s <= 0 for lease in leases.values())
    b = worker(any_store_url, "b", clock, subscribe="held")
    b.handle([])
    assert b.ownership.held == set(FLEET)
    assert followed(b) == set(FLEET)
    b.close()


def test_the_subscribe_option_reaches_the_settings() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["worker", "--subscribe", "held"])
    assert args.subscribe == "held"
    with pytest.raises(SystemExit):
        parser.parse_args(["worker", "--subscribe", "some"])
    with pytest.raises(ValueError, match="subscribe"):
        WorkerSettings(subscribe="some")
    with pytest.raises(ValueError, match="exclude"):
        WorkerSettings(subscribe="held", share_group="g")
    with pytest.raises(ValueError, match="needs MQTT 5"):  # amqtt would grant it and deliver nothing
        WorkerSettings(broker=BrokerAddress("127.0.0.1", 1883, mqtt5=False), share_group="g")


def test_held_workers_split_a_stopped_workers_devices_between_them(any_store_url: str) -> None:
    """Worker a stops with eight devices; b and c, which never heard of them, find the
    expired leases in the store and take four each: the leases found there are counted once
    in the fair share."""
    clock = Clock()
    a = worker(any_store_url, "a", clock, subscribe="held")
    devices = [f"held-{i}" for i in range(8)]
    a.handle([status_message(d) for d in devices])
    b, c = worker(any_store_url, "b", clock, subscribe="held"), worker(any_store_url, "c", clock, subscribe="held")
    b.handle([])  # both present in the census
    c.handle([])
    a.close()
    clock.now_s += 10.0  # their next renewals
    b.handle([])
    c.handle([])
    assert len(b.ownership.held) == len(c.ownership.held) == 4
    assert b.ownership.held | c.ownership.held == set(devices)
    b.close()
    c.close()


@pytest.mark.parametrize("offline", [False, True])
def test_a_held_worker_lets_go_of_an_idle_device_only_once_it_went_offline(any_store_url: str, offline: bool) -> None:
    """An idle device is saved and dropped from memory. Its lease and subscription stay, so
    that its next packet is heard, unless its status said it went offline: then its lease is
    deleted and its packets no longer followed, by this worker or one started later (which
    hears the retained offline status), until its status when it connects again brings it
    back. Either way its analysis goes on from the saved state. Left expired, the lease was
    claimed again from the store at the next renewal, and the device followed for ever."""
    clock = Clock()
    w = worker(any_store_url, "a", clock, subscribe="held", evict_idle_s=60.0)
    w.handle([status_message(DEVICE), *packets(range(0, 10))])
    gone = Message(topic(DEVICE, Kind.STATUS), b'{"online": false}', 0, 1, 0.0)
    if offline:
        w.handle([gone])
    clock.now_s += 120.0
    w.handle([])
    later = worker(any_store_url, "b", clock, subscribe="held", evict_idle_s=60.0)
    later.handle([gone] if offline else [])
    for _ in range(4):  # renewals, every third of the 10-s lease
        clock.now_s += 4.0
        w.handle([])
        later.handle([])
    assert DEVICE not in w._wearers
    assert w.ownership.held == followed(w) == (set() if offline else {DEVICE})
    assert later.ownership.held == followed(later) == set()
    with Store(any_store_url) as store:
        assert (DEVICE not in store.leases()) is offline
    later.close()
    if offline:
        w.handle([status_message(DEVICE)])  # back online
        assert w.ownership.held == followed(w) == {DEVICE}
    w.handle(packets(range(10, 20)))
    assert w._wearers[DEVICE].seq == 19
    w.close()
    assert packets_counted(any_store_url) == 20


@pytest.mark.parametrize(("first", "unheard"), [(0, 0), (500, 4)])
def test_a_held_worker_analyses_the_packets_sent_before_it_followed_the_device(
    any_store_url: str, first: int, unheard: int
) -> None:
    """The device's first four packets went out before the worker's subscription, and the
    recorder had not stored them yet when the first followed one arrived: that one waits, the
    recorder stores them, and the stream is analysed from its first packet, with no gap
    counted. A stream whose first packets reached no recorder either (``unheard``) starts at
    the first one stored, with no gap counted."""
    clock = Clock()
    w = worker(any_store_url, "a", clock, subscribe="held")
    w.handle([status_message(DEVICE)])
    sent = packets(range(first, first + 12))
    w.handle(sent[4:8])  # followed from the fifth packet on; the first four are not stored yet
    assert w._wearers[DEVICE].seq == -1  # waiting for them
    record(any_store_url, sent[unheard:8])  # the recorder catches up
    clock.now_s += 2.0  # past reorder_wait_s
    w.tick()
    assert w._wearers[DEVICE].seq == first + 7
    w.handle(sent[8:])
    w.close()
    assert packets_counted(any_store_url) == 12 - unheard
    with Store(any_store_url) as store:
        assert store.counters("worker").get(("worker", DEVICE, "gaps_skipped"), 0) == 0


def test_a_held_take_over_applies_an_action_sent_while_the_devices_worker_was_dead(any_store_url: str) -> None:
    """Every worker hears every wearer's actions: one sent after its device's worker died is
    kept by the others (packets are not), and applied by the one that takes the device over."""
    clock_a, clock_b = Clock(), Clock()
    a, b = worker(any_store_url, "a", clock_a, subscribe="held"), worker(any_store_url, "b", clock_b, subscribe="held")
    a.handle([status_message(DEVICE)])
    b.handle([status_message(DEVICE)])
    sent = packets(range(0, 40))
    record(any_store_url, sent)
    a.handle(sent)
    a.flush(force=True)  # then a dies
    meeting = Message(topic(DEVICE, Kind.ACTION), b'{"action": "meeting", "id": "m-1"}', 1, 1, 1.7e9)
    b.handle([*sent[30:], meeting])  # stray packets in flight are dropped; the action is kept
    assert b.ownership.standby_messages() == 1
    with Store(any_store_url) as store:
        store.claim_leases("a", [DEVICE], 0.0)
    clock_b.now_s += 10.0
    b.handle([])
    assert b.ownership.held == {DEVICE}
    b.close()
    with Store(any_store_url) as store:
        assert [(e.body["action"], e.body["id"]) for e in store.events(DEVICE, kinds=["action"])] == [
            ("meeting", "m-1")
        ]
