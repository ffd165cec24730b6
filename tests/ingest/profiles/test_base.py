"""The profile interface's values (ingest.profiles.base)."""

from __future__ import annotations

import math

import pytest

from ingest.profiles.base import Write


def test_a_write_pauses_for_nothing_unless_asked() -> None:
    """By default the gateway goes straight on to the next write."""
    assert Write("0000ffe9-0000-1000-8000-00805f9a34fb", b"\x00").pause_s == 0.0


@pytest.mark.parametrize("pause_s", [-0.1, math.nan, math.inf])
def test_a_write_refuses_a_pause_that_is_not_finite_and_non_negative(pause_s: float) -> None:
    """A negative or non-finite pause is a programmer error in a profile."""
    with pytest.raises(ValueError, match="pause_s"):
        Write("0000ffe9-0000-1000-8000-00805f9a34fb", b"\x00", pause_s=pause_s)
