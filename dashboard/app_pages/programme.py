"""Programme: the lower-back exercises (stretches, strengthening, low-impact aerobic) and safety.

Content comes from :mod:`analysis.programme`; the page only lays it out. It is
information, not medical advice, and says so first.
"""

from __future__ import annotations

import streamlit as st

from analysis.programme import DISCLAIMER, PROGRAMME, SAFETY, SEE_A_DOCTOR_IF, Category, Exercise
from dashboard import display

# Low-impact activity suits a sore back better than running or jumping (programme.md).
AEROBIC_GOOD = ("Walking", "Swimming", "Yoga", "Stationary (spinning) bike")
AEROBIC_AVOID = "running, jumping sports such as basketball, and step aerobics"

st.title("Exercise programme")
st.warning(DISCLAIMER, icon=":material/medical_information:")
st.markdown(
    "Long stretches of sitting are linked to lower back pain and stiffness. Staying active helps more than "
    "rest: these exercises strengthen the muscles that support the spine and keep it mobile. Symptoms may "
    "rise a little at first, and it can take up to 12 weeks to feel the benefit; keep going after the pain "
    "settles to help stop it coming back."
)


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
    st.caption("Build holds up gently towards 30 seconds; never bounce.")
    exercise_grid(Category.STRETCH)
with strength:
    exercise_grid(Category.STRENGTHENING)
with aerobic:
    st.markdown(
        "While your back is sore, choose low-impact activity: "
        + ", ".join(a.lower() if i else a for i, a in enumerate(AEROBIC_GOOD))
        + f". Leave high-impact activity ({AEROBIC_AVOID}) until the pain has eased a lot."
    )

safety, doctor = st.columns(2)
with safety:
    st.subheader("Exercise safely")
    st.markdown("\n".join(f"- {line}" for line in SAFETY))
with doctor:
    st.subheader("See a doctor if")
    st.markdown("\n".join(f"- {line}" for line in SEE_A_DOCTOR_IF))

st.caption(
    "Sources: Krismer & van Tulder 2007, Best Pract Res Clin Rheumatol 21(1):77-91; "
    "Fernández-de-las-Peñas et al. 2011, Spine 36(3):E213-219; restated from the Klarity Health Library "
    'article "Exercises To Help With Lower Back Pain".'
)
