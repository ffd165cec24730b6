"""``python -m bench.saves``: the CPU cost of the worker's state saves and lease renewals per wearer.

The worker saves every wearer's live status once a second and its snapshot (with the
packets it includes counted, a new batch under its save token) every 10 s, for all its wearers in one
``Store.save_states`` transaction. This times that call for ``--wearers`` rows of each
kind on a fresh store (``--store``: a SQLite file in a temporary folder by default, or
a PostgreSQL URL), the least of ``--repeat`` runs, in CPU time of this process (a
PostgreSQL server's own work is not in it). It also times the renewal of the leases of
all those wearers (``Store.claim_leases``), which the worker makes every third of a
lease (docs/operations.md, *Several workers*).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.hotspots import best_cpu_s
from ingest.store import StateRow, Store
from ingest.tally import Tally, writer_id

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Print the CPU time per row of a status save, of a snapshot save and of a lease renewal."""
    parser = argparse.ArgumentParser(prog="python -m bench.saves", description=__doc__.splitlines()[0])
    parser.add_argument("--wearers", type=int, default=1000, help="rows per save")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the least is reported")
    parser.add_argument("--store", help="store URL (default: a SQLite file in a temporary folder)")
    args = parser.parse_args(argv)
    ids = [f"bench-{i:05d}" for i in range(args.wearers)]
    status = {"posture": "sitting", "t_s": 1.0, "sitting_s": 600.0, "alerts": 0, "placement": "thigh"}
    snapshot = {"seq": 10, "frames": list(range(200))}  # the size of a small analysis snapshot
    statuses = [StateRow(d, -1, None, status) for d in ids]
    snapshots = [StateRow(d, i, snapshot, status) for i, d in enumerate(ids)]
    counts = {(d, "packets"): 20 for d in ids}
    tally = Tally("worker", writer_id("bench"))
    with tempfile.TemporaryDirectory() as folder:
        url = args.store or f"sqlite:///{Path(folder) / 'saves.sqlite'}"
        with Store(url) as store:

            def save_snapshots() -> None:
                tally.hold(counts)  # a batch of its own each time, as the worker's saves
                store.save_states(snapshots, counts=tally)
                tally.written()

            store.save_states(snapshots)  # the rows exist, as in a running worker
            status_s = best_cpu_s(lambda: store.save_states(statuses), args.repeat)
            snapshot_s = best_cpu_s(save_snapshots, args.repeat)
            store.claim_leases("bench-worker", ids, 60.0)  # held already, as a worker's at each renewal
            lease_s = best_cpu_s(lambda: store.claim_leases("bench-worker", ids, 60.0), args.repeat)
    print(f"{args.wearers} wearers, {url.split(':', 1)[0]}, least of {args.repeat} runs:")
    print(f"  live statuses: {status_s * 1e3:.1f} ms CPU per save, {status_s * 1e6 / args.wearers:.1f} us per wearer")
    print(f"  snapshots with counts: {snapshot_s * 1e3:.1f} ms, {snapshot_s * 1e6 / args.wearers:.1f} us per wearer")
    print(f"  lease renewal: {lease_s * 1e3:.1f} ms, {lease_s * 1e6 / args.wearers:.1f} us per wearer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
