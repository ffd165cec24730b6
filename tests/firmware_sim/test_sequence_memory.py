"""The simulated device's non-volatile packet counter: numbers go on across runs, never reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import ALL_POSTURES
from ingest.device_link import SequenceMemory


def test_first_run_starts_at_zero_and_reserves_a_block(tmp_path: Path) -> None:
    """A new device starts at 0 and records a block ahead before sending anything."""
    memory = SequenceMemory(tmp_path / "dev.seq.json", block=100)
    assert memory.start() == 0
    assert json.loads(memory.path.read_text()) == {"next_seq": 100}


def test_clean_stop_goes_on_exactly(tmp_path: Path) -> None:
    """After a clean stop the next run starts right after the last number used."""
    memory = SequenceMemory(tmp_path / "dev.seq.json", block=100)
    memory.start()
    for seq in range(250):
        memory.reserve(seq)
    memory.finish(250)
    assert SequenceMemory(memory.path, block=100).start() == 250


def test_after_a_crash_no_number_is_used_twice(tmp_path: Path) -> None:
    """Without finish() (a crash), the next run starts past every number the last one used."""
    memory = SequenceMemory(tmp_path / "dev.seq.json", block=100)
    memory.start()
    used = list(range(250))
    for seq in used:
        memory.reserve(seq)
    assert SequenceMemory(memory.path, block=100).start() > max(used)


def test_unreadable_memory_is_a_clear_error(tmp_path: Path) -> None:
    """A corrupted file is reported with its path, not silently reset to 0."""
    path = tmp_path / "dev.seq.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"dev\.seq\.json"):
        SequenceMemory(path).start()


def test_packets_start_at_the_first_seq() -> None:
    """iter_packets numbers packets from first_seq, inside the packet too."""
    settings = DeviceSettings(params=MotionParams(drop_prob=0.0))
    packets = list(iter_packets(ALL_POSTURES.truncated(5.0), settings, 1.75e9, first_seq=1234))
    assert [p.seq for p in packets] == list(range(1234, 1234 + len(packets)))
