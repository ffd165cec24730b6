"""Fixtures for the simulated wearable: short scripts, recordings and a mosquitto broker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.settings import Placement
from firmware_sim.motion import generate
from firmware_sim.recording import Recording
from firmware_sim.scenarios import ALL_POSTURES

MOSQUITTO = "/usr/sbin/mosquitto"


@pytest.fixture(scope="module")
def all_postures() -> dict[Placement, Recording]:
    """The ``all_postures`` scenario at every placement, seed 3."""
    return {placement: generate(ALL_POSTURES, placement, seed=3) for placement in Placement}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[str]:
    """A mosquitto broker on a free localhost port; yields its ``mqtt://`` URL."""
    binary = shutil.which("mosquitto") or (MOSQUITTO if Path(MOSQUITTO).exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        # The default of 1000 loses QoS 1 bursts to a slow subscriber (STACK.md).
        "max_queued_messages 100000",
        "persistence false",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lines.append("user root")
    conf.write_text("\n".join(lines) + "\n")
    log = (tmp_path / "mosquitto.log").open("w")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mosquitto did not start: {(tmp_path / 'mosquitto.log').read_text()}")
                time.sleep(0.02)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        log.close()
