"""The break prompt above every page: its wording, its answers, and the chime and notification once per alert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.prompt import ANSWERED_KEY, NOTIFY_KEY, SEEN_KEY, STILL_SITTING
from ingest.mqtt import BrokerAddress
from ingest.store import Store
from tests.dashboard.office_morning import DEVICE, at, live_status

OTHER = "desk-08"


def open_alert(minute: int, repeat: int = 0) -> dict[str, Any]:
    """The worker's open alert raised at 10:<minute> in the bout that began at 10:03."""
    return {
        "t_s": at(10, minute),
        "alert": "sit_too_long",
        "sitting_since_s": at(10, 3),
        "repeat": repeat,
        "stretch_id": "squat",
    }


def messages(app: AppTest) -> str:
    """Every message box on the page, joined."""
    return "\n".join(str(e.value) for kind in ("error", "warning", "info", "success") for e in getattr(app, kind))


def scripts(app: AppTest) -> list[str]:
    """The JavaScript snippets drawn in this run (the chime and notification, the permission request)."""
    return [h.proto.body for h in app.get("html") if h.proto.unsafe_allow_javascript]


@pytest.mark.parametrize("page", ["app_pages/today.py", "app_pages/programme.py", "app_pages/settings.py"])
def test_the_prompt_shows_on_every_page(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], page: str
) -> None:
    """An open alert puts the prompt, its stretch and its four answers on pages other than Now too."""
    app = make_app(morning_store(at(10, 36), open_alert=open_alert(33)), page=page)
    assert not app.exception
    assert "Time for a break" in messages(app)
    assert any("Suggested exercise: Squat" in m.value for m in app.markdown)
    assert {"Done", "Snooze 10 min", "In a meeting (1 h)", "Dismiss"} <= {b.label for b in app.button}


def drawn(node: Any) -> Iterator[Any]:
    """The elements of an AppTest tree node, in the order the page shows them."""
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for key in sorted(children):
        yield from drawn(children[key])


