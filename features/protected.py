"""Family-level protected characteristics, for the fairness audit only, as known at each date.

Characteristics come from dated agency records (``protected_characteristics``: one row per
record that states a sex, ethnicity or disability). A family's attribute at an as-of date is
built only from records dated before that date, exactly like the features: a characteristic
first recorded afterwards is ``Unknown`` at that date. Without this cut, the records of the
outcome itself (every s47 enquiry is a social-care record with a disability field) define the
groups the outcome is compared across, and the audit measures an artefact.

These columns are returned in their own frame keyed by ``as_of_date, family_key`` and passed to
the audit as fairlearn's ``sensitive_features=``; they never join the feature matrix X
(``safeguard.features.dictionary.assert_no_protected`` guards that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from safeguard.contracts.landing import event_date_column
from safeguard.features.build import require_columns
from safeguard.features.point_in_time import as_of_frame, districts_at, members_at

UNKNOWN = "Unknown"

# DfE major ethnic groups (the census codes of the landing contract).
_ETHNIC_GROUPS = {"W": "White", "M": "Mixed", "A": "Asian", "B": "Black"}
_OTHER_ETHNIC = {"CHNE": "Other", "OOTH": "Other"}
_NOT_STATED = ("REFU", "NOBT")

SENSITIVE_COLUMNS: tuple[str, ...] = (
    "ethnicity_group", "ethnicity", "sex_children", "sex_lead_adult", "disability",
    "youngest_child_age_band", "deprivation_quintile",
)  # fmt: skip
OBSERVATION_COLUMNS = ("person_key", "source", "recorded_on", "sex", "ethnicity", "disability")

#: Which agency tables state which characteristic (and on what date the record was made).
CHARACTERISTIC_SOURCES: dict[str, tuple[str, ...]] = {
    "social_care": ("sex", "ethnicity", "disability"),
    "education": ("sex", "ethnicity"),
    "police": ("sex",),
}


def ethnicity_group(code: object) -> str:
    """Map a contract ethnicity code to its DfE major group (refused/not obtained -> Unknown)."""
    if not isinstance(code, str) or not code or code in _NOT_STATED:
        return UNKNOWN
    if code in _OTHER_ETHNIC:
        return _OTHER_ETHNIC[code]
    return _ETHNIC_GROUPS.get(code[0], UNKNOWN)


def characteristic_observations(
    records: Mapping[str, pd.DataFrame],
    record_links: pd.DataFrame,
    date_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Dated statements of sex, ethnicity and disability per linked person.

    Parameters
    ----------
    records : ``{source: <source>_records}`` for the sources in :data:`CHARACTERISTIC_SOURCES`.
    record_links : ``record_pseudo, person_key``.
    date_columns : the event-date column of each source (when the record was made); by
        default the landing contract's (:func:`safeguard.contracts.landing.event_date_column`).

    Returns
    -------
    pandas.DataFrame
        :data:`OBSERVATION_COLUMNS`; "not known" codes (``U``, refused, not obtained) are
        missing, and rows stating nothing are dropped.
    """
    require_columns(record_links, "record_links", ("record_pseudo", "person_key"))
    if date_columns is None:
        date_columns = {s: event_date_column(s) for s in CHARACTERISTIC_SOURCES}
    frames = []
    for source, columns in CHARACTERISTIC_SOURCES.items():
        if source not in records:
            continue
        table = records[source]
        require_columns(
            table, f"{source}_records", ("record_pseudo", date_columns[source], *columns)
        )
        frame = pd.DataFrame({
            "record_pseudo": table["record_pseudo"].astype("string"),
            "source": source,
            "recorded_on": pd.to_datetime(table[date_columns[source]]).astype("datetime64[ns]"),
        })  # fmt: skip
        for column in ("sex", "ethnicity", "disability"):
            values = (
                table[column].astype("string")
                if column in columns
                else pd.Series(pd.NA, index=table.index, dtype="string")
            )
            frame[column] = values.where(~values.isin(["U", *_NOT_STATED]))
        frames.append(frame)
    obs = pd.concat(frames, ignore_index=True)
    obs = obs.dropna(subset=["sex", "ethnicity", "disability"], how="all")
    links = record_links[["record_pseudo", "person_key"]].astype("string")
    obs = obs.merge(links, on="record_pseudo").drop(columns="record_pseudo")
    return obs[list(OBSERVATION_COLUMNS)].astype(
        {"person_key": "string", "source": "string", "sex": "string", "ethnicity": "string",
         "disability": "string"}
    ).reset_index(drop=True)  # fmt: skip


