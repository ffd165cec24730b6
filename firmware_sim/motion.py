"""The motion model: a script becomes accelerometer samples, pure and seeded.

The sensor reads the specific force: "up" (1 g) plus the linear acceleration of the
body segment it is strapped to (:mod:`firmware_sim.kinematics`), plus white noise and a
constant zero-g offset, all turned by a random mounting rotation drawn once per session
(any orientation, so an analysis cannot assume an axis). Posture changes blend over
``transition_s`` centred on each step boundary; getting onto or off a chair takes
``chair_transition_s`` instead and moves the body down or up with the trunk flexing
forward on the way (:func:`firmware_sim.kinematics.chair_transition`). Samples come at the nominal rate scaled
by a per-session clock error, with timing jitter; whole packets are lost with
probability ``drop_prob``.

Randomness comes from ``np.random.default_rng`` streams derived from the seed: one for
the session (mounting, clock, offset, per-step choices), one for how each lying position
sits, and one each for the timing jitter, the noise and the packet losses. Every signal
is a function of time, and the per-sample streams are read in order, so the output does
not depend on the chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.settings import Placement
from firmware_sim.exercises import exercise_signal
from firmware_sim.kinematics import (
    SEATED,
    UPRIGHT,
    StepDraw,
    chair_transition,
    draw_step,
    flex_forward,
    segment_signal,
)
from firmware_sim.params import MotionParams
from firmware_sim.recording import Chunk, Recording
from firmware_sim.scenarios import Activity, Script, truth

__all__ = ["Session", "generate", "iter_chunks", "random_rotation"]

_DEFAULT_PARAMS = MotionParams()
_SETUP, _JITTER, _NOISE, _DROPS, _POSE = range(5)


def random_rotation(rng: np.random.Generator) -> NDArray[np.float64]:
    """A rotation matrix drawn uniformly over all orientations.

    A normalised 4-D Gaussian vector is a uniform unit quaternion (Shoemake 1992,
    "Uniform random rotations", Graphics Gems III, pp. 124-132).

    Returns:
        Proper rotation matrix, shape (3, 3).
    """
    w, x, y, z = (float(v) for v in rng.normal(size=4))
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


@dataclass(frozen=True, slots=True, eq=False)
class Session:
    """Everything drawn once per simulated session.

    Attributes:
        mounting: Rotation from the segment frame to the sensor axes, shape (3, 3).
        clock_ppm: Sample-clock frequency error, parts per million.
        bias_g: Zero-g offset, g, shape (3,).
        draws: Random choices of each script step.
    """

    mounting: NDArray[np.float64]
    clock_ppm: float
    bias_g: NDArray[np.float64]
    draws: tuple[StepDraw, ...]

    @classmethod
    def draw(
        cls, script: Script, seed: int, params: MotionParams, mounting: NDArray[np.float64] | None = None
    ) -> Session:
        """Draw a session from the seed; ``mounting`` overrides the drawn rotation only."""
        rng = np.random.default_rng([seed, _SETUP])
        drawn = random_rotation(rng)
        if mounting is not None:
            mounting = np.asarray(mounting, dtype=np.float64)
            if mounting.shape != (3, 3) or not np.allclose(mounting @ mounting.T, np.eye(3), atol=1e-9):
                raise ValueError(f"mounting must be a 3x3 rotation matrix, got {mounting!r}")
            drawn = mounting
        clock_ppm = float(np.clip(rng.normal(0.0, params.clock_ppm_sd), -params.clock_ppm_max, params.clock_ppm_max))
        bias_g = rng.normal(0.0, params.bias_g, size=3)
        face = 1.0 if rng.random() < 0.5 else -1.0
        # On the desk the sensor lies on one of its flat faces: its z axis is vertical.
        desk_up = drawn.T @ np.array([0.0, 0.0, face])
        pose_rng = np.random.default_rng([seed, _POSE])
        draws = tuple(draw_step(rng, params, desk_up, pose_rng) for _ in script.steps)
        return cls(mounting=drawn, clock_ppm=clock_ppm, bias_g=bias_g, draws=draws)


def _smoothstep(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _slerp(a: NDArray[np.float64], b: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rotate unit vectors ``a`` towards ``b`` by the fraction ``w``, shapes (n, 3), (n, 3), (n,)."""
    axis = np.cross(a, b)
    sin_ab = np.linalg.norm(axis, axis=1)
    angle = np.arctan2(sin_ab, np.einsum("ij,ij->i", a, b))
    # Parallel or opposite vectors: turn about any axis perpendicular to a.
    helper = np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    axis = np.where(sin_ab[:, None] > 1e-9, axis, np.cross(a, helper))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    theta = (w * angle)[:, None]
    out: NDArray[np.float64] = a * np.cos(theta) + np.cross(axis, a) * np.sin(theta)
    return out


