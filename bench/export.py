"""``python -m bench.export``: the time, memory and size of one wearer's export (``sitless export``), and its pruning.

Stores ``--hours`` of one simulated thigh wearer playing ``office_morning`` on a loop
(the real codec, 25-sample packets at 50 Hz, as the recorder stores them) in a SQLite
file in a temporary folder (or ``--store URL``), then runs ``sitless export`` on it as a
child process, ``--repeat`` times: its wall time, its CPU time and peak resident memory
(``os.wait4``, the child's own), and the archive's size per sample. The dashboard builds
the same archive in memory (``dashboard.data.EXPORT_MAX_SAMPLES``). Then it gives the
wearer an analysis state that includes every packet and times ``sitless prune
--keep-days 0`` deleting them all, the same way. With ``--copy-to URL`` (an empty store,
PostgreSQL for instance) it first times ``sitless store-copy`` of the whole store into it.
With ``--gyro`` every packet carries angular rate too (seeded noise: the simulator has
none), which the export writes to ``gyro.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import scenario
from ingest.codec import decode, encode
from ingest.store import BatchRow, Store

__all__ = ["main"]

DEVICE = "bench-export"
T0_S = 1_765_000_000.0
#: deg/s per gyro count of the angular rate ``--gyro`` adds (a ±2000 deg/s range in int16).
GYRO_SCALE_DPS = 0.061


def _with_gyro(payload: bytes, rng: np.random.Generator) -> bytes:
    """The packet with angular rate added: seeded noise of about ±120 deg/s (the simulator has no gyro)."""
    batch = decode(payload)
    counts = rng.integers(-2000, 2000, batch.acc.shape, dtype=np.int16)
    return encode(dataclasses.replace(batch, gyro_scale_dps=GYRO_SCALE_DPS, gyro=counts))


def _fill(url: str, hours: float, *, gyro: bool = False) -> int:
    """Store ``hours`` of the simulated wearer's packets (with angular rate if ``gyro``); return the samples stored."""
    settings = DeviceSettings(device_id=DEVICE, loop=True, params=MotionParams(drop_prob=0.0))
    packets = round(hours * 3600 * settings.rate_hz / settings.params.packet_samples)
    samples = 0
    rng = np.random.default_rng(1)
    with Store(url) as store:
        sent = (p.payload for p in iter_packets(scenario("office_morning"), settings, T0_S) if p.payload is not None)
        if gyro:
            sent = (_with_gyro(payload, rng) for payload in sent)
        rows: list[BatchRow] = []
        for payload in itertools.islice(sent, packets):
            row = BatchRow.of_packet(DEVICE, decode(payload), payload)
            rows.append(row)
            samples += row.n
            if len(rows) == 5000:
                store.add_batches(rows)
                rows = []
        store.add_batches(rows)
    return samples


def main(argv: list[str] | None = None) -> int:
    """Print the export's wall and CPU time, peak memory and bytes per sample."""
    parser = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0, help="hours of 50 Hz samples stored")
    parser.add_argument("--repeat", type=int, default=3, help="exports timed")
    parser.add_argument("--store", help="store URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--gyro", action="store_true", help="packets with angular rate too (seeded noise)")
    parser.add_argument("--copy-to", metavar="URL", help="time `sitless store-copy` of the store into this one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.store or f"sqlite:///{Path(folder) / 'export.sqlite'}"
        samples = _fill(url, args.hours, gyro=args.gyro)
        out = Path(folder) / "export.zip"
        command = [sys.executable, "-m", "ingest.cli", "export", "--store", url, "--device", DEVICE]
        print(f"{args.hours:g} h stored: {samples:,} samples of {DEVICE}{' with angular rate' if args.gyro else ''}")
        for _ in range(args.repeat):
            start = time.perf_counter()
            child = subprocess.Popen([*command, "--out", str(out), "--force"], stdout=subprocess.DEVNULL)
            _pid, status, usage = os.wait4(child.pid, 0)
            wall_s = time.perf_counter() - start
            if status != 0:
                print(f"sitless export failed with status {status}", file=sys.stderr)
                return 1
            size = out.stat().st_size
            print(
                f"export: {wall_s:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU, "
                f"peak {usage.ru_maxrss / 1024:.0f} MiB; {size / 1e6:.1f} MB, {size / samples:.1f} bytes a sample"
            )
        if args.copy_to:
            copy = [sys.executable, "-m", "ingest.cli", "store-copy", "--from", url, "--to", args.copy_to]
            start = time.perf_counter()
            child = subprocess.Popen(copy, stdout=subprocess.DEVNULL)
            _pid, status, usage = os.wait4(child.pid, 0)
            print(
                f"store-copy: {time.perf_counter() - start:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU, "
                f"peak {usage.ru_maxrss / 1024:.0f} MiB (status {status})"
            )
        with Store(url) as store:
            packets = len(store.seqs(DEVICE))
            store.save_state(DEVICE, store.max_seq(DEVICE) or 0, snapshot={}, status={})
        command = [sys.executable, "-m", "ingest.cli", "prune", "--store", url, "--keep-days", "0"]
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall_s = time.perf_counter() - start
        with Store(url) as store:
            left = len(store.seqs(DEVICE))
        print(
            f"prune: {packets - left:,} of {packets:,} packets deleted in {wall_s:.1f} s wall, "
            f"{usage.ru_utime + usage.ru_stime:.1f} s CPU (status {status})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