def person_characteristics_many(
    observations: pd.DataFrame, as_of_dates: Iterable[date], persons: Iterable[str] | None = None
) -> pd.DataFrame:
    """Each person's modal sex, ethnicity and disability among records dated before each date.

    Ties go to the most recent statement, then alphabetically, so the result is stable.
    Returns ``as_of_date, person_key, sex, ethnicity, disability`` (missing = not yet recorded),
    one row per person with any statement before the date; ``persons`` limits who is read.
    """
    require_columns(observations, "protected_characteristics", OBSERVATION_COLUMNS)
    obs = observations[list(OBSERVATION_COLUMNS)]
    if persons is not None:
        obs = obs.loc[obs["person_key"].isin(set(persons))]
    parts = []
    for column in ("sex", "ethnicity", "disability"):
        parts.append(f"""
        {column} AS (
          SELECT as_of, person_key, value AS {column} FROM (
            SELECT d.as_of, o.person_key, o.{column} AS value, count(*) AS n, max(o.recorded_on) AS last
            FROM obs o JOIN dates d ON o.recorded_on < d.as_of
            WHERE o.{column} IS NOT NULL GROUP BY ALL)
          QUALIFY row_number() OVER (PARTITION BY as_of, person_key ORDER BY n DESC, last DESC, value) = 1
        )""")
    sql = f"""
    WITH dates AS (SELECT DISTINCT CAST(as_of AS TIMESTAMP) AS as_of FROM as_of_dates),
    {",".join(parts)},
    people AS (SELECT as_of, person_key FROM sex UNION SELECT as_of, person_key FROM ethnicity
               UNION SELECT as_of, person_key FROM disability)
    SELECT p.as_of AS as_of_date, p.person_key, s.sex, e.ethnicity, d.disability
    FROM people p
    LEFT JOIN sex s USING (as_of, person_key)
    LEFT JOIN ethnicity e USING (as_of, person_key)
    LEFT JOIN disability d USING (as_of, person_key)
    ORDER BY as_of_date, person_key
    """
    con = duckdb.connect()
    try:
        con.register("obs", obs)
        con.register("as_of_dates", as_of_frame(as_of_dates))
        out = con.execute(sql).df()
    finally:
        con.close()
    return out.astype(
        {"as_of_date": "datetime64[ns]", "person_key": "string", "sex": "string",
         "ethnicity": "string", "disability": "string"}
    )  # fmt: skip


def person_characteristics_at(
    observations: pd.DataFrame, as_of: date | pd.Timestamp
) -> pd.DataFrame:
    """:func:`person_characteristics_many` at one date: ``person_key, sex, ethnicity, disability``."""
    return person_characteristics_many(observations, [as_of]).drop(columns="as_of_date")


_KEYS = ["as_of_date", "family_key"]


def _modal(frame: pd.DataFrame, column: str) -> pd.Series:
    """Most frequent known value of ``column`` per family and date (ties: alphabetical)."""
    known = frame.loc[frame[column] != UNKNOWN]
    counts = known.groupby([*_KEYS, column]).size().rename("n").reset_index()
    counts = counts.sort_values([*_KEYS, "n", column], ascending=[True, True, False, True])
    return counts.drop_duplicates(_KEYS).set_index(_KEYS)[column]


