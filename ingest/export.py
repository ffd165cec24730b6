"""One wearable's data out of the store, as one ZIP file (``sitless export``, the dashboard's *Your data*).

The archive holds, for one device id:

- ``samples.csv``: ``t, ax, ay, az`` of every stored packet, in sequence order: the time
  in Unix seconds (ms resolution, the device's clock) and acceleration in g. These are
  the columns ``sitless analyze`` reads (:mod:`ingest.recording`), so an export can be
  analysed again, or read by any tool that reads CSV;
- ``gyro.csv``: ``t, gx, gy, gz`` in deg/s, of the samples that came with angular
  rate (only when some did);
- ``events.jsonl``: every stored event (posture and sitting bouts, alerts, the wearer's
  answers, exercise sets and holds), one JSON object a line, oldest first, each with
  its ``kind`` and the time ``t_s`` it is stored under;
- ``wearer.json``: the device as sitless knows it: its last published status (sensor,
  placement, battery), the wearer's settings, the analysis worker's live status, the
  services' counts for it, what the samples cover (packets, samples, earliest and
  latest time, the sequence numbers missing), and what each file holds.

Written entry by entry as the store is read page by page, so that weeks of samples never
sit in memory at once. The worker's internal analysis state is not exported: it is
derived from the samples, and is deleted with them (``Store.delete_device``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from ingest.cli import version
from ingest.codec import Batch, decode
from ingest.errors import PacketError
from ingest.store import EventRow, Store

__all__ = ["FILES", "ExportSummary", "event_line", "write_export"]

#: The archive's files and what each holds (also written into ``wearer.json``).
FILES: dict[str, str] = {
    "samples.csv": "t (Unix s, device clock), ax, ay, az (g) of every stored packet, in sequence order",
    "gyro.csv": "t (Unix s), gx, gy, gz (deg/s) of the samples that came with angular rate, if any did",
    "events.jsonl": "every stored event, oldest first: one JSON object a line, with its kind and t_s",
    "wearer.json": "the device's last status, the wearer's settings, the live status, counts, what the samples cover",
}
#: Samples formatted and written at a time (about 2 MB of CSV).
_ROWS_PER_WRITE = 50_000
_FORMATS = {"samples.csv": ["%.3f", "%.5f", "%.5f", "%.5f"], "gyro.csv": ["%.3f", "%.3f", "%.3f", "%.3f"]}
_HEADERS = {"samples.csv": "t,ax,ay,az\n", "gyro.csv": "t,gx,gy,gz\n"}
#: ``gyro.csv``'s text is held in memory up to this size while the samples are written, then on disk.
_GYRO_IN_MEMORY_BYTES = 1 << 20
_COPY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export holds.

    Attributes:
        device_id: The wearable.
        packets: Stored packets written out.
        samples: Their samples (rows of ``samples.csv``).
        gyro_samples: Rows of ``gyro.csv`` (0: the file is left out).
        events: Lines of ``events.jsonl``.
        unreadable_packets: Stored packets that did not decode, left out (the recorder
            stores only packets that decode, so this is 0 unless the store was altered).
        earliest_t_s: Time of the earliest sample, Unix s (None without samples).
        latest_t_s: Time of the latest sample, Unix s (None without samples).
        missing: Sequence numbers missing between the stored packets, as
            ``[first, last]`` ranges: packets that never reached the store, or numbers
            a device skipped when it restarted (docs/protocol.md, *Sequence numbers*).
    """

    device_id: str
    packets: int
    samples: int
    gyro_samples: int
    events: int
    unreadable_packets: int
    earliest_t_s: float | None
    latest_t_s: float | None
    missing: list[list[int]]


class _Coverage:
    """Counts of the packets read, and the time span of their samples."""

    def __init__(self) -> None:
        self.packets = self.samples = self.unreadable = 0
        self.earliest_t_s, self.latest_t_s = math.inf, -math.inf

    def packets_of(self, store: Store, device_id: str) -> Iterator[Batch]:
        """The device's stored packets, decoded, in sequence order; counted as they go."""
        for row in store.batches(device_id):
            try:
                batch = decode(row.payload)
            except PacketError:
                self.unreadable += 1
                continue
            self.packets += 1
            self.samples += batch.n
            self.earliest_t_s = min(self.earliest_t_s, batch.t0_s)
            self.latest_t_s = max(self.latest_t_s, batch.last_s)
            yield batch


def _entry(name: str) -> zipfile.ZipInfo:
    """An archive entry named ``name``, dated now (local time, as ZIP dates are), deflated."""
    entry = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    return entry


