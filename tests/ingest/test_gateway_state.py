"""The gateway's state on disk (sequence memory, outbox) when the disk is full or a file is damaged."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ingest.device_link import SequenceMemory
from ingest.gateway import Gateway, GatewaySettings, SensorSpec
from ingest.gateway.sensor import Sensor as _Sensor
from ingest.mqtt import BrokerAddress
from ingest.outbox import Outbox
from ingest.packetizer import Packet, Packetizer
from ingest.profiles.base import Samples

T0 = 1.8e9
#: Nothing listens here: the gateway's MQTT client keeps trying in the background.
NO_BROKER = BrokerAddress("127.0.0.1", 20599)
ROOT = Path(__file__).resolve().parents[2]


def _full(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _sensor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[_Sensor, list[bytes]]:
    """A sensor of a gateway whose packets are collected instead of published."""
    settings = GatewaySettings(NO_BROKER, (SensorSpec("AA:BB:CC:DD:EE:01"),), tmp_path)
    sensor = _Sensor(settings.sensors[0], settings, Outbox(tmp_path / "o.sqlite"), Counter())
    out: list[bytes] = []
    monkeypatch.setattr(sensor.link, "publish_packet", lambda p, on_acked=None: out.append(p))
    return sensor, out


def _packets(first_seq: int, n: int) -> list[list[Packet]]:
    packetizer, t = Packetizer(50.0, 25, first_seq), T0
    batches = []
    for _ in range(n):
        t += 0.5
        batches.append(packetizer.add(Samples(np.zeros((25, 3))), t))
    return batches


def test_a_full_disk_loses_no_packet_when_the_sequence_block_cannot_be_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every packet is kept while the mark cannot be written; the failures are counted, the warnings few."""
    sensor, _ = _sensor(tmp_path, monkeypatch)
    sensor.next_seq = sensor.memory.start()
    monkeypatch.setattr(sensor.memory, "_write", _full)
    with caplog.at_level(logging.WARNING, logger="ingest.gateway"):
        for packets in _packets(990, 20):
            sensor._send(packets)
    assert [seq for seq, _ in sensor.outbox.pending(sensor.device_id)] == list(range(990, 1010))  # no broker: kept
    assert sensor.next_seq == 1010
    assert sensor.counts["seq_memory_failures"] == 20  # tried again with every packet
    assert len([r for r in caplog.records if "sequence numbers" in r.getMessage()]) == 1


def test_a_mark_that_cannot_be_saved_is_tried_again_and_the_numbers_used_meanwhile_stay_covered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next mark is written half a block ahead: the numbers used while it fails lie below the mark on disk."""
    memory = SequenceMemory(tmp_path / "seq.json", block=1000)
    memory.start()
    for seq in range(500):
        memory.reserve(seq)
    monkeypatch.setattr(memory, "_write", _full)
    failures = 0
    for seq in range(500, 1000):
        try:
            memory.reserve(seq)
        except OSError:
            failures += 1
    assert failures == 500  # tried again each time
    assert SequenceMemory(memory.path).load() > 999  # a crash now: no number used twice
    monkeypatch.undo()
    memory.reserve(1000)  # space again: the next write goes through
    assert SequenceMemory(memory.path).load() == 2000


def test_on_a_full_disk_the_mark_is_written_over_the_file_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No room for the temporary file: the mark goes into the file's own bytes, and reads back."""
    memory = SequenceMemory(tmp_path / "seq.json", block=1000)
    memory.start()
    monkeypatch.setattr(memory, "_replace", _full)
    memory.reserve(123_456)
    memory.finish(123_457)
    assert SequenceMemory(memory.path).load() == 123_457
    memory.finish(5)  # shorter than what is there: padded, still valid JSON
    assert json.loads(memory.path.read_text()) == {"next_seq": 5}


