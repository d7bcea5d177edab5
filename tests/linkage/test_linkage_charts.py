"""Static linkage charts: written beside the model, indexed with alt text and their numbers,
and without any record's identity."""

from __future__ import annotations

import json

import pandas as pd


def test_linkage_charts_are_static_files_with_alt_text_and_tables(
    estate_result, estate_records: pd.DataFrame
) -> None:
    artefacts = estate_result.artefacts
    index = json.loads(artefacts["charts_index"].read_text())
    names = {c["file"] for c in index}
    assert {
        "chart_linkage_m_u.png",
        "chart_linkage_match_weights.png",
        "chart_linkage_cluster_sizes.png",
        "chart_linkage_unlinkables.png",
        "chart_linkage_parameter_estimates.png",  # captured at training time
    } <= names
    for chart in index:
        png = artefacts["charts_index"].parent / chart["file"]
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert len(chart["alt"]) > 40 and chart["rows"]
        assert all(len(row) == len(chart["headers"]) for row in chart["rows"])
    # the histogram table sums to every scored pair
    histogram = next(c for c in index if c["file"] == "chart_linkage_match_weights.png")
    total = sum(int(r[2].replace(",", "")) for r in histogram["rows"])
    assert total == int(estate_result.match_weight_histogram["pairs"].sum())
    # one row per m estimate of every EM session
    estimates = next(c for c in index if c["file"] == "chart_linkage_parameter_estimates.png")
    sessions = {row[1] for row in estimates["rows"]}
    assert len(sessions) == 2, sessions  # the two EM sessions: blocked on dob, on names
    assert all(0.0 <= float(row[2]) <= 1.0 for row in estimates["rows"])
    # no identity value of any record in any chart's text
    text = json.dumps(index).lower()
    values = set()
    for column in ("first_name", "last_name", "postcode", "address_line"):
        values |= {str(v).lower() for v in estate_records[column].dropna() if len(str(v)) > 4}
    assert not [v for v in values if v in text]
