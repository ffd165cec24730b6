"""Screenshots of every dashboard page, for the README: ``python -m bench.screenshots`` (``make screenshots``).

What is shown: ``sitless demo`` itself, run as a child process (its own ports, broker
folder and store in a temporary folder, no browser opened), with a simulated wearer
playing the office morning at 120x. The demo alone holds one morning, so the store is
first given :mod:`bench.office_weeks`' weeks of office days up to yesterday for the same
wearer (``--weeks``, default 12, the *Progress* page's longer period): *Progress* and
*Day* then show weeks of history, *Now* and *Today* the demo's live data.

The dashboard is opened in Debian's Chromium through Playwright (never a downloaded
browser). *Now* is taken with the first break prompt showing (about 20 s in), which is
then answered *In a meeting* (no reminder for an hour), and every other page after it,
in the order of the sidebar's navigation. The pages are read from the navigation itself,
so a new page gets its screenshot without a change here. Each page is taken once it has
rendered: its script has finished, nothing on it is stale or still loading, and every
chart and table is drawn.

Files: ``docs/screenshots/<page>.png`` (the page's address, ``now`` for the default
page), the first ``--height`` pixels of the page at ``--width``, colours reduced to a
palette so that each stays small.

    .venv/bin/python -m bench.screenshots                      # writes docs/screenshots/*.png
    .venv/bin/python -m bench.screenshots --out /tmp/shots --speed 60

The same helpers start the demo and find its pages for the end-to-end browser test
(``tests/e2e/test_demo_browser.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from PIL import Image

from bench import office_weeks
from ingest.broker import free_port
from ingest.dashboard_cmd import dashboard_url, wait_for_health
from ingest.store import Store

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = [
    "CHROMIUM_ARGS",
    "Demo",
    "find_chromium",
    "main",
    "nav_links",
    "open_page",
    "running_demo",
    "wait_rendered",
]

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
#: Chromium's launch arguments for a headless machine (STACK.md, browser tests).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Upper bounds on a slow, loaded machine; each wait ends as soon as what it waits for happens.
STARTUP_TIMEOUT_S = 60.0
WAIT_MS = 120_000
#: Streamlit's script has finished and nothing is stale; the page has content, no element still
#: loading (``stSkeleton``), every Vega-Lite chart drawn and every table's grid in place.
_RENDERED_JS = """(href) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const current = document.querySelector('[data-testid="stSidebarNavLink"][aria-current="page"]');
  const main = document.querySelector('[data-testid="stMain"]');
  const all = (selector, inner) => [...main.querySelectorAll(selector)].every((e) => e.querySelector(inner));
  return app !== null && app.dataset.testScriptState === "notRunning"
    && current !== null && current.href === href
    && main !== null && main.querySelector('[data-testid="stElementContainer"]') !== null
    && document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]') === null
    && all('[data-testid="stVegaLiteChart"]', "canvas, svg")
    && all('[data-testid="stDataFrame"]', '[data-testid="data-grid-canvas"]');
}"""
#: Resolves after the browser has painted twice: what the page drew last is on screen.
_PAINTED_JS = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def find_chromium() -> Path | None:
    """The system's Chromium on ``PATH`` (Debian's ``chromium``, or ``chromium-browser``), or None."""
    for name in ("chromium", "chromium-browser"):
        if (found := shutil.which(name)) is not None:
            return Path(found)
    return None


@dataclass(frozen=True, slots=True)
class Demo:
    """A running ``sitless demo``.

    Attributes:
        url: The dashboard's address.
        store_url: The demo's store.
        log: Where the demo's console output goes.
        proc: The demo's process.
    """

    url: str
    store_url: str
    log: Path
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def running_demo(
    folder: Path, *, speed: float, scenario: str = "office_morning", device: str | None = None
) -> Iterator[Demo]:
    """Run ``sitless demo`` in ``folder`` (store, broker data, log) on free ports until the block ends.

    Args:
        folder: The demo's working folder: ``demo.sqlite`` (used as it is: fill it first
            for history), ``broker/`` and ``demo.log``.
        speed: Simulated seconds per wall-clock second.
        scenario: The simulated wearer's script.
        device: The simulated wearable's id, or None for the demo's own.

    Yields:
        The running demo, its dashboard answering.

    Raises:
        RuntimeError: The dashboard did not answer (the demo's log is in the message).
    """
    port = free_port()
    store_url = f"sqlite:///{folder / 'demo.sqlite'}"
    cmd = [sys.executable, "-m", "ingest.cli", "demo", "--no-browser", "--speed", f"{speed:g}"]
    cmd += ["--scenario", scenario, "--port", str(port), "--broker-port", str(free_port())]
    cmd += ["--broker-dir", str(folder / "broker"), "--store", store_url]
    if device is not None:
        cmd += ["--device", device]
    log = folder / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = dashboard_url(port)
        if not wait_for_health(url, STARTUP_TIMEOUT_S, proc=proc):
            raise RuntimeError(f"the demo's dashboard did not answer; its output:\n{log.read_text()}")
        yield Demo(url, store_url, log, proc)
    finally:
        proc.send_signal(signal.SIGINT)  # the demo stops its parts in order, as on Ctrl-C
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def nav_links(page: Page) -> list[tuple[str, str]]:
    """Every page in the sidebar's navigation as ``(title, href)``, in order.

    Args:
        page: A browser page showing the dashboard.

    Returns:
        The pages, expanding the navigation first when it hides some behind "View more".
    """
    links = page.get_by_test_id("stSidebarNavLink")
    links.first.wait_for()
    more = page.get_by_test_id("stSidebarNavViewButton")
    if more.count() and "more" in more.inner_text().lower():
        more.click()
    out: list[tuple[str, str]] = []
    for i in range(links.count()):
        link = links.nth(i)
        title = link.get_by_test_id("stMarkdownContainer").inner_text().strip()
        out.append((title, str(link.get_attribute("href"))))
    return out


def wait_rendered(page: Page, href: str, timeout_ms: float = WAIT_MS) -> None:
    """Wait until the page at ``href`` has rendered: its script done, nothing stale, its charts drawn.

    Args:
        page: The browser page.
        href: The page's address as its navigation link gives it.
        timeout_ms: Upper bound on the wait, milliseconds.
    """
    page.wait_for_function(_RENDERED_JS, arg=href, timeout=timeout_ms)
    page.evaluate(_PAINTED_JS)


def open_page(page: Page, href: str) -> None:
    """Go to a page through its link in the sidebar and wait until it has rendered.

    Args:
        page: A browser page showing the dashboard.
        href: The page's address as its navigation link gives it (:func:`nav_links`).
    """
    page.locator(f'[data-testid="stSidebarNavLink"][href="{href}"]').click()
    wait_rendered(page, href)


def _name(title: str, href: str) -> str:
    """The file name for a page: its address, or its title for the default page (at ``/``).

    >>> _name("Now", "http://127.0.0.1:8501/"), _name("Progress", "http://127.0.0.1:8501/progress")
    ('now', 'progress')
    """
    return urlparse(href).path.strip("/") or title.lower().replace(" ", "-")


def _save(png: bytes, path: Path) -> int:
    """Write a screenshot with its colours reduced to a 256-colour palette; return its size in bytes."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return path.stat().st_size


def _fill_history(store_url: str, weeks: int, device: str) -> None:
    """Weeks of office days up to yesterday for the demo's wearer (:mod:`bench.office_weeks`)."""
    yesterday = dt.date.today() - dt.timedelta(days=1)
    events = office_weeks.office_weeks(yesterday, weeks, tz=dt.datetime.now().astimezone().tzinfo or dt.UTC)
    with Store(store_url) as store:
        store.add_events(device, events)


def take(out: Path, *, speed: float, weeks: int, width: int, height: int) -> list[Path]:
    """Run the demo over weeks of history and write one screenshot per page into ``out``."""
    from playwright.sync_api import expect, sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium is not on PATH: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="sitless-screens-") as tmp:
        folder = Path(tmp)
        _fill_history(f"sqlite:///{folder / 'demo.sqlite'}", weeks, office_weeks.DEVICE)
        with running_demo(folder, speed=speed, device=office_weeks.DEVICE) as demo, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.set_default_timeout(WAIT_MS)
                expect.set_options(timeout=WAIT_MS)
                page.goto(demo.url)
                pages = nav_links(page)
                now_title, now_href = pages[0]
                prompt = page.get_by_text("Time for a break").first
                expect(prompt).to_be_visible()  # the first alert, about 20 s in at 120x
                wait_rendered(page, now_href)
                shots = [(now_title, now_href, page.screenshot())]
                # In a meeting: no reminder for an hour of the wearer's time, so the other pages show their own content.
                page.get_by_role("button", name="In a meeting (1 h)").click()
                expect(prompt).to_have_count(0)
                expect(page.get_by_test_id("stToast")).to_have_count(0)  # its confirmation fades by itself
                for title, href in pages[1:]:
                    open_page(page, href)
                    page.mouse.move(width - 1, height - 1)  # off the sidebar, whose hover shows its collapse button
                    shots.append((title, href, page.screenshot()))
            finally:
                browser.close()
    for title, href, png in shots:
        path = out / f"{_name(title, href)}.png"
        print(f"{path}: {_save(png, path) / 1000:.0f} kB", flush=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots (``python -m bench.screenshots``)."""
    parser = argparse.ArgumentParser(description="Screenshots of every dashboard page, from the running demo.")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the PNG files (default {OUT})")
    parser.add_argument("--speed", type=float, default=120.0, help="the demo's speed (default 120)")
    parser.add_argument("--weeks", type=int, default=12, help="weeks of history before today (default 12)")
    parser.add_argument("--width", type=int, default=1280, help="window width, pixels (default 1280)")
    parser.add_argument("--height", type=int, default=900, help="window height, pixels (default 900)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    written = take(args.out, speed=args.speed, weeks=args.weeks, width=args.width, height=args.height)
    print(f"{len(written)} screenshots in {time.monotonic() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
