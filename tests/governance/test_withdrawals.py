"""Withdrawn flags are recorded, never deleted, and served again only when published again."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from safeguard.governance.withdrawals import empty_withdrawals, reinstate_flags, withdraw_flags

FLAGS = pd.DataFrame(
    {
        "flag_id": ["fa", "fb"],
        "family_key": ["k1", "k2"],
        "as_of_date": pd.to_datetime(["2026-10-01", "2026-10-01"]),
        "worker_id": ["W1", "W2"],
        "model_version": ["v1", "v1"],
    }
)
T1, T2 = datetime(2026, 10, 2, 9), datetime(2026, 10, 3, 9)


def test_withdrawing_twice_records_each_flag_once():
    ledger, n = withdraw_flags(FLAGS, empty_withdrawals(), gate="g", reason="r", at=T1)
    assert n == 2 and ledger["reinstated_at"].isna().all()
    again, m = withdraw_flags(FLAGS, ledger, gate="g", reason="r", at=T2)
    assert m == 0 and len(again) == 2


def test_reinstating_closes_only_flags_published_again_and_keeps_the_record():
    ledger, _ = withdraw_flags(FLAGS, empty_withdrawals(), gate="g", reason="r", at=T1)
    ledger, n = reinstate_flags(ledger, ["fa"], at=T2)
    assert n == 1 and len(ledger) == 2
    open_ids = set(ledger.loc[ledger["reinstated_at"].isna(), "flag_id"])
    assert open_ids == {"fb"}
    # A later withdrawal of a reinstated flag is a new record, not an edit of the old one.
    ledger, m = withdraw_flags(FLAGS, ledger, gate="g2", reason="r2", at=T2)
    assert m == 1 and len(ledger) == 3
