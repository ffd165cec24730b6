"""A guided set of squats as a thigh wearable sends it, and the actions around it (worker tests)."""

from __future__ import annotations

from analysis import Placement, UserAction
from firmware_sim.device import DeviceSettings, iter_packets
from firmware_sim.exercises import ExerciseId, ExerciseSet, guided_session
from firmware_sim.params import MotionParams
from firmware_sim.scenarios import Activity, Script, Step
from ingest.service import Message
from ingest.topics import Kind, topic

DEVICE = "session-01"
T0_S = 1.7e9
SQUATS = ExerciseSet(ExerciseId.SQUAT, reps=10, seed=3)


def packets_of(script: Script, first_seq: int, start_s: float) -> list[bytes]:
    # No lost packets: the worker would wait for each missing one before analysing on.
    settings = DeviceSettings(device_id=DEVICE, placement=Placement.THIGH, seed=5, params=MotionParams(drop_prob=0.0))
    return [p.payload for p in iter_packets(script, settings, start_s, first_seq) if p.payload is not None]


def warm_up() -> list[bytes]:
    """A minute of walking and standing before the set: the analysis learns the wearer's upright."""
    return packets_of(Script("warm_up", (Step(Activity.WALKING, 40.0), Step(Activity.STANDING, 20.0))), 0, T0_S)


def set_packets(first_seq: int) -> list[bytes]:
    return packets_of(guided_session([SQUATS], rest_s=5.0), first_seq, T0_S + 60.0)


def message(kind: Kind, payload: bytes, mid: int) -> Message:
    return Message(topic(DEVICE, kind), payload, mid, 1, T0_S)


def action(action: UserAction, mid: int, exercise: str | None = None) -> Message:
    body = f'{{"action": "{action}", "id": "a{mid}"' + (f', "exercise": "{exercise}"' if exercise else "") + "}"
    return message(Kind.ACTION, body.encode(), mid)
