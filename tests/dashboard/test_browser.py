"""The real dashboard in headless Chromium: live tiles, the break prompt on every page, snooze and done, screenshots.

Starts ``sitless dashboard --no-browser`` as a child process against a prepared store
and the embedded broker, and drives it with Playwright and Debian's Chromium (never a
downloaded browser; launch arguments from STACK.md). Each test runs on a SQLite file
and on a PostgreSQL database (``both_stores``); the page names the store it reads, and
shows the morning written only there. Set ``SITLESS_SCREENSHOT=PATH`` to keep a copy of
the screenshot for a look by eye.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import paho.mqtt.client as paho
import pytest

from bench.screenshots import CHROMIUM_ARGS
from dashboard import display
from ingest.dashboard_cmd import dashboard_url, wait_for_health
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.store import parse_store_url
from ingest.topics import Kind, topic
from tests.dashboard.office_morning import DEVICE, at
from tests.support import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]

# Upper bounds for waits on a slow, loaded machine; typical times are a few seconds.
STARTUP_TIMEOUT_S = 60.0
WAIT_MS = 30_000


@pytest.fixture
def dashboard(
    request: pytest.FixtureRequest, store_url: str, embedded_broker: BrokerAddress, tmp_path: Path
) -> Iterator[str]:
    """``sitless dashboard --no-browser`` running on the store of the test's backend; yields its URL."""
    assert isinstance(request.node, pytest.Function)
    backend = request.node.callspec.params["store_url"]
    assert parse_store_url(store_url).backend == backend, f"the {backend} variant got the store {store_url}"
    port = free_port()
    cmd = [sys.executable, "-m", "ingest.cli", "dashboard", "--no-browser", "--port", str(port)]
    cmd += ["--store", store_url, "--broker", embedded_broker.url]
    log_path = tmp_path / "dashboard.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = dashboard_url(port)
            if not wait_for_health(url, STARTUP_TIMEOUT_S, proc=proc):
                pytest.fail(f"dashboard did not start; its output:\n{log_path.read_text()}")
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)  # forwarded to the Streamlit server
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def expect_store(page: Page, store_url: str) -> None:
    """The sidebar names the store the test writes to: the dashboard reads that one, not a default."""
    from playwright.sync_api import expect

    page.get_by_text("Connection").click()
    expect(page.get_by_text(f"Store: {parse_store_url(store_url)}")).to_be_visible()


@pytest.fixture
def snoozes(embedded_broker: BrokerAddress) -> Iterator[queue.Queue[dict[str, object]]]:
    """Payloads arriving on the device's action topic."""
    received: queue.Queue[dict[str, object]] = queue.Queue()
    subscribed: queue.Queue[int] = queue.Queue()
    client = make_client("test-browser-action-listener")
    client.on_connect = lambda c, *_: c.subscribe(topic(DEVICE, Kind.ACTION), qos=1)
    client.on_subscribe = lambda *_: subscribed.put(1)

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        received.put(json.loads(msg.payload))

    client.on_message = on_message
    connect(client, embedded_broker)
    subscribed.get(timeout=10)
    yield received
    client.disconnect()
    client.loop_stop()


def test_live_page_prompts_updates_and_snoozes(
    chromium: Path,
    morning_store: Callable[..., str],
    dashboard: str,
    snoozes: queue.Queue[dict[str, object]],
    tmp_path: Path,
) -> None:
    """The prompt shows, the sitting tile follows the store without a reload, Snooze sends and toasts."""
    from playwright.sync_api import expect, sync_playwright  # the browser tests alone need Playwright

    expect.set_options(timeout=WAIT_MS)  # a first render on a loaded machine takes longer than the 5-s default
    open_alert = {"t_s": at(10, 33), "alert": "sit_too_long", "sitting_since_s": at(10, 3), "repeat": 0}
    store_url = morning_store(at(10, 36), open_alert={**open_alert, "stretch_id": "squat"})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            page.goto(dashboard)
            values = page.get_by_test_id("stMetricValue")
            expect(values.filter(has_text="Sitting")).to_be_visible()
            expect(values.filter(has_text="33 min")).to_be_visible()
            expect(page.get_by_text("Time for a break")).to_be_visible()
            expect(page.get_by_text("Suggested exercise: Squat")).to_be_visible()
            expect_store(page, store_url)

            # The worker saves a newer status; the fragment redraws the tile by itself.
            page.evaluate("window.__sitless_marker = 1")  # lost on a reload
            morning_store(at(10, 37), seq=2, open_alert={**open_alert, "stretch_id": "squat"})
            expect(values.filter(has_text="34 min")).to_be_visible()
            assert page.evaluate("window.__sitless_marker") == 1

            page.get_by_role("button", name="Snooze 10 min").click()
            expect(page.get_by_test_id("stToast").filter(has_text="Snoozed")).to_be_visible()
            snooze = snoozes.get(timeout=10)
            assert snooze["action"] == "snooze"
            assert len(str(snooze["id"])) == 32

            page.locator('[data-stale="true"]').first.wait_for(state="detached")
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    if keep := os.environ.get("SITLESS_SCREENSHOT"):
        shutil.copyfile(shot, keep)


