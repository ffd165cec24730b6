"""Session: a guided exercise session, with live repetition counts and hold timers against the dose.

The wearer picks today's plan (its stretches and strengthening exercises due today,
:func:`dashboard.data.session_plan`) or one exercise, and presses *Start*. For each
exercise the page shows its instructions, cautions and dose, and live from the worker's
stored events (:func:`dashboard.data.guided_set`): the count per side against the dose,
the hold under way against its target, the side to do now, the set, and the rest between
sets (:data:`analysis.guided.REST_BETWEEN_SETS_S`). *Start* sends the ``exercise_start``
action; *Next* and *Skip* send ``exercise_end`` and the next exercise's
``exercise_start``; *End* sends ``exercise_end`` and shows the summary.

Per-side exercises go left, then right: the analysis names the side of the first
repetition or hold "left" and tells the others by direction; where it tells no sides,
the page says "now the other side" once the first side's dose is done and counts from
then on to the second side (``analysis.guided``). An exercise that the sensor cannot
follow from where it is worn (the worker refuses it: ``analysis.sets.followed``) is
shown with its instructions but not counted.

The page's own state and the actions its buttons send live in
:mod:`dashboard.guided_session`. When the worker already follows an exercise that this
browser did not start (``sitless session``, another tab, a reload), the page takes it
up. A session stays with the wearable it began on: while the sidebar shows another
wearable the page says so and offers to end it, rather than count the other wearable's
movements.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from analysis.guided import REST_BETWEEN_SETS_S, SIDES, GuidedProgress, target_count
from analysis.programme import (
    DISCLAIMER,
    RED_FLAGS_TEXT,
    SAFETY,
    Category,
    Dose,
    Exercise,
    exercise_by_id,
    exercises_in,
)
from analysis.settings import Placement
from dashboard import data, display
from dashboard.guided_session import (
    FAILED_KEY,
    STATE_KEY,
    TOAST_KEY,
    adopt,
    advance,
    begin,
    can_follow,
    next_set,
    on_end,
    on_new_session,
    on_next,
    on_skip_rest,
    on_start,
    placement_of,
    set_progress,
)
from dashboard.settings import current_settings, live_device, selected_device

REFRESH_S = 1

settings = current_settings()

st.title("Exercise session")
st.warning(
    f"{DISCLAIMER} Stop at once if an exercise hurts, and ask a doctor or physiotherapist.",
    icon=":material/medical_information:",
)


def no_wearable() -> None:
    """What to do when no wearable has sent anything yet."""
    st.info(
        "No wearable has sent data yet. Clip on a sensor and start the gateway, or try a guided session "
        "with a simulated wearer: run `sitless demo` in a terminal. This page updates by itself.",
        icon=":material/sensors_off:",
    )


def exercise_card(exercise: Exercise, dose: Dose, *, cautions: bool = True) -> None:
    """Instructions, dose and cautions of one exercise."""
    st.markdown(
        f"*Position:* {exercise.position}  \n*Movement:* {exercise.movement}  \n*Dose:* {display.dose_text(dose)}"
    )
    if cautions and exercise.cautions:
        st.markdown("\n".join(f"- {c}" for c in exercise.cautions))


def picker(device_id: str, placement: Placement | None) -> None:
    """Choose today's plan or one exercise, and start."""
    st.caption(SAFETY[0])
    plan = data.session_plan(settings.store_url, device_id)
    modes = ["Today's plan", "One exercise"] if plan else ["One exercise"]
    mode = st.radio("What to do", modes, horizontal=True, key="guided_mode")
    if mode == "Today's plan":
        st.markdown(
            "  \n".join(
                f"{':material/check_circle:' if i.done else ':material/radio_button_unchecked:'} "
                f"{exercise_by_id(i.exercise_id).name}: {display.dose_text(i.dose)}"
                + ("" if can_follow(i.exercise_id, placement) is None else " (not counted from this sensor)")
                for i in plan
            )
        )
        items = [i.exercise_id for i in plan if not i.done] or [i.exercise_id for i in plan]
        doses = {i.exercise_id: i.dose for i in plan}
        label = "Start today's plan"
    else:
        choices = [e.id for e in (*exercises_in(Category.STRETCH), *exercises_in(Category.STRENGTHENING))]
        exercise_id = st.selectbox(
            "Exercise", choices, format_func=lambda i: exercise_by_id(i).name, key="guided_exercise"
        )
        exercise = exercise_by_id(exercise_id)
        sets = st.number_input("Sets", min_value=1, max_value=10, value=exercise.dose.sets, key="guided_sets")
        dose = Dose(exercise.dose.hold_s, exercise.dose.reps, exercise.dose.per_side, int(sets))
        with st.container(border=True):
            st.markdown(f"**{exercise.name}**")
            exercise_card(exercise, dose)
        if (reason := can_follow(exercise_id, placement)) is not None:
            st.warning(
                f"The sensor cannot count this one where it is worn ({reason}). You can still do it by the "
                "instructions; the session shows them but counts nothing.",
                icon=":material/sensors_off:",
            )
        items, doses, label = [exercise_id], {exercise_id: dose}, "Start"
    st.button(
        label,
        type="primary",
        icon=":material/play_arrow:",
        key="guided_start",
        on_click=on_start,
        args=(device_id, items, doses),
    )


