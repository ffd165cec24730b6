"""The ``sitless`` command: one entry point whose subcommands run each service.

Each subcommand lives in the module that owns it and registers itself through a
``register(subparsers)`` function that sets ``func`` on its parser; ``func(args)``
returns the exit status. Modules are imported here only, so ``sitless --help`` stays
quick and a subcommand imports ``firmware_sim`` or ``dashboard`` only when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Sequence
from typing import cast

from ingest.errors import IngestError

__all__ = ["main", "version"]

# Modules that register subcommands, in the order --help lists them.
_COMMAND_MODULES = (
    "ingest.demo",
    "ingest.broker.cmd",
    "firmware_sim.cli",
    "ingest.recorder",
    "ingest.worker.cmd",
    "ingest.gateway.cmd",
    "ingest.dashboard_cmd",
    "ingest.actions",
    "ingest.session_cmd",
    "ingest.report_cmd",
    "ingest.data_cmd",
    "ingest.analyze_cmd",
)


def version() -> str:
    """The installed sitless version (the ``sitless`` distribution), or ``unknown`` when it is not installed."""
    try:
        return importlib.metadata.version("sitless")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitless",
        description="Wearable posture and activity monitor: prolonged-sitting alerts and back exercises.",
    )
    parser.add_argument("--version", action="version", version=f"sitless {version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sitless`` command line and return its exit status."""
    args = _build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    func = cast(Callable[[argparse.Namespace], int], args.func)
    try:
        return func(args)
    except (IngestError, ConnectionError) as err:  # a bad --store or --broker, an absent broker: one line
        print(f"sitless {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
