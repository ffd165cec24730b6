"""The period of a signal from YIN, with two octave checks.

YIN's cumulative mean normalised difference (de Cheveigné & Kawahara 2002, J Acoust
Soc Am 111(4):1917-1930, doi:10.1121/1.1458024) dips at the lags where the signal
repeats. :func:`yin_period` takes the *first* good dip, not the deepest, which guards
against the sub-harmonic (every other repetition a little shallower); then the dip near
twice that lag instead where it is clearly deeper (a repetition with two bumps, whose
half period YIN also finds), again and again. ``CycleCounter`` (``analysis.cycles``)
reads the period of a repetitive movement so; ``docs/reps.md`` has the measured figures.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["cmndf", "yin_period"]

_DIP_TOLERANCE = 0.15  # a dip this much above the deepest is still a candidate period
_DIP_ABSOLUTE = 0.25  # YIN: the first dip under this is the period
# The octave rule: chosen on the spar_wrist development sets, checked leaving each subject
# out (``docs/reps.md``, ``python -m bench.reps --misses``).
_OCTAVE_GAIN = 0.05  # a dip near twice the lag this much deeper is the period (a rep with two bumps)


def cmndf(x: NDArray[np.float64], max_lag: int) -> NDArray[np.float64]:
    """YIN's cumulative mean normalised difference of ``x`` for lags 1..max_lag.

    Args:
        x: The signal, shape (n,), n > max_lag.
        max_lag: The longest lag, samples.

    Returns:
        The normalised difference at lags 1..max_lag, shape (max_lag,).

    >>> x = np.sin(2 * np.pi * np.arange(100) / 10)
    >>> int(np.argmin(cmndf(x, 30)[:15])) + 1
    10
    """
    n = x.shape[0]
    r = np.correlate(x, x, mode="full")[n - 1 : n + max_lag]
    energy = np.cumsum(x * x)
    lags = np.arange(1, max_lag + 1)
    head = energy[n - 1 - lags]  # sum of x[i]^2, i < n - lag
    tail = energy[n - 1] - energy[lags - 1]  # sum of x[i]^2, i >= lag
    d = np.maximum(head + tail - 2.0 * r[1:], 0.0)
    mean = np.cumsum(d) / lags
    out: NDArray[np.float64] = np.where(mean > 0, d / np.where(mean > 0, mean, 1.0), 1.0)
    return out


def yin_period(x: NDArray[np.float64], min_lag: int, max_lag: int) -> tuple[int, float]:
    """The period of ``x`` in samples and its normalised difference (YIN with octave checks).

    The first dip under 0.25, or else the first within 0.15 of the deepest; then the
    deepest dip within 10% of twice that lag instead, while it is at least 0.05 deeper
    (module docstring).

    Args:
        x: The signal, shape (n,).
        min_lag: Shortest period, samples.
        max_lag: Longest period, samples (at most n / 2 is looked at).

    Returns:
        ``(period, dip)``, or ``(0, 1.0)`` when there is no dip.

    A repetition of 8 samples with two bumps gives the whole repetition:

    >>> two_bumps = np.tile([0.0, 1.0, 0.3, 0.9, 0.0, 0.0, 0.0, 0.0], 12)
    >>> yin_period(two_bumps - two_bumps.mean(), 2, 40)[0]
    8
    """
    max_lag = min(max_lag, x.shape[0] // 2)
    if max_lag < min_lag + 2:
        return 0, 1.0
    cm = cmndf(x, max_lag)
    mid = cm[1:-1]
    lags = np.arange(2, max_lag)
    dips = (mid < cm[:-2]) & (mid <= cm[2:]) & (lags >= min_lag)
    if not dips.any():
        return 0, 1.0
    cand, vals = lags[dips], mid[dips]
    # The first dip nearly as deep as the deepest: a multiple of the period dips as deep.
    i = int(np.flatnonzero((vals < _DIP_ABSOLUTE) | (vals <= float(vals.min()) + _DIP_TOLERANCE))[0])
    lag, dip = int(cand[i]), float(vals[i])
    later = list(zip(vals[i + 1 :].tolist(), cand[i + 1 :].tolist(), strict=True))
    while True:  # the sub-harmonic: twice the lag, where clearly more alike, is the period
        near = [(v, c) for v, c in later if 1.8 * lag <= c <= 2.2 * lag]
        if not near or min(near)[0] >= dip - _OCTAVE_GAIN:
            return lag, dip
        dip, lag = min(near)
