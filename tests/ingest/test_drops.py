"""Drop discovery: newest complete drop, incomplete drops passed over with a reason."""

from __future__ import annotations

from datetime import date

import pytest

from safeguard.ingest.drops import (
    NoCompleteDrop,
    newest_complete_drop,
    previous_complete_drop,
    scan_drops,
)


def test_newest_complete_drop_skips_incomplete_newer_ones(tmp_path, drop_tools, contract):
    drop_tools.make_drop(tmp_path, "2026-08-01")
    expected = drop_tools.make_drop(tmp_path, "2026-09-01")
    missing = drop_tools.make_drop(tmp_path, "2026-10-01")
    (missing.path / "police.csv").unlink()
    headerless = drop_tools.make_drop(tmp_path, "2026-11-01")
    (headerless.path / "workers.csv").write_text("\n\n")
    (tmp_path / "not-a-drop").mkdir()
    (tmp_path / "2026-13-01").mkdir()  # not a real date
    (tmp_path / "2026-12-01.csv").write_text("a file, not a folder")

    assert newest_complete_drop(tmp_path, contract) == expected
    statuses = {s.drop.extract_date.isoformat(): s for s in scan_drops(tmp_path, contract)}
    assert list(statuses) == ["2026-11-01", "2026-10-01", "2026-09-01", "2026-08-01"]
    assert statuses["2026-10-01"].reason == "drop 2026-10-01: police.csv is missing"
    assert statuses["2026-11-01"].problems == ("workers.csv has no header row",)
    assert statuses["2026-09-01"].complete


def test_previous_and_as_of(tmp_path, drop_tools, contract):
    first = drop_tools.make_drop(tmp_path, "2026-08-01")
    second = drop_tools.make_drop(tmp_path, "2026-09-01")
    assert previous_complete_drop(tmp_path, second, contract) == first
    assert previous_complete_drop(tmp_path, first, contract) is None
    assert newest_complete_drop(tmp_path, contract, on_or_before=date(2026, 8, 31)) == first


def test_case_insensitive_file_names(tmp_path, drop_tools, contract):
    drop = drop_tools.make_drop(tmp_path, "2026-09-01")
    (drop.path / "police.csv").rename(drop.path / "Police.CSV")
    assert newest_complete_drop(tmp_path, contract) == drop
    assert drop.file_path("police.csv").name == "Police.CSV"


def test_no_complete_drop_says_why(tmp_path, drop_tools, contract):
    drop = drop_tools.make_drop(tmp_path, "2026-10-01")
    (drop.path / "areas.csv").unlink()
    with pytest.raises(NoCompleteDrop, match=r"2026-10-01: areas\.csv is missing"):
        newest_complete_drop(tmp_path, contract)
    with pytest.raises(NoCompleteDrop, match="does not exist"):
        newest_complete_drop(tmp_path / "nowhere", contract)
    with pytest.raises(NoCompleteDrop, match="no YYYY-MM-DD drop folders"):
        newest_complete_drop(tmp_path, contract, on_or_before=date(2020, 1, 1))
