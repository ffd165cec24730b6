"""The analysis worker's handling, fed messages directly: order, duplicates, bad input, state."""

from __future__ import annotations

import argparse
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from analysis import AlertPolicy, Placement, SlouchPolicy
from firmware_sim.motion import generate
from firmware_sim.scenarios import scenario
from ingest.codec import Batch, encode
from ingest.policy_args import alert_policy, slouch_policy
from ingest.service import Message
from ingest.store import BatchRow, Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from ingest.worker.cmd import register, working_hours
from tests.analysis.conftest import synth

DEVICE = "w-01"


def packet_message(seq: int, mid: int = 0) -> Message:
    """0.5 s of a sensor lying still (z up), packet ``seq``."""
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    payload = encode(Batch(seq=seq, t0_s=1.7e9 + seq * 0.5, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))
    return Message(topic(DEVICE, Kind.IMU), payload, mid, 1, 0.0)


def packet_messages(t: NDArray[np.float64], acc: NDArray[np.float64]) -> list[Message]:
    """Samples at 50 Hz as the wearable sends them: 25-sample packets, seq 0, 1, 2..."""
    counts = np.round(acc * 4096).astype(np.int16)
    batches = [
        Batch(seq=i, t0_s=float(t[25 * i]), rate_hz=50.0, acc_scale_g=1 / 4096, acc=counts[25 * i : 25 * i + 25])
        for i in range(len(t) // 25)
    ]
    return [Message(topic(DEVICE, Kind.IMU), encode(b), b.seq, 1, 0.0) for b in batches]


@pytest.fixture
def worker(any_store_url: str) -> Worker:
    """A worker on each store backend in turn."""
    return Worker(WorkerSettings(store_url=any_store_url, reorder_wait_s=3600))


def test_packets_after_a_gap_wait_for_the_late_ones(worker: Worker) -> None:
    """0, 1, 3, 4, 2: the worker holds 3 and 4 until 2 arrives, then analyses all in order."""
    worker.handle([packet_message(s) for s in (0, 1, 3, 4)])
    wearer = worker._wearers[DEVICE]
    assert wearer.seq == 1
    assert sorted(wearer.pending) == [3, 4]
    worker.handle([packet_message(2)])
    assert wearer.seq == 4
    assert not wearer.pending
    assert worker.counts[(DEVICE, "gaps_skipped")] == 0


def test_a_gap_the_recorder_has_is_filled_from_the_store(any_store_url: str) -> None:
    """0, 1, 4, 5 reach the worker, 2 and 3 only the recorder: past the wait they come from the store, not skipped."""
    with Store(any_store_url) as store:
        stored = [packet_message(s).payload for s in (2, 3)]
        store.add_batches(
            [BatchRow(DEVICE, s, 1.7e9 + s * 0.5, 25, 50.0, p) for s, p in zip((2, 3), stored, strict=True)]
        )
    worker = Worker(WorkerSettings(store_url=any_store_url, reorder_wait_s=0.0))
    worker.handle([packet_message(s) for s in (0, 1, 4, 5)])
    wearer = worker._wearers[DEVICE]
    assert wearer.seq == 1  # 4 and 5 wait for 2 and 3
    worker.tick()
    assert wearer.seq == 5
    assert worker.counts[(DEVICE, "gaps_filled")] == 1
    assert worker.counts[(DEVICE, "gaps_skipped")] == 0
    worker.close()


def _stored(url: str, seqs: tuple[int, ...]) -> None:
    """Store packets as the recorder would."""
    with Store(url) as store:
        store.add_batches([BatchRow(DEVICE, q, 1.7e9 + q * 0.5, 25, 50.0, packet_message(q).payload) for q in seqs])


def test_a_gap_nobody_has_is_skipped(any_store_url: str) -> None:
    """0, 1, 4, and the recorder stored the same: 2 and 3 are lost, so past the wait 4 is analysed, a gap counted."""
    _stored(any_store_url, (0, 1, 4))
    worker = Worker(WorkerSettings(store_url=any_store_url, reorder_wait_s=0.0))
    worker.handle([packet_message(s) for s in (0, 1, 4)])
    worker.tick()
    assert worker._wearers[DEVICE].seq == 4
    assert worker.counts[(DEVICE, "gaps_skipped")] == 1
    assert worker.counts[(DEVICE, "gaps_filled")] == 0
    worker.close()


@pytest.mark.parametrize(("recorder_wait_s", "waits"), [(3600.0, True), (0.0, False)])
def test_a_gap_waits_for_a_recorder_that_is_behind(any_store_url: str, recorder_wait_s: float, waits: bool) -> None:
    """The recorder stored only 0 and 1: the gap before 4 waits for it (up to ``recorder_wait_s``), then is skipped."""
    _stored(any_store_url, (0, 1))
    settings = WorkerSettings(store_url=any_store_url, reorder_wait_s=0.0, recorder_wait_s=recorder_wait_s)
    worker = Worker(settings)
    worker.handle([packet_message(s) for s in (0, 1, 4)])
    worker.tick()
    assert worker._wearers[DEVICE].seq == (1 if waits else 4)
    if waits:  # then it stores them: the gap is filled, nothing skipped
        _stored(any_store_url, (2, 3, 4))
        worker.tick()
        assert worker._wearers[DEVICE].seq == 4
        assert worker.counts[(DEVICE, "gaps_filled")] == 1
    assert worker.counts[(DEVICE, "gaps_skipped")] == (0 if waits else 1)
    worker.close()


def test_duplicates_and_bad_input_are_counted_and_skipped(worker: Worker) -> None:
    """A redelivered packet, garbage on the imu topic and a bad action change nothing else."""
    worker.handle([packet_message(0), packet_message(1), packet_message(1)])
    bad_packet = Message(topic(DEVICE, Kind.IMU), b"\x01garbage", 0, 1, 0.0)
    bad_action = Message(topic(DEVICE, Kind.ACTION), b'{"action": "dance"}', 0, 1, 0.0)
    worker.handle([bad_packet, bad_action, packet_message(2)])
    assert worker._wearers[DEVICE].seq == 2
    with Store(worker.settings.store_url) as store:
        saved = store.counters("worker")
    assert saved[("worker", DEVICE, "duplicates")] == 1
    assert saved[("worker", DEVICE, "bad_packets")] == 1
    assert saved[("worker", DEVICE, "bad_actions")] == 1


def test_a_board_counting_milliseconds_is_refused_and_counted(worker: Worker, caplog: pytest.LogCaptureFixture) -> None:
    """Packets timed 1.7e12 "s" (a clock in ms) are bad packets: nothing of them reaches the status or the store."""
    good = [packet_message(s) for s in range(3)]
    in_ms = [
        Message(m.topic, m.payload[:8] + struct.pack("<d", 1.7e12 + 500.0 * s) + m.payload[16:], 0, 1, 0.0)
        for s, m in enumerate(packet_message(s) for s in range(3, 6))
    ]
    worker.handle(good + in_ms)
    worker.flush(force=True)
    assert worker._wearers[DEVICE].seq == 2
    assert "milliseconds" in caplog.text
    with Store(worker.settings.store_url) as store:
        saved = store.load_status(DEVICE)
        assert store.counters("worker")[("worker", DEVICE, "bad_packets")] == 3
    assert saved is not None
    assert saved[0]["t_s"] < 1.8e9


def test_an_unusable_saved_state_starts_the_analysis_afresh(worker: Worker, caplog: pytest.LogCaptureFixture) -> None:
    """A snapshot from an older analysis version is set aside with a warning, not a crash."""
    with Store(worker.settings.store_url) as store:
        store.save_state(DEVICE, 9, {"version": 0}, {"placement": "thigh"})
    worker.handle([packet_message(10), packet_message(11)])
    assert worker._wearers[DEVICE].seq == 11
    assert "not usable" in caplog.text


def test_the_saved_placement_is_kept_across_a_restart(worker: Worker, tmp_path: Path) -> None:
    """A restarted worker resumes a lower-back wearer as lower back before any status arrives."""
    status = Message(topic(DEVICE, Kind.STATUS), json.dumps({"placement": "lower_back"}).encode(), 0, 1, 0.0)
    worker.handle([status, packet_message(0), packet_message(1)])
    worker.close()
    again = Worker(WorkerSettings(store_url=worker.settings.store_url))
    again.handle([packet_message(2)])
    assert str(again._wearers[DEVICE].placement) == "lower_back"
    assert again._wearers[DEVICE].seq == 2
    again.close()


def test_working_hours_reach_the_policy_and_the_saved_status(tmp_path: Path) -> None:
    """``--working-hours 8:30-17`` becomes the policy's hours, and the dashboard can read them back."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["worker", "--working-hours", "8:30-17"])
    assert args.working_hours == (8.5, 17.0)
    policy = AlertPolicy(working_hours=args.working_hours, utc_offset_h=1.0)
    worker = Worker(WorkerSettings(store_url=f"sqlite:///{tmp_path / 'store.sqlite'}", policy=policy))
    worker.handle([packet_message(0), packet_message(1)])
    worker.close()
    with Store(worker.settings.store_url) as store:
        state = store.load_state(DEVICE)
    assert state is not None
    assert (state.status["working_hours"], state.status["utc_offset_h"]) == ([8.5, 17.0], 1.0)


@pytest.mark.parametrize("text", ["9", "9-9", "25-3", "9:75-17", "nine-five", "9-17-20"])
def test_bad_working_hours_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="9-17"):
        working_hours(text)


def test_a_slouch_nudge_is_stored_and_buzzes_the_wearable(tmp_path: Path) -> None:
    """A chest wearer leaning 30 deg for over a minute, with nudges after 60 s: a nudge event and a buzz."""
    chest = {"walking": (1.0, 0.0, 0.0), "standing": (1.0, 0.0, 0.0), "sitting": (0.866, 0.0, 0.5)}
    t, acc = synth([("walking", 30.0), ("sitting", 100.0)], gravity=chest, rate_hz=50.0, t0_s=1.7e9)
    settings = WorkerSettings(
        store_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        placement=Placement.CHEST,
        slouch=SlouchPolicy(nudge=True, dwell_s=60.0),
    )
    worker = Worker(settings)
    messages = packet_messages(t, acc)
    worker.handle(messages)
    worker.close()
    with Store(settings.store_url) as store:
        nudges = store.events(DEVICE, kinds=["slouch_nudge"])
        buzzed = store.counters("worker")[("worker", DEVICE, "slouch_nudges")]
    assert len(nudges) == 1
    assert nudges[0].body["t_s"] - nudges[0].body["slouching_since_s"] == pytest.approx(60.0, abs=0.5)
    assert buzzed == 1


def test_the_worker_takes_the_policy_options_of_analyze() -> None:
    """``--max-sitting-min``, ``--min-break-s`` and the slouch nudge reach the policies the worker runs."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["worker", "--max-sitting-min", "20", "--min-break-s", "90", "--slouch-nudge-s", "45"])
    policy, slouch = alert_policy(args), slouch_policy(args)
    assert (policy.max_sitting_s, policy.min_break_s) == (1200.0, 90.0)
    assert (slouch.nudge, slouch.dwell_s, slouch.slouch_deg) == (True, 45.0, 20.0)
    assert not slouch_policy(parser.parse_args(["worker"])).nudge


def action_message(payload: dict[str, object], mid: int = 0, received_s: float = 1.7e9) -> Message:
    return Message(topic(DEVICE, Kind.ACTION), json.dumps(payload).encode(), mid, 1, received_s)


def stored_actions(url: str) -> list[tuple[object, object]]:
    with Store(url) as store:
        return [(e.body["action"], e.body["id"]) for e in store.events(DEVICE, kinds=["action"])]


def test_an_action_delivered_again_after_a_restart_is_not_applied_again(worker: Worker) -> None:
    """A restarted worker's broker session may deliver an action again: its id is stored, so once is all."""
    meeting = action_message({"action": "meeting", "id": "m-1"})
    worker.handle([packet_message(0), meeting])
    worker.close()
    again = Worker(WorkerSettings(store_url=worker.settings.store_url))
    again.handle([meeting, packet_message(1)])
    again.close()
    assert stored_actions(worker.settings.store_url) == [("meeting", "m-1")]
    with Store(worker.settings.store_url) as store:
        assert store.counters("worker")[("worker", DEVICE, "duplicate_actions")] == 1


def test_a_batch_taken_in_again_applies_its_actions_once(worker: Worker) -> None:
    """After a store failure the loop takes the same messages in again: an action without an id
    (its arrival stands in) is applied once, while a second action arriving later is kept."""
    first = action_message({"action": "snooze"}, mid=7, received_s=1.7e9 + 1.0)
    later = action_message({"action": "snooze"}, mid=7, received_s=1.7e9 + 2.0)
    worker.absorb([packet_message(0), first])
    worker.absorb([packet_message(0), first])  # the same batch again
    worker.absorb([later])
    worker.flush()
    with Store(worker.settings.store_url) as store:
        actions = [e.body for e in store.events(DEVICE, kinds=["action"])]
    assert [a["id"] for a in actions] == ["snooze@1700000001.0#7", "snooze@1700000002.0#7"]
    assert actions[0]["t_s"] == actions[1]["t_s"]  # both at the last sample: two events all the same


@pytest.mark.parametrize("bad_id", [17, "", "x" * 65, ["a"]])
def test_an_action_with_a_bad_id_is_counted_and_skipped(worker: Worker, bad_id: object) -> None:
    """An ``id`` that is not a short string makes the action bad, not a crash."""
    worker.handle([packet_message(0), action_message({"action": "done", "id": bad_id})])
    worker.close()
    assert stored_actions(worker.settings.store_url) == []
    with Store(worker.settings.store_url) as store:
        assert store.counters("worker")[("worker", DEVICE, "bad_actions")] == 1


@pytest.mark.parametrize("recognition", [True, False])
def test_desk_squats_done_unprompted_are_found_unless_recognition_is_left_out(
    tmp_path: Path, recognition: bool
) -> None:
    """An office morning at the thigh holds a set of desk squats: the worker stores it as
    exercise found; ``--no-recognition`` leaves the recogniser out, and nothing is found."""
    rec = generate(scenario("office_morning"), Placement.THIGH, seed=1)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    worker = Worker(WorkerSettings(store_url=url, recognition=recognition, flood_samples_per_s=math.inf))
    messages = packet_messages(rec.t_s + 1.7e9, rec.acc_g)
    for i in range(0, len(messages), 500):
        worker.handle(messages[i : i + 500])
    worker.close()
    with Store(url) as store:
        found = store.events(DEVICE, kinds=["exercise_found"])
    assert [e.body["exercise"] for e in found] == (["squat"] if recognition else [])


def test_the_worker_command_can_leave_recognition_out() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert WorkerSettings().recognition
    assert parser.parse_args(["worker"]).no_recognition is False
    assert parser.parse_args(["worker", "--no-recognition"]).no_recognition is True


def test_the_worker_command_takes_the_gathering_time() -> None:
    """``--gather-s`` reaches the settings; a value out of range is refused."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["worker"]).gather_s == WorkerSettings().gather_s == 0.5
    assert parser.parse_args(["worker", "--gather-s", "0"]).gather_s == 0.0
    with pytest.raises(ValueError, match="gather_s"):
        WorkerSettings(gather_s=-1.0)