def counts(progress: GuidedProgress, dose: Dose, side: int | None) -> None:
    """The count per side against the dose, as metrics and bars; ``side`` the one to do now (None: either)."""
    target = target_count(dose)
    noun = "reps" if dose.reps is not None else "holds"
    names: tuple[str | None, ...] = SIDES if dose.per_side else (None,)
    columns = st.columns(len(names))
    for i, (column, name) in enumerate(zip(columns, names, strict=True)):
        done = progress.count(i)
        label = display.side_label(name) if dose.per_side else noun.capitalize()
        if dose.per_side and i == side:
            label += " (now)"
        column.metric(label, f"{done} of {target} {noun}" if target else f"{done} {noun}")
        if target:
            column.progress(min(1.0, done / target))


def hold_timer(progress: GuidedProgress, dose: Dose, now_s: float) -> None:
    """The hold under way against its target, else the last hold."""
    held_s = progress.held_s(now_s)
    if progress.holding is not None and held_s is not None:
        target_s = progress.holding.target_s or (dose.hold_s[0] if dose.hold_s else 0.0)
        side = "" if progress.holding.side is None else f" ({progress.holding.side})"
        text = f"Holding{side}: {held_s:.0f} s of {target_s:.0f} s"
        if held_s >= target_s > 0:
            text += ". Now let go slowly."
        st.progress(min(1.0, held_s / target_s) if target_s > 0 else 1.0, text=text)
    elif progress.holds:
        last = progress.holds[-1]
        st.caption(f"Last hold {display.holds_text([last])}; aim for {last.target_s:.0f} s.")
    elif dose.hold_s is not None:
        low, high = dose.hold_s
        aim = f"{low:g} s" if low == high else f"{low:g}-{high:g} s"
        st.progress(0.0, text=f"Hold timer: starts once you hold still in position (aim for {aim})")
    if flags := display.hold_flags_text(progress.broken, progress.bounced):
        st.warning(f"{flags}: hold still in position, and never bounce.", icon=":material/pan_tool:")


def buttons(state: dict[str, Any], now_s: float | None) -> None:
    """Next, Skip (and Skip rest while resting), End."""
    last = state["index"] + 1 >= len(state["items"])
    resting = state["phase"] == "rest"
    columns = st.columns(4 if resting else 3)
    columns[0].button(
        "Finish" if last else "Next",
        type="primary" if state["phase"] == "complete" else "secondary",
        icon=":material/skip_next:",
        key="guided_next",
        on_click=on_next,
        kwargs={"skipped": False},
        width="stretch",
    )
    columns[1].button(
        "Skip",
        icon=":material/redo:",
        key="guided_skip",
        on_click=on_next,
        kwargs={"skipped": True},
        width="stretch",
    )
    if resting:
        columns[2].button(
            "Skip rest",
            icon=":material/fast_forward:",
            key="guided_skip_rest",
            on_click=on_skip_rest,
            args=(now_s,),
            width="stretch",
        )
    columns[-1].button("End", icon=":material/stop:", key="guided_end", on_click=on_end, width="stretch")


