"""The Session page: live counts against the dose, hold timer, sides, rest, summary, actions and the real pipeline."""

from __future__ import annotations

import dataclasses
import queue
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.mqtt import BrokerAddress
from ingest.store import Store
from ingest.topics import Kind, topic
from ingest.worker import Worker, WorkerSettings
from tests.dashboard.office_morning import DEVICE, at
from tests.dashboard.test_actions import RECEIVE_TIMEOUT_S, action_messages
from tests.ingest.guided import DEVICE as SIM_DEVICE
from tests.ingest.guided import set_packets, warm_up
from tests.support import mqtt_client, wait_until

__all__ = ["action_messages"]  # the subscriber fixture, shared with test_actions

PAGE = "app_pages/session.py"
STATE_KEY = "guided_session"  # the page's session state (dashboard/app_pages/session.py)
START = at(10, 40)
OTHER = "desk-08"


def rep(n: int, t_s: float, exercise: str = "squat", side: str | None = None) -> dict[str, Any]:
    """A ``rep`` event as the worker stores it."""
    return {"kind": "rep", "t_s": t_s, "start_s": t_s - 1.5, "exercise": exercise, "rep": n, "side": side}


def hold(n: int, start_s: float, length_s: float, *, side: str | None = None, **flags: Any) -> dict[str, Any]:
    """A ``hold`` event of a knee roll as the worker stores it."""
    body = {"kind": "hold", "start_s": start_s, "end_s": start_s + length_s, "exercise": "knee_roll"}
    body |= {"side": side, "target_s": 10.0, "broken": False, "bounces": 0, "hold": n}
    return body | flags


def guided(store_url: str, exercise: str, events: list[dict[str, Any]], now_s: float, **status: Any) -> str:
    """Store a guided exercise begun at ``START`` and its events, and a live status following it."""
    started = {"kind": "exercise_started", "t_s": START, "exercise": exercise, "reps": True, "holds": True}
    with Store(store_url) as store:
        store.set_device_status(DEVICE, {"online": True, "placement": status.get("placement", "thigh")})
        store.add_events(DEVICE, [started, *events])
        live = {"t_s": now_s, "posture": "standing", "placement": "thigh", "exercise": exercise, **status}
        store.save_state(DEVICE, 1, snapshot={}, status=live)
    st.cache_data.clear()
    return store_url


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def texts(app: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "success", "warning") for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts) + "\n" + "\n".join(str(p.proto.text) for p in app.get("progress"))


@pytest.mark.both_stores
def test_the_page_counts_squats_against_the_dose(make_app: Callable[..., AppTest], store_url: str) -> None:
    """Four squats stored while the worker follows squats: "4 of 10 reps", with the instructions and cautions."""
    url = guided(store_url, "squat", [rep(n, START + 3.0 * n) for n in range(1, 5)], now_s=START + 14.0)
    app = make_app(url, page=PAGE)
    assert not app.exception
    assert metrics(app)["Reps"] == "4 of 10 reps"
    text = texts(app)
    assert "Brace your stomach before you bend." in text  # a caution
    assert "not medical advice" in app.warning[0].value


def test_a_hold_under_way_runs_its_timer_and_broken_holds_are_flagged(
    make_app: Callable[..., AppTest], store_url: str
) -> None:
    """A knee roll: one left hold broken early, the right one under way for 6 s of its 10 s, counted per side."""
    started = {"kind": "hold_started", "t_s": START + 30.0, "exercise": "knee_roll", "side": "right", "target_s": 10.0}
    events = [hold(1, START + 5.0, 4.0, side="left", broken=True), started]
    url = guided(store_url, "knee_roll", events, now_s=START + 36.0)
    app = make_app(url, page=PAGE)
    assert not app.exception
    shown = metrics(app)
    assert shown["Left side"] == "1 of 3 reps"  # the analysis names the sides: no "(now)" from the page
    assert shown["Right side"] == "0 of 3 reps"
    assert "Holding (right): 6 s of 10 s" in texts(app)
    assert any("1 hold broken early" in w.value for w in app.warning)


