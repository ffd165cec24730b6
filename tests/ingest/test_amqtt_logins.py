"""The amqtt engine's logins, in this process: one password check a login, the file read again only when changed.

The broker runs in a thread of the test (amqtt's ``SitlessBroker`` on its own event
loop) so that the checks can be counted; the rules themselves are tested on both
engines, as ``sitless broker`` runs them, in ``test_broker_auth.py``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest import amqtt_auth
from ingest.broker.amqtt_engine import broker_config
from ingest.broker_setup import Logins, add_login, write_logins
from ingest.mqtt import BrokerAddress, connect, make_client
from tests.support import free_port

WAIT_S = 30.0  # only ends a test that would otherwise hang


class InProcessBroker:
    """``SitlessBroker`` with the logins of ``folder``, served from a thread until :meth:`close`."""

    def __init__(self, logins: Logins) -> None:
        self.address = BrokerAddress("127.0.0.1", free_port())
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(logins),), daemon=True)
        self._thread.start()
        assert self._ready.wait(WAIT_S), "the broker did not start"
        if self._failure is not None:
            raise self._failure

    async def _serve(self, logins: Logins) -> None:
        broker = amqtt_auth.SitlessBroker(broker_config(self.address.host, self.address.port, logins.folder))
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            await broker.start()
        except BaseException as err:  # said by the test's thread
            self._failure = err
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await broker.shutdown()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)


@pytest.fixture
def logins(tmp_path: Path) -> Logins:
    folder = write_logins(tmp_path / "logins")
    add_login(folder, "desk-01")
    return folder


@pytest.fixture
def broker(logins: Logins) -> Iterator[InProcessBroker]:
    running = InProcessBroker(logins)
    yield running
    running.close()


def _logs_in(address: BrokerAddress, user: str, password: str) -> bool:
    client = make_client(f"probe-{user}")
    try:
        connect(
            client, BrokerAddress(address.host, address.port, user, password), timeout_s=WAIT_S, fail_if_refused=True
        )
    except ConnectionError:
        return False
    client.disconnect()
    client.loop_stop()
    return True


def _counting(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Count the calls of ``owner.name`` from now on (the count is the list's length)."""
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_login_is_checked_once(broker: InProcessBroker, logins: Logins, monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker checks a password before it touches any session; amqtt's own check after it does not hash it again."""
    checks = _counting(monkeypatch, amqtt_auth, "check_password")
    password = logins.secret("desk-01").read_text().strip()
    assert _logs_in(broker.address, "desk-01", password)
    assert len(checks) == 1
    assert not _logs_in(broker.address, "desk-01", "a wrong password")
    assert len(checks) == 2


def test_the_password_file_is_read_again_only_when_it_changed(
    broker: InProcessBroker, logins: Logins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logins after the first reuse what was read; a login added meanwhile is read and let in at once."""
    reads = _counting(monkeypatch, Logins, "users")
    password = logins.secret("desk-01").read_text().strip()
    for _ in range(3):
        assert _logs_in(broker.address, "desk-01", password)
    assert len(reads) == 1
    add_login(logins, "desk-02")  # reads the file itself
    before = len(reads)
    assert _logs_in(broker.address, "desk-02", logins.secret("desk-02").read_text().strip())
    assert len(reads) == before + 1
