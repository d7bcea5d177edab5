"""The pieces of monitoring: drift statistics, estimation before outcomes, realised figures,
override analytics, the promise, charts and the rule bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safeguard.models import metrics as m
from safeguard.monitoring import Promise
from safeguard.monitoring.charts import drift_chart, performance_chart
from safeguard.monitoring.drift import (
    calendar_reference,
    monthly_volumes,
    psi,
    severity,
    volume_drift,
)
from safeguard.monitoring.fairness import complete_windows
from safeguard.monitoring.overrides import attach_flags, override_analytics
from safeguard.monitoring.performance import (
    estimated_performance,
    monitoring_frame,
    realised_performance,
)
from safeguard.monitoring.promise import Figure
from safeguard.monitoring.triggers import trailing_runs

RNG = np.random.default_rng(0)


def _month(i: int) -> pd.Timestamp:
    return pd.Timestamp("2025-01-01") + pd.DateOffset(months=i)


def _scores(n: int = 4000, months: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for t in range(months):
        p = rng.beta(1.2, 40, size=n)
        order = np.argsort(-p)
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(1, n + 1)
        keys = [f"f{i}" for i in range(n)]
        rows.append(pd.DataFrame({"as_of_date": _month(t), "family_key": keys, "probability": p,
                                  "rank": rank, "model_version": "v1"}))  # fmt: skip
        labels.append(pd.DataFrame({"as_of_date": _month(t), "family_key": keys,
                                    "label": rng.random(n) < p, "label_complete": t < months - 1}))  # fmt: skip
    return pd.concat(rows, ignore_index=True), pd.concat(labels, ignore_index=True)


# -- drift -------------------------------------------------------------------------------


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    reference = RNG.normal(size=20_000)
    assert psi(reference, RNG.normal(size=5_000)) < 0.02
    assert psi(reference, RNG.normal(loc=1.0, size=5_000)) > 0.25
    assert severity(psi(reference, RNG.normal(loc=1.0, size=5_000))) == "severe"


def test_psi_counts_missing_values_and_survives_a_constant_feature() -> None:
    reference = RNG.poisson(0.3, size=10_000).astype(float)  # mostly zeros: bins merge
    gone = reference.copy()
    gone[:5_000] = np.nan  # half the values stop being recorded
    assert psi(reference, reference[:5_000]) < 0.02
    assert psi(reference, gone) > 0.25
    # half the records: fewer families have any, which the zeros' own bin shows even when
    # nine in ten families have none (every quantile edge is 0)
    rare = RNG.poisson(0.1, size=20_000).astype(float)
    assert psi(rare, rare[:5_000]) < 0.01
    assert psi(rare, RNG.binomial(rare.astype(int), 0.5).astype(float)) > 0.02
    assert psi(np.zeros(100), np.zeros(50)) == pytest.approx(0.0)
    assert np.isnan(psi(np.array([]), np.zeros(3)))


def test_volume_drift_reads_a_halving_beyond_noise_but_not_a_quiet_small_agency() -> None:
    ref_months = [_month(i) for i in range(12)]
    rows = []
    for i in range(15):
        halved = i >= 12
        rows += [
            {"as_of_date": _month(i), "source": "police", "events": 1000.0 * (0.5 if halved else 1)},
            # seasonal: every January three times as many records
            {"as_of_date": _month(i), "source": "education",
             "events": 3000.0 if _month(i).month == 1 else 1000.0},
            {"as_of_date": _month(i), "source": "housing", "events": 20.0 if halved else 40.0},
        ]  # fmt: skip
    drift = volume_drift(pd.DataFrame(rows), ref_months, min_reference_events=10)
    by = drift.set_index(["as_of_date", "name"])
    assert (by.xs("police", level="name")["severity"] == "severe").all()
    assert by.loc[(_month(12), "police"), "drift"] == pytest.approx(0.5)
    # January against January: the seasonal peak is not drift
    assert by.loc[(_month(12), "education"), "drift"] == pytest.approx(1.0)
    # 20 records against 40 is a halving in the point estimate, but within counting noise
    assert set(by.xs("housing", level="name")["severity"]) == {"none"}
    # months after an agency's newest record are a delivery lag, not judged
    lagged = volume_drift(pd.DataFrame(rows), ref_months, min_reference_events=10,
                          last_recorded={"police": _month(12) - pd.Timedelta(days=1)})  # fmt: skip
    police = lagged.loc[lagged["name"] == "police"].set_index("as_of_date")["severity"]
    assert police[_month(12)] == "severe"  # its month (December) was delivered
    assert set(police[[_month(13), _month(14)]]) == {"not yet delivered"}


def test_seasonal_recording_against_a_quarterly_training_window_is_not_drift() -> None:
    """Term-start returns (January, April, September) and a quiet August, with the model's
    training dates a quarter apart: judged against every calendar month the window spans,
    nothing fires; a real halving after the window still does."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2022-01-01", "2025-12-31", freq="D")
    rows = []
    for day in days:
        peak = day.day == 5 and day.month in (1, 4, 9)
        n = 15_000 if peak else 0 if day.month == 8 else rng.poisson(4)
        n_police = rng.poisson(20) // (2 if day >= pd.Timestamp("2025-06-01") else 1)
        rows += [("education", day)] * int(n) + [("police", day)] * int(n_police)
    events = pd.DataFrame(rows, columns=["source", "event_date"])
    train_dates = [pd.Timestamp(d) for d in pd.date_range("2022-07-01", "2024-07-01", freq="3MS")]
    monitored = list(pd.date_range("2024-09-01", "2025-12-01", freq="MS"))
    reference = calendar_reference(train_dates)
    assert len(reference) == 25 and {m.month for m in reference} == set(range(1, 13))
    # a window shorter than a year (eight months, as train + calibration dates) is widened
    short = calendar_reference(pd.date_range("2023-11-01", "2024-06-01", freq="MS"))
    assert (short[0], short[-1], len(short)) == (
        pd.Timestamp("2023-07-01"),
        pd.Timestamp("2024-06-01"),
        12,
    )
    volumes = monthly_volumes(events, sorted({*reference, *monitored}))
    drift = volume_drift(volumes, reference).set_index(["as_of_date", "name"])
    education = drift.xs("education", level="name")["severity"]
    assert "severe" not in set(education), education[education == "severe"]
    police = drift.xs("police", level="name")["severity"]
    assert (police[police.index >= pd.Timestamp("2025-07-01")] == "severe").all()
    assert (police[police.index < pd.Timestamp("2025-06-01")] == "none").all()
    # the quarterly dates alone (the old reference) read the quiet months as a collapse
    sparse = volume_drift(volumes, train_dates).set_index(["as_of_date", "name"])
    assert "severe" in set(sparse.xs("education", level="name")["severity"])