def current(state: dict[str, Any], status: dict[str, Any] | None) -> None:
    """The exercise under way: instructions, counts, hold timer, side, set, rest and buttons."""
    exercise_id = state["items"][state["index"]]
    exercise, dose = exercise_by_id(exercise_id), state["doses"][exercise_id]
    of = f" ({state['index'] + 1} of {len(state['items'])})" if len(state["items"]) > 1 else ""
    st.subheader(exercise.name + of)
    following(state, status, exercise, dose)
    with st.expander("How to do it, and what to watch", expanded=True):
        exercise_card(exercise, dose)


def set_view(state: dict[str, Any], progress: GuidedProgress, dose: Dose, now_s: float) -> None:
    """The set: the rest after it, the dose done, or the side to do, the counts and the hold timer."""
    if dose.sets > 1:
        st.caption(f"Set {state['set']} of {dose.sets}")
    if state["phase"] == "rest":
        left_s = max(0.0, float(state["rest_until"]) - time.time())
        st.progress(
            max(0.0, 1.0 - left_s / REST_BETWEEN_SETS_S),
            text=f"Set {state['set']} done. Rest: {left_s:.0f} s, then set {state['set'] + 1}",
        )
    elif state["phase"] == "complete":
        after = " Press Finish for your summary."
        if state["index"] + 1 < len(state["items"]):
            after = f" Rest a moment, then press Next for {exercise_by_id(state['items'][state['index'] + 1]).name}."
        st.success(f"Dose done: well done!{after}", icon=":material/check_circle:")
        counts(progress, dose, None)
    else:
        if dose.per_side and progress.sided:
            st.caption("The sensor tells the sides apart: left is the side you started on.")
        elif dose.per_side:
            side = SIDES[state["side"]]
            if state["side"] == 1:
                st.info(
                    f"{display.side_label(SIDES[0])} done: now the other side ({side}).", icon=":material/swap_horiz:"
                )
            else:
                st.caption(f"Start on your {side} side; the other side follows.")
        counts(progress, dose, None if progress.sided else state["side"])
        hold_timer(progress, dose, now_s)


def following(state: dict[str, Any], status: dict[str, Any] | None, exercise: Exercise, dose: Dose) -> None:
    """The live part of the exercise under way: side, counts, hold timer, set and rest, and the buttons."""
    device_id, exercise_id = state["device_id"], exercise.id
    now_s = None if status is None else data.number(status.get("t_s"))
    if (reason := can_follow(exercise_id, placement_of(device_id))) is not None:
        st.info(
            f"Not counted: {reason} (the analysis refuses it). Do it by the instructions below, then press Next.",
            icon=":material/sensors_off:",
        )
        buttons(state, now_s)
        return
    if not state["following"]:
        st.warning(
            f"{exercise.name} is not being counted: the analysis could not be asked to follow it.",
            icon=":material/cloud_off:",
        )
        st.button("Start again", icon=":material/replay:", key="guided_retry", on_click=begin, args=(state,))
        buttons(state, now_s)
        return
    start_s = data.guided_start(settings.store_url, device_id, exercise_id, state["action_id"])
    if start_s is None or now_s is None:
        st.info(
            f"Waiting for the analysis to start counting {exercise.name.lower()}. Is `sitless worker` running?",
            icon=":material/hourglass_top:",
        )
        buttons(state, now_s)
        return
    if state["phase"] == "rest" and float(state["rest_until"]) <= time.time():
        next_set(state, now_s)  # the rest is over: the next set counts from now
    progress = set_progress(state, start_s)
    advance(state, progress, dose, now_s)
    set_view(state, progress, dose, now_s)
    st.caption(f"Latest sample {display.clock(now_s, seconds=True)} (device time). Updates every {REFRESH_S} s.")
    buttons(state, now_s)