def _sex_of_children(children: pd.DataFrame) -> pd.Series:
    known = children.loc[children["sex"].isin(["F", "M"])]
    span = known.groupby(_KEYS)["sex"].agg(["min", "max"])
    return span["min"].where(span["min"] == span["max"], "mixed")


def _disability(members: pd.DataFrame) -> pd.Series:
    flags = members.assign(y=members["disability"] == "Y", n=members["disability"] == "N")
    any_flag = flags.groupby(_KEYS)[["y", "n"]].any()
    return pd.Series(
        np.where(any_flag["y"], "Y", np.where(any_flag["n"], "N", UNKNOWN)), index=any_flag.index
    )


def _age_band(years: pd.Series) -> pd.Series:
    bands = pd.cut(
        years, bins=[-1, 5, 11, 16, 200], right=False, labels=["0-4", "5-10", "11-15", "16-17"]
    )
    return bands.astype("string").fillna(UNKNOWN)


def build_sensitive_features_many(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    observations: pd.DataFrame,
    areas: pd.DataFrame,
    as_of_dates: Iterable[date],
) -> pd.DataFrame:
    """Audit attributes of every family with children at each date, kept apart from X.

    Returns
    -------
    pandas.DataFrame
        ``as_of_date, family_key`` and :data:`SENSITIVE_COLUMNS`: the modal major ethnic group
        and modal detailed code of the children, the children's sex (F, M, mixed), the sex of
        the oldest adult, whether any member is disabled (Y/N/Unknown), the youngest child's
        age band, and the IMD quintile of the family's latest postcode district
        (``Q1`` = most deprived). Everything is as recorded before each date; missing
        information is ``Unknown``, never guessed.
    """
    require_columns(areas, "areas", ("postcode_district", "imd_decile"))
    members = members_at(families, as_of_dates)
    traits = person_characteristics_many(observations, as_of_dates, members["person_key"].unique())
    people_dob = people[["person_key", "birth_month"]].astype({"person_key": "string"})
    m = members.merge(traits, on=["as_of_date", "person_key"], how="left").merge(
        people_dob, on="person_key", how="left"
    )
    m["ethnicity_group"] = m["ethnicity"].astype("object").map(ethnicity_group).astype("string")
    m["ethnicity"] = m["ethnicity"].fillna(UNKNOWN)
    m["sex"] = m["sex"].fillna(UNKNOWN)
    m["disability"] = m["disability"].fillna(UNKNOWN)
    m["age"] = (m["as_of_date"] - m["birth_month"]).dt.days / 365.25
    children = m.loc[m["role"] == "child"]
    # the eldest adult leads; between adults born in one month the recorded sex decides, never
    # the keyed person_key, so another pseudonym key cannot change the family's group
    adults = m.loc[m["role"] == "adult"].sort_values([*_KEYS, "birth_month", "sex", "person_key"])

    out = children[_KEYS].drop_duplicates().set_index(_KEYS)
    out["ethnicity_group"] = _modal(children, "ethnicity_group").reindex(out.index)
    out["ethnicity"] = _modal(children, "ethnicity").reindex(out.index)
    out["sex_children"] = _sex_of_children(children).reindex(out.index)
    out["sex_lead_adult"] = adults.drop_duplicates(_KEYS).set_index(_KEYS)["sex"].reindex(out.index)
    out["disability"] = _disability(m).reindex(out.index)
    out["youngest_child_age_band"] = _age_band(children.groupby(_KEYS)["age"].min()).reindex(
        out.index
    )
    district = districts_at(events, families, as_of_dates)
    deciles = areas.astype({"postcode_district": "string"}).set_index("postcode_district")[
        "imd_decile"
    ]
    decile = district.set_index(_KEYS)["postcode_district"].map(deciles).reindex(out.index)
    out["deprivation_quintile"] = decile.map(
        lambda d: UNKNOWN if pd.isna(d) else f"Q{(int(d) + 1) // 2}"
    )
    out = out[list(SENSITIVE_COLUMNS)].fillna(UNKNOWN).astype("string").reset_index()
    out["as_of_date"] = out["as_of_date"].astype("datetime64[ns]")
    return out.sort_values(_KEYS).reset_index(drop=True)


