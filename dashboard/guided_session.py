"""The guided exercise session of one browser session: its state and the actions that move it on.

The Session page (``dashboard/app_pages/session.py``) keeps its own state (the
wearable, the exercises, the current one, side, set, rest end) in ``st.session_state``
under :data:`STATE_KEY`, as built by :func:`new_state`. The page's buttons call the
``on_*`` callbacks here, which send the ``exercise_start`` and ``exercise_end`` actions
(:func:`ingest.actions.send_action`) and keep what was done for the summary;
:func:`advance` moves on as the counts reach the dose. When the worker already follows
an exercise that this browser did not start (``sitless session``, another tab, a
reload), :func:`adopt` takes it up. A session stays with the wearable it began on: its
actions go there, whichever wearable the sidebar shows later.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from analysis import UserAction
from analysis.guided import REST_BETWEEN_SETS_S, GuidedProgress
from analysis.programme import Dose, exercise_by_id
from analysis.sets import followed
from analysis.settings import Placement
from dashboard import data
from dashboard.settings import current_settings
from ingest.actions import send_action
from ingest.errors import TopicError

__all__ = [
    "FAILED_KEY",
    "STATE_KEY",
    "TOAST_KEY",
    "adopt",
    "advance",
    "begin",
    "can_follow",
    "new_state",
    "next_set",
    "on_end",
    "on_new_session",
    "on_next",
    "on_skip_rest",
    "on_start",
    "placement_of",
    "set_progress",
]

#: Session state: the guided session of this browser session (a dict, see :func:`new_state`).
STATE_KEY = "guided_session"
#: Session state: why the last action could not be sent, shown until one goes through.
FAILED_KEY = "guided_failed"
#: Session state: a message to pop up on the next redraw.
TOAST_KEY = "guided_toast"


def new_state(device_id: str, items: list[str], doses: dict[str, Dose]) -> dict[str, Any]:
    """A fresh session on a wearable over ``items`` (exercise ids), each with its dose."""
    return {
        "device_id": device_id,  # the wearable the session runs on, whichever the sidebar shows later
        "items": items,
        "doses": doses,
        "index": 0,
        "phase": "active",  # active, rest, complete (the dose done) or summary
        "action_id": None,  # of the exercise_start sent for the current exercise (None: taken up from the worker)
        "following": False,  # the worker follows the current exercise (asked here, or taken up)
        "side": 0,
        "set": 1,
        "set_start_s": None,  # device time the current set counts from (None: the exercise's start)
        "switch_s": None,  # device time the wearer was told to change side
        "rest_until": None,  # wall-clock end of the rest
        "sets": [],  # the current exercise's finished sets (GuidedProgress)
        "results": [],  # finished exercises: {"exercise", "dose", "sets", "followed", "skipped"}
    }


def placement_of(device_id: str) -> Placement | None:
    """Where the sensor is worn, from the worker's status or the wearable's own; None when unknown."""
    settings = current_settings()
    status = data.live_status(settings.store_url, device_id) or {}
    sensor = data.device_info(settings.store_url, device_id)
    raw = data.text(status.get("placement")) or data.text(sensor.get("placement"))
    try:
        return None if raw is None else Placement(raw)
    except ValueError:
        return None


def can_follow(exercise_id: str, placement: Placement | None) -> str | None:
    """None when the worker can follow the exercise from the placement, else why not (the worker's reason)."""
    if placement is None:
        return None  # not known yet: the worker decides
    try:
        followed(exercise_id, placement)
    except ValueError as err:
        return str(err)
    return None


def _send(device_id: str, action: UserAction, exercise: str | None = None) -> str | None:
    """Send one action; the action id, or None (the failure is shown on the next run)."""
    try:
        action_id = send_action(current_settings().broker, device_id, str(action), exercise=exercise)
    except (ConnectionError, TopicError) as err:
        st.session_state[FAILED_KEY] = f"Could not reach the sitless hub: {err}"
        return None
    st.session_state.pop(FAILED_KEY, None)
    return action_id


def begin(state: dict[str, Any]) -> None:
    """Start following the current exercise (when the sensor can), from its first set and side."""
    device_id, exercise_id = state["device_id"], state["items"][state["index"]]
    state.update(phase="active", side=0, set=1, set_start_s=None, switch_s=None, rest_until=None, sets=[])
    state["action_id"] = None
    if can_follow(exercise_id, placement_of(device_id)) is None:
        state["action_id"] = _send(device_id, UserAction.EXERCISE_START, exercise_id)
    state["following"] = state["action_id"] is not None


def set_progress(state: dict[str, Any], start_s: float) -> GuidedProgress:
    """The current set of the current exercise so far."""
    exercise_id = state["items"][state["index"]]
    dose: Dose = state["doses"][exercise_id]
    since_s = state["set_start_s"] if state["set_start_s"] is not None else start_s
    return data.guided_set(
        current_settings().store_url,
        state["device_id"],
        exercise_id,
        per_side=dose.per_side,
        since_s=float(since_s),
        switch_s=state["switch_s"],
    )


def _finish_exercise(state: dict[str, Any], *, skipped: bool) -> None:
    """Close the current exercise: keep what was done for the summary."""
    device_id, exercise_id = state["device_id"], state["items"][state["index"]]
    sets = list(state["sets"])
    started = bool(state["following"])
    start_s = (
        data.guided_start(current_settings().store_url, device_id, exercise_id, state["action_id"]) if started else None
    )
    if state["phase"] == "complete" and sets:
        sets[-1] = set_progress(state, start_s or 0.0)  # with the repetitions done since the dose was met
    elif state["phase"] == "active" and start_s is not None:
        sets.append(set_progress(state, start_s))  # the set under way
    state["results"].append(
        {
            "exercise": exercise_id,
            "dose": state["doses"][exercise_id],
            "sets": sets,
            "followed": started,
            "skipped": skipped,
        }
    )


def on_start(device_id: str, items: list[str], doses: dict[str, Dose]) -> None:
    """*Start*: a new session on the wearable over the picked exercises; the first one starts at once."""
    state = new_state(device_id, items, doses)
    st.session_state[STATE_KEY] = state
    begin(state)


def on_next(*, skipped: bool) -> None:
    """*Next* or *Skip*: end this exercise and start the next one, or end the session after the last."""
    state: dict[str, Any] = st.session_state[STATE_KEY]
    _finish_exercise(state, skipped=skipped)
    if state["following"]:
        _send(state["device_id"], UserAction.EXERCISE_END)
    if state["index"] + 1 >= len(state["items"]):
        state["phase"] = "summary"
        return
    state["index"] += 1
    begin(state)
    st.session_state[TOAST_KEY] = f"Next: {exercise_by_id(state['items'][state['index']]).name}"


def on_end() -> None:
    """*End*: end the exercise under way and show the summary."""
    state: dict[str, Any] = st.session_state[STATE_KEY]
    if state["phase"] != "summary":
        _finish_exercise(state, skipped=False)
        if state["following"]:
            _send(state["device_id"], UserAction.EXERCISE_END)
    state["phase"] = "summary"


def on_skip_rest(now_s: float | None) -> None:
    """*Skip rest*: the next set starts now."""
    state: dict[str, Any] = st.session_state[STATE_KEY]
    next_set(state, now_s)


def on_new_session() -> None:
    """*New session*: back to the choice of exercises."""
    st.session_state.pop(STATE_KEY, None)


def next_set(state: dict[str, Any], now_s: float | None) -> None:
    """Start the next set of the current exercise, counted from ``now_s`` (device time; None: its start)."""
    state.update(phase="active", set=state["set"] + 1, side=0, switch_s=None, rest_until=None, set_start_s=now_s)


def advance(state: dict[str, Any], progress: GuidedProgress, dose: Dose, now_s: float) -> None:
    """Move on as the counts reach the dose: to the other side, to a rest, or to the dose done."""
    if state["phase"] != "active":
        return
    if dose.per_side and state["side"] == 0 and progress.met(dose, 0) and not progress.met(dose, 1):
        state.update(side=1, switch_s=now_s)
        st.session_state[TOAST_KEY] = "First side done: now the other side."
    if progress.met(dose):
        state["sets"].append(progress)
        if state["set"] < dose.sets:
            state.update(phase="rest", rest_until=time.time() + REST_BETWEEN_SETS_S)
        else:
            state["phase"] = "complete"


def adopt(device_id: str, status: dict[str, Any] | None) -> dict[str, Any] | None:
    """A session for the exercise the worker already follows on the wearable (started elsewhere), or None."""
    exercise_id = None if status is None else status.get("exercise")
    try:
        exercise = exercise_by_id(str(exercise_id)) if exercise_id else None
    except KeyError:
        return None  # ``any``: the generic counter has no dose to show
    if exercise is None:
        return None
    return new_state(device_id, [exercise.id], {exercise.id: exercise.dose}) | {"following": True}
