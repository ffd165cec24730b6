"""The ``sitless dashboard`` subcommand: run the Streamlit dashboard as a child process.

Streamlit runs its own server and event loop, so the dashboard is a separate
``python -m streamlit run dashboard/app.py`` process. The server options are given on
its command line (headless, localhost only, no usage statistics, no file watcher: see
STACK.md; the wearer sees no developer menu) so that it behaves the same from any working directory, with or without the
repository's ``.streamlit/config.toml``. The app's own options follow ``--``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path
from types import FrameType

from ingest.mqtt import DEFAULT_BROKER_URL
from ingest.store import add_store_argument, parse_store_url

__all__ = ["dashboard_command", "dashboard_url", "register", "run", "wait_for_health"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8501
HOST = "127.0.0.1"
# Streamlit answers its health check ~0.7 s after start (STACK.md); allow for a slow machine.
HEALTH_TIMEOUT_S = 60.0


def _app_path() -> Path:
    """The dashboard entrypoint, wherever the package is installed."""
    # Found, not run: Streamlit and the app load in the child process only.
    spec = importlib.util.find_spec("dashboard.app")
    if spec is None or spec.origin is None:
        raise RuntimeError("the sitless dashboard (dashboard/app.py) is not installed")
    return Path(spec.origin).resolve()


def _absolute_store_url(store_url: str) -> str:
    """The store URL with an absolute path, so that the child finds it from any directory.

    A PostgreSQL URL is passed on as it is.
    """
    path = parse_store_url(store_url).path
    return store_url if path is None else f"sqlite:///{path.resolve()}"


def dashboard_url(port: int) -> str:
    """The address the dashboard serves on.

    >>> dashboard_url(8501)
    'http://127.0.0.1:8501'
    """
    return f"http://{HOST}:{port}"


def dashboard_command(
    store_url: str, broker_url: str, port: int = DEFAULT_PORT, device: str | None = None
) -> list[str]:
    """The command line that starts the dashboard server (for this command and the demo).

    Args:
        store_url: The store to read, ``sqlite:///PATH`` (made absolute here) or
            ``postgresql://USER@HOST/DB`` (passed on as it is).
        broker_url: The MQTT broker for user actions, ``mqtt://host:port``.
        port: The TCP port to serve on, on 127.0.0.1.
        device: The wearable to show first, or None for the first in the store.

    Returns:
        The argument list for :class:`subprocess.Popen`, starting with this Python.

    Raises:
        StoreError: The store URL is neither a SQLite nor a PostgreSQL URL, or carries a password.
        RuntimeError: The dashboard package cannot be found.
    """
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(_app_path()),
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.address", HOST,
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
        "--",
        "--store", _absolute_store_url(store_url),
        "--broker", broker_url,
    ]  # fmt: skip
    if device is not None:
        cmd += ["--device", device]
    return cmd


def wait_for_health(url: str, timeout_s: float = HEALTH_TIMEOUT_S, proc: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait until the dashboard's ``/_stcore/health`` endpoint answers ``ok``.

    Args:
        url: The dashboard's address, such as ``http://127.0.0.1:8501`` (:func:`dashboard_url`).
        timeout_s: How long to wait, seconds.
        proc: The server process; waiting stops early if it exits.

    Returns:
        Whether the dashboard answered in time.
    """
    health_url = f"{url.rstrip('/')}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(health_url, timeout=1) as resp,
        ):
            if resp.status == 200:
                return True
        time.sleep(0.2)
    return False


def _open_browser_when_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    if wait_for_health(url, proc=proc):
        log.info("dashboard ready at %s", url)
        webbrowser.open(url)
    elif proc.poll() is None:
        log.warning("dashboard did not answer at %s within %.0f s", url, HEALTH_TIMEOUT_S)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dashboard`` subcommand."""
    p = sub.add_parser("dashboard", help="run the Streamlit dashboard (live status, today, exercise programme)")
    add_store_argument(p)
    p.add_argument(
        "--broker", default=DEFAULT_BROKER_URL, help=f"MQTT broker for actions (default {DEFAULT_BROKER_URL})"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    p.add_argument("--device", default=None, help="wearable to show first (default: the first in the store)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the dashboard server until it exits or this process is interrupted.

    SIGINT and SIGTERM are passed on to the server, which then shuts down cleanly.

    Returns:
        The server's exit status.
    """
    cmd = dashboard_command(args.store, args.broker, args.port, args.device)
    log.info("starting dashboard: %s", " ".join(cmd))
    proc = subprocess.Popen(cmd)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not args.no_browser:
            threading.Thread(
                target=_open_browser_when_ready, args=(dashboard_url(args.port), proc), daemon=True
            ).start()
        log.info("sitless dashboard on %s (Ctrl-C to stop)", dashboard_url(args.port))
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