class _Csv:
    """Rows of shape (n, 4) written to a binary file as the CSV file ``name``, some 2 MB of text at a time."""

    def __init__(self, out: IO[bytes], name: str) -> None:
        self._out, self._fmt = out, _FORMATS[name]
        self._pending: list[NDArray[np.float64]] = []
        self._held = self.rows = 0
        out.write(_HEADERS[name].encode())

    def add(self, block: NDArray[np.float64]) -> None:
        """Take ``block``'s rows; they are written once enough are held, or at :meth:`flush`."""
        self._pending.append(block)
        self._held += block.shape[0]
        self.rows += block.shape[0]
        if self._held >= _ROWS_PER_WRITE:
            self.flush()

    def flush(self) -> None:
        """Write the rows held."""
        if not self._pending:
            return
        text = io.StringIO()
        np.savetxt(text, np.concatenate(self._pending), fmt=self._fmt, delimiter=",")
        data = text.getvalue().encode()
        text.close()  # numpy's wrapper of it is a reference cycle: its buffer would wait for the collector
        self._out.write(data)
        self._pending.clear()
        self._held = 0


def event_line(event: EventRow) -> str:
    """One stored event as a line of JSON Lines: its object, with its ``kind`` and the ``t_s`` it is stored under.

    >>> print(event_line(EventRow("desk-07", "alert", 1700000000.0, {"alert": "sit_too_long"})), end="")
    {"kind": "alert", "t_s": 1700000000.0, "alert": "sit_too_long"}
    """
    return json.dumps({"kind": event.kind, "t_s": event.t_s, **event.body}) + "\n"


def write_export(store: Store, device_id: str, out: IO[bytes]) -> ExportSummary:
    """Write the ZIP archive of one device's data (module docstring) to ``out``.

    Args:
        store: The store to read.
        device_id: The wearable; a device the store does not know gives an archive of
            empty files.
        out: A binary file opened for writing (it need not be seekable).

    Returns:
        What the archive holds.

    Raises:
        StoreError: The store cannot be read.
        OSError: ``out`` cannot be written.
    """
    coverage = _Coverage()
    # A ZIP stream takes one entry at a time: the angular rates wait in a temporary file
    # (in memory while small) while the samples are written, so the packets are read once.
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        tempfile.SpooledTemporaryFile(max_size=_GYRO_IN_MEMORY_BYTES) as gyro_text,
    ):
        gyro: _Csv | None = None
        with archive.open(_entry("samples.csv"), "w", force_zip64=True) as f:
            samples = _Csv(f, "samples.csv")
            for batch in coverage.packets_of(store, device_id):
                times = batch.times_s()
                samples.add(np.column_stack([times, batch.acc_g()]))
                if (dps := batch.gyro_dps()) is not None:
                    if gyro is None:
                        gyro = _Csv(gyro_text, "gyro.csv")
                    gyro.add(np.column_stack([times, dps]))
            samples.flush()
        if gyro is not None:
            gyro.flush()
            gyro_text.seek(0)
            with archive.open(_entry("gyro.csv"), "w", force_zip64=True) as f:
                shutil.copyfileobj(gyro_text, f, _COPY_BYTES)
        gyro_samples = 0 if gyro is None else gyro.rows
        with archive.open(_entry("events.jsonl"), "w", force_zip64=True) as f:
            events = 0
            for e in store.events(device_id):
                f.write(event_line(e).encode())
                events += 1
        summary = ExportSummary(
            device_id=device_id,
            packets=coverage.packets,
            samples=coverage.samples,
            gyro_samples=gyro_samples,
            events=events,
            unreadable_packets=coverage.unreadable,
            earliest_t_s=coverage.earliest_t_s if coverage.packets else None,
            latest_t_s=coverage.latest_t_s if coverage.packets else None,
            missing=[[a, z] for a, z in store.gaps(device_id)],
        )
        archive.writestr(_entry("wearer.json"), json.dumps(_wearer(store, summary), indent=2) + "\n")
    return summary


def _wearer(store: Store, summary: ExportSummary) -> dict[str, Any]:
    """The contents of ``wearer.json``."""
    device_id = summary.device_id
    live = store.load_status(device_id)
    return {
        "device_id": device_id,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sitless_version": version(),
        "device_status": store.device_status(device_id),
        "settings": store.wearer_settings(device_id),
        "live_status": None if live is None else live[0],
        "counts": {
            f"{service}.{name}": value
            for (service, _, name), value in sorted(store.counters(device_id=device_id).items())
        },
        "coverage": {k: v for k, v in asdict(summary).items() if k != "device_id"},
        "files": {name: text for name, text in FILES.items() if name != "gyro.csv" or summary.gyro_samples},
    }
