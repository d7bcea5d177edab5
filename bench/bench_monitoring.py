"""Monitoring on a generated estate: the 24-month backfill, realised against promised, true harm.

Generates an estate (default: the default estate, 100,000 people, seed 7), runs the pipeline
with the demonstration configuration, backfills the approved model's scores over the last
``--months`` as-of months, runs monitoring, and prints the monthly realised-versus-promised
figures, the estimate before outcomes, the true-harm validation (model card and monthly) and
the decommission decision. ``--plant police-halves:YYYY-MM-DD`` first thins police records dated
on or after that day to half in the newest drop (a planted change in recording).

    python -m bench.bench_monitoring --out /tmp/bench-monitoring            # the default estate
    python -m bench.bench_monitoring --people 20000 --plant police-halves:2026-03-01
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console

from safeguard.contracts.council import demo_config_path, load_config
from safeguard.pipelines.monitoring_run import run_monitoring
from safeguard.pipelines.runner import run_pipeline
from safeguard.synth import EstateConfig, generate_estate


def plant_police_halves(landing: Path, day: str, seed: int = 0) -> int:
    """Drop half of the newest drop's police rows dated on or after ``day``; rows removed."""
    newest = sorted(p for p in landing.iterdir() if p.is_dir())[-1]
    path = newest / "police.csv"
    police = pd.read_csv(path, dtype=str, keep_default_na=False)
    dates = pd.to_datetime(police["incident_date"], errors="coerce")
    after = (dates >= pd.Timestamp(day)).to_numpy()
    drop = after & (np.random.default_rng(seed).random(len(police)) < 0.5)
    police.loc[~drop].to_csv(path, index=False)
    return int(drop.sum())


def _table(data_dir: Path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f'SELECT * FROM "{name}"').df()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-monitoring"))
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--plant", default=None, help="police-halves:YYYY-MM-DD")
    parser.add_argument("--reuse", action="store_true", help="skip generation and the pipeline run")
    args = parser.parse_args()
    console = Console()
    landing, truth, data = args.out / "landing", args.out / "truth", args.out / "data"
    config_path = args.config or demo_config_path()
    council = load_config(config_path)
    timings = {}
    if not args.reuse:
        started = time.perf_counter()
        generate_estate(
            EstateConfig(people=args.people, seed=args.seed), out=landing, truth_out=truth
        )
        timings["generate_s"] = time.perf_counter() - started
        if args.plant:
            kind, day = args.plant.split(":")
            assert kind == "police-halves", kind
            console.print(
                f"planted: {plant_police_halves(landing, day)} police rows removed from {day}"
            )
        started = time.perf_counter()
        outcome = run_pipeline(landing=landing, data_dir=data, truth_dir=truth, council=council,
                               council_source=str(config_path), console=console)  # fmt: skip
        timings["pipeline_s"] = time.perf_counter() - started
        outcome.print_summary(console)
    started = time.perf_counter()
    monitored = run_monitoring(data_dir=data, months=args.months, truth_dir=truth, council=council,
                               council_source=str(config_path), console=console)  # fmt: skip
    timings["monitoring_s"] = time.perf_counter() - started
    performance = _table(data, "monitoring_performance")
    pd.set_option("display.width", 200)
    wide = performance.pivot_table(index="as_of_date", columns=["kind", "metric"], values="value")
    real = performance.loc[(performance["kind"] == "realised")]
    cols = ["as_of_date", "metric", "value", "lower", "upper", "promised", "promised_lower",
            "promised_upper", "status", "k", "n_outcomes"]  # fmt: skip
    console.rule("realised against promised (complete months)")
    print(real.loc[real["metric"].isin(["precision_at_capacity", "recall_at_capacity",
                                        "observed_over_expected"]), cols].to_string(index=False))  # fmt: skip
    console.rule("true harm, monthly (realised)")
    print(real.loc[real["metric"].str.contains("harm|auc_roc|recall_at"), ["as_of_date", "metric", "value", "lower",
                                                                          "upper"]].to_string(index=False))  # fmt: skip
    console.rule("estimated before outcomes (CBPE), every month")
    print(wide.get("estimated", pd.DataFrame()).round(4).to_string())
    console.rule("model card: true-harm validation")
    evaluation = _table(data, "model_evaluation")
    print(evaluation.loc[evaluation["metric"].str.startswith("true_harm")].to_string(index=False))
    console.rule("decision")
    print(monitored.reasons)
    drift = _table(data, "monitoring_drift")
    print(drift.loc[drift["severity"] == "severe", ["as_of_date", "kind", "name", "value", "reference",
                                                   "drift"]].to_string(index=False))  # fmt: skip
    print(json.dumps({k: round(v, 1) for k, v in timings.items()}))


if __name__ == "__main__":
    main()
