"""The blocking coverage estimate reaches linkage_quality and a non-blocking check."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from safeguard import linkage
from safeguard.linkage.blocking import BlockingPlan
from safeguard.pipelines.assets.linkage import COVERAGE_CHECK, coverage_check, link_records
from safeguard.pipelines.linking import quality_metrics


def _result(expected: float) -> linkage.LinkageResult:
    plan = BlockingPlan(
        rules=("l.dob = r.dob", "l.postcode = r.postcode"),
        added=("l.postcode = r.postcode",),
        expected_coverage=expected,
        configured_coverage=0.9,
        target=0.99,
        comparisons=1_000,
        budget=2_000,
    )
    links = pd.DataFrame(
        {"source": ["a"], "record_key": ["1"], "person_key": ["p"], "cluster_size": [1],
         "linkage_confidence": [1.0]}
    )  # fmt: skip
    return linkage.LinkageResult(
        links=links,
        match_weight_histogram=pd.DataFrame({"bin_lower": [], "bin_upper": [], "pairs": []}),
        model_settings={},
        threshold_match_probability=0.99,
        threshold_justification="",
        cluster_size_distribution=pd.DataFrame(
            {"cluster_size": [1], "clusters": [1], "records": [1]}
        ),
        clustering={},
        blocking=plan,
    )


def test_the_estimate_is_a_linkage_quality_metric() -> None:
    metrics = quality_metrics(_result(0.95))
    assert metrics["blocking_expected_coverage"] == 0.95
    assert metrics["blocking_configured_rules_coverage"] == 0.9
    assert metrics["blocking_coverage_target"] == 0.99
    assert metrics["blocking_rules_added"] == 1.0


def test_below_target_warns_and_does_not_block() -> None:
    below = coverage_check(_result(0.95))
    assert not below.passed and below.severity == dg.AssetCheckSeverity.WARN
    assert "95.00%" in (below.description or "")
    assert coverage_check(_result(0.995)).passed
    spec = next(s for s in link_records.check_specs if s.name == COVERAGE_CHECK)
    assert not spec.blocking
    assert spec.metadata["dpia/inherited_from"] == "linkage_quality"
