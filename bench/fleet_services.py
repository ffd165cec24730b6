"""The services of a fleet run: recorders and workers as ``sitless`` child processes.

``services`` starts them on one broker and store, each with its own metrics port and log
file, waits until each reports itself connected on ``/healthz``, and stops them at the
end; ``sitless`` is the command line of a ``sitless`` subcommand run by this Python.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from ingest.broker import free_port
from ingest.mqtt import BrokerAddress

__all__ = ["services", "sitless"]


def sitless(*args: str) -> list[str]:
    """The command line of ``sitless`` subcommand ``args`` run by this Python."""
    return [sys.executable, "-m", "ingest.cli", *args]


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1.0) as answer,
        ):
            if json.loads(answer.read()).get("connected"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} did not report healthy within {timeout_s} s")


@contextlib.contextmanager
def services(
    folder: Path,
    broker: BrokerAddress,
    store_url: str,
    workers: int,
    worker_options: Sequence[str] = (),
    *,
    recorders: int = 1,
) -> Iterator[tuple[dict[str, subprocess.Popen[bytes]], dict[str, int]]]:
    """``recorders`` recorders and ``workers`` workers, healthy (connected and subscribed) on return, with their
    metrics ports; several recorders share the packets (``--share-group recorders``)."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        names = ["recorder"] if recorders == 1 else [f"recorder-{k}" for k in range(1, recorders + 1)]
        names += [f"worker-{k}" for k in range(1, workers + 1)]
        ports: dict[str, int] = {}
        for name in names:
            ports[name] = port = free_port()
            cmd = name.split("-")[0]
            argv = sitless(cmd, "--broker", broker.url, "--store", store_url, "--client-id", f"bench-{name}")
            argv += ["--metrics-port", str(port)]
            if cmd == "worker":
                argv += ["--worker-id", f"bench-{name}", *worker_options]
            elif recorders > 1:
                argv += ["--share-group", "recorders"]
            with (folder / f"{name}.log").open("wb") as log:
                procs[name] = subprocess.Popen(argv, stdout=log, stderr=log)
        for name in names:
            _wait_healthy(ports[name], procs[name])
        time.sleep(0.3)  # health says connected; the SUBACK follows within a round trip
        yield procs, ports
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
