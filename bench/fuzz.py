"""Coverage-guided fuzzing of the packet codec and the BLE profile decoders (opt in; docs/sensors.md).

Run as ``python -m bench.fuzz TARGET --seconds N``, TARGET ``codec`` or a profile's name
(``sitless``, ``polar``, ...). It needs atheris (``pip install atheris``), which is not
a dependency: the Hypothesis fuzz tests in ``tests/`` are what every test run does.
Where the Hypothesis tests draw inputs from strategies, atheris mutates bytes guided by
the branches they reach, for as long as it is given.

A target fails on any exception but the documented one (``PacketError``, ``ProfileError``)
and on a decoded value that breaks the contract: a batch that does not re-encode to its
bytes, samples that are not finite. libFuzzer then writes the input to
``crash-<sha1>`` (``--artifacts`` sets the folder) and exits 1; ``python -m bench.fuzz
TARGET --seconds 0 crash-<sha1>`` runs that one input again.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ingest.codec import decode, encode
from ingest.errors import PacketError, ProfileError
from ingest.profiles import PROFILES, Samples

__all__ = ["check_codec", "check_profile", "main"]

#: Longest input tried, bytes: more than a BLE notification, a few packets' headers.
MAX_LEN = 600


def check_codec(data: bytes) -> None:
    """Decode ``data``: PacketError, or a finite batch that encodes back to ``data``.

    >>> check_codec(b"\\x01")  # too short: PacketError, which is fine
    """
    try:
        batch = decode(data)
    except PacketError:
        return
    if encode(batch) != data:
        raise AssertionError(f"decoded batch re-encodes to other bytes: {data.hex()}")
    if not (np.all(np.isfinite(batch.acc_g())) and np.all(np.isfinite(batch.times_s()))):
        raise AssertionError(f"decoded batch is not finite: {data.hex()}")


def _check_samples(samples: Samples, data: bytes) -> None:
    arrays = [a for a in (samples.acc_g, samples.gyro_dps, samples.t_s) if a is not None]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise AssertionError(f"samples are not finite: {data.hex()}")


def check_profile(name: str) -> Callable[[bytes], None]:
    """The target of one profile: a fresh decoder fed the input as up to four notifications.

    The first byte chooses the stream's rate and where the input is cut, so that
    stateful decoders (time stamps, partial packets, sequence numbers) see sequences.
    The profile's control-point answers, where it takes them, are fed the same way.

    >>> check_profile("microbit")(bytes([0, 0xE8, 0x03, 0, 0, 0x18, 0xFC]))
    """
    profile = PROFILES[name]

    def check(data: bytes) -> None:
        if not data:
            return
        control, body = data[0], data[1:]
        decoder = profile.decoder(profile.rates_hz[control % len(profile.rates_hz)])
        pieces = (control >> 4) % 4 + 1
        size = -(-len(body) // pieces) if body else 0
        for k in range(pieces):
            piece = body[k * size : (k + 1) * size]
            try:
                if profile.indicate_uuids and control >> (k + 2) & 1:
                    decoder.reply(piece)
                else:
                    _check_samples(decoder.decode(piece), data)
            except ProfileError:
                continue

    return check


def _ingest_functions() -> Iterator[Any]:
    """Every function and method defined in a loaded ``ingest`` module: what atheris instruments.

    Instrumenting only these, not numpy and the rest (``atheris.instrument_all``), takes
    a second rather than a minute.
    """
    modules = [m for name, m in list(sys.modules.items()) if name == "ingest" or name.startswith("ingest.")]
    for module in modules:
        for obj in vars(module).values():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield obj
            elif inspect.isclass(obj):
                yield from (f for f in vars(obj).values() if inspect.isfunction(f))


def _targets() -> dict[str, Callable[[bytes], None]]:
    return {"codec": check_codec, **{name: check_profile(name) for name in PROFILES}}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(_targets()), help="what to fuzz")
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz (0: run the given inputs once)")
    parser.add_argument("--artifacts", type=Path, default=Path(), help="folder for crash-* inputs")
    parser.add_argument("inputs", nargs="*", help="corpus folders to start from, or inputs to run again")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Fuzz one target under atheris for ``--seconds``; libFuzzer exits the process when done."""
    args = _parser().parse_args(argv)
    try:
        import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]  # optional
    except ImportError:
        print("bench.fuzz needs atheris: pip install atheris", file=sys.stderr)
        return 2
    target = _targets()[args.target]
    for function in _ingest_functions():
        atheris.instrument_func(function)
    flags = [f"-max_len={MAX_LEN}", f"-artifact_prefix={args.artifacts}/"]
    if args.seconds > 0:
        flags.append(f"-max_total_time={args.seconds}")
    elif not args.inputs:
        flags.append("-runs=0")
    atheris.Setup([sys.argv[0], *flags, *args.inputs], target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
