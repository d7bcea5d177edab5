"""Monitoring through the pipeline on a small estate: backfill, tables, charts, pages, and a
decommission rule that withholds flags until a named decision resumes them.

Statistical behaviour (silence on an unchanged population, firing on a planted change) is
tested on synthetic monitoring inputs in tests/monitoring; here the wiring is what matters.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from safeguard.contracts.council import CouncilConfig, parse_config
from safeguard.monitoring.promise import PROMISED_METRICS
from safeguard.pipelines.definitions import build_definitions
from safeguard.pipelines.monitoring_run import MonitoringOutcome, run_monitoring
from safeguard.pipelines.runner import QUIET_RUN_CONFIG, RunOutcome, _instance, run_pipeline
from safeguard.portal.records import read_portal_table
from safeguard.synth import EstateConfig, generate_estate

# This branch's base (8e5e4d5) overflows in the calibration slope's Newton step on this small
# estate (tests/pipelines/test_end_to_end.py fails the same way there); main fixed it in
# b9e6874 ("overflow-free sigmoids"). Remove this mark once merged.
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")

MONTHS = 14
LAX = {
    "performance_gate": {
        "min_precision_lift": 0,
        "calibration_band": [0.01, 100],
        "slope_band": [0.01, 100],
    }
}


def _config(extra: dict | None = None) -> CouncilConfig:
    data = json.loads(json.dumps(LAX))
    data.update(extra or {})
    return parse_config(yaml.safe_dump(data), "test configuration")


def _table(data_dir: Path, name: str) -> pd.DataFrame:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(f'SELECT * FROM "{name}"').df()


QUIET_RULES = {name: {"enabled": False} for name in
               ("realised_precision", "estimated_precision", "fairness_recall", "severe_drift")}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOutcome, Path]:
    root = tmp_path_factory.mktemp("monitored")
    landing, truth = root / "landing", root / "truth"
    generate_estate(
        EstateConfig(people=3000, seed=11, history_months=1), out=landing, truth_out=truth
    )
    outcome = run_pipeline(
        landing=landing, data_dir=root / "data", truth_dir=truth, council=_config()
    )
    _approve(outcome)
    # first flags, with every rule switched off, so practitioners have something to judge
    first = _monitor_then_flag(outcome.data_dir, _config({"monitoring": QUIET_RULES}))
    assert first.success, [e.asset_key for e in first.get_asset_check_evaluations()]
    _judge_flags(root / "data")
    return outcome, truth


def _approve(outcome: RunOutcome) -> None:
    """The model the run trained is the one monitored (approved by its gates, or, where this
    branch's base evaluates a small estate's calibration slope as undefined, by the test: the
    release gates are tested in test_end_to_end.py)."""
    models = outcome.data_dir / "artefacts" / "models"
    if (models / "approved.json").exists():
        return
    record = json.loads(sorted(models.glob("risk_model-*.json"))[-1].read_text())
    assert "promise" in record["metrics"]
    (models / "approved.json").write_text(json.dumps(
        {"version": record["version"], "model_file": record["model_file"], "threshold": 0.05}))  # fmt: skip


def _judge_flags(data_dir: Path) -> None:
    """Practitioners' judgements in the portal's database, as the portal writes them.

    On the flags of the run; a small estate may flag (almost) nobody, so the top-scored
    families are judged as well (their flags then come from an earlier run, found through the
    history of scores by family and date, as the monitoring does for any flag no longer served).
    """
    from safeguard.portal.store import insert_judgement
    from safeguard.portal.users import portal_cursor

    flags = _table(data_dir, "flags")
    scores = _table(data_dir, "family_scores").nsmallest(12, "rank")
    earlier = scores.loc[~scores["family_key"].isin(flags["family_key"])]
    earlier = earlier.assign(
        flag_id=[f"flag-earlier-{i}" for i in range(len(earlier))], worker_id=None
    )
    judged = pd.concat(
        [flags, earlier[flags.columns.intersection(earlier.columns)]], ignore_index=True
    )
    with portal_cursor(data_dir) as con:
        for i, flag in enumerate(judged.itertuples()):
            insert_judgement(
                con, flag_id=flag.flag_id, family_key=flag.family_key, worker_id=flag.worker_id,
                username="alex", decision="disagree" if i % 3 == 0 else "agree_act",
                reason="synthetic test judgement", decided_at=datetime(2026, 11, 5, 10, 0),
                model_version=flag.model_version,
            )  # fmt: skip


@pytest.fixture(scope="module")
def monitored(run: tuple[RunOutcome, Path]) -> MonitoringOutcome:
    outcome, truth = run
    return run_monitoring(
        data_dir=outcome.data_dir, months=MONTHS, truth_dir=truth, council=_config()
    )


def test_a_backfill_produces_the_monitoring_tables_charts_and_pages(
    run: tuple[RunOutcome, Path], monitored: MonitoringOutcome
) -> None:
    data_dir = run[0].data_dir
    assert len(monitored.months) == MONTHS and not monitored.failed_months
    assert monitored.check_passed is not None and monitored.error is None
    performance = _table(data_dir, "monitoring_performance")
    extract = pd.Timestamp(_table(data_dir, "row_accounting")["extract_date"].max())
    complete = {d for d in pd.to_datetime(performance["as_of_date"])
                if d + pd.DateOffset(months=12) <= extract}  # fmt: skip
    realised = performance.loc[performance["kind"] == "realised"]
    assert set(pd.to_datetime(realised["as_of_date"])) == complete and len(complete) >= 2
    estimated = performance.loc[performance["kind"] == "estimated"]
    assert estimated["as_of_date"].nunique() == MONTHS
    # the model's record carries its card's promise, so every realised month is compared with it
    promised = realised.loc[realised["metric"].isin(PROMISED_METRICS)]
    assert len(promised) and promised["promised_lower"].notna().all()
    assert {"true_harm_recall_at_capacity", "auc_roc"} <= set(realised["metric"]) or not (
        run[1] / "harm.csv"
    ).exists()
    drift = _table(data_dir, "monitoring_drift")
    assert {"feature", "score", "source_volume", "source_missing"} <= set(drift["kind"])
    triggers = _table(data_dir, "monitoring_triggers")
    assert {"realised_precision", "estimated_precision", "severe_drift"} <= set(triggers["trigger"])
    overrides = _table(data_dir, "monitoring_overrides")
    assert {"by_month", "by_band", "outcome_by_decision"} <= set(overrides["view"])
    judged = read_portal_table(data_dir, "judgements")["flag_id"].nunique()
    by_decision = overrides.loc[overrides["view"] == "outcome_by_decision"]
    assert by_decision["judgements"].sum() == judged >= 10
    assert overrides.loc[overrides["view"] == "by_band", "band"].ne("unknown").all()
    charts = data_dir / "artefacts" / "monitoring"
    png = charts / "monitoring_precision_at_capacity.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    page = (data_dir / "reports" / "monitoring.html").read_text()
    assert '<img src="../artefacts/monitoring/monitoring_precision_at_capacity.png" alt="' in page
    assert "Realised performance against the model card" in page and "Practitioners" in page
    assert (data_dir / "reports" / "monitoring.md").exists()
    pack = (data_dir / "reports" / "review_pack.html").read_text()
    assert "Monitoring after go-live" in pack and "monitoring.html" in pack
    assert "monitoring_triggers/decommission_triggers" in pack


def test_the_model_card_reports_true_harm_beside_the_recorded_label(
    run: tuple[RunOutcome, Path],
) -> None:
    card = (run[0].data_dir / "artefacts" / "model" / "model_card.md").read_text()
    assert "Validation against true harm" in card
    evaluation = _table(run[0].data_dir, "model_evaluation").set_index("metric")
    assert "true_harm.with_harm" in evaluation.index


ALWAYS_DRIFTING = {
    "severe_drift": {"psi_severe": 1e-6, "min_severe_features": 1, "consecutive_months": 1}
}
FLAG_ASSETS = ["family_scores", "flags", "flag_explanations", "global_explanations", "caseloads"]
MONITOR_ASSETS = ["monitoring_performance", "monitoring_fairness", "monitoring_drift",
                  "monitoring_overrides", "monitoring_triggers", "monitoring_report"]  # fmt: skip


def _monitor_then_flag(data_dir: Path, config: CouncilConfig) -> dg.ExecuteInProcessResult:
    defs = build_definitions(data_dir=str(data_dir), landing_dir=".", council=config)
    job = defs.resolve_implicit_global_asset_job_def()
    with _instance(data_dir) as instance:
        return job.execute_in_process(
            instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False,
            asset_selection=[dg.AssetKey(k) for k in [*MONITOR_ASSETS, *FLAG_ASSETS]],
        )  # fmt: skip


def test_a_fired_rule_withholds_flags_until_a_named_decision_resumes_them(
    run: tuple[RunOutcome, Path], monitored: MonitoringOutcome
) -> None:
    data_dir = run[0].data_dir
    flags_before = _table(data_dir, "flags")
    stopped = _monitor_then_flag(data_dir, _config({"monitoring": ALWAYS_DRIFTING}))
    check = next(e for e in stopped.get_asset_check_evaluations()
                 if e.check_name == "decommission_triggers")  # fmt: skip
    assert not check.passed
    assert check.description.startswith("DECOMMISSIONED")
    assert "severe_drift" in check.metadata["failure"].value
    materialised = {e.asset_key.path[-1] for e in stopped.get_asset_materialization_events()}
    assert not set(FLAG_ASSETS) & materialised  # no new scores, flags or caseloads
    assert _table(data_dir, "flags").equals(flags_before)  # the last good flags stay served
    audit = [
        json.loads(line) for line in (data_dir / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    assert audit[-1]["action"] == "decommission_trigger_fired"
    assert audit[-1]["details"]["rules"] == ["severe_drift"]
    page = (data_dir / "reports" / "monitoring.html").read_text()
    assert "STOPPED" in page

    # switching the rule off (or a newly trained model with no month scored yet) does not
    # lift the decommission: the firing stays open until a named decision covers it
    relaxed = _monitor_then_flag(data_dir, _config({"monitoring": QUIET_RULES}))
    check = next(e for e in relaxed.get_asset_check_evaluations()
                 if e.check_name == "decommission_triggers")  # fmt: skip
    assert not check.passed and "recorded by an earlier monitoring run" in check.description + str(
        check.metadata["failure"].value
    )
    assert not set(FLAG_ASSETS) & {
        e.asset_key.path[-1] for e in relaxed.get_asset_materialization_events()
    }

    last = pd.to_datetime(_table(data_dir, "monitoring_triggers")["as_of_date"]).max()
    decisions = [{"trigger": rule, "covers_through": last.date().isoformat(),
                  "decided_by": "A. Example, Director of Children's Services",
                  "decided_on": date(2026, 12, 1).isoformat(),
                  "reason": "Test: the drift was reviewed and explained by a known system change."}
                 for rule in ("severe_drift", "realised_precision", "estimated_precision", "fairness_recall")]  # fmt: skip
    resumed = _monitor_then_flag(
        data_dir, _config({"monitoring": {**ALWAYS_DRIFTING, "resume_decisions": decisions}})
    )
    check = next(e for e in resumed.get_asset_check_evaluations()
                 if e.check_name == "decommission_triggers")  # fmt: skip
    assert check.passed, check.description
    assert (
        "ACCEPTED" in check.metadata["reasons"].value
        and "A. Example" in check.metadata["reasons"].value
    )
    materialised = {e.asset_key.path[-1] for e in resumed.get_asset_materialization_events()}
    assert set(FLAG_ASSETS) <= materialised


def test_a_resume_decision_cannot_accept_evidence_from_its_future() -> None:
    from safeguard.contracts.council import ConfigError

    with pytest.raises(ConfigError, match=r"monitoring\.resume_decisions\.0"):
        _config({"monitoring": {"resume_decisions": [{
            "trigger": "severe_drift", "covers_through": "2027-01-01", "decided_by": "A. Example",
            "decided_on": "2026-12-01", "reason": "Accepting evidence not yet seen.",
        }]}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"monitoring\.resume_decisions\.0\.trigger"):
        _config({"monitoring": {"resume_decisions": [{
            "trigger": "precision", "covers_through": "2026-01-01", "decided_by": "A. Example",
            "decided_on": "2026-12-01", "reason": "An unknown rule name.",
        }]}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"monitoring\.severe_drift\.volume_band"):
        _config({"monitoring": {"severe_drift": {"volume_band": [1.2, 0.6]}}})
