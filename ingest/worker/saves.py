"""A worker's saves of each wearer's live status and analysis snapshot.

The live status (what the dashboard shows) is saved every ``WorkerSettings.status_every_s``
and the analyzer's snapshot every ``snapshot_every_s``, both only when something changed,
all the wearers due in one transaction. A snapshot is saved with the last packet it
includes (packets queued or deferred are not in it), so a restarted worker restores it
and replays the packets the recorder stored since, and the running sitting bout goes on
from where it was instead of starting again from zero. The packets each snapshot
includes are counted in the same transaction, so that those replayed after a crash are
counted once. The snapshots of wearers that started together spread over the interval
(:func:`_phase`) instead of falling due at once.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

from ingest.ownership import DeviceOwnership, Handover
from ingest.store import StateRow, Store
from ingest.tally import Tally
from ingest.worker.settings import WorkerSettings
from ingest.worker.wearer import Wearer

__all__ = ["StateSaver"]


class StateSaver:
    """Saves the wearers' statuses and snapshots that are due, and counts the packets the snapshots include.

    Args:
        settings: The worker's settings (``status_every_s``, ``snapshot_every_s``).
        store: The worker's store.
        wearers: The worker's wearers, by device (shared with it).
        counts: Holds the packet counts of the snapshots until the store has them, each
            added once (:mod:`ingest.tally`).
        ownership: The worker's device leases: a save refused for a device another worker
            holds lets it go.
        worker_id: The owner named in the worker's device leases (and in each status).
        clock: Monotonic wall-clock seconds (the worker's clock).
        lag_s: The worker's lag behind the broker now, in seconds (shown in each status).
        failed: Called when a wearer's analysis fails to give its state
            (:meth:`AnalysisSchedule.failed`).
        take_over: Applies a change of the devices the worker holds (``Worker._take_over``).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        store: Store,
        *,
        wearers: dict[str, Wearer],
        counts: Tally,
        ownership: DeviceOwnership,
        worker_id: str,
        clock: Callable[[], float],
        lag_s: Callable[[], float],
        failed: Callable[[str, Wearer, str], None],
        take_over: Callable[[Handover], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._wearers = wearers
        self._counts = counts
        self._ownership = ownership
        self._worker_id = worker_id
        self._clock = clock
        self._lag_s = lag_s
        self._failed = failed
        self._take_over = take_over

    def save(self, *, force: bool = False, due: frozenset[str] = frozenset()) -> None:
        """Save, in one transaction, the status and snapshots that are due (all with ``force``).

        The packets each snapshot includes are counted in the same transaction, so that
        the packets replayed after a crash are counted once.

        Args:
            force: Save every device's snapshot now.
            due: Devices whose snapshot is saved now whatever the cadence (being let go of).

        Raises:
            StoreError: The store failed: every wearer stays due, to be saved next time.
        """
        now = self._clock()
        rows: list[StateRow] = []
        counts: dict[tuple[str, str], int] = {}
        saved: list[tuple[str, Wearer, bool]] = []
        for device_id, wearer in self._wearers.items():
            if wearer.quarantined:
                continue
            snapshot_due = force or device_id in due or now - wearer.snapshot_saved_s >= self._settings.snapshot_every_s
            status_due = snapshot_due or now - wearer.status_saved_s >= self._settings.status_every_s
            if not wearer.dirty or not status_due:
                continue
            try:
                status = wearer.analyzer.status().to_dict()
                snapshot = wearer.analyzer.snapshot() if snapshot_due else None
            except Exception:
                self._failed(device_id, wearer, "its saved state")
                continue
            analysis = wearer.analyzer.settings
            policy = analysis.policy
            status.update(
                max_sitting_s=policy.max_sitting_s,
                slouch_deg=analysis.slouch.slouch_deg,
                working_hours=None if policy.working_hours is None else list(policy.working_hours),
                weekly_hours=None if policy.weekly_hours is None else [h and list(h) for h in policy.weekly_hours],
                quiet_hours=[list(q) for q in policy.quiet_hours],
                utc_offset_h=policy.utc_offset_h,
                placement=str(wearer.placement),
                exercise=wearer.analyzer.exercise,
                worker_lag_s=round(self._lag_s(), 3),
                worker=self._worker_id,
            )
            # Packets queued or deferred are not in the snapshot: a restarted worker takes
            # them from the store (queued ones come before deferred ones).
            waiting = wearer.queued or wearer.deferred
            seq = waiting[0].seq - 1 if waiting else wearer.seq
            rows.append(StateRow(device_id, seq, snapshot, status))
            if snapshot is not None and wearer.unsaved_packets:
                counts[(device_id, "packets")] = wearer.unsaved_packets
                wearer.unsaved_packets = 0  # held by the tally from here
            saved.append((device_id, wearer, snapshot is not None))
        self._counts.hold(counts)
        if not rows and not self._counts.held:
            return
        # A StoreError leaves every wearer due, to be saved next time, and the counts held:
        # if this save was committed and only its answer lost, the next adds them no more.
        lost = self._store.save_states(rows, counts=self._counts, owner=self._worker_id)
        self._counts.written()
        if lost:
            self._take_over(self._ownership.lost(lost))
        every = self._settings.snapshot_every_s
        for device_id, wearer, snapshot_saved in saved:
            wearer.status_saved_s = now
            if snapshot_saved:
                # A first snapshot (or one asked for at once) is followed by the next one at
                # the device's own point of the interval, so that the periodic snapshots of
                # wearers that started together spread over it instead of falling due at once.
                first = wearer.snapshot_saved_s == -math.inf and math.isfinite(every)
                wearer.snapshot_saved_s = now - every * _phase(device_id) if first else now
                wearer.dirty = False


def _phase(device_id: str) -> float:
    """A fixed fraction of the snapshot interval for each device, in [0, 1), spread evenly over devices."""
    return zlib.crc32(device_id.encode()) / 2**32
