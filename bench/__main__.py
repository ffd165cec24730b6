"""``python -m bench``: run the benchmarks and print (or write) the tables.

- ``python -m bench`` runs everything: ``sitless analyze`` on 1 and 7 days, then the
  worker's cost per wearer. ``--doc docs/performance.md`` also writes the tables there.
- ``python -m bench analyze --days 7`` runs one recording size.
- ``python -m bench worker --wearers 1000 --minutes 1`` runs the per-wearer benchmarks;
  ``--store postgresql://USER@HOST/DB`` also times the whole worker path on that store.
- ``python -m bench failover --wearers 8 --lease-s 10 --runs 3`` kills one of two workers
  sharing a fleet and times how fast its devices move (``bench/failover.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.analyze import AnalyzeResult, bench_analyze
from bench.report import analyze_table, machine, update_doc, worker_table
from bench.worker import WorkerResult, bench_analyzer, bench_worker
from ingest.worker.settings import SUBSCRIBE_MODES

__all__ = ["main"]


def _say(text: str) -> None:
    print(text, flush=True)


def _analyze(days: list[int], repeat: int) -> list[AnalyzeResult]:
    results = []
    for n in days:
        _say(f"sitless analyze on {n} day(s) at 50 Hz, {repeat} runs each (the first run generates the file)...")
        results.append(bench_analyze(n, repeat))
    return results


def _worker(wearers: int, minutes: float, repeat: int, store_url: str | None = None) -> list[WorkerResult]:
    _say(f"per-wearer cost: {wearers} wearers x {minutes:g} min, {repeat} repetitions...")
    results = [
        bench_analyzer(wearers, minutes, repeat),
        bench_worker(wearers, minutes, repeat, periodic_saves=True),
        bench_worker(wearers, minutes, repeat, periodic_saves=False),
    ]
    if store_url is not None:
        results += [
            bench_worker(wearers, minutes, repeat, periodic_saves=True, store_url=store_url),
            bench_worker(wearers, minutes, repeat, periodic_saves=False, store_url=store_url),
        ]
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="sitless benchmarks (run on demand)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument("--doc", type=Path, help="also write the tables into this file's generated block")
    sub = parser.add_subparsers(dest="what")
    analyze = sub.add_parser("analyze", help="sitless analyze against the bare parse")
    analyze.add_argument("--days", type=int, nargs="+", default=[1, 7], help="recording sizes in days")
    worker = sub.add_parser("worker", help="the live worker's cost per wearer")
    worker.add_argument("--wearers", type=int, default=1000)
    worker.add_argument("--minutes", type=float, default=1.0, help="minutes of data per wearer")
    worker.add_argument(
        "--store", metavar="URL", help="also time the worker on this store (postgresql://USER@HOST/DB; PGPASSWORD)"
    )
    failover = sub.add_parser("failover", help="two workers share a fleet; one is killed")
    failover.add_argument("--wearers", type=int, default=8)
    failover.add_argument("--lease-s", type=float, default=10.0, help="the workers' --lease-s")
    failover.add_argument("--speed", type=float, default=10.0, help="device seconds per wall-clock second")
    failover.add_argument("--runs", type=int, default=3)
    failover.add_argument("--subscribe", choices=SUBSCRIBE_MODES, default="all", help="the workers' --subscribe")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named on the command line (all by default)."""
    args = _parser().parse_args(argv)
    header = machine()
    _say(header)
    if args.what == "failover":  # on demand only: it takes a minute per run
        from bench.failover import main as failover

        _say(failover(args.wearers, args.lease_s, args.speed, args.runs, args.subscribe))
        return 0
    parts = [f"Measured {header}."]
    if args.what in (None, "analyze"):
        days = args.days if args.what == "analyze" else [1, 7]
        table = analyze_table(_analyze(days, args.repeat))
        _say(table)
        parts.append(table)
    if args.what in (None, "worker"):
        wearers = args.wearers if args.what == "worker" else 1000
        minutes = args.minutes if args.what == "worker" else 1.0
        store_url = args.store if args.what == "worker" else None
        table = worker_table(_worker(wearers, minutes, args.repeat, store_url))
        _say(table)
        parts.append(table)
    if args.doc is not None:
        update_doc(args.doc, "\n\n".join(parts))
        _say(f"wrote the tables into {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
