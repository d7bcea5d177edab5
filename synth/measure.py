"""Measure an estate's base rates from its written files (newest drop + ground truth) and compare
them with England's published figures.

Measured only from files, never from generator internals, so the same code checks any producer's
estate that comes with a ground truth. Flows are averaged over the last 24 months and stocks over
the last 12 month-ends, which halves the sampling noise of a 50k-person estate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MONTH = pd.DateOffset(months=1)
FAR = pd.Timestamp("2200-01-01")


@dataclass(frozen=True)
class Target:
    """A published figure, the tolerance an estate must meet, and where it comes from."""

    value: float
    low: float
    high: float
    unit: str
    source: str


TARGETS: dict[str, Target] = {
    "children_share": Target(0.21, 0.185, 0.235, "share of people aged 0-17", "ONS mid-2022 population estimates, England"),
    "household_size": Target(2.36, 2.1, 2.6, "people per household", "Census 2021, England and Wales"),
    "moved_share_12m": Target(0.10, 0.08, 0.15, "share of people at a new address after 12 months", "English Housing Survey 2022-23: ~10% of households moved in the year"),
    "referrals_per_10k": Target(518.0, 414.0, 622.0, "referrals a year per 10,000 children", "DfE Children in need 2024: 621,880 referrals"),
    "re_referral_share": Target(0.22, 0.16, 0.28, "referrals within 12 months of a previous one", "DfE Children in need 2024"),
    "cin_per_10k": Target(332.9, 250.0, 416.0, "children in need per 10,000 at a date", "DfE Children in need 2024: 399,460 at 31 March"),
    "cp_plans_per_10k": Target(41.0, 25.0, 58.0, "children on a CP plan per 10,000 at a date", "DfE Children in need 2025: 49,420 at 31 March"),
    "cp_starts_per_10k": Target(51.5, 31.0, 72.0, "CP plan starts a year per 10,000 children", "DfE Children in need 2025: 61,840 starts"),
    "s47_per_10k": Target(175.0, 115.0, 235.0, "section 47 enquiries a year per 10,000 children", "DfE Children in need 2024: ~210,000 enquiries (approximate)"),
    "looked_after_per_10k": Target(70.0, 45.0, 95.0, "children looked after per 10,000 at a date", "DfE Children looked after 2024: 83,630"),
    "persistent_absence": Target(0.192, 0.16, 0.225, "pupils missing >= 10% of sessions, autumn+spring", "DfE Pupil absence 2023/24"),
    "persistent_absence_fsm": Target(0.33, 0.27, 0.39, "as above, pupils eligible for FSM", "DfE Pupil absence 2023/24"),
    "persistent_absence_non_fsm": Target(0.156, 0.125, 0.19, "as above, other pupils", "DfE Pupil absence 2023/24"),
    "fsm_share": Target(0.246, 0.19, 0.30, "pupils eligible for free school meals", "DfE Schools, pupils and their characteristics 2024"),
    "domestic_abuse_per_1000": Target(14.0, 9.0, 19.0, "police-recorded DA incidents a year per 1,000 people", "ONS Domestic abuse in England and Wales, year to March 2024: 851,062 crimes"),
    "ta_children_per_10k": Target(127.0, 60.0, 190.0, "children in temporary accommodation per 10,000 at a date", "MHCLG Statutory homelessness, March 2024: ~152,000 children"),
    "missing_per_looked_after_year": Target(1.0, 0.5, 1.6, "missing episodes a year per looked-after child", "DfE Children looked after 2024: 83,920 missing incidents"),
    "cp_starts_unborn_share": Target(0.08, 0.03, 0.14, "share of CP plan starts (six-year look-back) for a child not yet born", "assumption anchored on DfE Children in need 2020 table A5 (1,220 of 51,510 plans at 31 March for unborn children)"),
    "harm_per_10k": Target(20.0, 10.0, 32.0, "true harm events a year per 10,000 children (truth only)", "assumption (synth/harm.py): rarer than CP plan starts"),
}  # fmt: skip


def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, usecols=columns)


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")


def _with_person(df: pd.DataFrame, records: pd.DataFrame, source: str, key: str) -> pd.DataFrame:
    rec = records[records["source"] == source][["record_key", "true_person_id"]]
    return df.merge(rec, left_on=key, right_on="record_key", how="left")


def _children_at(people: pd.DataFrame, when: pd.Timestamp) -> int:
    dob = people["dob_ts"]
    return int(((dob <= when) & (dob > when - pd.DateOffset(years=18))).sum())


def base_rates(drop: Path, truth: Path) -> dict[str, float]:
    """Measure every figure of :data:`TARGETS` (plus the latent-need AUC) on a drop and its truth."""
    extract = pd.Timestamp(drop.name)
    people = _read(truth / "people.csv")
    people["dob_ts"] = _dates(people["dob"])
    records = _read(truth / "records.csv")
    records = records[records["extract_date"] == drop.name]
    ends = [extract - MONTH * k for k in range(12)]
    kids_now = float(np.mean([_children_at(people, d) for d in ends]))
    out: dict[str, float] = {"children_share": float((people["role"] == "child").mean())}
    mem = _read(truth / "memberships.csv")
    mem["from"], mem["to"] = _dates(mem["valid_from"]), _dates(mem["valid_to"]).fillna(FAR)
    now = mem[
        (mem["from"] <= extract - pd.Timedelta(days=1))
        & (mem["to"] >= extract - pd.Timedelta(days=1))
    ]
    out["household_size"] = len(now) / now["true_family_id"].nunique()
    year_ago = extract - MONTH * 12
    then = mem[(mem["from"] <= year_ago) & (mem["to"] >= year_ago)].set_index("true_person_id")[
        "address_id"
    ]
    both = now.set_index("true_person_id")["address_id"].reindex(then.index)
    out["moved_share_12m"] = float((both != then).mean())
    out.update(_social_care(drop, records, extract, kids_now))
    out.update(_education(drop))
    police = _with_person(_read(drop / "police.csv", ["involvement_id", "incident_ref", "incident_type", "incident_date"]),
                          records, "police", "involvement_id")  # fmt: skip
    police["date"] = _dates(police["incident_date"])
    da = police[
        (police["incident_type"] == "domestic_abuse") & (police["date"] >= extract - MONTH * 24)
    ]
    alive = int((people["dob_ts"] < extract).sum())
    out["domestic_abuse_per_1000"] = da["incident_ref"].nunique() / 2 / alive * 1000
    addresses = _read(truth / "addresses.csv", ["address_id", "tenure"])
    ta = now.merge(addresses, on="address_id")
    ta = ta[ta["tenure"] == "temporary"].merge(
        people[["true_person_id", "role"]], on="true_person_id"
    )
    out["ta_children_per_10k"] = (
        (ta["role"] == "child").sum() / (people["role"] == "child").sum() * 1e4
    )
    out["missing_per_looked_after_year"] = _missing_in_care(drop, records, police, extract)
    out["cp_starts_unborn_share"] = _unborn_share(drop, records, people, extract)
    out["harm_per_10k"] = _harm_rate(truth, extract, kids_now)
    out["latent_need_auc"] = latent_need_auc(truth, extract)
    return out


def _social_care(drop: Path, records: pd.DataFrame, extract: pd.Timestamp,
                 kids: float) -> dict[str, float]:  # fmt: skip
    sc = _with_person(_read(drop / "social_care.csv"), records, "social_care", "episode_id")
    sc["start"], sc["end"] = _dates(sc["start_date"]), _dates(sc["end_date"])
    sc["end"] = sc["end"].fillna(FAR)
    recent = sc["start"] >= extract - MONTH * 24
    per10k = 1e4 / kids
    ref = sc[sc["episode_type"] == "referral"].sort_values(["true_person_id", "start"])
    gap = ref.groupby("true_person_id")["start"].diff()
    in_window = ref["start"] >= extract - MONTH * 24
    out = {
        "referrals_per_10k": in_window.sum() / 2 * per10k,
        "re_referral_share": float((gap[in_window] <= pd.Timedelta(days=365)).mean()),
        "cp_starts_per_10k": (recent & (sc["episode_type"] == "cp_plan")).sum() / 2 * per10k,
        "s47_per_10k": (recent & (sc["episode_type"] == "s47_enquiry")).sum() / 2 * per10k,
    }
    stocks = {"cin_per_10k": ["assessment", "s47_enquiry", "cin_plan", "cp_plan", "looked_after"],
              "cp_plans_per_10k": ["cp_plan"], "looked_after_per_10k": ["looked_after"]}  # fmt: skip
    for name, types in stocks.items():
        sub = sc[sc["episode_type"].isin(types)]
        counts = []
        for k in range(12):
            d = extract - MONTH * k - pd.Timedelta(days=1)
            counts.append(sub[(sub["start"] <= d) & (sub["end"] > d)]["true_person_id"].nunique())
        out[name] = float(np.mean(counts)) * per10k
    return out


def _education(drop: Path) -> dict[str, float]:
    ed = _read(drop / "education.csv", ["upn", "fsm", "record_type", "period_start", "sessions_possible",
                                         "sessions_missed_authorised", "sessions_missed_unauthorised"])  # fmt: skip
    ed = ed[ed["record_type"] == "attendance"].copy()
    ed["start"] = _dates(ed["period_start"])
    spring = ed[ed["start"].dt.month == 1]
    last_spring = spring["start"].max()
    year = ed[(ed["start"] >= last_spring - pd.DateOffset(months=5)) & (ed["start"] <= last_spring)]
    num = {
        c: pd.to_numeric(year[c], errors="coerce")
        for c in ("sessions_possible", "sessions_missed_authorised", "sessions_missed_unauthorised")
    }
    year = year.assign(
        possible=num["sessions_possible"],
        missed=num["sessions_missed_authorised"] + num["sessions_missed_unauthorised"],
    )
    year = year.assign(fsm_y=year["fsm"] == "Y")
    pupil = year.groupby("upn").agg(
        possible=("possible", "sum"), missed=("missed", "sum"), fsm=("fsm_y", "max")
    )
    pupil = pupil[pupil["possible"] > 0]
    pa = pupil["missed"] / pupil["possible"] >= 0.1
    return {
        "persistent_absence": float(pa.mean()),
        "persistent_absence_fsm": float(pa[pupil["fsm"]].mean()),
        "persistent_absence_non_fsm": float(pa[~pupil["fsm"]].mean()),
        "fsm_share": float(pupil["fsm"].mean()),
    }  # fmt: skip


def _missing_in_care(
    drop: Path, records: pd.DataFrame, police: pd.DataFrame, extract: pd.Timestamp
) -> float:
    sc = _with_person(_read(drop / "social_care.csv", ["episode_id", "episode_type", "start_date", "end_date"]),
                      records, "social_care", "episode_id")  # fmt: skip
    lac = sc[sc["episode_type"] == "looked_after"].copy()
    lac["start"], lac["end"] = _dates(lac["start_date"]), _dates(lac["end_date"]).fillna(extract)
    lo = extract - MONTH * 24
    lac["years"] = (lac["end"].clip(upper=extract) - lac["start"].clip(lower=lo)).dt.days.clip(
        lower=0
    ) / 365.25
    missing = police[(police["incident_type"] == "missing_episode") & (police["date"] >= lo)]
    joined = missing.merge(lac[["true_person_id", "start", "end"]], on="true_person_id")
    in_care = joined[(joined["date"] >= joined["start"]) & (joined["date"] <= joined["end"])]
    years = lac["years"].sum()
    return float(in_care["involvement_id"].nunique() / years) if years else float("nan")


def _unborn_share(
    drop: Path, records: pd.DataFrame, people: pd.DataFrame, extract: pd.Timestamp
) -> float:
    """Share of CP plan starts in the six-year look-back whose child was not yet born."""
    sc = _with_person(_read(drop / "social_care.csv", ["episode_id", "episode_type", "start_date"]),
                      records, "social_care", "episode_id")  # fmt: skip
    cp = sc[sc["episode_type"] == "cp_plan"].merge(
        people[["true_person_id", "dob_ts"]], on="true_person_id"
    )
    start = _dates(cp["start_date"])
    keep = start >= extract - MONTH * 72
    cp, start = cp[keep], start[keep]
    return float((start < cp["dob_ts"]).mean()) if len(cp) else float("nan")


def _harm_rate(truth: Path, extract: pd.Timestamp, kids: float) -> float:
    """True harm events a year per 10,000 children over the last 24 months (NaN without harm.csv)."""
    if not (truth / "harm.csv").exists():
        return float("nan")
    day = _dates(_read(truth / "harm.csv", ["harm_date"])["harm_date"])
    return float(((day >= extract - MONTH * 24) & (day < extract)).sum() / 2 / kids * 1e4)


def latent_need_auc(truth: Path, extract: pd.Timestamp) -> float:
    """AUC of people.csv's latent need for a child-protection outcome in the 12 months after
    ``extract`` minus 12 months, among children aged under 18 at that date."""
    people = _read(truth / "people.csv", ["true_person_id", "dob", "latent_need"])
    outcomes = _read(truth / "outcomes.csv")
    as_of = extract - MONTH * 12
    dob = _dates(people["dob"])
    kids = people[(dob <= as_of) & (dob > as_of - pd.DateOffset(years=18))]
    start = _dates(outcomes["start_date"])
    hit = set(outcomes.loc[(start >= as_of) & (start < extract), "true_person_id"])
    y = kids["true_person_id"].isin(hit).to_numpy()
    score = kids["latent_need"].astype(float).to_numpy()
    ranks = pd.Series(score).rank().to_numpy()
    pos, neg = y.sum(), (~y).sum()
    return (
        float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg)) if pos and neg else float("nan")
    )


def compare(measured: dict[str, float]) -> dict[str, dict[str, object]]:
    """Each figure with its target, tolerance band, source and whether it is inside the band."""
    out: dict[str, dict[str, object]] = {}
    for name, value in measured.items():
        t = TARGETS.get(name)
        entry: dict[str, object] = {"measured": round(float(value), 4)}
        if t is not None:
            entry.update(target=t.value, low=t.low, high=t.high, unit=t.unit, source=t.source,
                         within=bool(t.low <= value <= t.high))  # fmt: skip
        elif name == "latent_need_auc":
            entry.update(target=0.80, low=0.75, high=0.85, unit="AUC", source="design target (issue 2)",
                         within=bool(0.75 <= value <= 0.85))  # fmt: skip
        out[name] = entry
    return out
