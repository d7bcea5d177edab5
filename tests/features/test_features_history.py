"""History consistency: a feature whose window reaches before the extract's history is named."""

from __future__ import annotations

import numpy as np
import pandas as pd

from safeguard.features.history import describe_truncation, history_consistency, history_starts


def _frame(dates: list[str]) -> pd.DataFrame:
    stamps = pd.to_datetime(dates)
    rng = np.random.default_rng(0)
    rows = []
    for i, d in enumerate(stamps):
        # sc_referrals_24m grows with the date as its window fills up; the 12-month count does not
        rows.append(pd.DataFrame({
            "as_of_date": d,
            "sc_referrals_24m": rng.poisson(0.2 + 0.05 * min(i, 12), 500),
            "sc_referrals_12m": rng.poisson(0.2, 500),
        }))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_a_window_reaching_before_the_history_is_truncated() -> None:
    events = pd.DataFrame({"source": ["social_care", "police"],
                           "event_date": pd.to_datetime(["2021-03-17", "2019-01-02"])})  # fmt: skip
    starts = history_starts(events)
    assert starts["social_care"] == pd.Timestamp("2021-03-01")
    dates = [f"2022-{m:02d}-01" for m in range(1, 13)] + ["2023-03-01", "2023-04-01"]
    table = history_consistency(_frame(dates), starts).set_index("feature")
    long, short = table.loc["sc_referrals_24m"], table.loc["sc_referrals_12m"]
    assert long["status"] == "truncated" and long["truncated_dates"] == 12  # before 2023-03-01
    assert long["first_complete_as_of"] == pd.Timestamp("2023-03-01")
    assert short["truncated_dates"] == 2  # a 12-month window is complete from 2022-03-01
    lines = describe_truncation(table.reset_index())
    assert any(
        line.startswith("sc_referrals_24m") and "first_as_of_months_back" in line for line in lines
    )
    assert long["slope_lower"] > 0  # and it trends with the calendar, as truncation makes it


def test_nothing_truncated_when_the_history_is_long_enough() -> None:
    events = pd.DataFrame({"source": ["social_care"], "event_date": pd.to_datetime(["2015-01-01"])})
    table = history_consistency(
        _frame(["2022-01-01", "2022-02-01", "2022-03-01"]), history_starts(events)
    )
    assert (table["status"] == "ok").all()
    assert describe_truncation(table) == []
