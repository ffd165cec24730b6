"""What an analysis worker is told: its broker and store, its leases, its save cadence, its limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis import AlertPolicy, Placement, SlouchPolicy
from ingest.mqtt import BrokerAddress, check_share_group
from ingest.store import DEFAULT_STORE_URL

__all__ = ["SUBSCRIBE_MODES", "WorkerSettings"]

#: How a worker subscribes to the devices' packets (``WorkerSettings.subscribe``).
SUBSCRIBE_MODES = ("all", "held")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What the worker needs.

    Attributes:
        broker: The MQTT broker.
        store_url: The store (raw batches for replay, events and state).
        client_id: MQTT client id; the broker keeps the session under it.
        placement: Placement assumed for a device until its status names one.
        policy: The sit-too-long alert policy.
        slouch: Slouch time and nudges of chest and upper-back sensors.
        share_group: MQTT 5 shared-subscription group spreading the packets over
            workers (mosquitto, EMQX, HiveMQ; amqtt grants but does not deliver them).
            It spreads messages, not devices: not for several workers sharing a fleet,
            which leases do (``lease_s``).
        worker_id: The owner named in this worker's device leases; empty: the client
            id and the host name, so that a restarted worker takes its leases back at once.
        subscribe: ``"all"``: subscribe to every device's packets, analyse those of the
            devices held and keep the others' for a take-over (the default). ``"held"``:
            subscribe only to the packets of the devices this worker holds, so that the
            broker sends each packet to one worker, not all of them; devices are found
            through their retained status (every sitless device and gateway publishes
            one) and the leases in the store, and a device taken over is caught up from
            the store alone (docs/operations.md, *Several workers*). Every worker of a
            fleet runs the same way.
        lease_s: Seconds a device lease lasts unless renewed (renewed every third of
            it): a device whose worker died moves to another within about 4/3 of it.
        standby_messages: Most messages kept per device another worker holds, to take
            it over from (the rest come from the store); 240 is 2 min at 50 Hz in
            25-sample packets, far more than a snapshot interval and a lease.
        handover_after: Lease renewals in a row a worker must find itself above its fair
            share of the fleet before it hands devices over to the others (2 rides out a
            census taken while a worker restarts; :mod:`ingest.ownership`).
        handover_step: Most devices a worker hands over per renewal: each is a snapshot
            to save, and a catch-up from the store for the worker taking it.
        handover_cooldown_leases: Leases a worker waits before it claims again a device
            it handed over, so that a newcomer busy catching up that misses a renewal
            does not have it taken back (should the newcomer die, its devices come back
            after this rather than after 4/3 of a lease).
        status_every_s: Most wall-clock seconds between two saves of a device's live
            status (what the dashboard shows).
        snapshot_every_s: Most wall-clock seconds between two saves of a device's
            analysis snapshot, and so the most analysis a crash can cost; the packets of
            that time are replayed from the store on restart. A snapshot is also saved
            at once after an alert or a user action. After a device's first snapshot
            (or one saved at once) the next comes at the device's own point of the
            interval, so the snapshots of many wearers spread over it rather than all
            falling due together. Snapshots cost about half of the worker's time when
            saved with every packet (docs/performance.md).
        reorder_wait_s: How long (wall clock) packets after a gap wait for the missing
            ones, which a wearable resending its queue after a reconnect may deliver late.
        reorder_max_packets: Most packets held while waiting (2,400 is 20 min at 50 Hz
            in 25-sample packets); past it, or past ``reorder_wait_s`` without a packet
            that follows on, the gap is skipped, after a look in the store for the
            missing packets.
        recorder_wait_s: Longest wait (wall clock, from the gap) for a recorder that has
            not yet stored as far as the gap's end: it may be about to store the missing
            packets (it is behind, or this worker just took the device over).
        seq_restart_gap: A packet this many sequence numbers or more below the last one
            analysed starts a new sequence instead of counting as a duplicate (QoS 1
            redeliveries are at most a few hundred packets old; 10,000 packets are
            83 min at 50 Hz in 25-sample packets), unless the store holds that very
            packet: then it is old data again, a duplicate.
        buzz_max_age_s: Most device-time seconds between an alert and the newest sample
            analysed for its buzz still to be sent (a worker catching up after a restart
            or a backlog does not buzz for a reminder the wearer can no longer act on;
            the reminder repeats after ``AlertPolicy.repeat_s`` anyway). An alert whose
            sitting bout has ended is not buzzed either.
        evict_idle_s: Wall-clock seconds without a message after which a device's state
            is saved and let go of (it is restored on its next packet).
        max_wearers: Most devices analysed in memory; past it the longest idle are
            saved and let go of (about 38 KiB each, docs/performance.md).
        max_errors: Analysis failures of one device before it is quarantined for the
            rest of the worker's run.
        flood_samples_per_s: Each device's analysis budget, in samples per wall-clock
            second (its *sustained* rate; ``math.inf``: no limit). A device that sends
            faster than it, once its burst is spent, has its further packets deferred:
            they wait behind the other devices' and are analysed as its budget grows
            again, or sooner whenever the worker has nothing else to do (docs/operations.md,
            *A flooding device*). A live wearer needs its own rate (50 at 50 Hz); the
            default, 1,000 times that, leaves alone the demo and the end-to-end tests,
            which play wearers at up to 600 times real time, and gives a flooding device
            about 8 % of a core at most while other messages wait (about 1.6 µs of CPU
            per sample analysed in chunks).
        flood_burst_samples: Samples a device may have analysed beyond its sustained
            rate before its packets are deferred (the budget's depth, full for a device
            first heard): 180,000 is an hour at 50 Hz, so that a gateway catching up
            after an outage goes straight through.
        flood_max_deferred_samples: Most samples of deferred packets a device may have
            waiting in memory (60,000: 20 min at 50 Hz, under 1 MB); past it its later
            packets are left to the store (the recorder keeps every packet) and its
            stream resumes from there once the deferred ones are analysed.
        gather_s: In the message loop, a device's packets are gathered until they span
            this much of its stream (from the oldest packet's newest sample to the
            newest), then analysed in one call; a device whose next packet is late has
            them analysed once the oldest has waited twice this on the wall clock. A call
            of the analysis costs much the same for one packet as for two, so a 50 Hz
            wearer sending 0.5-s packets, analysed every second packet, costs the worker
            about 40 % less per packet, while each packet's newest sample is analysed at
            most ``gather_s`` later than it would be alone (docs/performance.md,
            *Gathering a wearer's packets*). 0: every packet at once. Batches handed to
            :meth:`Worker.handle` directly are analysed at once.
        recognition: Look in every wearer's stream for programme exercise done without
            a guided session (``analysis.recognition``), which then counts as exercise
            and as a break; False leaves the recogniser out (a guided session's counters
            still run) and saves its CPU (docs/performance.md, *Cost of the exercise
            detectors*).
    """

    broker: BrokerAddress = field(default_factory=BrokerAddress)
    store_url: str = DEFAULT_STORE_URL
    client_id: str = "sitless-worker"
    placement: Placement = Placement.THIGH
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    slouch: SlouchPolicy = field(default_factory=SlouchPolicy)
    share_group: str | None = None
    worker_id: str = ""
    subscribe: str = "all"
    lease_s: float = 10.0
    standby_messages: int = 240
    handover_after: int = 2
    handover_step: int = 8
    handover_cooldown_leases: float = 3.0
    status_every_s: float = 1.0
    snapshot_every_s: float = 10.0
    reorder_wait_s: float = 1.0
    recorder_wait_s: float = 30.0
    reorder_max_packets: int = 2400
    seq_restart_gap: int = 10_000
    buzz_max_age_s: float = 300.0
    evict_idle_s: float = 600.0
    max_wearers: int = 2000
    max_errors: int = 3
    flood_samples_per_s: float = 50_000.0
    flood_burst_samples: int = 180_000
    flood_max_deferred_samples: int = 60_000
    gather_s: float = 0.5
    recognition: bool = True

    @property
    def held_only(self) -> bool:
        """Whether the worker subscribes only to the packets of the devices it holds (``subscribe``)."""
        return self.subscribe == "held"

    def __post_init__(self) -> None:
        if self.status_every_s < 0 or self.snapshot_every_s < 0:
            raise ValueError("status_every_s and snapshot_every_s must be >= 0")
        if not 0 <= self.gather_s <= 60:
            raise ValueError(f"gather_s must be within 0..60 s, got {self.gather_s}")
        if self.reorder_wait_s < 0 or self.reorder_max_packets < 0 or self.recorder_wait_s < 0:
            raise ValueError("reorder_wait_s, reorder_max_packets and recorder_wait_s must be >= 0")
        if self.seq_restart_gap < 1 or self.max_wearers < 1 or self.max_errors < 1:
            raise ValueError("seq_restart_gap, max_wearers and max_errors must be >= 1")
        if self.buzz_max_age_s < 0 or self.evict_idle_s < 0:
            raise ValueError("buzz_max_age_s and evict_idle_s must be >= 0")
        if self.subscribe not in SUBSCRIBE_MODES:
            raise ValueError(f"subscribe must be one of {', '.join(SUBSCRIBE_MODES)}, got {self.subscribe!r}")
        if self.held_only and self.share_group is not None:
            raise ValueError("a shared subscription (share_group) and subscribe 'held' exclude each other")
        check_share_group(self.broker, self.share_group)
        if not self.lease_s > 0 or self.standby_messages < 0:
            raise ValueError(
                f"lease_s must be > 0 and standby_messages >= 0, got {self.lease_s} and {self.standby_messages}"
            )
        if not self.flood_samples_per_s > 0 or self.flood_burst_samples < 1 or self.flood_max_deferred_samples < 0:
            raise ValueError(
                "flood_samples_per_s must be > 0, flood_burst_samples >= 1 and flood_max_deferred_samples >= 0, got"
                f" {self.flood_samples_per_s}, {self.flood_burst_samples} and {self.flood_max_deferred_samples}"
            )
        if self.handover_after < 1 or self.handover_step < 1 or self.handover_cooldown_leases < 0:
            raise ValueError(
                "handover_after and handover_step must be >= 1 and handover_cooldown_leases >= 0, got"
                f" {self.handover_after}, {self.handover_step} and {self.handover_cooldown_leases}"
            )
