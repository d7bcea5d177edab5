"""Withdrawn flags: served flags taken back from practitioners when a gate fails, and recorded.

When the objections register fails its gates, flags already served may belong to someone who has
since objected, so every current flag is withdrawn until a run passes again. Nothing is deleted:
the ``flag_withdrawals`` ledger keeps which flag was withdrawn, when, by which gate and why, and
when a later run that passed every gate published it again (``reinstated_at``). The portal hides
a flag while it has a withdrawal without ``reinstated_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

__all__ = ["WITHDRAWAL_COLUMNS", "empty_withdrawals", "reinstate_flags", "withdraw_flags"]

WITHDRAWAL_COLUMNS = (
    "flag_id", "family_key", "as_of_date", "worker_id", "model_version",
    "withdrawn_at", "gate", "reason", "reinstated_at",
)  # fmt: skip
_DTYPES = {
    "flag_id": "string",
    "family_key": "string",
    "as_of_date": "datetime64[ns]",
    "worker_id": "string",
    "model_version": "string",
    "withdrawn_at": "datetime64[ns]",
    "gate": "string",
    "reason": "string",
    "reinstated_at": "datetime64[ns]",
}


def empty_withdrawals() -> pd.DataFrame:
    """The ledger with no rows, typed."""
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES[c]) for c in WITHDRAWAL_COLUMNS})


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(WITHDRAWAL_COLUMNS)].astype(_DTYPES).reset_index(drop=True)


def _open(ledger: pd.DataFrame) -> pd.Series:
    return ledger["reinstated_at"].isna()


def withdraw_flags(
    flags: pd.DataFrame, ledger: pd.DataFrame, *, gate: str, reason: str, at: datetime
) -> tuple[pd.DataFrame, int]:
    """Append a withdrawal for every flag not already withdrawn; return (ledger, newly withdrawn).

    Parameters
    ----------
    flags : pandas.DataFrame
        The served ``flags`` table (``flag_id, family_key, as_of_date, worker_id, model_version``).
    ledger : pandas.DataFrame
        The current ``flag_withdrawals`` table (may be empty).
    gate : str
        The failed gate, e.g. ``objections/objections_register_complete``.
    reason : str
        Why, in aggregates only (the gate's message; never a value from a row).
    at : datetime
        When (UTC, naive).
    """
    ledger = _typed(ledger) if len(ledger) else empty_withdrawals()
    already = set(ledger.loc[_open(ledger), "flag_id"].astype(str))
    new = flags.loc[~flags["flag_id"].astype(str).isin(already)]
    if new.empty:
        return ledger, 0
    rows = pd.DataFrame(
        {
            "flag_id": new["flag_id"].astype(str),
            "family_key": new["family_key"].astype(str),
            "as_of_date": pd.to_datetime(new["as_of_date"]),
            "worker_id": new["worker_id"],
            "model_version": new["model_version"],
            "withdrawn_at": pd.Timestamp(at),
            "gate": gate,
            "reason": reason,
            "reinstated_at": pd.NaT,
        }
    )
    return _typed(pd.concat([ledger, _typed(rows)], ignore_index=True)), len(rows)


def reinstate_flags(
    ledger: pd.DataFrame, published_flag_ids: Iterable[str], *, at: datetime
) -> tuple[pd.DataFrame, int]:
    """Close the open withdrawals of flags a run that passed every gate has published again.

    Flags not published again stay withdrawn (they are history, not work to do).
    """
    if ledger.empty:
        return ledger, 0
    ledger = _typed(ledger)
    again = _open(ledger) & ledger["flag_id"].isin(set(map(str, published_flag_ids)))
    ledger.loc[again, "reinstated_at"] = pd.Timestamp(at)
    return ledger, int(again.sum())
