"""Which devices' packets a worker follows when it subscribes only to the devices it holds.

With ``WorkerSettings.subscribe`` ``"held"`` (docs/operations.md, *Each packet to one
worker*) a worker has no every-device filter: it finds devices by their retained status
(a device it never heard of waits among the unclaimed until the next flush claims it),
subscribes to the packets of each device it holds, and unsubscribes from the others,
including the devices whose packets reach it though it does not hold them (a
subscription its persistent session kept from an earlier run, or packets in flight as it
let a device go). A device that goes quiet keeps its subscription, so that its next
packet is heard, unless its last status said it went offline: then it is let go of once
idle, and the status it publishes when it connects again brings it back.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest.payloads import DeviceStatus
from ingest.service import Message
from ingest.topics import Kind, subscription

__all__ = ["HeldFollowing"]


class HeldFollowing:
    """The subscriptions of a worker that follows only the devices it holds (module docstring).

    Args:
        follow: Subscribe to the filters of a dict (filter to QoS) and unsubscribe from
            those of a list, now and on every later connection
            (:meth:`ingest.service.MqttService.follow`).
        unsubscribe: Unsubscribe from filters once (:meth:`ingest.service.MqttService.unsubscribe`).
        unclaimed: The worker's messages of devices heard of for the first time, by
            device, which its next flush claims; a status adds its device there.
    """

    def __init__(
        self,
        follow: Callable[[dict[str, int], list[str]], None],
        unsubscribe: Callable[[list[str]], None],
        unclaimed: dict[str, list[Message]],
    ) -> None:
        self._follow = follow
        self._unsubscribe = unsubscribe
        self._unclaimed = unclaimed
        self._following: set[str] = set()  # whose packets it is subscribed to
        self._strays: set[str] = set()  # whose packets came though it does not hold them
        self._offline: set[str] = set()  # held, and their last status said offline

    def status(self, device_id: str, status: DeviceStatus | None, *, known: bool, held: bool) -> None:
        """Note a device's status: how a device is found, and learnt to have gone offline.

        Args:
            device_id: The device.
            status: Its status; None when the message was no valid status (the recorder
                counts those).
            known: Whether the worker's ownership knows the device already.
            held: Whether the worker holds it.
        """
        if not known:
            if status is None or status.online is not False:  # a device offline is claimed when it is back
                self._unclaimed.setdefault(device_id, [])  # claimed at the next flush
            return
        if status is None or not held:
            return
        if status.online is False:
            self._offline.add(device_id)
        else:
            self._offline.discard(device_id)

    def stray(self, device_id: str) -> None:
        """A packet of a device it does not hold came: unsubscribed at the next :meth:`update`."""
        self._strays.add(device_id)

    def to_release(self, let_go: list[str]) -> list[str]:
        """Of the idle devices let go of from memory, those whose leases go too: the ones that said offline."""
        gone = [d for d in let_go if d in self._offline]
        self._offline -= set(gone)
        return gone

    def update(self, held: set[str]) -> None:
        """Subscribe to the packets of the devices held now, and to no other's (strays included)."""
        if held != self._following:
            added, gone = held - self._following, self._following - held
            self._following = set(held)
            self._offline &= self._following
            self._follow(
                {subscription(Kind.IMU, d): 1 for d in sorted(added)}, [subscription(Kind.IMU, d) for d in sorted(gone)]
            )
        strays = self._strays - held
        self._strays.clear()
        if strays:
            self._unsubscribe([subscription(Kind.IMU, d) for d in sorted(strays)])
