"""The Settings page: the wearer's reminder settings reach a running worker through a real broker and read back."""

from __future__ import annotations

import datetime as dt
import io
import json
import queue
import re
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator

import numpy as np
import paho.mqtt.client as paho
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis import Placement
from dashboard import data
from ingest import actions
from ingest.actions import send_settings
from ingest.broker import BrokerProcess
from ingest.codec import Batch, encode
from ingest.errors import StoreError
from ingest.mqtt import PASSWORD_FILE_ENV, BrokerAddress, connect, make_client
from ingest.payloads import WearerSettings
from ingest.store import BatchRow, Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.dashboard.office_morning import DEVICE, at
from tests.dashboard.test_now import texts
from tests.support import wait_until

PAGE = "app_pages/settings.py"


@pytest.fixture
def worker(embedded_broker: BrokerAddress, store_url: str) -> Iterator[Worker]:
    """A running analysis worker on the test store; the retained settings are cleared afterwards."""
    service = Worker(WorkerSettings(embedded_broker, store_url, client_id="test-settings-page-worker"))
    service.start()
    yield service
    service.close()
    client = make_client("test-settings-page-clear")
    connect(client, embedded_broker)
    client.publish(topic(DEVICE, Kind.SETTINGS), b"", qos=1, retain=True).wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def stored(store_url: str) -> WearerSettings | None:
    with Store(store_url) as store:
        body = store.wearer_settings(DEVICE)
    return None if body is None else WearerSettings.from_dict(body)


@pytest.mark.both_stores
def test_saved_settings_reach_the_worker_and_read_back(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    embedded_broker: BrokerAddress,
    worker: Worker,
) -> None:
    store_url = morning_store()
    app = make_app(store_url, broker_url=embedded_broker.url, page=PAGE)
    assert not app.exception
    assert app.number_input[0].value == 30  # the defaults before the wearer chooses
    app.number_input[0].set_value(45)
    app.toggle(key="by_day").set_value(True)
    app.checkbox(key="day_friday").uncheck()
    app.checkbox(key="quiet_0").check()
    app.toggle(key="nudge").set_value(True)
    app.selectbox(key="placement").set_value(Placement.WAIST)
    app.button[0].click().run()  # the form's Save
    assert not app.exception
    assert not app.error
    wait_until(lambda: stored(store_url) is not None, what="the worker to store the settings")
    chosen = stored(store_url)
    assert chosen is not None
    assert chosen.max_sitting_min == 45.0
    assert chosen.weekly_hours == ((9.0, 17.5),) * 4 + (None, None, None)
    assert chosen.quiet_hours == ((12.0, 13.0),)
    assert chosen.slouch_nudge
    assert chosen.placement is Placement.WAIST
    st.cache_data.clear()  # the page's store reads are cached for a second
    app.run()
    assert "Saved and in force." in texts(app)
    again = make_app(store_url, broker_url=embedded_broker.url, page=PAGE)  # a new browser session reads them back
    assert again.number_input[0].value == 45
    assert again.checkbox(key="day_friday").value is False
    assert again.toggle(key="nudge").value is True
    assert again.selectbox(key="placement").value is Placement.WAIST


def test_saving_keeps_every_quiet_span_the_settings_hold(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    store_url: str,
    embedded_broker: BrokerAddress,
    worker: Worker,
) -> None:
    """Four quiet spans chosen (the most the wire takes): the form shows four rows, and Save sends all four."""
    spans = ((7.0, 8.0), (12.0, 13.0), (15.0, 15.5), (18.0, 19.0))
    morning_store()
    with Store(store_url) as store:
        store.set_wearer_settings(DEVICE, WearerSettings(max_sitting_min=30, quiet_hours=spans).to_dict())
    app = make_app(store_url, broker_url=embedded_broker.url, page=PAGE)
    assert [c.key for c in app.checkbox if str(c.key).startswith("quiet_")] == [f"quiet_{i}" for i in range(4)]
    app.number_input[0].set_value(45)
    app.button[0].click().run()  # the form's Save
    assert not app.exception
    wait_until(lambda: getattr(stored(store_url), "max_sitting_min", None) == 45.0, what="the worker to store them")
    chosen = stored(store_url)
    assert chosen is not None
    assert chosen.quiet_hours == spans


