"""Family-level protected characteristics, for the fairness audit only.

These columns are returned in their own ``sensitive_features`` frame keyed by ``family_key``
and are passed to the audit as fairlearn's ``sensitive_features=``; they never join the
feature matrix X (``features.dictionary.assert_no_protected`` guards that).
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from features.build import FAMILY_INPUT_COLUMNS, require_columns

UNKNOWN = "Unknown"

# DfE major ethnic groups (the census codes of the landing contract).
_ETHNIC_GROUPS = {"W": "White", "M": "Mixed", "A": "Asian", "B": "Black"}
_OTHER_ETHNIC = {"CHNE": "Other", "OOTH": "Other"}

SENSITIVE_COLUMNS: tuple[str, ...] = (
    "ethnicity_group", "ethnicity", "sex_children", "sex_lead_adult", "disability",
    "youngest_child_age_band", "deprivation_quintile",
)  # fmt: skip


def ethnicity_group(code: object) -> str:
    """Map a contract ethnicity code to its DfE major group (refused/not obtained -> Unknown)."""
    if not isinstance(code, str) or not code:
        return UNKNOWN
    if code in _OTHER_ETHNIC:
        return _OTHER_ETHNIC[code]
    return _ETHNIC_GROUPS.get(code[0], UNKNOWN) if code not in ("REFU", "NOBT") else UNKNOWN


def _modal(frame: pd.DataFrame, column: str) -> pd.Series:
    """Most frequent known value of ``column`` per family (ties: alphabetical, so stable)."""
    known = frame.loc[frame[column] != UNKNOWN]
    counts = known.groupby(["family_key", column]).size().rename("n").reset_index()
    counts = counts.sort_values(["family_key", "n", column], ascending=[True, False, True])
    return counts.drop_duplicates("family_key").set_index("family_key")[column]


def _sex_of_children(children: pd.DataFrame) -> pd.Series:
    known = children.loc[children["sex"].isin(["F", "M"])]
    span = known.groupby("family_key")["sex"].agg(["min", "max"])
    return span["min"].where(span["min"] == span["max"], "mixed")


def _disability(members: pd.DataFrame) -> pd.Series:
    flags = members.assign(y=members["disability"] == "Y", n=members["disability"] == "N")
    any_flag = flags.groupby("family_key")[["y", "n"]].any()
    return pd.Series(
        [
            "Y" if y else "N" if n else UNKNOWN
            for y, n in zip(any_flag["y"], any_flag["n"], strict=True)
        ],
        index=any_flag.index,
    )


def _age_band(years: pd.Series) -> pd.Series:
    bands = pd.cut(
        years, bins=[-1, 5, 11, 16, 200], right=False, labels=["0-4", "5-10", "11-15", "16-17"]
    )
    return bands.astype("string").fillna(UNKNOWN)


def _districts(events: pd.DataFrame, members: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The postcode district of each family's most recent located event before ``as_of``."""
    sql = """
    SELECT m.family_key, arg_max(e.postcode_district, e.event_date) AS postcode_district
    FROM members m JOIN events e ON e.person_key = m.person_key
    WHERE e.event_date < $as_of AND e.postcode_district IS NOT NULL
    GROUP BY m.family_key
    """
    con = duckdb.connect()
    try:
        con.register("events", events[["person_key", "event_date", "postcode_district"]])
        con.register("members", members[["family_key", "person_key"]])
        return con.execute(sql, {"as_of": as_of.to_pydatetime()}).df()
    finally:
        con.close()


def build_sensitive_features(
    events: pd.DataFrame,
    families: pd.DataFrame,
    people: pd.DataFrame,
    protected_characteristics: pd.DataFrame,
    areas: pd.DataFrame,
    as_of: date,
) -> pd.DataFrame:
    """Audit attributes of every family current at ``as_of``, kept apart from X.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``family_key`` with :data:`SENSITIVE_COLUMNS`: the modal major ethnic group
        and modal detailed code of the children, the children's sex (F, M, mixed), the sex of
        the oldest adult, whether any member is disabled (Y/N/Unknown), the youngest child's
        age band, and the IMD quintile of the family's latest postcode district
        (``Q1`` = most deprived). Missing information is ``Unknown``, never guessed.
    """
    require_columns(families, "families", FAMILY_INPUT_COLUMNS)
    require_columns(protected_characteristics, "protected_characteristics",
                    ("person_key", "sex", "ethnicity", "disability"))  # fmt: skip
    require_columns(areas, "areas", ("postcode_district", "imd_decile"))
    ts = pd.Timestamp(as_of)
    valid = (families["valid_from"].isna() | (families["valid_from"] <= ts)) & (
        families["valid_to"].isna() | (families["valid_to"] > ts)
    )
    members = families.loc[valid, ["family_key", "person_key", "role"]].astype("string")
    traits = protected_characteristics[["person_key", "sex", "ethnicity", "disability"]].astype(
        "string"
    )
    people_dob = people[["person_key", "birth_month"]].astype({"person_key": "string"})
    m = members.merge(traits, on="person_key", how="left").merge(
        people_dob, on="person_key", how="left"
    )
    codes = m["ethnicity"].astype("object")
    m["ethnicity_group"] = codes.map(ethnicity_group).astype("string")
    m["ethnicity"] = m["ethnicity"].fillna(UNKNOWN).replace({"REFU": UNKNOWN, "NOBT": UNKNOWN})
    m["age"] = (ts - m["birth_month"]).dt.days / 365.25
    children = m.loc[m["role"] == "child"]
    adults = m.loc[m["role"] == "adult"].sort_values(["family_key", "birth_month", "person_key"])

    out = pd.DataFrame(index=pd.Index(children["family_key"].unique(), name="family_key"))
    out["ethnicity_group"] = _modal(children, "ethnicity_group").reindex(out.index)
    out["ethnicity"] = _modal(children, "ethnicity").reindex(out.index)
    out["sex_children"] = _sex_of_children(children).reindex(out.index)
    out["sex_lead_adult"] = (
        adults.drop_duplicates("family_key").set_index("family_key")["sex"].reindex(out.index)
    )
    out["disability"] = _disability(m).reindex(out.index)
    out["youngest_child_age_band"] = _age_band(children.groupby("family_key")["age"].min()).reindex(
        out.index
    )

    district = _districts(events, m, ts).set_index("family_key")["postcode_district"]
    deciles = areas.astype({"postcode_district": "string"}).set_index("postcode_district")[
        "imd_decile"
    ]
    decile = district.map(deciles).reindex(out.index)
    out["deprivation_quintile"] = decile.map(
        lambda d: UNKNOWN if pd.isna(d) else f"Q{(int(d) + 1) // 2}"
    )
    out["sex_lead_adult"] = out["sex_lead_adult"].fillna(UNKNOWN).replace({"U": UNKNOWN})
    return out[list(SENSITIVE_COLUMNS)].fillna(UNKNOWN).astype("string")
