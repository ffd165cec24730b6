"""BLE sensor profiles of the gateway: one small module per sensor family (``ingest.profiles.base``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ingest.profiles import microbit, polar, sitless, thingy52, witmotion
from ingest.profiles.base import Decoder, Profile, Samples, Write, nearest_rate

__all__ = ["PROFILES", "Decoder", "Profile", "Samples", "Write", "identify", "nearest_rate"]

#: Every profile by name, in the order :func:`identify` tries them (WitMotion's serial
#: service, ``ffe5``, is common to other serial-over-BLE modules: it comes last).
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {p.name: p for p in (sitless.PROFILE, polar.PROFILE, thingy52.PROFILE, microbit.PROFILE, witmotion.PROFILE)}
)


def identify(local_name: str | None, service_uuids: Sequence[str]) -> Profile | None:
    """The profile of a sensor from its advertised name and services (or its GATT services), if any.

    The profile is that of the model the name shows (``Profile.for_name``).

    >>> identify(None, ["48F03676-ACB9-421A-8DAD-D029BA2CD92C"]).name
    'sitless'
    >>> identify("Some speaker", []) is None
    True
    """
    found = next((p for p in PROFILES.values() if p.matches(local_name, service_uuids)), None)
    return None if found is None else found.for_name(local_name)