def test_settings_without_a_wearable_say_how_to_start(make_app: Callable[..., AppTest], store_url: str) -> None:
    app = make_app(store_url, page=PAGE)
    assert not app.exception
    assert "No wearable yet" in texts(app)


@pytest.mark.both_stores
def test_settings_list_devices_and_export_events(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    app = make_app(morning_store(), page=PAGE)
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["device"]) == [DEVICE]
    assert "Calibrate the sensor" in [h.value for h in app.subheader]
    assert any(b.label == "Calibrate" for b in app.button)


@pytest.mark.both_stores
def test_your_data_offers_the_whole_export_until_it_is_too_big_to_build_here(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both exports while the archive fits in the dashboard's memory; past that, the
    command that writes it to a file. The archive the button builds is ingest.export's."""
    store_url = morning_store()
    payloads = [
        encode(Batch(seq, at(10, 0) + seq * 0.5, 50.0, 1 / 4096, np.zeros((25, 3), np.int16))) for seq in range(4)
    ]
    with Store(store_url) as store:
        store.add_batches([BatchRow(DEVICE, seq, at(10, 0) + seq * 0.5, 25, 50.0, p) for seq, p in enumerate(payloads)])
    app = make_app(store_url, page=PAGE)
    assert [b.label for b in app.get("download_button")] == ["Export everything (ZIP)", "Export events (JSON Lines)"]
    with zipfile.ZipFile(io.BytesIO(data.full_export(store_url, DEVICE))) as archive:
        assert archive.read("samples.csv").count(b"\n") == 1 + 100
        assert json.loads(archive.read("wearer.json"))["coverage"]["packets"] == 4

    monkeypatch.setattr(data, "EXPORT_MAX_SAMPLES", 99)
    st.cache_data.clear()
    app.run()
    assert not app.exception
    assert [b.label for b in app.get("download_button")] == ["Export events (JSON Lines)"]
    assert f"sitless export --store {store_url} --device {DEVICE}" in texts(app)


def test_an_unreachable_hub_is_reported_not_raised(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    app = make_app(morning_store(), page=PAGE)  # the broker URL of make_app listens nowhere
    app.button[0].click().run()
    assert not app.exception
    assert "Could not reach the sitless hub" in texts(app)


def test_a_quiet_span_ending_at_midnight_is_saved_unchanged(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A quiet span of the last few seconds before midnight shows 23:59 to 00:00, and Save
    sends it back as such: shown 00:00 to 00:00, it was sent as the whole day."""
    morning_store()
    with Store(store_url) as store:
        store.set_wearer_settings(DEVICE, WearerSettings(quiet_hours=((23.999, 24.0),)).to_dict())
    sent: list[WearerSettings] = []
    monkeypatch.setattr(actions, "send_settings", lambda broker, device_id, chosen: sent.append(chosen))
    app = make_app(store_url, page=PAGE)
    assert (app.time_input(key="quiet_from_0").value, app.time_input(key="quiet_to_0").value) == (
        dt.time(23, 59),
        dt.time(0, 0),
    )
    app.button[0].click().run()  # the form's Save
    assert not app.exception
    assert [s.quiet_hours for s in sent] == [((23 + 59 / 60, 24.0),)]


@pytest.mark.both_stores
def test_delete_asks_for_the_id_then_deletes_everything_stored(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """As `sitless delete`: a broker out of reach deletes nothing, unless the store alone is asked for."""
    store_url = morning_store()
    app = make_app(store_url, page=PAGE)  # the broker URL of make_app listens nowhere
    delete = app.button(key="delete")
    assert delete.disabled  # not before the id is typed
    app.text_input(key="delete_confirm").input("desk-0").run()
    assert app.button(key="delete").disabled
    app.text_input(key="delete_confirm").input(DEVICE).run()
    app.button(key="delete").click().run()
    assert not app.exception
    assert "Nothing deleted" in app.error[0].value
    assert "From the store alone" in app.error[0].value
    assert not app.success
    with Store(store_url) as store:
        assert store.events(DEVICE) != []
    app.checkbox(key="delete_store_alone").check().run()
    app.button(key="delete").click().run()
    assert not app.exception
    assert not app.error
    assert len(app.success) == 1
    assert re.fullmatch(rf"Deleted \d+ stored rows of {DEVICE}\.", app.success[0].value)
    with Store(store_url) as store:
        assert store.events(DEVICE) == []
        assert store.load_state(DEVICE) is None
        assert DEVICE not in store.devices()


def test_delete_makes_the_broker_forget_the_wearables_status_and_settings(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    secure_broker: BrokerProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a delete, a fresh subscriber gets no retained status or settings of the wearable."""
    assert secure_broker.logins is not None
    device = retained_status_and_settings(secure_broker)
    dashboard = secure_broker.login("dashboard")
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(secure_broker.logins.secret("dashboard")))
    app = make_app(morning_store(), broker_url=dashboard.url, page=PAGE)
    app.text_input(key="delete_confirm").input(DEVICE).run()
    app.button(key="delete").click().run()
    assert not app.exception
    assert not app.error
    assert app.success[0].value.endswith(", and its status and settings from the broker.")
    assert retained(secure_broker, device) == []
    device.disconnect()
    device.loop_stop()


def retained_status_and_settings(broker: BrokerProcess) -> paho.Client:
    """DEVICE publishes its status retained, and the dashboard its settings; both are kept.

    Returns:
        DEVICE's client, connected with its own login (for :func:`retained`).
    """
    device = make_client(f"test-device-{uuid.uuid4().hex[:8]}")
    connect(device, broker.login(DEVICE))
    device.publish(topic(DEVICE, Kind.STATUS), b'{"online": true}', qos=1, retain=True).wait_for_publish(30)
    send_settings(broker.login("dashboard"), DEVICE, WearerSettings(max_sitting_min=45))
    both = [topic(DEVICE, Kind.STATUS), topic(DEVICE, Kind.SETTINGS)]
    # amqtt acknowledges a publish before it keeps it as retained: wait for both.
    wait_until(lambda: retained(broker, device) == both, what="the status and settings retained")
    return device


def retained(broker: BrokerProcess, device: paho.Client) -> list[str]:
    """The topics of DEVICE's retained messages a fresh subscriber gets.

    The wearable then publishes a status that is not retained: it comes after the
    retained ones, so once it is in every retained message is too.
    """
    got: queue.Queue[tuple[str, bytes]] = queue.Queue()
    subscribed = threading.Event()
    fresh = make_client(f"test-fresh-{uuid.uuid4().hex[:8]}")
    fresh.on_message = lambda _c, _u, msg: got.put((msg.topic, bytes(msg.payload)))
    fresh.on_subscribe = lambda *_: subscribed.set()
    connect(fresh, broker.login("worker"))
    fresh.subscribe([(topic(DEVICE, Kind.STATUS), 1), (topic(DEVICE, Kind.SETTINGS), 1)])
    assert subscribed.wait(30)
    marker = (topic(DEVICE, Kind.STATUS), f"marker {uuid.uuid4().hex}".encode())
    device.publish(*marker, qos=1, retain=False).wait_for_publish(30)
    seen = [got.get(timeout=30)]
    while seen[-1] != marker:
        seen.append(got.get(timeout=30))
    fresh.disconnect()
    fresh.loop_stop()
    return sorted((t for t, _ in seen[:-1]), key=lambda t: t.endswith("settings"))


def test_a_store_that_fails_the_delete_is_reported_not_raised(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(store_url: str, device_id: str, broker: BrokerAddress | None) -> int:
        raise StoreError("database is locked (test)")

    app = make_app(morning_store(), page=PAGE)
    monkeypatch.setattr(data, "delete_wearer", failing)
    app.text_input(key="delete_confirm").input(DEVICE).run()
    app.checkbox(key="delete_store_alone").check().run()
    app.button(key="delete").click().run()
    assert not app.exception
    assert app.error[0].value == "Nothing deleted from the store: database is locked (test)"
    assert not app.success