def test_a_mark_is_flushed_to_the_disk_before_it_replaces_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power loss cannot leave a file cut short: the new file is synced before the rename."""
    events: list[str] = []
    real_fsync, real_replace = os.fsync, Path.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(Path, "replace", lambda self, target: (events.append("rename"), real_replace(self, target))[1])
    SequenceMemory(tmp_path / "seq.json").start()
    assert events[:2] == ["fsync", "rename"]


@pytest.mark.parametrize("content", ['{"next_seq": 12', "", "\x00" * 16, '{"next": 3}'])
def test_a_damaged_sequence_memory_goes_on_past_every_number_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    """A file cut short by a power loss: the gateway warns and starts far past the packets still in its outbox."""
    sensor, _ = _sensor(tmp_path, monkeypatch)
    sensor.memory.path.parent.mkdir(parents=True)
    sensor.memory.path.write_text(content)
    for seq in (70_000, 70_001):
        sensor.outbox.put(sensor.device_id, seq, b"kept")
    with caplog.at_level(logging.WARNING, logger="ingest.gateway"):
        first = sensor._first_seq(sensor._kept())
    assert first == 70_002 + SequenceMemory.RECOVERY_JUMP
    assert SequenceMemory(sensor.memory.path).load() > first  # the block after it reserved
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(sensor.memory.path) in warning
    assert str(first) in warning


@pytest.mark.parametrize("damage", ['{"next_seq": 12', "", "\x00" * 16, "gone"])
def test_a_damaged_sequence_memory_is_read_from_its_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    """A file torn or deleted: the gateway warns and goes on from the copy's mark, which
    covers every number used, without the jump (the numbers after it stay unused)."""
    sensor, _ = _sensor(tmp_path, monkeypatch)
    memory = sensor.memory
    assert memory.start() == 0
    for seq in range(701):  # the mark moves on at half the block: 1000, then 1500 at number 500
        memory.reserve(seq)
    if damage == "gone":
        memory.path.unlink()
    else:
        memory.path.write_text(damage)
    with caplog.at_level(logging.WARNING, logger="ingest.gateway"):
        first = sensor._first_seq(sensor._kept())
    assert first == 1500
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "going on from its copy, sequence number 1500" in warning
    assert SequenceMemory(memory.path).load() == 2500  # the file whole again, the next block reserved
    assert sensor.counts["seq_memory_failures"] == 1


def test_a_copy_that_cannot_take_the_mark_is_deleted_never_read_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file takes the new mark but its copy cannot: the copy goes, so that a file torn
    later leads to the jump past every number known, not to the copy's older mark."""
    memory = SequenceMemory(tmp_path / "seq.json", block=1000)
    memory.start()
    real_replace, real_overwrite = SequenceMemory._replace, SequenceMemory._overwrite

    def copy_full(path: Path, record: str) -> None:
        if path == memory.copy:
            _full()
        real_replace(path, record)

    monkeypatch.setattr(SequenceMemory, "_replace", staticmethod(copy_full))
    monkeypatch.setattr(
        SequenceMemory, "_overwrite", staticmethod(lambda p, r: p != memory.copy and real_overwrite(p, r))
    )
    memory.reserve(600)
    assert not memory.copy.exists()
    assert SequenceMemory(memory.path).load() == 1600
    memory.path.write_text('{"next_se')
    with pytest.raises(ValueError, match="unreadable sequence memory"):
        SequenceMemory(memory.path).load()


def test_a_sensor_that_fails_stops_the_others_before_the_outbox_closes(tmp_path: Path) -> None:
    """The other sensors flush into an open outbox; then the failure is raised."""
    specs = (SensorSpec("AA:BB:CC:DD:EE:01"), SensorSpec("AA:BB:CC:DD:EE:02"))
    gateway = Gateway(GatewaySettings(NO_BROKER, specs, tmp_path))
    finished: list[int] = []

    async def fails(stop: asyncio.Event) -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("a bug")

    async def flushes(stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.sleep(0.01)
        gateway.outbox.put("other", 1, b"flushed")  # raises once the outbox is closed
        finished.append(gateway.outbox.count())

    gateway.sensors[0].run = fails  # type: ignore[method-assign]
    gateway.sensors[1].run = flushes  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(gateway.run())
    assert finished == [1]


def test_the_gateway_starts_with_a_damaged_sequence_memory(tmp_path: Path) -> None:
    """``sitless gateway`` with a sequence file cut short: a warning, no traceback; it streams until SIGTERM."""
    seq = tmp_path / "seq" / "ble-aabbccddeeff.json"
    seq.parent.mkdir()
    seq.write_text('{"next_seq": 4')
    args = [
        "gateway",
        "--device",
        "AA:BB:CC:DD:EE:FF",
        "--broker",
        "mqtt://127.0.0.1:20598",
        "--data-dir",
        str(tmp_path),
    ]
    code = f"import sys; from ingest.cli import main; sys.exit(main({args!r}))"
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True) as proc:
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any("going on from sequence number" in line for line in lines) and proc.poll() is None:
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        assert proc.poll() is None, "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, "".join(lines)
        reader.join(10)
    assert not any("Traceback" in line for line in lines), "".join(lines)
    assert SequenceMemory(seq).load() >= SequenceMemory.RECOVERY_JUMP