class _Body:
    """The noiseless body signal of a script, evaluated at any times."""

    def __init__(self, script: Script, placement: Placement, session: Session, params: MotionParams) -> None:
        self._activities = tuple(step.activity for step in script.steps)
        self._inclines = tuple(step.incline_deg for step in script.steps)
        self._exercises = tuple(step.exercise for step in script.steps)
        durations = np.array([step.duration_s for step in script.steps])
        self._ends = np.cumsum(durations)
        self._starts = self._ends - durations
        # Half-width of the blend at the boundary before each step (none before the first).
        # A boundary between seated and upright steps is a chair transition: +1 when the
        # wearer stands up, -1 when sitting down, 0 otherwise.
        pairs = zip(self._activities[:-1], self._activities[1:], strict=True)
        chair = np.array([_chair_sign(a, b) for a, b in pairs], dtype=np.float64)
        width = np.where(chair != 0, params.chair_transition_s, params.transition_s)
        neighbours = np.minimum(durations[1:], durations[:-1])
        self._half = np.concatenate([[0.0], np.minimum(width, neighbours) / 2, [0.0]])
        self._chair = np.concatenate([[0.0], chair, [0.0]])
        self._placement = placement
        self._session = session
        self._params = params

    def _signal(
        self, step: NDArray[np.intp], t_s: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        up = np.empty((t_s.shape[0], 3))
        lin = np.empty((t_s.shape[0], 3))
        for k in np.unique(step):
            mask = step == k
            exercise = self._exercises[k]
            if exercise is not None:
                # An exercise set runs on its own clock, from the start of its step.
                up[mask], lin[mask] = exercise_signal(
                    exercise, self._placement, t_s[mask] - self._starts[k], self._session.draws[k], self._params
                )
                continue
            up[mask], lin[mask] = segment_signal(
                self._activities[k],
                self._placement,
                t_s[mask],
                self._session.draws[k],
                self._params,
                incline_deg=self._inclines[k],
            )
        return up, lin

    def __call__(self, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
        """Specific force in g, segment frame, shape (n, 3), at times ``t_s`` (n,)."""
        last = len(self._activities) - 1
        step = np.clip(np.searchsorted(self._ends, t_s, side="right"), 0, last)
        up, lin = self._signal(step, t_s)
        h_before, h_after = self._half[step], self._half[step + 1]
        starts, ends = self._starts[step], self._ends[step]
        # Weight of the previous step near the start, of the next one near the end.
        w_prev = np.where(h_before > 0, 1 - _smoothstep((t_s - starts + h_before) / (2 * h_before + 1e-12)), 0.0)
        w_next = np.where(h_after > 0, _smoothstep((t_s - ends + h_after) / (2 * h_after + 1e-12)), 0.0)
        use_prev = w_prev > 0
        neighbour = np.where(use_prev, step - 1, step + 1)
        weight = np.where(use_prev, w_prev, w_next)
        blend = weight > 0
        if np.any(blend):
            up_n, lin_n = self._signal(neighbour[blend], t_s[blend])
            w = weight[blend]
            up[blend] = _slerp(up[blend], up_n, w)
            lin[blend] = (1 - w)[:, None] * lin[blend] + w[:, None] * lin_n
        # Chair transitions: the boundary nearer in time, its progress through the move.
        boundary = np.where(use_prev, step, step + 1)
        half = self._half[boundary]
        sign = self._chair[boundary]
        on_chair = blend & (sign != 0)
        if np.any(on_chair):
            centre = self._starts[np.clip(boundary[on_chair], 0, last)]
            h = half[on_chair]
            tau = (t_s[on_chair] - centre + h) / (2 * h)
            flex = np.empty(tau.shape[0])
            vertical = np.empty(tau.shape[0])
            for rising in (True, False):
                mask = (sign[on_chair] > 0) == rising
                for width in np.unique(h[mask]):
                    sub = mask & (h == width)
                    flex[sub], vertical[sub] = chair_transition(
                        tau[sub], 2 * float(width), rising, self._placement, self._params
                    )
            up[on_chair] = flex_forward(up[on_chair], flex)
            lin[on_chair] += vertical[:, None] * up[on_chair]
        return up + lin


def _chair_sign(before: Activity, after: Activity) -> float:
    """+1 for a sit-to-stand between two steps, -1 for a stand-to-sit, 0 otherwise."""
    if before in SEATED and after in UPRIGHT:
        return 1.0
    if before in UPRIGHT and after in SEATED:
        return -1.0
    return 0.0


def _check(placement: Placement, seed: int, rate_hz: float) -> None:
    Placement(placement)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be > 0, got {rate_hz}")


def iter_chunks(
    script: Script,
    placement: Placement,
    seed: int,
    rate_hz: float = 50.0,
    params: MotionParams = _DEFAULT_PARAMS,
    *,
    mounting: NDArray[np.float64] | None = None,
    chunk_s: float = 60.0,
) -> Iterator[Chunk]:
    """Stream the samples of a script chunk by chunk, in bounded memory.

    Args:
        script: What the wearer does.
        placement: Where the sensor is worn.
        seed: Seed (>= 0); the same seed gives identical samples whatever ``chunk_s``.
        rate_hz: Nominal sample rate.
        params: Motion parameters.
        mounting: Rotation from the segment frame to the sensor axes, shape (3, 3);
            None draws one from the seed (other draws are the same either way).
        chunk_s: About how much time each chunk holds (rounded to whole packets).

    Yields:
        Chunks of consecutive samples, all samples included; ``Chunk.dropped`` marks the
        packets lost on the way. The first packet is never lost and the first sample is
        at ``t = 0``.

    Raises:
        ValueError: Bad placement, seed, rate or mounting.
    """
    _check(placement, seed, rate_hz)
    placement = Placement(placement)
    session = Session.draw(script, seed, params, mounting)
    body = _Body(script, placement, session, params)
    true_rate_hz = rate_hz * (1 + session.clock_ppm * 1e-6)
    n_total = max(1, math.ceil(script.duration_s * true_rate_hz))
    per_packet = params.packet_samples
    per_chunk = per_packet * max(1, round(chunk_s * rate_hz / per_packet))
    jitter_rng = np.random.default_rng([seed, _JITTER])
    noise_rng = np.random.default_rng([seed, _NOISE])
    drop_rng = np.random.default_rng([seed, _DROPS])
    max_jitter_s = 0.3 / true_rate_hz  # keeps samples in order
    for first in range(0, n_total, per_chunk):
        index = np.arange(first, min(first + per_chunk, n_total))
        jitter_s = np.clip(
            jitter_rng.normal(0.0, params.timing_jitter_s, size=index.shape[0]), -max_jitter_s, max_jitter_s
        )
        if first == 0:
            jitter_s[0] = 0.0
        t_s = index / true_rate_hz + jitter_s
        body_g = body(t_s) + noise_rng.normal(0.0, params.noise_g, size=(index.shape[0], 3)) + session.bias_g
        n_packets = -(-index.shape[0] // per_packet)
        dropped = drop_rng.random(n_packets) < params.drop_prob
        if first == 0:
            dropped[0] = False
        yield Chunk(
            first_sample=first,
            packet_samples=per_packet,
            t_s=t_s,
            acc_g=body_g @ session.mounting.T,
            dropped=dropped,
        )


def generate(
    script: Script,
    placement: Placement,
    seed: int,
    rate_hz: float = 50.0,
    params: MotionParams = _DEFAULT_PARAMS,
    *,
    mounting: NDArray[np.float64] | None = None,
) -> Recording:
    """Simulate a whole script in memory (see :func:`iter_chunks` for long scripts).

    Args:
        script: What the wearer does.
        placement: Where the sensor is worn.
        seed: Seed (>= 0); the same seed gives identical arrays.
        rate_hz: Nominal sample rate.
        params: Motion parameters.
        mounting: Rotation from the segment frame to the sensor axes, shape (3, 3), or
            None to draw one from the seed.

    Returns:
        The samples that arrive (dropped packets removed) and the ground truth.
    """
    times: list[NDArray[np.float64]] = []
    accs: list[NDArray[np.float64]] = []
    for chunk in iter_chunks(script, placement, seed, rate_hz, params, mounting=mounting):
        kept = chunk.kept()
        times.append(chunk.t_s[kept])
        accs.append(chunk.acc_g[kept])
    return Recording(
        t_s=np.concatenate(times),
        acc_g=np.concatenate(accs),
        truth=truth(script),
        placement=Placement(placement),
        rate_hz=rate_hz,
    )
