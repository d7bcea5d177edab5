"""Volume comparison between drops (the data-loss gate's arithmetic)."""

from __future__ import annotations

import pytest

from safeguard.ingest.volume import SourceVolume, compare_volumes, drop_volumes

PREVIOUS = {
    "police": SourceVolume(rows=1000, distinct_persons=400),
    "housing": SourceVolume(rows=500, distinct_persons=200),
}


def test_loss_above_the_limit_is_a_finding_naming_source_and_counts():
    current = {
        "police": SourceVolume(rows=600, distinct_persons=390),
        "housing": SourceVolume(rows=500, distinct_persons=200),
    }
    findings = compare_volumes(PREVIOUS, current)
    assert [(f.source, f.measure) for f in findings] == [("police", "rows")]
    assert findings[0].share_lost == pytest.approx(0.4)
    assert findings[0].message == "police: rows fell from 1,000 to 600 (40.0% lost; limit 20.0%)"


def test_exact_limit_and_growth_pass_and_people_are_checked_too():
    current = {
        "police": SourceVolume(rows=800, distinct_persons=400),  # exactly 20% fewer rows
        "housing": SourceVolume(rows=900, distinct_persons=100),  # more rows, half the people
    }
    findings = compare_volumes(PREVIOUS, current)
    assert [(f.source, f.measure, f.previous, f.current) for f in findings] == [
        ("housing", "distinct_persons", 200, 100)
    ]
    assert "distinct people" in findings[0].message
    assert compare_volumes(PREVIOUS, current, max_drop_share=0.6) == []


def test_missing_source_counts_as_total_loss_and_bad_limits_are_refused():
    findings = compare_volumes(PREVIOUS, {"police": PREVIOUS["police"]})
    assert {(f.source, f.current) for f in findings} == {("housing", 0)}
    with pytest.raises(ValueError, match="max_drop_share"):
        compare_volumes(PREVIOUS, PREVIOUS, max_drop_share=1.5)


def test_drop_volumes_counts_rows_and_distinct_person_keys(tmp_path, drop_tools, contract):
    drop = drop_tools.make_drop(tmp_path, rows_per_file=4)
    header = [" Person_Ref ", "Nationality", *list(contract.sources["police"].columns)[:1]]
    rows = [["P1", "x", "I1"], ["P1", "x", "I2"], ["", "x", "I3"], ["P2", "x", "I4"], ["bad"]]
    drop_tools.write_csv(drop.path / "police.csv", header, rows)
    volumes = drop_volumes(drop, contract)
    assert set(volumes) == set(contract.sources)
    assert volumes["police"] == SourceVolume(rows=5, distinct_persons=2)
    assert volumes["housing"] == SourceVolume(rows=4, distinct_persons=4)
