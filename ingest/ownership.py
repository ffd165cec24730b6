"""Which devices one analysis worker owns, through leases in the store (:mod:`ingest.store.leases`).

By default every worker subscribes to every device's messages, each with its own
persistent session, and analyses only those of the devices it holds a lease on. The
messages of the other devices it keeps for a while, in a bounded buffer per device
(the *standby* messages), so that when it takes a device over from a worker that died
it has the stream since that worker's last snapshot at hand, even if the recorder has
not stored all of it yet; what the buffer lost, the store has (docs/operations.md,
*Several workers*). A worker subscribed only to the devices it holds
(``WorkerSettings.subscribe``) keeps no message of the others, finds the devices it
hears nothing of in the store (``find_in_store``), and lets go of a lease by leaving
it expired there, for the others to find.

Every third of a lease a worker renews its leases, and claims free devices it keeps
messages of: a device whose owner stopped renewing is taken over within about
``lease_s * 4 / 3`` seconds of that owner's last renewal. Each worker also holds a
lease on its own presence, so the workers alive are counted, and it claims devices
only up to its fair share, the devices leased divided by the workers alive (rounded
up): workers that start together split a fleet between them, each preferring the
devices a hash of its id and the device's ranks first, so that they seldom race for
the same ones. A worker alone claims every device the first time it hears of it.

A worker that finds itself above its fair share at ``handover_after`` renewals in a
row (a worker joined; 2 by default) hands over the excess, at most ``handover_step``
devices per renewal (8 by default), those it ranks last: the worker saves each one's
snapshot, then lets go of its lease (:meth:`DeviceOwnership.hand_over`) and keeps its
messages again, and the newcomer claims it at its next renewal and goes on from the
snapshot, as after a take-over. Requiring the excess twice in a row rides out a census
taken while a worker restarts, the share rounded up leaves an uneven split as it is (5
devices on 2 workers stay 3 and 2), and a worker does not claim back a device it handed
over for ``handover_cooldown_leases`` leases (3 by default), even when the newcomer
misses a renewal while it catches up: devices do not flap between workers. The three
are the worker's settings (``WorkerSettings``, ``sitless worker --handover-*``).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.service import Message
from ingest.store import Store
from ingest.store.leases import presence_key
from ingest.topics import Kind

__all__ = ["DeviceOwnership", "Handover"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Handover:
    """What a renewal of the leases changed.

    Attributes:
        gained: Devices taken over, each with the messages kept for it, oldest first.
        lost: Devices this worker held and another holds now (it stopped renewing in time).
    """

    gained: dict[str, list[tuple[Kind, Message]]] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)


#: Most payload bytes kept in all for devices other workers hold. A live wearer's packet
#: is about 180 bytes, so the default 240 messages of 2,000 devices take some 85 MB; a
#: client sending the largest messages allowed (12 kB packets, 64 kB JSON) for many
#: device ids would take gigabytes without it. Past it, the devices heard from least
#: recently lose their kept messages: a take-over finds those in the store.
MAX_STANDBY_BYTES = 256 * 2**20


class DeviceOwnership:
    """One worker's leases and the messages it keeps of devices other workers hold.

    Args:
        store: The store holding the leases.
        worker_id: This worker's id, the owner named in its leases.
        lease_s: How long a lease lasts without being renewed.
        standby_messages: Most messages kept per device held by another worker (and
            ``max_standby_bytes`` of payload in all).
        max_standby_devices: Most such devices (device ids come from any client: bounded).
        handover_after: Renewals in a row this worker must find itself above its fair
            share before it hands devices over.
        handover_step: Most devices it hands over per renewal (a few at a time: each is
            a snapshot to save and a catch-up from the store for the newcomer).
        handover_cooldown_leases: Leases it waits before it claims again a device it
            handed over: a newcomer that misses a renewal while it catches up (its
            presence lapses, the census shrinks for a moment) does not get the device
            taken back from under it. Should the newcomer die, its devices come back
            after this instead of after ``lease_s * 4 / 3``.
        clock: Monotonic wall-clock seconds, for the renewal cadence.
        find_in_store: Also claim at each renewal the devices whose lease lapsed and
            those the store says it holds, whether it heard of them or not: a worker
            subscribed only to the devices it holds (``WorkerSettings.subscribe``) hears
            no packet of the others, and keeps no message of them.
        max_standby_bytes: Most payload bytes kept for all such devices
            (:data:`MAX_STANDBY_BYTES`).
    """

    def __init__(
        self,
        store: Store,
        worker_id: str,
        *,
        lease_s: float,
        standby_messages: int,
        max_standby_devices: int,
        handover_after: int,
        handover_step: int,
        handover_cooldown_leases: float,
        clock: Callable[[], float],
        find_in_store: bool = False,
        max_standby_bytes: int = MAX_STANDBY_BYTES,
    ) -> None:
        self._find_in_store = find_in_store
        self.store = store
        self.worker_id = worker_id
        self.lease_s = lease_s
        self.held: set[str] = set()
        self._standby: OrderedDict[str, deque[tuple[Kind, Message]]] = OrderedDict()
        self._standby_messages = standby_messages
        self._max_standby_devices = max_standby_devices
        self._max_standby_bytes = max_standby_bytes
        self._standby_bytes = 0
        self._handover_after = handover_after
        self._handover_step = handover_step
        self._handover_cooldown_leases = handover_cooldown_leases
        self._clock = clock
        self._renewed_s = -math.inf
        self._presence = presence_key(worker_id)
        self._present = False  # whether its presence lease was taken (then the census counts it)
        #: Devices above this worker's fair share, to save and hand over (:meth:`hand_over`).
        self.handing_over: set[str] = set()
        self._over_renewals = 0
        self._handed_s: dict[str, float] = {}  # when each device was handed over, for the cool-down

    def holds(self, device_id: str) -> bool:
        """Whether this worker analyses the device."""
        return device_id in self.held

    def knows(self, device_id: str) -> bool:
        """Whether this worker has claimed the device before: it holds it, or keeps its messages."""
        return device_id in self.held or device_id in self._standby

    def claim_new(self, device_ids: Iterable[str]) -> set[str]:
        """Claim the devices never heard of before; those another worker holds are kept in standby.

        Returns:
            The devices claimed now.

        Raises:
            StoreError: The store failed (nothing changed).
        """
        new = {d for d in device_ids if d not in self.held and d not in self._standby}
        if not new:
            return set()
        workers, leased = self.store.lease_census()
        if not self._present:
            workers += 1  # this worker, not yet present in the store
        wanted = self._preferred(new, self._share(workers, leased + len(new)))
        got = self.store.claim_leases(self.worker_id, [*wanted, self._presence], self.lease_s) - {self._presence}
        self._present = True
        self.held |= got
        for device_id in new - got:
            self._standby_of(device_id)
        return got

    def _share(self, workers: int, devices: int) -> int:
        """How many more devices this worker may claim: its fair share of ``devices`` less those it holds."""
        return max(0, math.ceil(devices / max(workers, 1)) - len(self.held))

    def _preferred(self, device_ids: Iterable[str], n: int) -> list[str]:
        """The ``n`` devices this worker prefers (a hash of its id and theirs: each worker its own order)."""

        def rank(device_id: str) -> bytes:
            return hashlib.blake2b(f"{self.worker_id}\0{device_id}".encode(), digest_size=8).digest()

        return sorted(device_ids, key=rank)[:n]

    def keep(self, device_id: str, kind: Kind, message: Message) -> None:
        """Keep a message of a device another worker holds, for the day this worker takes it over."""
        kept = self._standby_of(device_id)
        if len(kept) == kept.maxlen:
            if not kept:
                return  # nothing is kept
            self._standby_bytes -= len(kept[0][1].payload)  # the oldest, pushed out
        kept.append((kind, message))
        self._standby_bytes += len(message.payload)
        for other, older in self._standby.items():  # the least recently heard first, this device last
            if self._standby_bytes <= self._max_standby_bytes or other == device_id:
                break
            self._standby_bytes -= _payload_bytes(older)
            older.clear()

    def standby_messages(self) -> int:
        """Messages kept for devices other workers hold (read when metrics are scraped)."""
        return sum(len(q) for q in list(self._standby.values()))

    def _standby_of(self, device_id: str) -> deque[tuple[Kind, Message]]:
        kept = self._standby.get(device_id)
        if kept is None:
            kept = self._standby[device_id] = deque(maxlen=self._standby_messages)
            while len(self._standby) > self._max_standby_devices:
                self._standby_bytes -= _payload_bytes(self._standby.popitem(last=False)[1])
        else:
            self._standby.move_to_end(device_id)
        return kept

    def renew(self) -> Handover:
        """Every third of a lease: renew the leases held, and take over the standby devices that are free.

        Returns:
            What changed (nothing between two renewals).

        Raises:
            StoreError: The store failed (nothing changed; the next call tries again).
        """
        now = self._clock()
        if now - self._renewed_s < self.lease_s / 3:
            return Handover()
        workers, leased = self.store.lease_census()
        if not self._present:
            workers += 1
        cooled = now - self._handover_cooldown_leases * self.lease_s
        self._handed_s = {d: t for d, t in self._handed_s.items() if t > cooled}
        free = self.store.claimable(sorted(set(self._standby) - self.held))
        devices = leased + len(free)
        if self._find_in_store:  # devices it does not hear: those whose lease lapsed, and its own
            in_store = self.store.lease_candidates(self.worker_id) - self.held
            devices = leased + len(free - in_store)  # the census counted those with a lease already
            free |= in_store
        free -= set(self._handed_s)
        wanted = [*self.held, *self._preferred(free, self._share(workers, devices)), self._presence]
        held = self.store.claim_leases(self.worker_id, wanted, self.lease_s) - {self._presence}
        self._renewed_s = now
        self._present = True
        handover = Handover(lost=self.held - held)
        for device_id in sorted(held - self.held):
            gained = handover.gained[device_id] = list(self._standby.pop(device_id, ()))
            self._standby_bytes -= _payload_bytes(gained)
        for device_id in handover.lost:
            log.warning("%s: lost the lease of %s to another worker; letting it go", self.worker_id, device_id)
            self._standby_of(device_id)
        if handover.gained:
            log.info("%s: took over %d devices: %s", self.worker_id, len(handover.gained), ", ".join(handover.gained))
        self.held = held
        self._rebalance(math.ceil(devices / max(workers, 1)))
        return handover

    def _rebalance(self, share: int) -> None:
        """Choose the devices to hand over when this worker holds more than ``share`` at renewals in a row."""
        self.handing_over &= self.held
        over = len(self.held) - share
        self._over_renewals = self._over_renewals + 1 if over > 0 else 0
        if self._over_renewals < self._handover_after or self.handing_over:
            return
        self._over_renewals = 0
        ranked = self._preferred(self.held, len(self.held))
        self.handing_over = set(ranked[len(ranked) - min(over, self._handover_step) :])
        log.info(
            "%s: %d devices above a fair share of %d; handing over %s",
            self.worker_id,
            over,
            share,
            ", ".join(sorted(self.handing_over)),
        )

    def hand_over(self, device_ids: Iterable[str]) -> None:
        """Let go of devices whose state is saved, for another worker to claim; keep their messages again.

        Raises:
            StoreError: The store failed (nothing changed).
        """
        gone = sorted(set(device_ids) & self.held)
        if not gone:
            return
        self.store.release_leases(self.worker_id, gone, lapse=self._find_in_store)
        self.held -= set(gone)
        self.handing_over -= set(gone)
        now = self._clock()
        for device_id in gone:
            self._standby_of(device_id)
            self._handed_s[device_id] = now

    def lost(self, device_ids: Iterable[str]) -> Handover:
        """Devices found held by another worker (a save refused): no longer this worker's."""
        gone = set(device_ids) & self.held
        for device_id in gone:
            log.warning("%s: %s is another worker's now; letting it go", self.worker_id, device_id)
            self._standby_of(device_id)
        self.held -= gone
        return Handover(lost=gone)

    def release(self, device_ids: Iterable[str] | None = None) -> None:
        """Let go of all leases, as the worker stops, or of those of some devices that went quiet.

        All (None): another worker takes them at once, finding them by their messages or,
        with ``find_in_store``, as leases left expired. Some: the devices idle past the
        worker's ``evict_idle_s`` (and, with ``find_in_store``, whose status said they went
        offline), whose leases are deleted rather than left expired, where ``find_in_store``
        would claim them again at the next renewal: none is claimed again until its
        messages are heard (its status as it connects again).

        Raises:
            StoreError: The store failed.
        """
        if device_ids is None:
            self.store.release_leases(self.worker_id, lapse=self._find_in_store)
            self.held.clear()
            self.handing_over.clear()
            self._present = False
            return
        gone = sorted(set(device_ids) & self.held)
        self.store.release_leases(self.worker_id, gone)
        self.held -= set(gone)


def _payload_bytes(kept: Iterable[tuple[Kind, Message]]) -> int:
    """The payload bytes of kept messages."""
    return sum(len(m.payload) for _, m in kept)