# Records what the page asks of the browser's Notification API and audio playback, in place
# of the desktop's notification centre and speakers, which a headless browser lacks.
NOTIFICATION_PROBE = """
window.__notes = [];
window.__chimes = 0;
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notes.push({title, body: options && options.body}); }
};
HTMLMediaElement.prototype.play = function () { window.__chimes += 1; return Promise.resolve(); };
"""


def test_the_prompt_on_another_page_titles_the_tab_notifies_once_and_sends_done(
    chromium: Path,
    morning_store: Callable[..., str],
    dashboard: str,
    snoozes: queue.Queue[dict[str, object]],
    tmp_path: Path,
) -> None:
    """On Today: the prompt shows, the tab title and icon change, a new alert notifies once, Done sends and clears."""
    from playwright.sync_api import expect, sync_playwright  # the browser tests alone need Playwright

    def alert(minute: int, repeat: int) -> dict[str, object]:
        return {
            "t_s": at(10, minute),
            "alert": "sit_too_long",
            "sitting_since_s": at(10, 3),
            "repeat": repeat,
            "stretch_id": "squat",
        }

    store_url = morning_store(at(10, 36), open_alert=alert(33, 0))
    expect.set_options(timeout=WAIT_MS)  # expect has its own 5 s default, apart from the page's
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            page.add_init_script(NOTIFICATION_PROBE)
            page.goto(dashboard + "/today")
            expect(page.get_by_text("Sitting today")).to_be_visible()
            expect(page.get_by_text("Time for a break").first).to_be_visible()
            expect(page.get_by_text("Suggested exercise: Squat")).to_be_visible()
            expect(page).to_have_title(display.ALERT_TITLE)
            icon = page.locator("link[rel~='icon']").first
            expect(icon).to_have_attribute("href", re.compile(r"/media/.+\.png$"))
            expect_store(page, store_url)

            # Notify on: the alert already seen stays quiet; the next one chimes and notifies once.
            page.get_by_text("Notify me (sound and desktop notification)").click()
            morning_store(at(10, 44), seq=2, open_alert=alert(43, 2))
            expect(page.get_by_text("it is overdue")).to_be_visible()
            page.wait_for_function("window.__notes.length > 0")
            morning_store(at(10, 45), seq=3, open_alert=alert(43, 2))
            expect(page.get_by_text("you have sat for 42 min")).to_be_visible()  # refreshed
            assert page.evaluate("window.__notes") == [
                {"title": display.ALERT_TITLE, "body": "You have been sitting for 41 min. Stand up and stretch."}
            ]
            assert page.evaluate("window.__chimes") == 1

            page.locator('[data-stale="true"]').first.wait_for(state="detached")
            shot = tmp_path / "prompt.png"
            page.screenshot(path=str(shot), full_page=True)

            page.get_by_role("button", name="Done").click()
            expect(page.get_by_test_id("stToast").filter(has_text="Logged")).to_be_visible()
            done = snoozes.get(timeout=10)
            assert done["action"] == "done"
            expect(page.get_by_text("Time for a break")).to_have_count(0)
            expect(page.get_by_text("The sensor still sees you sitting").first).to_be_visible()
            expect(page).to_have_title("sitless")
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    if keep := os.environ.get("SITLESS_PROMPT_SCREENSHOT"):
        shutil.copyfile(shot, keep)
