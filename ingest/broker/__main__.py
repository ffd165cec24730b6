"""``python -m ingest.broker --host H --port P``: how :class:`ingest.broker.BrokerProcess` runs amqtt.

amqtt runs in this process (:func:`ingest.broker.amqtt_engine.serve`) until SIGINT or
SIGTERM, with ``--logins`` enforced and TLS with ``--tls-cert``, ``--tls-key`` and
``--tls-ca``. A failed start (its port taken, its certificate unreadable) is said once,
on one line, and exits with status 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ingest.broker.amqtt_engine import serve
from ingest.broker.cmd import tls_files
from ingest.mqtt import DEFAULT_PORT, BrokerAddress

if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m ingest.broker", description="run amqtt in this process")
    _parser.add_argument("--host", default="127.0.0.1")
    _parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    _parser.add_argument("--logins", type=Path, help="the Logins folder to enforce (default: anyone gets in)")
    _parser.add_argument("--tls-cert", type=Path, help="speak TLS with this certificate (with --tls-key, --tls-ca)")
    _parser.add_argument("--tls-key", type=Path)
    _parser.add_argument("--tls-ca", type=Path)
    _args = _parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from amqtt.errors import BrokerError

    try:
        serve(BrokerAddress(_args.host, _args.port), _args.logins, tls_files(_args))
    except (BrokerError, OSError) as _err:  # its port taken, its certificate unreadable: said once, on one line
        print(f"amqtt: {_err}", file=sys.stderr)
        sys.exit(1)
