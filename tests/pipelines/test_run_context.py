"""The run context: one as-of date, validated against the extract, and events as known at it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from safeguard.pipelines.run_context import AsOfError, check_as_of, events_known_at, resolve_as_of

EXTRACT = date(2026, 11, 1)


def test_the_as_of_date_defaults_to_the_extract_and_may_be_earlier() -> None:
    assert resolve_as_of(None, EXTRACT) == EXTRACT
    assert resolve_as_of("", EXTRACT) == EXTRACT
    assert resolve_as_of("2026-05-01", EXTRACT) == date(2026, 5, 1)
    assert resolve_as_of(EXTRACT, EXTRACT) == EXTRACT


def test_an_as_of_date_after_the_extract_or_malformed_is_refused() -> None:
    with pytest.raises(AsOfError, match="after the extract date 2026-11-01"):
        resolve_as_of("2026-11-02", EXTRACT)
    with pytest.raises(AsOfError, match="not a date"):
        resolve_as_of("1/5/2026", EXTRACT)


def test_check_as_of_reads_the_drop_the_run_would_ingest(tmp_path: Path) -> None:
    from safeguard.ingest.contract import load_contract

    drop = tmp_path / "2026-11-01"
    drop.mkdir()
    for spec in load_contract().files.values():
        (drop / spec.file).write_text(",".join(spec.columns) + "\n")
    assert check_as_of(tmp_path, "2026-10-01") == date(2026, 10, 1)
    with pytest.raises(AsOfError):
        check_as_of(tmp_path, "2026-12-01")
    assert check_as_of(tmp_path / "empty", "2030-01-01") == date(2030, 1, 1)  # no drop yet


def test_events_known_at_drop_later_records_and_reopen_later_endings() -> None:
    events = pd.DataFrame(
        {
            "event_date": pd.to_datetime(["2026-01-10", "2026-05-01", "2026-06-01", "2026-02-01"]),
            "end_date": pd.to_datetime(["2026-03-01", None, None, "2026-07-01"]),
        }
    )
    known = events_known_at(events, date(2026, 5, 1))
    assert list(known["event_date"].dt.date.astype(str)) == [
        "2026-01-10",
        "2026-05-01",
        "2026-02-01",
    ]
    assert known["end_date"].isna().tolist() == [False, True, True]  # ended after: still open
    assert events_known_at(events, date(2026, 12, 1)).equals(events)  # nothing later: unchanged
