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
)
from dashboard import display

st.title("Exercise programme")
st.warning(DISCLAIMER, icon=":material/medical_information:")
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
