"""Override analytics: what practitioners judged of the flags, and what happened afterwards.

Practitioners record a judgement on each flag in the portal (agree and act, already known,
disagree, not enough information). Counted by month, by risk band and by fairness group, the
judgements show where practice and model part ways; set beside the realised outcome of the
flags (once their 12-month window has closed) they show who was right: a disagreed flag whose
family went on to an enquiry or plan is a miss by the practitioner, a disagreed flag with no
outcome may be a model error the practitioner caught. Free-text reasons are never read here,
and groups with few judgements are suppressed.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

OVERRIDE_COLUMNS = (
    "view", "month", "band", "dimension", "group", "decision", "judgements", "share",
    "outcomes_known", "with_outcome", "outcome_rate", "lower", "upper", "note",
)  # fmt: skip
GROUP_DIMENSIONS = ("ethnicity_group", "sex_children", "disability", "youngest_child_age_band",
                    "deprivation_quintile")  # fmt: skip


def latest_judgements(judgements: pd.DataFrame) -> pd.DataFrame:
    """The most recent judgement per flag (re-recording replaces an earlier one)."""
    cols = ["flag_id", "family_key", "decision", "decided_at"]
    if judgements.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    ordered = judgements.sort_values(["flag_id", "decided_at"], kind="stable")
    return ordered.drop_duplicates("flag_id", keep="last")[cols].reset_index(drop=True)


def attach_flags(
    judgements: pd.DataFrame, flags: pd.DataFrame | None, scores: pd.DataFrame
) -> pd.DataFrame:
    """The as-of date and band of the flag each judgement is about.

    From the current ``flags`` table when the flag is still there; otherwise from the
    history of scores: the family's latest scored month on or before the judgement.
    """
    out = latest_judgements(judgements).astype({"family_key": "string", "flag_id": "string"})
    out["decided_at"] = pd.to_datetime(out["decided_at"]).astype("datetime64[ns]")
    out["as_of_date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out["band"] = pd.Series(pd.NA, index=out.index, dtype="string")
    if flags is not None and len(flags):
        known = flags[["flag_id", "as_of_date", "band"]].astype(
            {"flag_id": "string", "band": "string"}
        )
        known = known.assign(
            as_of_date=pd.to_datetime(known["as_of_date"]).astype("datetime64[ns]")
        )
        merged = out[["flag_id"]].merge(known, on="flag_id", how="left")
        out["as_of_date"] = merged["as_of_date"].to_numpy()
        out["band"] = merged["band"].astype("string").to_numpy()
    missing = out["as_of_date"].isna()
    if missing.any() and len(scores):
        hist = scores[["as_of_date", "family_key", "band"]].astype(
            {"family_key": "string", "band": "string"}
        )
        hist = hist.assign(as_of_date=pd.to_datetime(hist["as_of_date"]).astype("datetime64[ns]"))
        hist = hist.sort_values("as_of_date")
        left = (
            out.loc[missing, ["decided_at", "family_key"]].reset_index().sort_values("decided_at")
        )
        found = pd.merge_asof(left, hist, left_on="decided_at", right_on="as_of_date",
                              by="family_key", direction="backward").set_index("index")  # fmt: skip
        out.loc[found.index, "as_of_date"] = found["as_of_date"]
        out.loc[found.index, "band"] = found["band"]
    out["band"] = out["band"].fillna("unknown")
    return out


def _wilson(k: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    if n <= 0:
        return (np.nan, np.nan)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(centre - half), float(centre + half))


def override_analytics(
    judgements: pd.DataFrame,
    flags: pd.DataFrame | None,
    scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    sensitive: pd.DataFrame | None = None,
    *,
    min_cell: int = 10,
) -> pd.DataFrame:
    """Judgements by month, band and fairness group, and the realised outcome by judgement.

    Parameters
    ----------
    judgements : the portal's ``judgements`` (``flag_id, family_key, decision, decided_at``).
    flags : the current ``flags`` table (``flag_id, as_of_date, band``), if any.
    scores : ``family_scores_history`` (``as_of_date, family_key, band``).
    outcomes : ``as_of_date, family_key, label, label_complete`` at the flags' dates.
    sensitive : ``as_of_date, family_key`` + audit attributes at the flags' dates.
    min_cell : groups with fewer judgements are suppressed (counts not shown).

    Returns
    -------
    pandas.DataFrame
        :data:`OVERRIDE_COLUMNS`; ``view`` is ``by_month``, ``by_band``, ``by_group`` or
        ``outcome_by_decision``. Aggregates only.
    """
    rows: list[dict] = []
    judged = attach_flags(judgements, flags, scores)
    if judged.empty:
        return _table(rows)
    keys = ["as_of_date", "family_key"]
    labels = outcomes[[*keys, "label", "label_complete"]].astype({"family_key": "string"})
    labels = labels.assign(as_of_date=pd.to_datetime(labels["as_of_date"]).astype("datetime64[ns]"))
    judged = judged.merge(labels, on=keys, how="left")
    if sensitive is not None and len(sensitive):
        attrs = sensitive.astype({"family_key": "string"})
        attrs = attrs.assign(
            as_of_date=pd.to_datetime(attrs["as_of_date"]).astype("datetime64[ns]")
        )
        judged = judged.merge(attrs, on=keys, how="left")
    judged["month"] = judged["decided_at"].dt.to_period("M").dt.to_timestamp()

    def shares(view: str, by: list[str], frame: pd.DataFrame, **fixed) -> None:
        for key, part in frame.groupby(by, dropna=False) if by else [((), frame)]:
            key = key if isinstance(key, tuple) else (key,)
            values = dict(zip(by, key, strict=True))
            n = len(part)
            few = n < min_cell and view == "by_group"
            for decision, count in part["decision"].value_counts().sort_index().items():
                rows.append({"view": view, **fixed, **values, "decision": str(decision),
                             "judgements": np.nan if few else int(count),
                             "share": np.nan if few else count / n,
                             "note": f"suppressed (fewer than {min_cell} judgements)" if few else ""})  # fmt: skip

    shares("by_month", ["month"], judged)
    shares("by_band", ["band"], judged)
    for dim in GROUP_DIMENSIONS:
        if dim in judged.columns:
            frame = judged.assign(group=judged[dim].astype("string").fillna("Unknown"))
            shares("by_group", ["group"], frame, dimension=dim)
    complete = judged.loc[judged["label_complete"].fillna(False).astype(bool)]
    for decision, part in judged.groupby("decision"):
        done = complete.loc[complete["decision"] == decision]
        k, n = float(done["label"].astype(bool).sum()), float(len(done))
        lo, hi = _wilson(k, n)
        rows.append({"view": "outcome_by_decision", "decision": str(decision),
                     "judgements": len(part), "outcomes_known": int(n), "with_outcome": int(k),
                     "outcome_rate": k / n if n else np.nan, "lower": lo, "upper": hi,
                     "note": "" if n else "no flag's 12-month window has closed yet"})  # fmt: skip
    return _table(rows)


def _table(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(OVERRIDE_COLUMNS))
    strings = ["view", "band", "dimension", "group", "decision", "note"]
    table[strings] = table[strings].astype("string")
    table["month"] = pd.to_datetime(table["month"]).astype("datetime64[ns]")
    for c in (
        "judgements",
        "share",
        "outcomes_known",
        "with_outcome",
        "outcome_rate",
        "lower",
        "upper",
    ):
        table[c] = table[c].astype("float64")
    return table