# -- performance -------------------------------------------------------------------------


def test_the_operating_rule_flags_capacity_within_the_threshold() -> None:
    scores, labels = _scores(n=1000, months=1)
    frame = monitoring_frame(scores, labels, capacity=50, threshold=0.0)
    assert frame["flagged"].sum() == 50
    assert frame.loc[frame["flagged"], "rank"].max() == 50
    high = float(np.sort(scores["probability"])[-20])
    few = monitoring_frame(scores, labels, capacity=50, threshold=high)
    assert few["flagged"].sum() == 20


def test_realised_figures_match_a_direct_count_and_incomplete_months_are_left_out() -> None:
    scores, labels = _scores()
    frame = monitoring_frame(scores, labels, capacity=200, threshold=0.0)
    promise = Promise({"precision_at_capacity": Figure(0.1, 0.08, 0.12)})
    table = realised_performance(frame, promise, n_boot=50)
    assert set(table["as_of_date"]) == {_month(0), _month(1)}  # the last month is incomplete
    for month, part in frame.loc[frame["label_complete"]].groupby("as_of_date"):
        row = table.loc[
            (table["as_of_date"] == month) & (table["metric"] == "precision_at_capacity")
        ].iloc[0]
        direct = part.loc[part["flagged"], "label"].mean()
        assert row["value"] == pytest.approx(direct)
        assert row["lower"] <= row["value"] <= row["upper"]
        assert row["status"] in {"below promise", "within promise", "above promise"}
        recall = table.loc[
            (table["as_of_date"] == month) & (table["metric"] == "recall_at_capacity"), "value"
        ]
        assert recall.iloc[0] == pytest.approx(
            part.loc[part["flagged"], "label"].sum() / part["label"].sum()
        )


