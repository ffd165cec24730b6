"""The Settings page: the wearer's reminder settings reach a running worker through a real broker and read back."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis import Placement
from ingest.mqtt import BrokerAddress, connect, make_client
from ingest.payloads import WearerSettings
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.dashboard.office_morning import DEVICE
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


def test_settings_without_a_wearable_say_how_to_start(make_app: Callable[..., AppTest], store_url: str) -> None:
    app = make_app(store_url, page=PAGE)
    assert not app.exception
    assert "No wearable yet" in texts(app)


def test_settings_list_devices_and_export_events(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    app = make_app(morning_store(), page=PAGE)
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["device"]) == [DEVICE]
    assert "Calibrate the sensor" in [h.value for h in app.subheader]
    assert any(b.label == "Calibrate" for b in app.button)


def test_an_unreachable_hub_is_reported_not_raised(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    app = make_app(morning_store(), page=PAGE)  # the broker URL of make_app listens nowhere
    app.button[0].click().run()
    assert not app.exception
    assert "Could not reach the sitless hub" in texts(app)


def test_delete_asks_for_the_id_then_deletes_everything_stored(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    store_url = morning_store()
    app = make_app(store_url, page=PAGE)
    delete = app.button(key="delete")
    assert delete.disabled  # not before the id is typed
    app.text_input(key="delete_confirm").input("desk-0").run()
    assert app.button(key="delete").disabled
    app.text_input(key="delete_confirm").input(DEVICE).run()
    app.button(key="delete").click().run()
    assert not app.exception
    assert any("Deleted" in s.value for s in app.success)
    with Store(store_url) as store:
        assert store.events(DEVICE) == []
        assert store.load_state(DEVICE) is None
        assert DEVICE not in store.devices()
