"""Fuzzing the service handlers: random payloads and random time sequences never raise.

The recorder and the worker are fed, through the same ``handle`` their loop calls,
random bytes, hostile JSON and valid packets whose sequence numbers and times go
anywhere (backwards, repeated, days or aeons ahead), and actions and statuses whose
texts hold any character, on a SQLite store and on PostgreSQL (which refuses NUL in
text). Neither may raise, and afterwards a well-behaved device is still analysed: one
device's bad data never stops the others.
"""

from __future__ import annotations

import json
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.codec import Batch, encode
from ingest.recorder import Recorder, RecorderSettings
from ingest.service import Message
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.conftest import STORE_BACKENDS
from tests.postgres import PostgresServer

DEVICES = ["fz-0", "fz-1", "fz-2"]
WELL_BEHAVED = "steady-01"

#: Fields of statuses, actions and settings.
FIELDS = ["action", "id", "exercise", "placement", "online", "firmware", "rate_hz", "t_s", "until_s"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@st.composite
def json_payloads(draw: st.DrawFn) -> bytes:
    """JSON objects with the real keys and anything as values, deep nesting, or raw bytes."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        body = {
            key: draw(json_values | st.sampled_from(["done", "snooze", "meeting", "calibrate", "thigh", "wrist"]))
            for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4))
        }
        return json.dumps(body).encode()
    if choice == 1:
        depth = draw(st.integers(1, 3000))
        return b'{"action": ' + b"[" * depth + b"]" * depth + b"}"
    if choice == 2:
        return json.dumps(draw(json_values)).encode()
    return draw(st.binary(max_size=200))


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    """Valid packets with any sequence number and any time, or bytes cut from one."""
    n = draw(st.integers(1, 60))
    acc = np.asarray(draw(st.lists(st.integers(-32768, 32767), min_size=3 * n, max_size=3 * n)), dtype=np.int16)
    batch = Batch(
        seq=draw(st.integers(0, 2**32 - 1) | st.integers(0, 50)),
        t0_s=draw(st.floats(0.0, 4e9) | st.sampled_from([1.7e9, 1.7e9 - 86400.0, 1.7e9 + 2e9, 0.0])),
        rate_hz=draw(st.sampled_from([50.0, 12.5, 100.0, 1.0, 1e-3, 1e4])),
        acc_scale_g=draw(st.sampled_from([1 / 4096, 1 / 16384, 0.01, 1.0])),
        acc=acc.reshape(n, 3),
    )
    payload = encode(batch)
    if draw(st.booleans()):
        # A time the decoder refuses (milliseconds, negative, aeons ahead) half the time.
        if draw(st.booleans()):
            t0_s = draw(st.floats(-1e13, 1e13) | st.sampled_from([1.7e12, -1.0, 2.0**32]))
            payload = payload[:8] + struct.pack("<d", t0_s) + payload[16:]
        return payload
    cut = draw(st.integers(0, len(payload)))
    return payload[:cut] + draw(st.binary(max_size=8))


@st.composite
def messages(draw: st.DrawFn) -> list[Message]:
    out = []
    for _ in range(draw(st.integers(1, 12))):
        device = draw(st.sampled_from(DEVICES))
        kind = draw(st.sampled_from([Kind.IMU, Kind.IMU, Kind.STATUS, Kind.ACTION, Kind.SETTINGS]))
        payload = draw(packets()) if kind is Kind.IMU else draw(json_payloads())
        name = draw(st.sampled_from([topic(device, kind), "sitless/v1/x/y/z", "other/topic"]))
        out.append(Message(name, payload, 0, 1, 1.7e9))
    return out


@st.composite
def texts_messages(draw: st.DrawFn) -> list[Message]:
    """Well-formed actions and statuses but for their texts, which hold any character (NUL included)."""
    odd = st.sampled_from(["\x00", "\n", "\x1b", "\u200b", "\ud800", "é✓", ""])
    text = st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), odd, st.text(max_size=5))
    out = []
    for _ in range(draw(st.integers(1, 6))):
        device = draw(st.sampled_from(DEVICES))
        if draw(st.booleans()):
            body: dict[str, object] = {"action": draw(st.sampled_from(["done", "snooze", "exercise_start"]))}
            body |= {key: draw(text) for key in draw(st.lists(st.sampled_from(["id", "exercise"]), max_size=2))}
            kind = Kind.ACTION
        else:
            body, kind = {"online": True, "firmware": draw(text)}, Kind.STATUS
        out.append(Message(topic(device, kind), json.dumps(body).encode(), 0, 1, 1.7e9))
    return out


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as path:
        yield Path(path)


@pytest.fixture(scope="module", params=STORE_BACKENDS)
def stores(request: pytest.FixtureRequest, folder: Path) -> tuple[str, str]:
    """The worker's store and the recorder's, on each backend in turn: PostgreSQL refuses
    text that SQLite takes (NUL), and such a refusal must not pass for a store outage."""
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'worker.sqlite'}", f"sqlite:///{folder / 'recorder.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database(), server.new_database()


@pytest.fixture(scope="module")
def worker(stores: tuple[str, str]) -> Iterator[Worker]:
    w = Worker(WorkerSettings(store_url=stores[0], reorder_wait_s=0.0))
    yield w
    w.close()


@pytest.fixture(scope="module")
def recorder(stores: tuple[str, str]) -> Iterator[Recorder]:
    r = Recorder(RecorderSettings(store_url=stores[1]))
    yield r
    r.close()


def steady(seq: int) -> Message:
    acc = np.tile(np.array([0, 0, 4096], dtype=np.int16), (25, 1))
    payload = encode(Batch(seq=seq, t0_s=1.7e9 + seq * 0.5, rate_hz=50.0, acc_scale_g=1 / 4096, acc=acc))
    return Message(topic(WELL_BEHAVED, Kind.IMU), payload, 0, 1, 1.7e9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=messages())
def test_the_worker_never_raises(worker: Worker, batch: list[Message]) -> None:
    worker.handle(batch)
    worker.tick()
    worker.flush()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=messages())
def test_the_recorder_never_raises(recorder: Recorder, batch: list[Message]) -> None:
    recorder.handle(batch)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=texts_messages())
def test_texts_the_store_cannot_keep_never_raise(worker: Worker, recorder: Recorder, batch: list[Message]) -> None:
    """An action's id or exercise, or a status's firmware, holding any character: on
    PostgreSQL a NUL made each write of the batch fail as if the store were down."""
    worker.handle(batch)
    worker.flush()
    recorder.handle(batch)


def test_a_well_behaved_device_is_analysed_after_the_fuzzing(worker: Worker) -> None:
    """Runs after the fuzz tests on the same worker: its loop state is intact."""
    worker.handle([steady(s) for s in range(20)])
    assert worker._wearers[WELL_BEHAVED].seq == 19
    assert not worker._wearers[WELL_BEHAVED].quarantined