def summary(state: dict[str, Any]) -> None:
    """Each exercise of the session: done against the dose, the holds, holds broken or bounced."""
    st.subheader("Session summary")
    if not state["results"]:
        st.caption("Nothing was done in this session.")
    for result in state["results"]:
        exercise, dose = exercise_by_id(result["exercise"]), result["dose"]
        sets: list[GuidedProgress] = result["sets"]
        with st.container(border=True):
            st.markdown(f"**{exercise.name}** · asked: {display.dose_text(dose)}")
            if result["skipped"] and not any(s.reps or s.holds for s in sets):
                st.caption("Skipped.")
                continue
            if not result["followed"]:
                st.caption("Not counted from this sensor.")
                continue
            target, noun = target_count(dose), "reps" if dose.reps is not None else "holds"
            names: tuple[str | None, ...] = SIDES if dose.per_side else (None,)
            for i, name in enumerate(names):
                done = sum(s.count(i) for s in sets)
                asked = target * dose.sets
                side = f"{display.side_label(name)}: " if dose.per_side else ""
                mark = ":material/check_circle:" if asked and done >= asked else ":material/radio_button_unchecked:"
                st.markdown(f"{mark} {side}{done} of {asked} {noun}")
            holds = [h for s in sets for h in s.holds]
            if holds or dose.hold_s is not None:
                st.markdown(f"Holds: {display.holds_text(holds)}")
            if flags := display.hold_flags_text(sum(s.broken for s in sets), sum(s.bounced for s in sets)):
                st.warning(f"{flags}. Build holds up gently, and never bounce.", icon=":material/pan_tool:")
    st.button("New session", icon=":material/restart_alt:", key="guided_new", on_click=on_new_session)


def elsewhere(state: dict[str, Any], device_id: str) -> None:
    """The sidebar shows another wearable than the session's: say so, and offer to end the session."""
    st.info(
        f"This session runs on `{state['device_id']}`, not `{device_id}`: pick `{state['device_id']}` under "
        "Wearable in the sidebar to follow it, or end it here.",
        icon=":material/swap_horiz:",
    )
    st.button("End", icon=":material/stop:", key="guided_end", on_click=on_end)


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    """The session, redrawn every second."""
    device_id = live_device(settings.store_url)
    if device_id is None:
        no_wearable()
        return
    if (failed := st.session_state.get(FAILED_KEY)) is not None:  # until an action goes through
        st.error(failed, icon=":material/cloud_off:")
    if (toast := st.session_state.pop(TOAST_KEY, None)) is not None:
        st.toast(toast, icon=":material/swap_horiz:")
    status = data.live_status(settings.store_url, device_id)
    state: dict[str, Any] | None = st.session_state.get(STATE_KEY)
    if state is None and (state := adopt(device_id, status)) is not None:
        st.session_state[STATE_KEY] = state
    if state is None:
        st.rerun()  # the session ended here: the picker is drawn outside this fragment
    if state["phase"] == "summary":
        summary(state)
    elif state["device_id"] != device_id:
        elsewhere(state, device_id)
    else:
        current(state, status)


device = selected_device()
if device is None or STATE_KEY in st.session_state or adopt(device, data.live_status(settings.store_url, device)):
    live()
else:
    status = data.live_status(settings.store_url, device)
    if status is None:
        st.info(
            f"`{device}` is connected but nothing has been analysed yet. Is `sitless worker` running?",
            icon=":material/hourglass_top:",
        )
    picker(device, placement_of(device))

with st.expander("When to stop, and when to see a doctor", icon=":material/health_and_safety:"):
    st.markdown(RED_FLAGS_TEXT)
    st.page_link(
        "app_pages/programme.py",
        label="The whole programme and how to exercise safely",
        icon=":material/self_improvement:",
    )
    st.page_link("app_pages/about.py", label="About sitless", icon=":material/info:")