def test_after_the_first_sides_dose_the_page_says_now_the_other_side(
    make_app: Callable[..., AppTest], store_url: str
) -> None:
    """Three knee rolls that the analysis tells no side of: the page switches to the right and counts it apart."""
    events = [rep(n, START + 5.0 * n, "knee_roll") for n in range(1, 4)]
    url = guided(store_url, "knee_roll", events, now_s=START + 20.0)
    app = make_app(url, page=PAGE)
    app.run()  # the switch is made on the run that sees the dose; this one shows it
    assert not app.exception
    assert "now the other side (right)" in texts(app)
    assert metrics(app)["Left side"] == "3 of 3 reps"
    assert metrics(app)["Right side (now)"] == "0 of 3 reps"


def test_a_set_done_starts_the_rest_timer_before_the_next_set(make_app: Callable[..., AppTest], store_url: str) -> None:
    """Squats in two sets: ten squats done, the page rests before set 2."""
    url = guided(store_url, "squat", [], now_s=START + 2.0)
    first = make_app(url, page=PAGE)
    state = first.session_state[STATE_KEY]
    state["doses"]["squat"] = dataclasses.replace(state["doses"]["squat"], sets=2)
    guided(store_url, "squat", [rep(n, START + 2.0 * n) for n in range(1, 11)], now_s=START + 25.0)
    first.run()
    assert not first.exception
    assert "Set 1 done. Rest:" in texts(first)
    assert "guided_skip_rest" in {b.key for b in first.button}


def test_end_shows_the_summary_with_reps_against_the_dose(make_app: Callable[..., AppTest], store_url: str) -> None:
    """End after seven squats: the summary says 7 of 10 reps; New session goes back to the choice."""
    url = guided(store_url, "squat", [rep(n, START + 2.0 * n) for n in range(1, 8)], now_s=START + 20.0)
    app = make_app(url, page=PAGE)
    app.button(key="guided_end").click().run()
    assert not app.exception
    text = texts(app)
    assert "Session summary" in [h.value for h in app.subheader]
    assert "7 of 10 reps" in text
    assert any("Could not reach the sitless hub" in e.value for e in app.error)  # no broker at :9


def test_an_empty_store_says_how_to_start_a_wearable(make_app: Callable[..., AppTest], store_url: str) -> None:
    """No wearable yet: the page says to run `sitless demo` or start the gateway."""
    app = make_app(store_url, page=PAGE)
    assert not app.exception
    assert any("sitless demo" in i.value for i in app.info)


def _standing(store_url: str, *devices: str) -> None:
    """Thigh wearables online, each standing at ``START`` as its worker saw it last."""
    with Store(store_url) as store:
        for device in devices:
            store.set_device_status(device, {"online": True, "placement": "thigh"})
            store.save_state(device, 1, snapshot={}, status={"t_s": START, "posture": "standing", "placement": "thigh"})


def test_an_exercise_the_placement_cannot_follow_is_shown_but_not_started(
    make_app: Callable[..., AppTest], store_url: str
) -> None:
    """A crunch from the thigh: the page says the sensor cannot count it, as the worker would refuse it."""
    _standing(store_url, DEVICE)
    app = make_app(store_url, page=PAGE)
    app.radio(key="guided_mode").set_value("One exercise").run()
    app.selectbox(key="guided_exercise").set_value("crunch").run()
    assert not app.exception
    assert any("crunch cannot be followed from a sensor on the thigh" in w.value for w in app.warning)


def test_start_next_and_end_send_the_actions(
    make_app: Callable[..., AppTest],
    store_url: str,
    embedded_broker: BrokerAddress,
    action_messages: queue.Queue[tuple[str, dict[str, object]]],
) -> None:
    """Start sends exercise_start squat; Next sends exercise_end and exercise_start of the next; End exercise_end."""
    _standing(store_url, DEVICE)
    app = make_app(store_url, broker_url=embedded_broker.url, page=PAGE)
    app.radio(key="guided_mode").set_value("One exercise").run()
    app.selectbox(key="guided_exercise").set_value("squat").run()
    app.button(key="guided_start").click().run()
    assert not app.exception

    def next_action() -> dict[str, object]:
        return action_messages.get(timeout=RECEIVE_TIMEOUT_S)[1]

    first = next_action()
    assert (first["action"], first["exercise"]) == ("exercise_start", "squat")
    assert any("Waiting for the analysis" in i.value for i in app.info)
    # Two exercises: Next moves on to the second one.
    state = app.session_state[STATE_KEY]
    state["items"].append("knee_hug")
    state["doses"]["knee_hug"] = state["doses"]["squat"]
    app.button(key="guided_next").click().run()
    assert [next_action()["action"], next_action()["action"]] == ["exercise_end", "exercise_start"]
    app.button(key="guided_end").click().run()
    assert next_action()["action"] == "exercise_end"
    assert "Session summary" in [h.value for h in app.subheader]
    assert action_messages.empty()


