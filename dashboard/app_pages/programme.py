"""Programme: the lower-back exercises (stretches, strengthening, low-impact aerobic) and safety.

Content comes from :mod:`analysis.programme`; the page only lays it out. It is
information, not medical advice, and says so first.
"""

from __future__ import annotations

import streamlit as st

from analysis.programme import (
    AEROBIC_ADVICE,
    DISCLAIMER,
    PROGRAMME,
    SAFETY,
    SEE_A_DOCTOR_IF,
    SOURCES,
    STRETCH_ADVICE,
    WHY,
    Category,
    Exercise,
    exercise_by_id,
)
from dashboard import data, display
from dashboard.settings import current_settings, selected_device

st.title("Exercise programme")
st.warning(DISCLAIMER, icon=":material/medical_information:")


def your_plan() -> None:
    """Today's items of the plan, done or not, and the streak; the weeks are on the Progress page."""
    device = selected_device()
    report = None if device is None else data.plan_progress(current_settings().store_url, device)
    if report is None or report.adherence is None or not report.adherence.days:
        st.caption("Your plan shows here once the wearable has sent data.")
        return
    plan = report.adherence
    today = plan.days[-1]
    week = plan.weeks[-1]
    left, middle, right = st.columns(3)
    left.metric("Today", f"{sum(i.done for i in today.items)} of {len(today.items)} done")
    middle.metric("This week", "-" if week.fraction is None else f"{week.fraction:.0%}")
    right.metric("Streak", f"{plan.current_streak_days} days", help=f"Longest: {plan.longest_streak_days} days")
    st.markdown(
        "  \n".join(
            f"{':material/check_circle:' if i.done else ':material/radio_button_unchecked:'} "
            f"{exercise_by_id(i.exercise_id).name}" + ("" if i.done or not i.fraction else f" ({i.fraction:.0%})")
            for i in today.items
        )
    )
    st.page_link("app_pages/progress.py", label="Your weeks: the plan kept day by day", icon=":material/trending_up:")


st.subheader("Your plan")
your_plan()
st.markdown(WHY)


def exercise_card(exercise: Exercise) -> None:
    """One exercise: name, starting position, movement and dose."""
    with st.container(border=True):
        title = exercise.name + (" · at the desk" if exercise.at_desk else "")
        st.markdown(f"**{title}**")
        st.markdown(
            f"*Position:* {exercise.position}  \n"
            f"*Movement:* {exercise.movement}  \n"
            f"*Dose:* {display.dose_text(exercise.dose)}"
        )


def exercise_grid(category: Category) -> None:
    """The exercises of one category, two per row."""
    exercises = [e for e in PROGRAMME if e.category == category]
    columns = st.columns(2)
    for i, exercise in enumerate(exercises):
        with columns[i % 2]:
            exercise_card(exercise)


stretches, strength, aerobic = st.tabs(["Stretches", "Strengthening", "Low-impact aerobic"])
with stretches:
    st.caption(STRETCH_ADVICE)
    exercise_grid(Category.STRETCH)
with strength:
    exercise_grid(Category.STRENGTHENING)
with aerobic:
    st.markdown(AEROBIC_ADVICE)

safety, doctor = st.columns(2)
with safety:
    st.subheader("Exercise safely")
    st.markdown("\n".join(f"- {line}" for line in SAFETY))
with doctor:
    st.subheader("See a doctor if")
    st.markdown("\n".join(f"- {line}" for line in SEE_A_DOCTOR_IF))

st.caption(f"Sources: {SOURCES}")
