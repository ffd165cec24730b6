"""``python -m bench.saves``: the CPU cost of the worker's state saves and lease renewals per wearer.

The worker saves every wearer's live status once a second and its snapshot (with the
packets it includes counted, a new batch under its save token) every 10 s, for all its wearers in one
``Store.save_states`` transaction. The statuses and snapshots are those of real analysers
(with the recogniser, as the worker builds them) fed ``--minutes`` of 20 simulated
wearers playing ``all_postures`` (``bench.worker.packet_streams``), shared round-robin.
This times building them (``Analyzer.status``, ``Analyzer.snapshot``) and the store's
call for ``--wearers`` rows of each kind on a fresh store (``--store``: a SQLite file in
a temporary folder by default, or a PostgreSQL URL), the least of ``--repeat`` runs, in CPU time of this process (a
PostgreSQL server's own work is not in it). It also times the renewal of the leases of
all those wearers (``Store.claim_leases``), which the worker makes every third of a
lease (docs/operations.md, *Several workers*).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from analysis import AnalysisSettings, Analyzer, Placement
from analysis.sets import recognition_detectors
from bench.hotspots import best_cpu_s
from bench.worker import PACKETS_PER_S, packet_streams
from ingest.codec import decode
from ingest.store import StateRow, Store
from ingest.tally import Tally, writer_id

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Print the CPU time per row of a status save, of a snapshot save and of a lease renewal."""
    parser = argparse.ArgumentParser(prog="python -m bench.saves", description=__doc__.splitlines()[0])
    parser.add_argument("--wearers", type=int, default=1000, help="rows per save")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the least is reported")
    parser.add_argument("--store", help="store URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--minutes", type=float, default=2.0, help="analysis before the states are taken")
    args = parser.parse_args(argv)
    ids = [f"bench-{i:05d}" for i in range(args.wearers)]
    analyzers = _analysed(20, args.minutes)
    mine = [analyzers[i % len(analyzers)] for i in range(args.wearers)]
    status_build_s = best_cpu_s(lambda: [a.status().to_dict() for a in mine], args.repeat)
    snapshot_build_s = best_cpu_s(lambda: [a.snapshot() for a in mine], args.repeat)
    statuses = [StateRow(d, -1, None, a.status().to_dict()) for d, a in zip(ids, mine, strict=True)]
    snapshots = [
        StateRow(d, i, a.snapshot(), a.status().to_dict()) for i, (d, a) in enumerate(zip(ids, mine, strict=True))
    ]
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
    size = sum(len(json.dumps(r.snapshot)) for r in snapshots) / len(snapshots)
    per = 1e6 / args.wearers
    print(f"{args.wearers} wearers, {url.split(':', 1)[0]}, least of {args.repeat} runs (snapshots of {size:,.0f} B):")
    print(f"  live statuses: built {status_build_s * per:.1f} us, saved {status_s * 1e3:.1f} ms CPU per save,")
    print(f"    {status_s * per:.1f} us per wearer")
    print(
        f"  snapshots: built {snapshot_build_s * per:.1f} us per wearer; saved with counts {snapshot_s * 1e3:.1f} ms,"
    )
    print(f"    {snapshot_s * per:.1f} us per wearer")
    print(f"  lease renewal: {lease_s * 1e3:.1f} ms, {lease_s * 1e6 / args.wearers:.1f} us per wearer")
    return 0


def _analysed(streams: int, minutes: float) -> list[Analyzer]:
    """Analysers with the recogniser, each fed ``minutes`` of its own simulated wearer."""
    settings = AnalysisSettings(Placement.THIGH)
    packets = max(1, round(minutes * 60 * PACKETS_PER_S))
    analyzers = []
    for payloads in packet_streams(streams, packets):
        analyzer = Analyzer(settings, recognition_detectors(settings.placement, settings.tuning.frame_s))
        for batch in map(decode, payloads):
            analyzer.update(batch.times_s(), batch.acc_g())
        analyzers.append(analyzer)
    return analyzers


if __name__ == "__main__":
    sys.exit(main())