@pytest.fixture
def pipeline(embedded_broker: BrokerAddress, store_url: str) -> Iterator[Worker]:
    worker = Worker(WorkerSettings(embedded_broker, store_url, client_id="test-session-page-worker"))
    worker.start()
    yield worker
    worker.close()


@pytest.fixture
def wearable(embedded_broker: BrokerAddress) -> Iterator[paho.Client]:
    """The simulated thigh wearable's MQTT link (it publishes the packets ``tests.ingest.guided`` makes)."""
    with mqtt_client("test-session-page-device", embedded_broker) as client:
        yield client


@pytest.mark.e2e
@pytest.mark.both_stores
def test_a_guided_set_of_squats_shows_live_on_the_page(
    make_app: Callable[..., AppTest],
    store_url: str,
    embedded_broker: BrokerAddress,
    pipeline: Worker,
    wearable: paho.Client,
) -> None:
    """Worker, broker and simulated wearable: Start on the page, then the squats the worker counts show as they come."""
    warm = warm_up()
    for payload in warm:
        wearable.publish(topic(SIM_DEVICE, Kind.IMU), payload, qos=1)

    def analysed() -> bool:
        with Store(store_url) as store:
            state = store.load_state(SIM_DEVICE)
        return state is not None and state.status.get("t_s") is not None

    wait_until(analysed, what="the worker's first status")
    with Store(store_url) as store:  # as the recorder stores the wearable's own status
        store.set_device_status(SIM_DEVICE, {"online": True, "placement": "thigh"})
    app = make_app(store_url, broker_url=embedded_broker.url, page=PAGE)
    app.radio(key="guided_mode").set_value("One exercise").run()
    app.selectbox(key="guided_exercise").set_value("squat").run()
    app.button(key="guided_start").click().run()
    assert not app.exception
    action_id = app.session_state[STATE_KEY]["action_id"]
    wait_until(lambda: _started(store_url, action_id), what="the worker to start following squats")
    for payload in set_packets(len(warm)):
        wearable.publish(topic(SIM_DEVICE, Kind.IMU), payload, qos=1)

    def reps_shown() -> int:
        st.cache_data.clear()
        app.run()
        return int(metrics(app).get("Reps", "0 of 10 reps").split()[0])

    wait_until(lambda: reps_shown() >= 8, timeout_s=60.0, what="the page to show 8 squats")
    assert not app.exception


def _started(store_url: str, action_id: str) -> bool:
    with Store(store_url) as store:
        return any(e.body.get("id") == action_id for e in store.events(SIM_DEVICE, kinds=["exercise_started"]))


def test_a_session_stays_with_its_wearable_when_the_sidebar_shows_another(
    make_app: Callable[..., AppTest],
    store_url: str,
    embedded_broker: BrokerAddress,
    action_messages: queue.Queue[tuple[str, dict[str, object]]],
) -> None:
    """Squats started on desk-07; with desk-08 picked the page counts nothing of it, and End still ends desk-07's."""
    _standing(store_url, DEVICE, OTHER)
    app = make_app(store_url, broker_url=embedded_broker.url, page=PAGE)
    app.radio(key="guided_mode").set_value("One exercise").run()
    app.selectbox(key="guided_exercise").set_value("squat").run()
    app.button(key="guided_start").click().run()
    got_topic, payload = action_messages.get(timeout=RECEIVE_TIMEOUT_S)
    assert (got_topic, payload["action"]) == (topic(DEVICE, Kind.ACTION), "exercise_start")

    app.sidebar.selectbox[0].select(OTHER).run()
    assert not app.exception
    assert any(f"This session runs on `{DEVICE}`" in i.value for i in app.info)
    assert not app.metric  # no counts of desk-08's movements
    app.button(key="guided_end").click().run()
    got_topic, payload = action_messages.get(timeout=RECEIVE_TIMEOUT_S)
    assert (got_topic, payload["action"]) == (topic(DEVICE, Kind.ACTION), "exercise_end")
    assert "Session summary" in [h.value for h in app.subheader]
    assert action_messages.empty()
