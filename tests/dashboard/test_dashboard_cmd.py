"""The ``sitless dashboard`` subcommand: its options and the server command line it runs."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import pytest

from ingest import dashboard_cmd
from tests.dashboard.office_morning import REPO


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dashboard_cmd.register(parser.add_subparsers())
    return parser.parse_args(["dashboard", *argv])


def test_defaults() -> None:
    """Default store, broker and port; the browser opens unless --no-browser."""
    args = parse([])
    assert (args.store, args.broker, args.port, args.device, args.no_browser) == (
        "sqlite:///var/sitless.sqlite",
        "mqtt://127.0.0.1:1883",
        8501,
        None,
        False,
    )
    assert args.func is dashboard_cmd.run


def test_command_runs_streamlit_headless_on_localhost_with_the_app_arguments(tmp_path: Path) -> None:
    """Server options as in STACK.md go before --, the app's own options after it."""
    cmd = dashboard_cmd.dashboard_command(f"sqlite:///{tmp_path}/s.sqlite", "mqtt://h:1884", 8600, "desk-07")
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    app = Path(cmd[4])
    assert app.name == "app.py"
    assert app.parent.name == "dashboard"
    assert (app.parent / "app_pages" / "now.py").is_file()
    server, app_args = cmd[5 : cmd.index("--")], cmd[cmd.index("--") + 1 :]
    options = dict(zip(server[::2], server[1::2], strict=True))
    assert options == {
        "--client.toolbarMode": "viewer",
        "--server.port": "8600",
        "--server.headless": "true",
        "--server.address": "127.0.0.1",
        "--browser.gatherUsageStats": "false",
        "--server.fileWatcherType": "none",
    }
    assert app_args == ["--store", f"sqlite:///{tmp_path}/s.sqlite", "--broker", "mqtt://h:1884", "--device", "desk-07"]


def test_a_relative_store_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server gets an absolute store path, so it finds the store from any directory."""
    monkeypatch.chdir(tmp_path)
    cmd = dashboard_cmd.dashboard_command("sqlite:///var/sitless.sqlite", "mqtt://127.0.0.1:1883")
    assert cmd[cmd.index("--store") + 1] == f"sqlite:///{tmp_path.resolve()}/var/sitless.sqlite"
    assert "--device" not in cmd


def test_a_postgresql_store_url_is_passed_on_as_it_is() -> None:
    """The server gets a PostgreSQL URL unchanged: there is no path to make absolute."""
    url = "postgresql://sitless@127.0.0.1:5433/office?sslmode=require"
    cmd = dashboard_cmd.dashboard_command(url, "mqtt://127.0.0.1:1883")
    assert cmd[cmd.index("--store") + 1] == url


def test_nothing_answering_is_not_healthy() -> None:
    """wait_for_health gives up after its timeout when no dashboard listens."""
    assert not dashboard_cmd.wait_for_health("http://127.0.0.1:9", timeout_s=0.3)


def test_repo_config_matches_the_command_line() -> None:
    """The checked-in Streamlit config sets the server options that the command passes."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["headless"] is True
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["fileWatcherType"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
