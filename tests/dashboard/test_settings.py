"""Dashboard settings: built from the app's own arguments and checked on construction."""

from __future__ import annotations

import pytest

from dashboard.settings import DEFAULT_BROKER_URL, DEFAULT_STORE_URL, DashboardSettings, parse_args
from ingest.errors import StoreError
from ingest.mqtt import BrokerAddress


def test_defaults_match_the_cli() -> None:
    """No arguments give the store and broker that ``sitless dashboard`` uses by default."""
    settings = parse_args([])
    assert settings == DashboardSettings(DEFAULT_STORE_URL, DEFAULT_BROKER_URL, None)


def test_arguments_after_the_double_dash_are_parsed() -> None:
    """--store, --broker and --device end up in the settings; the broker becomes an address."""
    argv = ["--store", "sqlite:////tmp/x.sqlite", "--broker", "mqtt://h:1884", "--device", "desk-07"]
    settings = parse_args(argv)
    assert settings.store_url == "sqlite:////tmp/x.sqlite"
    assert settings.broker == BrokerAddress("h", 1884)
    assert settings.device_id == "desk-07"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"broker_url": "http://h:1"}, ValueError),
        ({"device_id": "desk/07"}, ValueError),
        ({"store_url": "mysql://db/sitless"}, StoreError),
        ({"store_url": "postgresql://sitless:secret@db/sitless"}, StoreError),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, str], error: type[Exception]) -> None:
    """A malformed broker URL, device id or store URL fails at start, not on first use."""
    with pytest.raises(error):
        DashboardSettings(**kwargs)


@pytest.mark.parametrize(
    "argv",
    [["--device", "desk/07"], ["--broker", "http://h:1"], ["--store", "postgresql://sitless:secret@db/sitless"]],
)
def test_bad_arguments_exit_with_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A bad argument stops the app with argparse's usage message and the reason, not a traceback."""
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    assert stop.value.code == 2
    assert "sitless dashboard app: error:" in capsys.readouterr().err