def test_the_estimate_before_outcomes_is_unbiased_for_a_calibrated_model() -> None:
    scores, labels = _scores(n=4000, months=6, seed=3)
    frame = monitoring_frame(scores, labels, capacity=300, threshold=0.0)
    est = estimated_performance(frame, None, n_simulations=200)
    prec = est.loc[est["metric"] == "precision_at_capacity"].set_index("as_of_date")
    realised = frame.loc[frame["flagged"]].groupby("as_of_date")["label"].mean()
    # the labels were drawn from the probabilities: the estimate equals their expectation
    expected = frame.loc[frame["flagged"]].groupby("as_of_date")["probability"].mean()
    assert np.allclose(prec["value"], expected)
    inside = (prec["lower"] <= realised) & (realised <= prec["upper"])
    assert inside.mean() >= 5 / 6
    assert (est["kind"] == "estimated").all()


def test_the_estimate_sees_a_change_in_who_is_scored() -> None:
    scores, labels = _scores(n=4000, months=2, seed=4)
    frame = monitoring_frame(scores, labels, capacity=300, threshold=0.0)
    lower = frame.assign(probability=np.where(frame["as_of_date"] == _month(1), frame["probability"] * 0.5,
                                              frame["probability"]))  # fmt: skip
    est = estimated_performance(lower, None, n_simulations=100)
    prec = est.loc[est["metric"] == "precision_at_capacity"].set_index("as_of_date")["value"]
    assert prec[_month(1)] == pytest.approx(0.5 * prec[_month(0)], rel=0.1)


# -- promise -----------------------------------------------------------------------------


def test_the_promise_round_trips_through_the_model_record_and_the_metric_table() -> None:
    summary = {
        "base_rate": 0.02, "capacity_k": 870, "threshold": 0.05, "test_dates": ["2025-01-01"],
        "model": {"precision_at_capacity": {"value": 0.09, "lower": 0.075, "upper": 0.105},
                  "recall_at_capacity": {"value": 0.35, "lower": 0.3, "upper": 0.4},
                  "brier": {"value": 0.02, "lower": 0.019, "upper": 0.021}},
    }  # fmt: skip
    promise = Promise.from_summary(summary)
    assert Promise.from_dict(promise.as_dict()) == promise
    assert promise.figure("precision_at_capacity") == Figure(0.09, 0.075, 0.105)
    assert promise.figure("brier") is None  # not part of the promise
    table = pd.DataFrame(
        [("model.precision_at_capacity", 0.09, 0.075, 0.105), ("capacity_k", 870, None, None),
         ("base_rate", 0.02, None, None)], columns=["metric", "value", "lower", "upper"])  # fmt: skip
    from_table = Promise.from_metric_table(table)
    assert from_table.figure("precision_at_capacity") == Figure(0.09, 0.075, 0.105)
    assert from_table.capacity_k == 870


# -- bookkeeping -------------------------------------------------------------------------


def test_runs_count_consecutive_calendar_months_only() -> None:
    months = [_month(0), _month(1), _month(2), _month(4), _month(5)]
    assert trailing_runs(months, [True, True, False, True, True]) == [1, 2, 0, 1, 2]
    assert trailing_runs(months, [True, True, True, True, True]) == [1, 2, 3, 1, 2]  # gap at 3
    assert [w[-1] for w in complete_windows(months, 2)] == [_month(1), _month(2), _month(5)]


# -- overrides ---------------------------------------------------------------------------


