"""The worker under hostile or unlucky input, fed messages directly: it never dies, and
one device's trouble never stops the others (issue: no message can kill a service)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.codec import Batch, decode, encode
from ingest.ownership import DeviceOwnership
from ingest.service import Message
from ingest.store import BatchRow, Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings

GOOD = "good-01"
BAD = "bad-01"
T0 = 1.7e9


def imu(device: str, seq: int, t0_s: float, *, n: int = 25, z: int = 4096) -> Message:
    """``n`` samples at 50 Hz of a sensor lying still, packet ``seq`` starting at ``t0_s``."""
    acc = np.tile(np.array([0, 0, z], dtype=np.int16), (n, 1))
    payload = encode(Batch(seq=seq, t0_s=t0_s, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))
    return Message(topic(device, Kind.IMU), payload, 0, 1, 0.0)


def good(seq: int) -> Message:
    return imu(GOOD, seq, T0 + seq * 0.5)


def json_message(device: str, kind: Kind, payload: bytes) -> Message:
    return Message(topic(device, kind), payload, 0, 1, 1.7e9)


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


def make_worker(url: str, **settings: object) -> Worker:
    options: dict[str, object] = {"reorder_wait_s": 3600.0, **settings}
    return Worker(WorkerSettings(store_url=url, **options))  # type: ignore[arg-type]


def counters(url: str) -> dict[tuple[str, str], int]:
    with Store(url) as store:
        return {(d, n): v for (_, d, n), v in store.counters("worker").items()}


def test_an_analysis_failure_skips_the_packet_and_the_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packet the analysis cannot take (whatever the reason) is counted and skipped; the
    device's analysis starts afresh after it and every other device is unaffected. A device
    failing again and again is quarantined, and a restarted worker does not fail on it again."""
    url = store_url(tmp_path)
    worker = make_worker(url)
    from analysis import Analyzer

    real_update = Analyzer.update

    def failing(self: Analyzer, t_s: Any, acc_g: Any, gyro_dps: Any = None) -> object:
        if acc_g.size and acc_g[0, 2] < 0:  # the bad device's packets are upside down
            raise RuntimeError("an analysis bug")
        return real_update(self, t_s, acc_g, gyro_dps)

    monkeypatch.setattr(Analyzer, "update", failing)
    worker.handle([good(0), imu(BAD, 0, T0, z=-4096), good(1)])
    worker.handle([imu(BAD, 1, T0 + 0.5), good(2)])
    assert worker._wearers[GOOD].seq == 2
    assert worker._wearers[BAD].seq == 1  # skipped packet 0, analysed packet 1 afresh
    assert worker._wearers[BAD].analyzer.status().t_s is not None
    assert not worker._wearers[BAD].quarantined
    worker.handle([imu(BAD, 2, T0 + 1.0, z=-4096)])
    assert not worker._wearers[BAD].quarantined
    worker.handle([imu(BAD, 3, T0 + 1.5, z=-4096), good(3)])  # the third failure
    assert worker._wearers[BAD].quarantined
    worker.handle([imu(BAD, 4, T0 + 2.0, z=-4096)])
    worker.handle([imu(BAD, 5, T0 + 2.5), good(4)])
    assert worker._wearers[GOOD].seq == 4
    worker.close()
    saved = counters(url)
    assert saved[(BAD, "analysis_errors")] == 3
    assert saved[(BAD, "quarantined")] == 2  # packets 4 and 5
    # The state saved after the first failure starts after the packet that failed.
    again = make_worker(url)
    again.handle([good(5)])
    again.close()
    assert counters(url)[(GOOD, "packets")] == 6


