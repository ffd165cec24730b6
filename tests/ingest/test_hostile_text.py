"""Text fields holding what a database cannot store (NUL above all, which PostgreSQL refuses
in text): refused as the message comes in, counted, and every other message goes on, on
SQLite and on PostgreSQL. Taken in, one such action id failed each write of its batch as
if the store were down, and the worker retried that batch for ever, analysing no one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ingest import wearer_payloads
from ingest.codec import Batch, encode
from ingest.errors import StoreRefusedError
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import Message
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings

pytestmark = pytest.mark.both_stores

GOOD = "good-01"
T0 = 1.7e9
#: NUL, another control character, a line break and a lone surrogate.
UNSTORABLE = ["a\x00b", "\x1b[2J", "two\nlines", "\ud800"]


def packet(device: str, seq: int) -> Message:
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    payload = encode(Batch(seq=seq, t0_s=T0 + seq * 0.5, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))
    return Message(topic(device, Kind.IMU), payload, 0, 1, 0.0)


def json_message(device: str, kind: Kind, body: object) -> Message:
    return Message(topic(device, kind), json.dumps(body).encode(), 0, 1, T0)


@pytest.mark.parametrize("text", UNSTORABLE)
@pytest.mark.parametrize("device", [GOOD, "stranger-01"])
def test_an_unstorable_action_id_is_counted_and_the_fleet_goes_on(store_url: str, text: str, device: str) -> None:
    """An action whose id or exercise holds such text, for a device analysed or never
    heard of: counted as a bad action, and the other messages of the batch and after it
    are analysed and saved."""
    worker = Worker(WorkerSettings(store_url=store_url, reorder_wait_s=3600.0))
    try:
        worker.handle([packet(GOOD, 0)])
        worker.handle(
            [
                json_message(device, Kind.ACTION, {"action": "done", "id": text}),
                json_message(device, Kind.ACTION, {"action": "exercise_start", "exercise": text}),
                packet(GOOD, 1),
            ]
        )
        worker.flush(force=True)  # raised StoreError on PostgreSQL, batch after batch
        worker.handle([packet(GOOD, 2)])
        assert worker._wearers[GOOD].seq == 2
    finally:
        worker.close()
    with Store(store_url) as store:
        counted = {(d, n): v for (_, d, n), v in store.counters("worker").items()}
        assert store.load_state(GOOD) is not None
        assert store.load_state(GOOD).seq == 2  # type: ignore[union-attr]
        assert not store.events(device, kinds=["action"])
    assert counted[(device, "bad_actions")] == 2


@pytest.mark.parametrize("text", UNSTORABLE)
def test_an_unstorable_firmware_name_in_a_status_is_counted_by_the_recorder(store_url: str, text: str) -> None:
    """A status naming such a firmware: refused and counted; the packets around it are stored."""
    recorder = Recorder(RecorderSettings(store_url=store_url))
    try:
        recorder.handle([packet(GOOD, 0), json_message(GOOD, Kind.STATUS, {"online": True, "firmware": text})])
        recorder.handle([packet(GOOD, 1)])
    finally:
        recorder.close()
    with Store(store_url) as store:
        counted = {(d, n): v for (_, d, n), v in store.counters("recorder").items()}
        assert store.seqs(GOOD) == [0, 1]
    assert counted[(GOOD, "bad_status")] == 1


def test_a_value_the_store_refuses_is_not_taken_for_an_outage(store_url: str) -> None:
    """A query holding text the database cannot hold raises StoreRefusedError (PostgreSQL)
    or finds nothing (SQLite), never StoreError, which the services wait out and retry;
    the store goes on answering."""
    with Store(store_url) as store:
        if store_url.startswith("postgresql"):
            with pytest.raises(StoreRefusedError, match="NUL"):
                store.has_event(GOOD, "action", "a\x00b")
        else:
            assert not store.has_event(GOOD, "action", "a\x00b")
        assert not store.has_event(GOOD, "action", "ab")


def test_a_message_whose_values_the_store_refuses_is_skipped(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the checks of the payloads (taken out here): a refusal of the store costs the
    message that brought it, counted as an error, and the worker goes on."""
    monkeypatch.setattr(wearer_payloads, "text_field", lambda body, name, **_: body.get(name))
    worker = Worker(WorkerSettings(store_url=store_url, reorder_wait_s=3600.0))
    try:
        worker.handle([packet(GOOD, 0)])
        worker.handle([json_message(GOOD, Kind.ACTION, {"action": "done", "id": "a\x00b"}), packet(GOOD, 1)])
        worker.flush(force=True)
        assert worker._wearers[GOOD].seq == 1
    finally:
        worker.close()
    with Store(store_url) as store:
        counted = {(d, n): v for (_, d, n), v in store.counters("worker").items()}
        assert store.load_state(GOOD).seq == 1  # type: ignore[union-attr]
    if store_url.startswith("postgresql"):
        assert counted[(GOOD, "errors")] == 1
