"""The cycle counter behind ``RepCounter("any", ...)``: periods, octaves, edges, streaming.

Synthetic frame means (0.1 s) of a movement along a direction or in a plane, with seeded
noise; the real sets are scored through ``RepCounter`` in ``test_reps.py``.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from analysis.cycles import Cycle, CycleCounter, RunEnd
from analysis.yin import yin_period

FRAME_S = 0.1


def movement(
    shape: NDArray[np.float64], n: int, period_s: float, still_s: float = 3.0, seed: int = 0
) -> NDArray[np.float64]:
    """``n`` cycles of ``shape`` (one cycle, 0 at rest) along one direction, still before and after, shape (m, 3)."""
    per = round(period_s / FRAME_S)
    phase = np.arange(per) / per
    one = np.interp(phase, np.linspace(0.0, 1.0, shape.size), shape)
    still = np.zeros(round(still_s / FRAME_S))
    move = np.concatenate([still, np.tile(one, n), still])
    rng = np.random.default_rng(seed)
    acc: NDArray[np.float64] = np.array([0.0, 0.0, 1.0]) + 0.4 * move[:, None] * np.array([0.6, 0.0, 0.8])
    return acc + rng.normal(0.0, 0.005, (move.size, 3))


def count(acc: NDArray[np.float64], cuts: list[int] | None = None) -> list[Cycle | RunEnd]:
    """Feed frame means in chunks split at ``cuts`` (one chunk by default), then flush."""
    t_s = (np.arange(acc.shape[0], dtype=np.float64) + 1.0) * FRAME_S
    counter = CycleCounter(FRAME_S)
    out: list[Cycle | RunEnd] = []
    for a, b in itertools.pairwise(sorted({0, acc.shape[0], *(cuts or [])})):
        out += counter.update(t_s[a:b], acc[a:b])
    return out + counter.flush()


def cycles_of(out: list[Cycle | RunEnd]) -> list[Cycle]:
    return [c for c in out if isinstance(c, Cycle)]


SMOOTH = 0.5 - 0.5 * np.cos(np.linspace(0.0, 2.0 * np.pi, 21))


@pytest.mark.parametrize("period_s", [1.0, 2.5, 5.0])
def test_each_cycle_of_a_steady_movement_counts_once(period_s: float) -> None:
    """Twelve cycles of 1, 2.5 or 5 s: twelve, each ending after it started, then the run's end."""
    out = count(movement(SMOOTH, 12, period_s))
    assert len(cycles_of(out)) == 12
    assert all(c.start_s < c.end_s for c in cycles_of(out))
    assert isinstance(out[-1], RunEnd)


def test_stillness_gives_no_cycles() -> None:
    """A minute of sensor noise alone."""
    assert count(movement(SMOOTH, 0, 1.0, still_s=30.0)) == []


def test_the_period_of_two_bumps_per_cycle_is_the_whole_cycle() -> None:
    """Out, a little back, out less far, back: YIN also dips at the bump spacing; the octave check takes the cycle."""
    shape = np.array([0.0, 1.0, 0.55, 0.8, 0.0, 0.0, 0.0, 0.0])
    x = np.tile(np.interp(np.arange(20) / 20, np.linspace(0, 1, shape.size), shape), 10)
    assert yin_period(x - x.mean(), 4, 80)[0] == 20
    assert len(cycles_of(count(movement(shape, 12, 2.0)))) == 12


def test_every_other_cycle_a_little_shallower_counts_each_cycle() -> None:
    """Alternating depths (100%, 75%): the period may come out as the pair, but each cycle counts.

    The run's median interval between counts caps the period of the refractory time.
    """
    one = np.sin(np.linspace(0.0, np.pi, 20)) ** 2
    assert len(cycles_of(count(movement(np.concatenate([one, 0.75 * one]), 8, 5.0)))) == 16


def test_a_circling_movement_counts_each_turn() -> None:
    """A hand circling (a pendulum exercise) moves in a plane with no one best axis: one count per turn."""
    rng = np.random.default_rng(3)
    t = np.arange(round(30.0 / FRAME_S)) * FRAME_S
    phase = 2.0 * np.pi * t / 1.5  # 20 turns of 1.5 s
    tilt = 0.2 * np.sin(2.0 * np.pi * t / 13.0)  # the circle's plane and shape wander
    acc = np.stack([0.3 * np.cos(phase), (0.3 + tilt) * np.sin(phase), np.ones_like(t)], axis=1)
    acc += rng.normal(0.0, 0.01, acc.shape)
    assert abs(len(cycles_of(count(acc))) - 20) <= 1  # the stream starts and ends mid-turn


def test_a_pause_between_cycles_adds_none() -> None:
    """Six cycles, a still pause of five periods, six cycles: twelve (a pause hides no cycles)."""
    first, second = movement(SMOOTH, 6, 2.0, still_s=0.0), movement(SMOOTH, 6, 2.0, still_s=0.0, seed=1)
    still = np.tile(first[:1], (round(10.0 / FRAME_S), 1))
    acc = np.concatenate([still[:30], first, still[:50], second, still[:30]])
    assert len(cycles_of(count(acc))) == 12


@pytest.mark.parametrize(("cut", "counted"), [(0.15, 10), (0.6, 11)])
def test_a_stream_ending_mid_cycle_counts_it_when_well_under_way(cut: float, counted: int) -> None:
    """A recording cut 15% into a cycle leaves it out, one cut 60% into it counts it."""
    acc = movement(SMOOTH, 11, 2.0)
    end = 30 + round((10 + cut) * 20)  # 3 s still, then ten whole 2-s cycles and a part
    assert len(cycles_of(count(acc[:end]))) == counted


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 700), max_size=12))
def test_chunked_input_gives_the_cycles_of_one_chunk(cuts: list[int]) -> None:
    """Any chunking gives exactly the cycles and run ends of one chunk."""
    acc = np.concatenate([movement(SMOOTH, 8, 2.0), movement(SMOOTH, 10, 1.5, seed=1)[: -round(2.2 / FRAME_S)]])
    whole = count(acc)
    assert cycles_of(whole)
    assert count(acc, cuts) == whole


def test_a_restored_counter_carries_on() -> None:
    """Snapshot through JSON mid-run, load into a new counter, feed the rest: the same output."""
    acc = movement(SMOOTH, 10, 2.0)
    t_s = (np.arange(acc.shape[0], dtype=np.float64) + 1.0) * FRAME_S
    whole = count(acc)
    first = CycleCounter(FRAME_S)
    out = first.update(t_s[:140], acc[:140])
    second = CycleCounter(FRAME_S)
    second.load(json.loads(json.dumps(first.snapshot(), allow_nan=False)))
    assert out + second.update(t_s[140:], acc[140:]) + second.flush() == whole
    assert len(first.snapshot()["buf"]) <= round(20.0 / FRAME_S) + 3


def test_a_foreign_state_is_refused() -> None:
    with pytest.raises(ValueError, match="not a cycle counter's state"):
        CycleCounter(FRAME_S).load({"buf": []})
