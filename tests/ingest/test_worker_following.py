"""The subscriptions of a worker that follows only the devices it holds (``ingest.worker.following``)."""

from __future__ import annotations

from ingest.payloads import DeviceStatus
from ingest.service import Message
from ingest.worker.following import HeldFollowing


class Calls:
    """What the following asked of the connection."""

    def __init__(self) -> None:
        self.followed: list[tuple[list[str], list[str]]] = []
        self.unsubscribed: list[list[str]] = []

    def follow(self, topics: dict[str, int], unfollow: list[str]) -> None:
        assert set(topics.values()) <= {1}
        self.followed.append((list(topics), unfollow))

    def unsubscribe(self, topics: list[str]) -> None:
        self.unsubscribed.append(topics)


def imu(device_id: str) -> str:
    return f"sitless/v1/{device_id}/imu"


def test_it_subscribes_to_the_devices_held_and_unsubscribes_from_the_rest() -> None:
    calls = Calls()
    following = HeldFollowing(calls.follow, calls.unsubscribe, {})
    following.update({"a", "b"})
    following.update({"a", "b"})  # nothing changed: nothing sent
    following.update({"b", "c"})
    assert calls.followed == [([imu("a"), imu("b")], []), ([imu("c")], [imu("a")])]
    following.stray("x")
    following.stray("c")  # held by now: kept
    following.update({"b", "c"})
    assert calls.unsubscribed == [[imu("x")]]


def test_a_status_finds_a_device_and_an_offline_one_is_let_go_of_once_idle() -> None:
    unclaimed: dict[str, list[Message]] = {}
    following = HeldFollowing(Calls().follow, Calls().unsubscribe, unclaimed)
    following.status("new", DeviceStatus.parse(b'{"online": true}'), known=False, held=False)
    assert unclaimed == {"new": []}  # claimed at the next flush
    following.update({"a", "b"})
    following.status("a", DeviceStatus.parse(b'{"online": false}'), known=True, held=True)
    following.status("b", DeviceStatus.parse(b'{"online": false}'), known=True, held=True)
    following.status("b", DeviceStatus.parse(b'{"online": true}'), known=True, held=True)  # back again
    following.status("z", DeviceStatus.parse(b'{"online": false}'), known=True, held=False)  # another's
    following.status("a", None, known=True, held=True)  # no valid status: changes nothing
    assert following.to_release(["a", "b", "z"]) == ["a"]
    assert following.to_release(["a"]) == []  # once
