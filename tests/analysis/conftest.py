"""Synthetic signals and real-recording helpers for the ``analysis`` tests.

The synthetic generator is deliberately simple (gravity along a posture-specific
direction, gait as a ~1.8 Hz vertical oscillation, seeded white noise); accuracy is
judged on the real recordings of ``SITLESS_DATA``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.support import missing

REPO = Path(__file__).resolve().parents[2]

# Gravity direction per posture for a thigh sensor whose y axis runs along the thigh.
THIGH_GRAVITY = {
    "standing": (0.0, 1.0, 0.0),
    "walking": (0.0, 1.0, 0.0),
    "sitting": (0.0, 0.0, 1.0),
    "lying": (0.0, 0.0, 1.0),
}
GAIT_HZ = 1.8
GAIT_AMPLITUDE_G = 0.35


def synth(
    segments: Sequence[tuple[str, float]],
    *,
    rate_hz: float = 20.0,
    seed: int = 0,
    gravity: dict[str, tuple[float, float, float]] | None = None,
    t0_s: float = 0.0,
    noise_g: float = 0.01,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(t_s, acc_g)`` for consecutive ``(posture, seconds)`` segments."""
    gravity = THIGH_GRAVITY if gravity is None else gravity
    rng = np.random.default_rng(seed)
    ts: list[NDArray[np.float64]] = []
    accs: list[NDArray[np.float64]] = []
    start = 0.0
    for posture, seconds in segments:
        n = round(seconds * rate_hz)
        t = start + np.arange(n) / rate_hz
        g = np.asarray(gravity[posture], dtype=np.float64)
        acc = np.tile(g / np.linalg.norm(g), (n, 1))
        if posture == "walking":
            acc += np.outer(GAIT_AMPLITUDE_G * np.sin(2 * np.pi * GAIT_HZ * t), g)
        acc += rng.normal(0.0, noise_g, acc.shape)
        ts.append(t)
        accs.append(acc)
        start += n / rate_hz
    return t0_s + np.concatenate(ts), np.concatenate(accs)


def load_recording(
    root: Path, name: str, recording: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, Any]]:
    """Read one labelled recording as ``(t_s, acc_g (n, 3), meta)``.

    A dataset or recording that is not there fails the test where
    ``SITLESS_REQUIRE_DATA=1`` (CI: the recordings are required), and skips it, saying
    which one, elsewhere.
    """
    csv = root / name / f"{recording}.csv"
    meta_path = csv.with_suffix(".json")
    if not (root / name).is_dir():
        missing(f"the dataset {name!r} in {root}", "SITLESS_REQUIRE_DATA", "set SITLESS_DATA to the full data folder")
    if not (csv.is_file() and meta_path.is_file()):
        missing(
            f"the recording {name}/{recording} ({csv.name} and {meta_path.name} in {csv.parent})",
            "SITLESS_REQUIRE_DATA",
            "set SITLESS_DATA to the full data folder",
        )
    meta = json.loads(meta_path.read_text())
    raw = np.loadtxt(csv, delimiter=",", skiprows=1)
    return raw[:, 0].copy(), raw[:, 1:4].copy(), meta


@pytest.fixture
def dataset(recordings: Path) -> Any:
    """Return a loader ``(dataset, recording_id) -> (t_s, acc_g, meta)`` over ``recordings``."""
    return functools.partial(load_recording, recordings)


Synth = Any  # the type of ``synth``, for fixture annotations in tests


@pytest.fixture(scope="session")
def make_signal() -> Any:
    """Return the synthetic signal generator ``synth``."""
    return synth