def test_on_the_now_page_the_prompt_is_drawn_with_the_live_tiles(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """On Now the prompt is drawn inside the page's live part, from the status its tiles
    show (once, after the title); on the other pages, above the page."""
    url = morning_store(at(10, 36), open_alert=open_alert(33))
    order = [e.type for e in drawn(make_app(url).main) if e.type in ("title", "warning", "metric")]
    assert order.index("title") < order.index("warning") < order.index("metric")
    assert order.count("warning") == 1
    today = [e.type for e in drawn(make_app(url, page="app_pages/today.py").main) if e.type in ("title", "warning")]
    assert today.index("warning") < today.index("title")


def test_no_open_alert_no_prompt(make_app: Callable[..., AppTest], morning_store: Callable[..., str]) -> None:
    """Without an open alert no page shows the prompt."""
    app = make_app(morning_store(), page="app_pages/today.py")
    assert not app.exception
    assert "Time for a break" not in messages(app)
    assert "Dismiss" not in {b.label for b in app.button}


def test_the_wording_grows_more_insistent_with_each_repeat(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """First a calm warning, then a red 'please stand up now', then red saying how long and how far over."""
    first = make_app(morning_store(at(10, 34), open_alert=open_alert(33, repeat=0)))
    assert "Time for a break:** you have been sitting for 31 min" in first.warning[0].value
    assert not first.error

    second = make_app(morning_store(at(10, 44), open_alert=open_alert(43, repeat=1)))
    assert not second.warning
    assert "please stand up now" in second.error[0].value
    assert "41 min" in second.error[0].value

    third = make_app(morning_store(at(10, 56), open_alert=open_alert(53, repeat=2)))
    text = third.error[0].value
    assert "it is overdue: you have sat for 53 min" in text
    assert "23 min over your 30 min limit" in text
    assert "reminder 3" in text


@pytest.mark.both_stores
def test_the_prompt_goes_once_the_worker_closes_the_alert(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """A break taken without a button ends the bout; the worker clears open_alert and the prompt goes."""
    app = make_app(morning_store(at(10, 36), open_alert=open_alert(33)), page="app_pages/today.py")
    assert "Time for a break" in messages(app)
    morning_store(at(10, 38), seq=2, posture="walking", posture_since_s=at(10, 36), sitting_since_s=None, sitting_s=0.0)
    app.run()
    assert not app.exception
    assert "Time for a break" not in messages(app)
    assert STILL_SITTING not in messages(app)


def test_done_while_still_sitting_says_so_gently(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], embedded_broker: BrokerAddress
) -> None:
    """Done pressed while the sensor sees sitting: the prompt goes, and a note asks to stand up for a minute."""
    app = make_app(morning_store(at(10, 36), open_alert=open_alert(33)), broker_url=embedded_broker.url)
    app.button(key="alert_done").click().run()
    assert not app.exception
    assert "Time for a break" not in messages(app)  # gone before the worker's next status
    assert STILL_SITTING in messages(app)
    assert any(STILL_SITTING in t.value for t in app.toast)
    # The worker applies it: no open alert, same bout. The note stays until the wearer stands up.
    morning_store(at(10, 37), seq=2)
    app.run()
    assert STILL_SITTING in messages(app)
    morning_store(at(10, 40), seq=3, posture="standing", posture_since_s=at(10, 38), sitting_since_s=None)
    app.run()
    assert STILL_SITTING not in messages(app)


def test_done_after_standing_up_is_a_break(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str], embedded_broker: BrokerAddress
) -> None:
    """Done pressed once the wearer already stands: a plain 'well done', no still-sitting note."""
    url = morning_store(at(10, 36), open_alert=open_alert(33), posture="standing", posture_since_s=at(10, 35, 30))
    app = make_app(url, broker_url=embedded_broker.url)
    app.button(key="alert_done").click().run()
    assert not app.exception
    assert any("Break logged" in t.value for t in app.toast)
    assert STILL_SITTING not in messages(app)
    assert app.session_state[ANSWERED_KEY]["sitting_since_s"] is None


def test_the_chime_and_notification_fire_once_per_alert(
    make_app: Callable[..., AppTest], morning_store: Callable[..., str]
) -> None:
    """With "Notify me" on, each new alert plays the chime and notifies once, not on every refresh."""
    app = make_app(morning_store(at(10, 30)))
    app.toggle(key=NOTIFY_KEY).set_value(True).run()
    assert not app.exception
    assert any("requestPermission" in s for s in scripts(app))  # asked once, when switched on
    app.run()
    assert not scripts(app)

    morning_store(at(10, 34), seq=2, open_alert=open_alert(33))
    app.run()
    fired = [s for s in scripts(app) if "new Notification" in s]
    assert len(fired) == 1
    assert "data:audio/wav;base64," in fired[0]
    assert app.session_state[SEEN_KEY] == (DEVICE, at(10, 33))
    for minute in (35, 36):  # the same alert, refreshed: nothing more
        morning_store(at(10, minute), seq=minute, open_alert=open_alert(33))
        app.run()
        assert not scripts(app)

    morning_store(at(10, 44), seq=50, open_alert=open_alert(43, repeat=1))
    app.run()
    assert len([s for s in scripts(app) if "new Notification" in s]) == 1


def test_without_notify_nothing_plays(make_app: Callable[..., AppTest], morning_store: Callable[..., str]) -> None:
    """The toggle is off by default: an alert draws the prompt but no chime or notification."""
    app = make_app(morning_store(at(10, 30)))
    morning_store(at(10, 34), seq=2, open_alert=open_alert(33))
    app.run()
    assert "Time for a break" in messages(app)
    assert not scripts(app)


def test_answering_one_wearables_alert_leaves_anothers_raised_at_the_same_instant(
    make_app: Callable[..., AppTest],
    morning_store: Callable[..., str],
    store_url: str,
    embedded_broker: BrokerAddress,
) -> None:
    """Done on desk-07's 10:33 alert; desk-08's alert of 10:33 still asks for an answer, and chimes once."""
    url = morning_store(at(10, 34), open_alert=open_alert(33))
    with Store(store_url) as store:
        store.set_device_status(OTHER, {"online": True})
        store.save_state(OTHER, 1, snapshot={}, status=live_status(at(10, 34), open_alert=open_alert(33)))
    app = make_app(url, broker_url=embedded_broker.url)
    app.toggle(key=NOTIFY_KEY).set_value(True).run()
    app.button(key="alert_done").click().run()
    assert "alert_done" not in {b.key for b in app.button}
    app.sidebar.selectbox[0].select(OTHER).run()
    assert not app.exception
    assert "alert_done" in {b.key for b in app.button}
    assert app.session_state[SEEN_KEY] == (OTHER, at(10, 33))
    assert len([s for s in scripts(app) if "new Notification" in s]) == 1
