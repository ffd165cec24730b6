"""BLE sensor profiles of the gateway: one small module per sensor family (``ingest.profiles.base``)."""

from __future__ import annotations

from ingest.profiles.base import Decoder, Profile, Samples, Write, nearest_rate

__all__ = ["Decoder", "Profile", "Samples", "Write", "nearest_rate"]
