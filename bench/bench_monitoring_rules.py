"""How often the decommission rules fire on unchanged synthetic inputs, and how fast on a planted change.

Runs the monitoring pass over 24 monitored months of the synthetic inputs used by the tests
(tests/monitoring/monitoring_inputs.py: a calibrated model on a stable population, monthly
events, a promise measured as the release does) for several seeds per scenario, and prints
the share of seeds in which each rule fired and the first firing month relative to the
planted change. Not a test: sizes and seeds are chosen to be informative, not fast.

    python -m bench.bench_monitoring_rules --seeds 20 --families 11000 --capacity 870
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "monitoring"))

from monitoring_inputs import Scenario, build

from safeguard.models.fairness_gate import FairnessGate
from safeguard.monitoring import MonitoringSettings, monitor

SCENARIOS = (None, "recording_halves", "outcome_shift", "group_missed")


def _months_between(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--families", type=int, default=5000)
    parser.add_argument("--capacity", type=int, default=400)
    parser.add_argument("--n-boot", type=int, default=100)
    args = parser.parse_args()
    rows = []
    for change in SCENARIOS:
        for seed in range(args.seeds):
            started = time.perf_counter()
            inputs, facts = build(Scenario(families=args.families, capacity=args.capacity,
                                           change=change, seed=seed))  # fmt: skip
            report = monitor(
                inputs, MonitoringSettings(n_boot=args.n_boot), FairnessGate()
            ).triggers
            row = {"scenario": change or "unchanged", "seed": seed,
                   "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
            for rule in report.enabled:
                first = min(
                    (f.as_of_date for f in report.firings if f.trigger == rule), default=None
                )
                if first is None:
                    row[rule] = ""
                elif facts["change_month"] is None:
                    row[rule] = f"fired {first:%Y-%m}"
                else:
                    row[rule] = f"{_months_between(facts['change_month'], first):+d}"
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    rules = [c for c in table.columns if c not in ("scenario", "seed", "seconds")]
    summary = table.groupby("scenario")[rules].agg(lambda s: f"{(s != '').mean():.0%}")
    print(
        "\nshare of seeds in which each rule fired (months relative to the change in the rows above)"
    )
    print(summary.to_string())


if __name__ == "__main__":
    main()
