"""Ground truth of a synthetic estate, aligned to the pipeline's families at each as-of date.

Synthetic estates only: the generator writes, outside the landing drop, who everyone really is,
which household they lived in when, each household's latent need and its true monthly hazard
of the outcome. Aligned to the pipeline's ``family_key`` at each test date they give two
oracles for the evaluation (ranking by need, and by the true chance of the label itself) and
the need used to separate recording bias from need in the fairness audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

TRUTH_COLUMNS = ("as_of_date", "family_key", "latent_need", "label_oracle", "bias_group")


def true_family_at(
    members: pd.DataFrame, person_truth: pd.DataFrame, memberships: pd.DataFrame
) -> pd.DataFrame:
    """The true household of each pipeline family at each date (modal over its children).

    Parameters
    ----------
    members : ``as_of_date, family_key, person_key, role``.
    person_truth : ``person_key, true_person_id`` (via the identity vault).
    memberships : the generator's ``true_person_id, true_family_id, valid_from, valid_to``
        (inclusive, missing = current).
    """
    kids = members.loc[members["role"] == "child", ["as_of_date", "family_key", "person_key"]]
    kids = kids.astype({"person_key": "string"}).merge(
        person_truth.astype({"person_key": "string"}).drop_duplicates("person_key"), on="person_key"
    )
    spans = memberships.assign(
        valid_from=pd.to_datetime(memberships["valid_from"]),
        valid_to=pd.to_datetime(memberships["valid_to"].replace("", None)),
    )
    joined = kids.merge(spans, on="true_person_id")
    live = (joined["valid_from"] <= joined["as_of_date"]) & (
        joined["valid_to"].isna() | (joined["valid_to"] >= joined["as_of_date"])
    )
    joined = joined.loc[live.to_numpy(dtype=bool)]
    counts = joined.groupby(["as_of_date", "family_key", "true_family_id"]).size().rename("n")
    best = counts.reset_index().sort_values(
        ["as_of_date", "family_key", "n", "true_family_id"], ascending=[True, True, False, True]
    )
    return best.drop_duplicates(["as_of_date", "family_key"])[
        ["as_of_date", "family_key", "true_family_id"]
    ].reset_index(drop=True)


def label_oracle(
    families_at: pd.DataFrame, hazards: pd.DataFrame, horizon_months: int = 12
) -> pd.Series:
    """True chance of the outcome in ``(as_of, as_of + horizon]`` from the generator's hazard.

    ``hazards``: ``true_family_id, month_start, hazard`` for the family-months at risk
    (missing months: no child at risk). The generator's hazard follows what actually happened:
    once a family's children are open after an enquiry it drops to 0, so a product over the
    window would mark down exactly the families whose outcome came early. The oracle therefore
    uses the family's mean hazard over its months at risk in the window:
    ``1 - (1 - mean)^horizon``. Returns a Series aligned to ``families_at``'s rows.
    """
    h = hazards.assign(
        month_start=pd.to_datetime(hazards["month_start"]),
        hazard=pd.to_numeric(hazards["hazard"], errors="coerce").astype(float).clip(0, 1),
    )
    out = np.zeros(len(families_at))
    frame = families_at.reset_index(drop=True)
    for as_of, part in frame.groupby("as_of_date"):
        start = pd.Timestamp(as_of)
        end = start + pd.DateOffset(months=horizon_months)
        window = h.loc[(h["month_start"] >= start) & (h["month_start"] < end)]
        mean = window.groupby("true_family_id")["hazard"].mean()
        monthly = part["true_family_id"].map(mean).fillna(0.0).to_numpy()
        out[part.index] = 1.0 - (1.0 - monthly) ** horizon_months
    return pd.Series(out, index=families_at.index, name="label_oracle")


def harm_in_window(
    members: pd.DataFrame,
    person_truth: pd.DataFrame,
    families_at: pd.DataFrame,
    harm: pd.DataFrame,
    horizon_months: int = 12,
) -> pd.DataFrame:
    """True harm in ``(as_of, as_of + horizon]`` for each pipeline family at each date.

    Harm counts for a family when it happens to a child who was a member on the as-of date,
    or to anyone in the true household the family stood for on that date (which catches
    babies born later, as the label does). ``harm``: the generator's ``true_person_id,
    true_family_id, harm_date, referred`` (``referred`` = "Y" when the harm led to a
    social-care referral). Returns ``as_of_date, family_key, true_harm, true_harm_referred``
    for the families with harm only.
    """
    events = harm.assign(
        harm_date=pd.to_datetime(harm["harm_date"]),
        referred=harm.get("referred", pd.Series("N", index=harm.index)).astype(str).eq("Y"),
    ).astype({"true_person_id": "string", "true_family_id": "string"})
    kids = members.loc[members["role"] == "child", ["as_of_date", "family_key", "person_key"]]
    kids = kids.astype({"person_key": "string"}).merge(
        person_truth.astype({"person_key": "string", "true_person_id": "string"}), on="person_key"
    )
    by_person = kids.merge(events[["true_person_id", "harm_date", "referred"]], on="true_person_id")
    by_home = families_at.astype({"true_family_id": "string"}).merge(
        events[["true_family_id", "harm_date", "referred"]], on="true_family_id"
    )
    cols = ["as_of_date", "family_key", "harm_date", "referred"]
    both = pd.concat([by_person[cols], by_home[cols]], ignore_index=True)
    start = pd.to_datetime(both["as_of_date"])
    inside = (both["harm_date"] > start) & (
        both["harm_date"] <= start + pd.DateOffset(months=horizon_months)
    )
    hits = both.loc[inside.to_numpy(dtype=bool)]
    out = hits.groupby(["as_of_date", "family_key"], as_index=False).agg(
        true_harm_referred=("referred", "any")
    )
    out["true_harm"] = True
    return out[["as_of_date", "family_key", "true_harm", "true_harm_referred"]]


def truth_at_dates(
    members: pd.DataFrame,
    person_truth: pd.DataFrame,
    memberships: pd.DataFrame,
    family_need: pd.DataFrame,
    *,
    hazards: pd.DataFrame | None = None,
    bias_codes: Iterable[str] = (),
    people_ethnicity: pd.DataFrame | None = None,
    horizon_months: int = 12,
    harm: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``as_of_date, family_key, latent_need, label_oracle, bias_group`` for the given members.

    With ``harm`` (the generator's ``harm.csv``) also ``true_harm`` and ``true_harm_referred``
    (:func:`harm_in_window`): the outcome the agencies do not record themselves.

    ``family_need``: ``true_family_id, latent_need``. ``label_oracle`` is missing without
    ``hazards``. ``bias_group`` ("bias group"/"other") marks families with a child of the
    generator's planted recording-bias group (``people_ethnicity``: ``true_person_id,
    ethnicity``).
    """
    fam = true_family_at(members, person_truth, memberships)
    need = family_need.drop_duplicates("true_family_id").set_index("true_family_id")["latent_need"]
    fam["latent_need"] = fam["true_family_id"].map(need).astype(float)
    fam["label_oracle"] = (
        label_oracle(fam, hazards, horizon_months) if hazards is not None else np.nan
    )
    codes = set(bias_codes)
    if codes and people_ethnicity is not None:
        kids = members.loc[members["role"] == "child"].merge(person_truth, on="person_key")
        kids = kids.merge(people_ethnicity, on="true_person_id")
        marked = (
            kids.assign(b=kids["ethnicity"].isin(codes))
            .groupby(["as_of_date", "family_key"])["b"]
            .any()
        )
        fam = fam.merge(
            marked.rename("b").reset_index(), on=["as_of_date", "family_key"], how="left"
        )
        fam["bias_group"] = np.where(fam["b"].fillna(False).astype(bool), "bias group", "other")
    else:
        fam["bias_group"] = pd.NA
    columns = list(TRUTH_COLUMNS)
    if harm is not None:
        found = harm_in_window(members, person_truth, fam, harm, horizon_months)
        fam = fam.merge(found, on=["as_of_date", "family_key"], how="left")
        for column in ("true_harm", "true_harm_referred"):
            fam[column] = fam[column].astype("boolean").fillna(False).astype(bool)
        columns += ["true_harm", "true_harm_referred"]
    return fam[columns]


def dates_of(values: Iterable[date | pd.Timestamp]) -> list[pd.Timestamp]:
    """Sorted distinct timestamps."""
    return sorted({pd.Timestamp(v) for v in values})