def test_events_before_an_analysis_failure_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An action applied just before a packet the analysis cannot take is still stored."""
    url = store_url(tmp_path)
    worker = make_worker(url)
    from analysis import Analyzer

    def failing(self: Analyzer, t_s: Any, acc_g: Any, gyro_dps: Any = None) -> object:
        raise RuntimeError("an analysis bug")

    worker.handle([good(0)])
    monkeypatch.setattr(Analyzer, "update", failing)
    worker.handle([json_message(GOOD, Kind.ACTION, b'{"action": "snooze"}'), good(1)])
    worker.close()
    with Store(url) as store:
        assert [e.body["action"] for e in store.events(GOOD, kinds=["action"])] == ["snooze"]


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"action": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"action": {"nested": {"deeper": [1, [2, [3, [4, [5, [6, [7, [8]]]]]]]]}}}',
        b'{"action": ["done"]}',
        b"\xff\xfe not utf-8",
        b"null",
        b"",
    ],
)
def test_hostile_json_on_status_and_action_is_counted_and_skipped(tmp_path: Path, payload: bytes) -> None:
    """Deeply nested, wrongly typed or undecodable JSON neither raises nor stops the stream."""
    url = store_url(tmp_path)
    worker = make_worker(url)
    worker.handle([good(0), json_message(GOOD, Kind.STATUS, payload), json_message(GOOD, Kind.ACTION, payload)])
    worker.handle([good(1)])
    assert worker._wearers[GOOD].seq == 1
    worker.close()
    assert counters(url)[(GOOD, "bad_actions")] == 1


def test_an_action_for_a_device_that_sent_nothing_is_applied(tmp_path: Path) -> None:
    """``meeting`` before the first sample takes the time it arrived, and is stored."""
    url = store_url(tmp_path)
    worker = make_worker(url)
    worker.handle([json_message("new-01", Kind.ACTION, b'{"action": "meeting"}')])
    worker.handle([json_message("new-01", Kind.ACTION, b'{"action": "calibrate"}')])
    worker.close()
    with Store(url) as store:
        actions = [e.body for e in store.events("new-01", kinds=["action"])]
    assert actions[0]["action"] == "meeting"
    assert actions[0]["until_s"] == pytest.approx(1.7e9 + 3600)


def test_a_forged_sequence_number_does_not_silence_the_real_stream(tmp_path: Path) -> None:
    """A valid packet with seq 4,000,000,000 and a time a year ahead: the real packets after
    it are still analysed, and after a restart too."""
    url = store_url(tmp_path)
    worker = make_worker(url, reorder_wait_s=0.0, recorder_wait_s=0.0)
    worker.handle([good(s) for s in range(10)])
    forged = imu(GOOD, 4_000_000_000, T0 + 365 * 86400.0)
    worker.handle([forged])
    worker.tick()  # the gap before it is given up: the forged packet is analysed
    assert worker._wearers[GOOD].seq == 4_000_000_000
    worker.handle([good(s) for s in range(10, 20)])
    assert worker._wearers[GOOD].seq == 19
    worker.close()
    again = make_worker(url)
    again.handle([good(s) for s in range(20, 25)])
    assert again._wearers[GOOD].seq == 24
    again.close()
    saved = counters(url)
    assert saved[(GOOD, "packets")] == 26  # 25 real ones and the forged one, each once
    assert saved[(GOOD, "seq_restarts")] == 1


def test_an_old_packet_again_is_a_duplicate_not_a_new_sequence(tmp_path: Path) -> None:
    """A stored packet far below the last one analysed, sent again byte for byte (a replay,
    or a retained copy a broker sends at each subscription), is a duplicate, not the start
    of a new sequence whose gap the stored history would fill. A new packet under an old
    number still starts one."""
    url = store_url(tmp_path)
    worker = make_worker(url, reorder_wait_s=0.0, seq_restart_gap=100)
    stream = [good(s) for s in range(300)]
    with Store(url) as store:
        store.add_batches([BatchRow(GOOD, s, T0 + s * 0.5, 25, 50.0, m.payload) for s, m in enumerate(stream)])
    worker.handle(stream)
    worker.handle([good(0), good(1), good(300)])
    assert worker._wearers[GOOD].seq == 300
    worker.flush(force=True)
    saved = counters(url)
    assert saved[(GOOD, "duplicates")] == 2
    assert saved.get((GOOD, "seq_restarts"), 0) == 0
    assert saved[(GOOD, "packets")] == 301
    reset = imu(GOOD, 0, T0 + 400.0)  # the same number, new samples: a device that lost its counter
    worker.handle([reset])
    worker.flush(force=True)
    assert worker._wearers[GOOD].seq == 0
    assert counters(url)[(GOOD, "seq_restarts")] == 1
    worker.close()


def test_a_standby_worker_keeps_no_message_larger_than_a_valid_one(tmp_path: Path) -> None:
    """Messages of a device another worker holds are kept undecoded for a take-over: one
    larger than any valid message of its kind is counted as bad instead of kept."""
    url = store_url(tmp_path)
    holder = make_worker(url, client_id="wa", worker_id="wa")
    standby = make_worker(url, client_id="wb", worker_id="wb")
    try:
        holder.handle([imu(BAD, 0, T0)])
        holder.flush(force=True)
        standby.handle([imu(BAD, 0, T0)])
        standby.flush(force=True)
        assert not standby.ownership.holds(BAD)
        big = Message(topic(BAD, Kind.IMU), b"\x01" * 2**20, 0, 1, 0.0)
        standby.handle([big] * 20 + [json_message(BAD, Kind.ACTION, b"[" * 2**17)])
        kept = sum(len(m.payload) for q in standby.ownership._standby.values() for _, m in q)
        assert kept < 2**16
        standby.flush(force=True)
        saved = counters(url)
        assert saved[(BAD, "bad_packets")] == 20
        assert saved[(BAD, "bad_actions")] == 1
    finally:
        holder.close()
        standby.close()


def test_messages_kept_for_a_take_over_are_bounded_in_bytes(tmp_path: Path) -> None:
    """Past ``max_standby_bytes`` the devices heard from least recently lose their kept
    messages (a take-over finds them in the store), though they stay known."""
    with Store(store_url(tmp_path)) as store:
        ownership = DeviceOwnership(
            store,
            "wb",
            lease_s=10.0,
            standby_messages=240,
            max_standby_devices=10,
            handover_after=2,
            handover_step=1,
            handover_cooldown_leases=1.0,
            clock=lambda: 0.0,
            max_standby_bytes=10_000,
        )
        for device in ("a", "b", "c", "a"):
            for _ in range(2):
                ownership.keep(device, Kind.IMU, Message(topic(device, Kind.IMU), bytes(2_000), 0, 1, 0.0))
        kept = {d: len(q) for d, q in ownership._standby.items()}
        assert kept == {"b": 0, "c": 2, "a": 2}  # a's first two went when c's came, b's when a's came again
        assert sum(len(m.payload) for q in ownership._standby.values() for _, m in q) <= 10_000
        assert all(ownership.knows(d) for d in ("a", "b", "c"))


def test_a_forged_packet_ahead_waits_while_the_real_stream_flows(tmp_path: Path) -> None:
    """Held after a gap, a far-ahead packet is not forced in while packets keep following on."""
    worker = make_worker(str(store_url(tmp_path)), reorder_wait_s=0.0)
    worker.handle([good(0), imu(GOOD, 4_000_000_000, T0 + 1e7)])
    for s in range(1, 6):
        worker.handle([good(s)])
        worker.tick()
    assert worker._wearers[GOOD].seq == 5
    worker.close()


@pytest.mark.parametrize("letting_go", ["stop", "stop, then settings first", "killed, then settings first", "idle"])
def test_a_forged_packet_ahead_is_not_forced_in_when_the_wearer_is_let_go_of(tmp_path: Path, letting_go: str) -> None:
    """A packet 5,000 numbers ahead of the stream (forged, or a damaged number), which the
    recorder stores too, is held while the real packets flow. The worker then stops (and
    restarts, the wearer's retained settings maybe reaching it first), is killed and
    restarted so, or lets the quiet wearer go: the real packets after it are analysed,
    none taken for a duplicate. The stray packet was fed as the worker let go, or caught
    up from the store on a restart, its number became the last one analysed, and some 40
    minutes of the real stream after it were dropped as duplicates."""
    url = store_url(tmp_path)
    now = [0.0]
    stray = imu(GOOD, 5_000, T0 + 1.0)
    worker = Worker(WorkerSettings(store_url=url, reorder_wait_s=1.0, evict_idle_s=60.0), clock=lambda: now[0])

    def deliver(to: Worker, messages: list[Message]) -> None:
        """As through the broker: the recorder stores each packet, and the worker takes it."""
        with Store(url) as store:
            store.add_batches([BatchRow.of_packet(GOOD, decode(m.payload), m.payload) for m in messages])
        to.handle(messages)
        to.tick()

    deliver(worker, [good(0), stray])
    for s in range(1, 40):
        now[0] += 0.5
        deliver(worker, [good(s)])
    assert worker._wearers[GOOD].seq == 39
    if letting_go == "idle":
        now[0] += 61.0
        worker.flush()
        assert GOOD not in worker._wearers
        again = worker
    else:
        if letting_go.startswith("killed"):
            worker.flush(force=True)  # its snapshot saved, and then no goodbye
        else:
            worker.close()
        again = make_worker(url)
        if letting_go.endswith("settings first"):
            again.handle([json_message(GOOD, Kind.SETTINGS, b'{"max_sitting_min": 30}')])
            assert again._wearers[GOOD].seq == 39  # caught up from the store as far as the gap
    for s in range(40, 80):
        deliver(again, [good(s)])
    assert again._wearers[GOOD].seq == 79
    again.close()
    saved = counters(url)
    assert saved[(GOOD, "packets")] == 80
    assert (GOOD, "duplicates") not in saved
    with Store(url) as store:
        assert store.load_state(GOOD).seq == 79  # type: ignore[union-attr]


@pytest.mark.parametrize("jump_s", [-86400.0, -5.0, 86400.0, 7 * 86400.0, 2e9])
def test_a_time_jump_neither_kills_the_worker_nor_its_restart(tmp_path: Path, jump_s: float) -> None:
    """A wearable re-sending old data, a clock reset, or days of silence: the worker goes on,
    and a worker restarted on the same store replays the jump without failing."""
    url = store_url(tmp_path)
    worker = make_worker(url, snapshot_every_s=1e9)
    worker.handle([good(s) for s in range(4)])
    worker.flush(force=True)
    worker.handle([imu(GOOD, s, T0 + jump_s + s * 0.5) for s in range(4, 8)])
    worker.flush()
    # killed here: no final save; the recorder's copy of the packets is replayed on restart
    with Store(url) as store:
        from ingest.store import BatchRow

        store.add_batches(
            [
                BatchRow(GOOD, s, T0 + jump_s + s * 0.5, 25, 50.0, imu(GOOD, s, T0 + jump_s + s * 0.5).payload)
                for s in range(4, 8)
            ]
        )
    again = make_worker(url)
    again.handle([imu(GOOD, 8, T0 + jump_s + 4.0), imu(BAD, 0, T0)])
    assert again._wearers[GOOD].seq == 8
    assert not again._wearers[GOOD].quarantined
    again.close()
    saved = counters(url)
    assert saved.get((GOOD, "analysis_errors"), 0) == 0
    assert saved[(GOOD, "packets")] == 9


def test_replayed_packets_are_counted_once(tmp_path: Path) -> None:
    """Packets analysed after the last snapshot and replayed by a restarted worker count once."""
    url = store_url(tmp_path)
    worker = make_worker(url, snapshot_every_s=1e9)
    from ingest.store import BatchRow

    messages = [good(s) for s in range(40)]
    with Store(url) as store:
        store.add_batches([BatchRow(GOOD, s, T0 + s * 0.5, 25, 50.0, messages[s].payload) for s in range(40)])
    worker.handle(messages[:10])
    worker.flush(force=True)  # snapshot at packet 9
    worker.handle(messages[10:30])  # analysed and counted in memory, then the worker is killed
    again = make_worker(url)
    again.handle(messages[30:])
    again.close()
    assert counters(url)[(GOOD, "packets")] == 40


def test_idle_devices_are_saved_and_let_go_of(tmp_path: Path) -> None:
    """Thousands of device ids do not stay in memory: past ``max_wearers`` the longest idle
    are saved and dropped, idle ones go after ``evict_idle_s``, and a dropped device resumes
    from its saved state."""
    url = store_url(tmp_path)
    now = [0.0]
    worker = Worker(WorkerSettings(store_url=url, max_wearers=50, evict_idle_s=60.0), clock=lambda: now[0])
    for i in range(300):
        now[0] += 0.01
        worker.handle([imu(f"id-{i}", 0, T0)])
    assert len(worker._wearers) <= 50
    now[0] += 61.0
    worker.handle([good(0), good(1)])
    assert list(worker._wearers) == [GOOD]
    now[0] += 61.0
    worker.flush()
    assert not worker._wearers
    worker.handle([good(2)])
    assert worker._wearers[GOOD].seq == 2  # resumed, not restarted
    worker.close()
    with Store(url) as store:
        assert store.load_state("id-0") is not None


def test_events_the_broker_never_acknowledged_are_marked_unpublished(tmp_path: Path) -> None:
    """A worker with no broker stores its events as not yet published; the store lists them."""
    url = store_url(tmp_path)
    worker = make_worker(url)
    worker.handle([json_message(GOOD, Kind.ACTION, b'{"action": "snooze"}')])
    worker.close()
    with Store(url) as store:
        pending = store.unpublished_events()
    assert [(e.device_id, e.kind) for e in pending] == [(GOOD, "action")]


def test_two_actions_before_a_packet_have_a_status_each(tmp_path: Path) -> None:
    """The status saved after actions reflects the latest one (snooze, then meeting)."""
    url = store_url(tmp_path)
    worker = make_worker(url)
    worker.handle([good(0), json_message(GOOD, Kind.ACTION, b'{"action": "meeting"}')])
    worker.close()
    with Store(url) as store:
        state = store.load_state(GOOD)
    assert state is not None
    assert state.status["meeting_until_s"] is not None
    assert "worker_lag_s" in state.status
    assert json.dumps(state.status)


def test_packets_that_follow_on_are_analysed_together_with_the_same_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's packets of one device go to the analysis in one call, with the events of one call per packet."""
    from analysis import AlertPolicy, Analyzer
    from firmware_sim import Activity, Script, Step
    from firmware_sim.device import DeviceSettings, iter_packets

    script = Script("sit", (Step(Activity.WALKING, 60.0), Step(Activity.STANDING, 10.0), Step(Activity.SITTING, 200.0)))
    settings = DeviceSettings(device_id=GOOD, seed=4)
    payloads = [p.payload for p in iter_packets(script, settings, T0) if p.payload is not None]
    messages = [Message(topic(GOOD, Kind.IMU), payload, 0, 1, 0.0) for payload in payloads]
    calls: list[int] = []
    real_update = Analyzer.update

    def counted(self: Analyzer, t_s: Any, acc_g: Any, gyro_dps: Any = None) -> object:
        calls.append(len(t_s))
        return real_update(self, t_s, acc_g, gyro_dps)

    monkeypatch.setattr(Analyzer, "update", counted)
    found = []
    for name, size in (("together", 200), ("one_by_one", 1)):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        worker = make_worker(url, policy=AlertPolicy(max_sitting_s=120.0, repeat_s=30.0))
        calls.clear()
        for i in range(0, len(messages), size):
            worker.handle(messages[i : i + size])
        worker.close()
        assert len(calls) == -(-len(messages) // size)
        with Store(url) as store:
            found.append([(e.kind, e.t_s, e.body) for e in store.events(GOOD)])
    together, one_by_one = found
    assert [k for k, _, _ in together].count("alert") >= 2
    assert together == one_by_one


def test_gyro_reaches_the_analysis_and_packets_without_it_go_in_a_call_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Angular rate in deg/s is passed on; a device that drops its gyro mid-batch splits the call."""
    from analysis import Analyzer

    def with_gyro(seq: int) -> Message:
        acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
        gyro = np.tile(np.array([100, 0, -50], dtype=np.int16), (25, 1))
        batch = Batch(
            seq=seq, t0_s=T0 + seq * 0.5, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc, gyro_scale_dps=0.125, gyro=gyro
        )
        return Message(topic(GOOD, Kind.IMU), encode(batch), 0, 1, 0.0)

    calls: list[tuple[int, list[float] | None]] = []
    real_update = Analyzer.update

    def recorded(self: Analyzer, t_s: Any, acc_g: Any, gyro_dps: Any = None) -> object:
        calls.append((len(t_s), None if gyro_dps is None else np.unique(gyro_dps, axis=0)[0].tolist()))
        return real_update(self, t_s, acc_g, gyro_dps)

    monkeypatch.setattr(Analyzer, "update", recorded)
    worker = make_worker(store_url(tmp_path))
    worker.handle([with_gyro(0), with_gyro(1), good(2), with_gyro(3)])
    worker.close()
    assert calls == [(50, [12.5, 0.0, -6.25]), (25, None), (25, [12.5, 0.0, -6.25])]


def test_periodic_snapshots_of_wearers_that_started_together_spread_over_the_interval(tmp_path: Path) -> None:
    """The first snapshot of each wearer is saved at once; the next ones fall due at each
    device's own point of the interval, never later than ``snapshot_every_s`` after the last,
    rather than all together."""
    url = store_url(tmp_path)
    now = [100.0]
    worker = Worker(WorkerSettings(store_url=url, snapshot_every_s=10.0), clock=lambda: now[0])
    devices = [f"id-{i}" for i in range(200)]
    worker.handle([imu(d, 0, T0) for d in devices])
    worker.flush()
    due = np.array([worker._wearers[d].snapshot_saved_s + 10.0 for d in devices])
    assert np.all((due > 100.0) & (due <= 110.0))
    per_second = np.bincount(np.floor(due - 100.0).astype(int), minlength=10)
    assert per_second.max() <= 40  # about 20 a second, not 200 at once
    saves = []
    for step in range(1, 41):  # 20 s, a packet per wearer every 0.5 s
        now[0] = 100.0 + step * 0.5
        before = {d: worker._wearers[d].snapshot_saved_s for d in devices}
        worker.handle([imu(d, step, T0 + step * 0.5) for d in devices])
        worker.flush()
        saves.append(sum(worker._wearers[d].snapshot_saved_s != before[d] for d in devices))
    assert max(saves) <= 40
    assert sum(saves[-20:]) == 200  # each wearer once in the last 10 s
    worker.close()
