"""The demo's dashboard port: the default gives way to a free one, a port the user gave is refused if taken."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.broker import free_port
from ingest.cli import main
from ingest.demo import DashboardPortError, _dashboard_port, _port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port a silent program listens on (it accepts connections and answers nothing)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_taken_default_port_gives_way_to_a_free_one(taken_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """8501 taken (here another port, as the default) gives a free port, said on the console."""
    port = _dashboard_port(None, default=taken_port)
    assert port != taken_port
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free
    assert f"port {taken_port} is busy; the dashboard uses {port}" in capsys.readouterr().out


def test_a_free_port_is_used_as_given() -> None:
    """A free port, given or the default, is the dashboard's."""
    port = free_port()
    assert _dashboard_port(port) == port
    assert _dashboard_port(None, default=port) == port


def test_a_taken_port_given_with_port_is_refused_naming_it(taken_port: int) -> None:
    """A port the user chose is never swapped for another: a taken one is refused."""
    with pytest.raises(DashboardPortError, match=rf"^port {taken_port} \(--port\) is taken by another program"):
        _dashboard_port(taken_port)


@pytest.mark.parametrize("text", ["0", "65536", "-1", "http"])
def test_a_port_outside_1_to_65535_is_a_usage_error(text: str) -> None:
    """``--port 0`` or ``70000`` is refused by the parser, before anything starts."""
    with pytest.raises(argparse.ArgumentTypeError, match="not a port"):
        _port(text)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--speed", "0"], "speed must be > 0"),
        (["--speed", "nan"], "speed must be > 0"),
        (["--scenario", "bogus"], "unknown scenario 'bogus'; choose one of office_morning"),
    ],
)
def test_settings_the_demo_cannot_run_with_are_one_line_before_anything_starts(
    args: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown scenario used to start the broker and the dashboard, then fail with a
    traceback, the dashboard left running."""
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--no-browser", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("sitless demo: ")
    assert says in err
    assert not (tmp_path / "var").exists()  # nothing made, nothing started
