"""The simulated office morning per placement: sitting time and alerts against the script.

``python -m bench.morning`` simulates ``firmware_sim``'s ``office_morning`` (3.5 h:
sitting bouts over 30 minutes with fidgets, desk standing, walks, a stretch break and
a meeting) for every placement with the random mounting of each seed, analyses it
with ``analysis.analyze`` and compares it with the script's truth: sitting time, and
the sit-too-long alerts against those the truth calls for (``bench.days.truth_alerts``,
matched within ``bench.days.ALERT_TOLERANCE_S``).

    python -m bench.morning --seeds 2
"""

from __future__ import annotations

import argparse
import sys

from analysis import AnalysisSettings, Placement, Posture, analyze
from bench.days import match_alerts, truth_alerts
from bench.report import markdown_table
from firmware_sim import generate, scenario, truth

__all__ = ["main", "morning_row"]

MIN = 60.0


def morning_row(placement: Placement, seed: int) -> list[str]:
    """One table row: sitting error, first alert and alerts matched for one placement and seed."""
    script = scenario("office_morning")
    rec = generate(script, placement, seed=seed)
    result = analyze(rec.t_s, rec.acc_g, AnalysisSettings(placement))
    true_sitting = sum(s.end_s - s.start_s for s in truth(script) if s.posture is Posture.SITTING)
    sitting = float(result.summary()["sitting_s"])
    expected = truth_alerts(script)
    found = [a.t_s - result.t0_s for a in result.alerts]
    matched, _ = match_alerts(found, expected)
    if placement is Placement.WRIST:
        error = "reports " + " / ".join(result.detects)
    else:
        error = f"{sitting / true_sitting - 1:+.1%}"
    first = f"{found[0] / MIN:.1f} min" if found else "none"
    return [
        str(placement),
        str(seed),
        error,
        f"{first} ({expected[0] / MIN:.1f})",
        f"{matched} ({len(expected)})",
        str(len(found) - matched),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the table for seeds 1..N."""
    parser = argparse.ArgumentParser(prog="python -m bench.morning", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="mountings per placement (seeds 1..N)")
    args = parser.parse_args(argv)
    header = "placement | seed | sitting time vs truth | first alert (truth) | alerts matched (truth) | false"
    rows = [morning_row(p, seed) for p in Placement for seed in range(1, args.seeds + 1)]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
