"""`safeguard monitor`: backfill the approved model's past runs, then judge them.

Scores the last N as-of months with the approved model (``family_scores_history``, one
partition per month), materialises the monitoring assets and their blocking decommission
check, and rebuilds the reviewers' reports, all in the data directory's Dagster instance so the
runs are visible in ``safeguard dev``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from rich.console import Console

from safeguard.contracts.council import CouncilConfig
from safeguard.contracts.layout import DataDir
from safeguard.pipelines.definitions import build_definitions
from safeguard.pipelines.instance import QUIET_RUN_CONFIG, _instance, step_errors
from safeguard.pipelines.resources import Warehouse
from safeguard.pipelines.run_context import extract_date


@dataclass
class MonitoringOutcome:
    """What a monitoring run did, in aggregates."""

    months: list[str] = field(default_factory=list)
    failed_months: dict[str, str] = field(default_factory=dict)
    check_passed: bool | None = None
    reasons: str = ""
    duration_s: float = 0.0
    report: Path | None = None
    error: str | None = None


def backfill_months(
    extract: date, months: int, partitions: dg.PartitionsDefinition | None = None
) -> list[str]:
    """Partition keys of the ``months`` as-of months ending at the extract's month."""
    last = pd.Timestamp(extract).to_period("M").to_timestamp()
    keys = [(last - pd.DateOffset(months=i)).date().isoformat() for i in range(months - 1, -1, -1)]
    if partitions is None:
        return keys
    valid = set(partitions.get_partition_keys())
    return [k for k in keys if k in valid]


def run_monitoring(
    *,
    data_dir: Path,
    months: int | None = None,
    truth_dir: Path | None = None,
    council: CouncilConfig | None = None,
    council_source: str = "default council.yaml",
    console: Console | None = None,
    backfill: bool = True,
) -> MonitoringOutcome:
    """Backfill ``months`` as-of months (default: the configuration's) and run monitoring."""
    console = console or Console(quiet=True)
    data_dir = data_dir.resolve()
    defs = build_definitions(
        data_dir=str(data_dir), landing_dir=".", council=council, council_source=council_source,
        truth_dir=str(truth_dir.resolve()) if truth_dir else None,
    )  # fmt: skip
    warehouse = Warehouse(data_dir=str(data_dir))
    config = council or defs.resources["council"].config()
    months = months or config.monitoring.months
    outcome = MonitoringOutcome()
    started = time.perf_counter()
    with _instance(data_dir) as instance:
        if backfill:
            history = defs.resolve_job_def("score_history")
            keys = backfill_months(extract_date(warehouse), months, history.partitions_def)
            for key in keys:
                console.print(f"  [dim]scoring as of[/dim] {key}")
                result = history.execute_in_process(
                    instance=instance, partition_key=key, run_config=QUIET_RUN_CONFIG,
                    raise_on_error=False,
                )  # fmt: skip
                if result.success:
                    outcome.months.append(key)
                else:
                    outcome.failed_months[key] = step_errors(result)
        console.print("  [dim]running[/dim] monitoring")
        result = defs.resolve_job_def("monitoring").execute_in_process(
            instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False
        )
        for evaluation in result.get_asset_check_evaluations():
            if evaluation.check_name == "decommission_triggers":
                outcome.check_passed = bool(evaluation.passed)
                reasons = evaluation.metadata.get("reasons")
                outcome.reasons = str(getattr(reasons, "value", "") or evaluation.description or "")
        if outcome.check_passed is None:
            outcome.error = step_errors(result)
        defs.resolve_job_def("governance_reports").execute_in_process(
            instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False
        )
    page = DataDir(data_dir).reports / "monitoring.html"
    outcome.report = page if page.exists() else None
    outcome.duration_s = time.perf_counter() - started
    return outcome