def test_override_analytics_count_by_band_group_and_outcome_and_suppress_small_groups() -> None:
    history = pd.DataFrame({
        "as_of_date": [_month(0)] * 40 + [_month(1)] * 40,
        "family_key": [f"f{i}" for i in range(40)] * 2,
        "band": ["very high"] * 20 + ["high"] * 20 + ["very high"] * 40,
    })  # fmt: skip
    judgements = pd.DataFrame({
        "flag_id": [f"flag-{i}" for i in range(40)],
        "family_key": [f"f{i}" for i in range(40)],
        "decision": ["disagree"] * 25 + ["agree_act"] * 15,
        "decided_at": [_month(0) + pd.Timedelta(days=10)] * 40,
        "reason": ["free text that must never be read"] * 40,
    })  # fmt: skip
    flags = pd.DataFrame({"flag_id": ["flag-0"], "as_of_date": [_month(1)], "band": ["medium"]})
    attached = attach_flags(judgements, flags, history)
    assert attached.loc[attached["flag_id"] == "flag-0", "band"].iloc[0] == "medium"  # from flags
    assert attached.loc[attached["flag_id"] == "flag-30", "band"].iloc[0] == "high"  # from history
    outcomes = pd.DataFrame({"as_of_date": [_month(0)] * 40 + [_month(1)],
                             "family_key": [f"f{i}" for i in range(40)] + ["f0"],
                             "label": [i < 5 for i in range(40)] + [True],
                             "label_complete": True})  # fmt: skip
    sensitive = pd.DataFrame({"as_of_date": [_month(0)] * 40 + [_month(1)],
                              "family_key": [f"f{i}" for i in range(40)] + ["f0"],
                              "ethnicity_group": ["White"] * 35 + ["Black"] * 5 + ["White"]})  # fmt: skip
    table = override_analytics(judgements, flags, history, outcomes, sensitive)
    assert not any("free text" in str(v) for v in table.to_numpy().ravel())
    out = table.loc[table["view"] == "outcome_by_decision"].set_index("decision")
    assert out.loc["disagree", "outcomes_known"] == 25
    assert out.loc["disagree", "with_outcome"] == 5  # f0 (its flag's date) + f1-f4
    assert out.loc["agree_act", "with_outcome"] == 0
    groups = table.loc[(table["view"] == "by_group") & (table["dimension"] == "ethnicity_group")]
    assert groups.loc[groups["group"] == "Black", "judgements"].isna().all()  # 5 < 10: suppressed
    assert groups.loc[groups["group"] == "White", "judgements"].sum() == 35
    bands = table.loc[table["view"] == "by_band"].groupby("band")["judgements"].sum()
    assert bands.to_dict() == {"high": 20.0, "medium": 1.0, "very high": 19.0}


# -- charts ------------------------------------------------------------------------------


def test_charts_are_png_files_with_alt_text_and_their_numbers(tmp_path: Path) -> None:
    scores, labels = _scores(n=2000, months=4)
    frame = monitoring_frame(scores, labels, capacity=100, threshold=0.0)
    promise = Promise({"precision_at_capacity": Figure(0.1, 0.08, 0.12)})
    performance = pd.concat([realised_performance(frame, promise, n_boot=20),
                             estimated_performance(frame, promise, n_simulations=20)])  # fmt: skip
    chart = performance_chart(performance, "precision_at_capacity", tmp_path)
    assert chart is not None and chart.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "4 scored months" in chart.alt and "3 months with complete outcomes" in chart.alt
    assert set(chart.table["kind"]) == {"realised", "estimated"}
    drift = volume_drift(
        pd.DataFrame([{"as_of_date": _month(i), "source": "police", "events": 500.0} for i in range(16)]),
        [_month(i) for i in range(12)],
    )  # fmt: skip
    picture = drift_chart(drift, tmp_path, (0.67, 1.5), 0.25)
    assert picture is not None and picture.path.exists() and "4 months" in picture.alt


def test_bootstrap_of_a_month_resamples_families() -> None:
    """The realised interval comes from the month's families (one row each)."""
    scores, labels = _scores(n=3000, months=2)
    frame = monitoring_frame(scores, labels, capacity=150, threshold=0.0)
    table = realised_performance(frame, None, n_boot=200)
    row = table.loc[table["metric"] == "precision_at_capacity"].iloc[0]
    p = row["value"]
    binomial_half_width = 1.96 * np.sqrt(p * (1 - p) / 150)
    assert (row["upper"] - row["lower"]) / 2 == pytest.approx(binomial_half_width, rel=0.35)
    assert isinstance(m.Bootstrap, type)
