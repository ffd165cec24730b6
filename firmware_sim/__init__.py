"""The simulated wearable: scripted office days turned into accelerometer packets.

:mod:`firmware_sim.scenarios` holds the scripts, :mod:`firmware_sim.motion` turns a
script into samples (pure and seeded), :mod:`firmware_sim.device` publishes them over
MQTT like a real device, and :mod:`firmware_sim.cli` is the ``sitless sim`` command.
"""

from firmware_sim.exercises import (
    ExerciseId,
    ExercisePlan,
    ExerciseSet,
    Rep,
    Side,
    StartPosition,
    exercise_step,
    exercise_truth,
    guided_session,
    plan,
    programme_session,
)
from firmware_sim.motion import Session, generate, iter_chunks, random_rotation
from firmware_sim.params import MotionParams
from firmware_sim.recording import Chunk, Recording, write_csv, write_truth_json
from firmware_sim.scenarios import (
    POSTURE_OF,
    SCENARIOS,
    Activity,
    Script,
    Segment,
    Step,
    jitter,
    scenario,
    truth,
)

__all__ = [
    "POSTURE_OF",
    "SCENARIOS",
    "Activity",
    "Chunk",
    "ExerciseId",
    "ExercisePlan",
    "ExerciseSet",
    "MotionParams",
    "Recording",
    "Rep",
    "Script",
    "Segment",
    "Session",
    "Side",
    "StartPosition",
    "Step",
    "exercise_step",
    "exercise_truth",
    "generate",
    "guided_session",
    "iter_chunks",
    "jitter",
    "plan",
    "programme_session",
    "random_rotation",
    "scenario",
    "truth",
    "write_csv",
    "write_truth_json",
]
