"""The ``sitless`` command: one entry point whose subcommands run each service.

Each subcommand lives in the module that owns it and registers itself through a
``register(subparsers)`` function that sets ``func`` on its parser; ``func(args)``
returns the exit status. Modules are imported here only, and only the one of the
subcommand given (all for ``sitless --help``), so a subcommand imports ``firmware_sim``,
``dashboard`` or the store's database layer only when it needs them.
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

# Each subcommand and the module that registers it, in the order --help lists them.
_COMMANDS = {
    "demo": "ingest.demo",
    "broker": "ingest.broker.cmd",
    "sim": "firmware_sim.cli",
    "recorder": "ingest.recorder",
    "worker": "ingest.worker.cmd",
    "gateway": "ingest.gateway.cmd",
    "dashboard": "ingest.dashboard_cmd",
    "calibrate": "ingest.actions",
    "session": "ingest.session_cmd",
    "report": "ingest.report_cmd",
    "export": "ingest.data_cmd",
    "delete": "ingest.data_cmd",
    "prune": "ingest.data_cmd",
    "store-copy": "ingest.data_cmd",
    "analyze": "ingest.analyze_cmd",
}


def version() -> str:
    """The installed sitless version (the ``sitless`` distribution), or ``unknown`` when it is not installed."""
    try:
        return importlib.metadata.version("sitless")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _modules(argv: Sequence[str] | None) -> list[str]:
    """The modules whose subcommands the parser needs: the one named in ``argv``, else all.

    A command imports only its own module, so that ``sitless analyze`` does not load the
    store's database layer, nor ``sitless sim`` the analysis, before it starts.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    named = next((a for a in args if not a.startswith("-")), None)
    if named in _COMMANDS:
        return [_COMMANDS[named]]
    return list(dict.fromkeys(_COMMANDS.values()))


def _build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitless",
        description="Wearable posture and activity monitor: prolonged-sitting alerts and back exercises.",
    )
    parser.add_argument("--version", action="version", version=f"sitless {version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _modules(argv):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sitless`` command line and return its exit status."""
    args = _build_parser(argv).parse_args(argv)
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