def build_sensitive_features(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    observations: pd.DataFrame,
    areas: pd.DataFrame,
    as_of: date,
) -> pd.DataFrame:
    """:func:`build_sensitive_features_many` at one date, indexed by ``family_key``."""
    out = build_sensitive_features_many(events, families, people, observations, areas, [as_of])
    return out.drop(columns="as_of_date").set_index("family_key")


# family attribute -> (person column whose value supports it, role of the supporting member)
_LEAK_CHECKS: dict[str, tuple[str, str | None]] = {
    "disability": ("disability", None),
    "ethnicity_group": ("ethnicity_group", "child"),
    "sex_lead_adult": ("sex", "adult"),
}


def attribute_leakage(
    sensitive: pd.DataFrame,
    outcomes: pd.DataFrame,
    families: pd.DataFrame,
    observations: pd.DataFrame,
) -> pd.DataFrame:
    """Per group, the share of outcomes whose attribute was first recorded after the as-of date.

    An independent check of whatever produced ``sensitive`` (it does not call
    :func:`build_sensitive_features`): for each family with the outcome, the attribute value
    it was audited under must be supported by a member's record dated before the as-of date.

    Parameters
    ----------
    sensitive : ``as_of_date, family_key`` + attribute columns, as given to the audit.
    outcomes : ``as_of_date, family_key, label``.
    families : the memberships the audit used (spells or snapshots).
    observations : ``protected_characteristics`` (dated).

    Returns
    -------
    pandas.DataFrame
        ``dimension, group, n_outcomes, n_leaked, share``.
    """
    positive = outcomes.loc[outcomes["label"].astype(bool), ["as_of_date", "family_key"]]
    frame = positive.astype({"family_key": "string"}).merge(
        sensitive.astype({"family_key": "string"}), on=["as_of_date", "family_key"]
    )
    dates = sorted(frame["as_of_date"].unique())
    if not dates:
        return pd.DataFrame(columns=["dimension", "group", "n_outcomes", "n_leaked", "share"])
    members = members_at(families, dates)
    obs = observations.assign(
        ethnicity_group=observations["ethnicity"]
        .astype("object")
        .map(lambda c: ethnicity_group(c) if isinstance(c, str) else pd.NA)
    )
    rows = []
    for dim, (person_col, role) in _LEAK_CHECKS.items():
        if dim not in frame.columns:
            continue
        audited = frame.loc[frame[dim].astype(str) != UNKNOWN, ["as_of_date", "family_key", dim]]
        linked = audited.merge(members, on=["as_of_date", "family_key"])
        if role is not None:
            linked = linked.loc[linked["role"] == role]
        support = obs.loc[obs[person_col].notna(), ["person_key", person_col, "recorded_on"]]
        support = support.rename(columns={person_col: dim}).astype({dim: "string"})
        joined = linked.astype({dim: "string"}).merge(support, on=["person_key", dim], how="left")
        joined["before"] = (joined["recorded_on"] < joined["as_of_date"]).fillna(False)
        ok = joined.groupby(["as_of_date", "family_key"])["before"].any()
        audited = audited.set_index(["as_of_date", "family_key"])
        audited["supported"] = ok.reindex(audited.index).fillna(False).astype(bool)
        for group, part in audited.groupby(dim):
            n, leaked = len(part), int((~part["supported"]).sum())
            rows.append({"dimension": dim, "group": str(group), "n_outcomes": n,
                         "n_leaked": leaked, "share": leaked / n if n else 0.0})  # fmt: skip
    return pd.DataFrame(rows, columns=["dimension", "group", "n_outcomes", "n_leaked", "share"])
