"""A received MQTT message, and the queue it waits in until the service's loop handles it."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field

__all__ = ["Inbox", "Message"]


@dataclass(frozen=True, slots=True)
class Message:
    """One received MQTT message with what is needed to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    #: When it arrived, Unix time: what is stored and what names an action.
    received_s: float
    #: When it arrived, on the monotonic clock: what the loop's waits are measured from,
    #: which a step of the wall clock (NTP, a resumed virtual machine) must not stretch.
    received_mono_s: float = field(default_factory=time.monotonic)


class Inbox(queue.Queue[Message]):
    """The messages received and not yet handled: bounded for paho's network thread, not for the loop's own reads."""

    def put_past_bound(self, item: Message) -> None:
        """Add a message whatever the bound: the loop, reading the connection itself, must never wait for itself.

        It reads no more than a batch's worth while messages wait (``MqttService._read_batch``).
        """
        with self.mutex:  # the queue module's own lock and hooks, as its subclasses use them
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()
