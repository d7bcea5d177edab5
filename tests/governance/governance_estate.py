"""A small synthetic data directory (docs/DESIGN.md layout) with planted people and markers.

About 150 noisy people in households across the five agencies are linked with the real
``safeguard.linkage.link_with_details`` (model saved under ``artefacts/linkage``). Planted on top:

- the **target** child Zephyrine Quillfeather (education, social care, and a housing record
  with the surname typo'd as "Quilfeather" that only the linkage connects), her mother
  Marisol (a third party) and a flagged family with explanations, judgements and audit entries;
- **Oswin Expiredmarker**, living with them, whose only record is a police record from 2015
  (expired under the 72-month policy) quoted in the family's evidence and case pack;
- an **objector** Percival Objectorson with a clean and a typo'd record, and his brother;
- **Yun Harrowgate**, whose twin Jun has no record: a request from Jun (same surname, date of
  birth and address, one letter apart) resembles Yun closely enough to link.

Nothing here is real: every name and identifier is made up.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from safeguard import linkage
from safeguard.dpia.audit import AuditLog
from safeguard.dpia.pseudonymise import Pseudonymiser
from safeguard.portal.records import replace_practitioner_tables

KEY = b"governance-test-key-0123456789ab"
SOURCES = ("social_care", "education", "housing", "police", "revenues_benefits")
TODAY = date(2026, 11, 1)
FIRST = ["james", "oliver", "harry", "jack", "george", "noah", "olivia", "amelia", "isla", "ava",
         "emily", "sophia", "grace", "mia", "poppy", "ella", "leo", "theo", "archie", "oscar",
         "ruby", "freya", "evie", "lily", "jacob", "alfie", "daisy", "florence", "arthur", "ivy"]  # fmt: skip
LAST = ["smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel",
        "khan", "wright", "walker", "white", "green", "hall", "wood", "clarke", "lewis", "hughes",
        "scott", "begum", "roberts", "evans", "thomas", "turner", "hill", "moore", "cooper"]  # fmt: skip
DATE_COLUMNS = {"social_care": "start_date", "education": "period_start", "housing": "event_date",
                "police": "incident_date", "revenues_benefits": "event_date"}  # fmt: skip


@dataclass(frozen=True)
class Planted:
    """Keys of the planted people, for assertions."""

    target_records: tuple[tuple[str, str], ...]  # (source, record_key)
    typo_record: tuple[str, str]
    mother_records: tuple[tuple[str, str], ...]
    expired_record: tuple[str, str]
    objector_typo_record: tuple[str, str]
    family_key: str
    flag_id: str


PLANTED = Planted(
    target_records=(("education", "ED-T-000001"), ("social_care", "SC-T-000001"),
                    ("housing", "HO-T-TYPO01")),
    typo_record=("housing", "HO-T-TYPO01"),
    mother_records=(("housing", "HO-M-000001"), ("police", "PO-M-000001"),
                    ("revenues_benefits", "RB-M-000001")),
    expired_record=("police", "PO-EXPIRED-01"),
    objector_typo_record=("housing", "HO-OBJ-TYPO"),
    family_key="fa11ab1e0000c0de",
    flag_id="flag-target-01",
)  # fmt: skip
TARGET = {"first_name": "Zephyrine", "last_name": "Quillfeather", "dob": date(2012, 5, 17),
          "postcode": "NB3 4QX"}  # fmt: skip
MOTHER_NAME = ("Marisol", "Quillfeather", "1985-02-03")
EXPIRED_NAME = ("Oswin", "Expiredmarker")
OBJECTOR = {"first_name": "Percival", "last_name": "Objectorson", "dob": date(2009, 9, 23),
            "postcode": "NB5 2LP"}  # fmt: skip
TWIN_WITH_RECORDS = {"first_name": "Yun", "last_name": "Harrowgate", "dob": date(2013, 8, 9),
                     "postcode": "NB2 7PL"}  # fmt: skip
TWIN_WITHOUT_RECORDS = {**TWIN_WITH_RECORDS, "first_name": "Jun"}


def _typo(rng: random.Random, word: str) -> str:
    k = rng.randrange(len(word))
    return word[:k] + rng.choice("aeiourst") + word[k + 1 :]


def _row(source: str, key: str, first: str, last: str, dob: object, address: object,
         postcode: object, sex: object = None) -> dict[str, object]:  # fmt: skip
    return {"source": source, "record_key": key, "first_name": first, "last_name": last,
            "dob": pd.Timestamp(dob) if dob is not None else pd.NaT, "address_line": address,
            "postcode": postcode, "sex": sex, "upn": None, "nhs_number": None}  # fmt: skip


def _background(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for household in range(60):
        last = rng.choice(LAST)
        address = f"{rng.randint(1, 250)} {rng.choice(['High', 'Mill', 'Church', 'Park'])} Road"
        postcode = (
            f"NB{rng.randint(1, 9)} {rng.randint(1, 9)}{rng.choice('ABDEFG')}{rng.choice('HJLNPQ')}"
        )
        for member in range(rng.randint(1, 4)):
            first = rng.choice(FIRST)
            year = rng.randint(1975, 1992) if member == 0 else rng.randint(2008, 2020)
            dob = date(year, rng.randint(1, 12), rng.randint(1, 28))
            for source in rng.sample(SOURCES, rng.randint(1, 4)):
                f, ln, d, a, p = first, last, dob, address, postcode
                r = rng.random()
                if r < 0.2:
                    ln = _typo(rng, ln)
                elif r < 0.35:
                    f = _typo(rng, f)
                elif r < 0.5:
                    a, p = None, None
                elif r < 0.62:
                    a, p = f"{rng.randint(1, 99)} Station Road", f"NB{rng.randint(1, 9)} 9ZZ"
                elif r < 0.7 and d.day <= 12:
                    d = date(d.year, d.day, d.month)
                key = f"{source[:2].upper()}-{household:03d}-{member}-{len(rows):04d}"
                rows.append(_row(source, key, f.title(), ln.title(), d, a, p))
    return rows


def _planted() -> list[dict[str, object]]:
    t, home, pc = TARGET, "7 Heron Close", TARGET["postcode"]
    m = MOTHER_NAME
    o = OBJECTOR
    return [
        _row("education", "ED-T-000001", t["first_name"], t["last_name"], t["dob"], home, pc, "F"),
        _row("social_care", "SC-T-000001", t["first_name"].upper(), t["last_name"], t["dob"], home, pc, "F"),
        _row("housing", "HO-T-TYPO01", t["first_name"], "Quilfeather", t["dob"], "7 Heron Cl", pc),
        _row("housing", "HO-M-000001", m[0], m[1], m[2], home, pc),
        _row("police", "PO-M-000001", m[0], m[1], m[2], home, pc, "F"),
        _row("revenues_benefits", "RB-M-000001", m[0], m[1], m[2], home, pc),
        _row("police", "PO-EXPIRED-01", *EXPIRED_NAME, "1979-11-30", home, pc, "M"),
        _row("education", "ED-OBJ-00001", o["first_name"], o["last_name"], o["dob"], "3 Larch Way", o["postcode"], "M"),
        _row("housing", "HO-OBJ-TYPO", o["first_name"], "Objectersson", o["dob"], "3 Larch Way", o["postcode"]),
        _row("education", "ED-OBJ-BRO01", "Tobias", o["last_name"], "2011-04-02", "3 Larch Way", o["postcode"], "M"),
        _row("education", "ED-YUN-00001", "Yun", "Harrowgate", "2013-08-09", "12 Ash Grove", "NB2 7PL", "F"),
        _row("social_care", "SC-YUN-00001", "Yun", "Harrowgate", "2013-08-09", "12 Ash Grove", "NB2 7PL", "F"),
        _row("housing", "HO-YUN-MUM01", "Hana", "Harrowgate", "1984-01-20", "12 Ash Grove", "NB2 7PL"),
    ]  # fmt: skip


def _write(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    con = duckdb.connect(str(path))
    try:
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
    finally:
        con.close()


def _source_tables(identities: pd.DataFrame, rng: random.Random) -> dict[str, pd.DataFrame]:
    tables = {}
    for source in SOURCES:
        part = identities[identities["source"] == source]
        dates = [
            pd.Timestamp(2025, rng.randint(1, 12), rng.randint(1, 28)) for _ in range(len(part))
        ]
        frame = pd.DataFrame({
            "record_pseudo": part["record_pseudo"].to_numpy(),
            "agency_person_pseudo": part["record_pseudo"].str[::-1].to_numpy(),
            DATE_COLUMNS[source]: pd.to_datetime(dates),
            "postcode_district": part["postcode"].str.split(" ").str[0].to_numpy(),
            "birth_month": part["dob"].dt.to_period("M").dt.to_timestamp().to_numpy(),
            "extract_date": pd.Timestamp(2026, 10, 1),
        })  # fmt: skip
        if source == "social_care":
            frame["end_date"] = frame["start_date"] + pd.Timedelta(days=60)
        if source == "education":
            frame["period_end"] = frame["period_start"] + pd.Timedelta(days=90)
        expired = part["record_key"].to_numpy() == PLANTED.expired_record[1]
        frame.loc[expired, DATE_COLUMNS[source]] = pd.Timestamp(2015, 3, 14)
        tables[f"{source}_records"] = frame
    return tables


def build_estate(data_dir: Path) -> dict[str, str]:
    """Write the data directory; returns pseudonyms of planted records by record key."""
    rng = random.Random(20261101)
    pseudo = Pseudonymiser(KEY)
    identities = pd.DataFrame(_background(rng) + _planted())
    identities["record_pseudo"] = pseudo.pseudonymise(
        "record", identities["source"] + ":" + identities["record_key"]
    )
    identities["agency_id"] = "AG-" + identities["record_key"]
    result = linkage.link_with_details(
        keys=pseudo.key_function(),
        records=identities[["source", "record_key", "first_name", "last_name", "dob", "address_line",
                    "postcode", "sex", "upn", "nhs_number"]],
        config=linkage.LinkageConfig(u_max_pairs=2e5),
        artefact_dir=data_dir / "artefacts" / "linkage",
    )  # fmt: skip
    links = result.links.merge(identities[["source", "record_key", "record_pseudo"]])
    vault = identities.merge(links[["source", "record_key", "person_key"]])
    data_dir.mkdir(parents=True, exist_ok=True)
    key_of = dict(zip(vault["record_key"], vault["person_key"], strict=True))
    pseudo_of = dict(zip(vault["record_key"], vault["record_pseudo"], strict=True))
    vault_tables = {
        f"identity_{s}": vault[vault["source"] == s].drop(columns="person_key") for s in SOURCES
    }
    vault_tables["identity_vault"] = vault
    vault_tables["identity_objections"] = pd.DataFrame({
        "objection_id": ["OBJ-1"], "objection_pseudo": [pseudo.pseudonym("objection", "OBJ-1")],
        "first_name": [OBJECTOR["first_name"]], "last_name": [OBJECTOR["last_name"]],
        "dob": [pd.Timestamp(OBJECTOR["dob"])], "postcode": [OBJECTOR["postcode"]]})  # fmt: skip
    _write(data_dir / "vault.duckdb", vault_tables)
    _write(data_dir / "warehouse.duckdb", _warehouse(vault, links, key_of, pseudo_of, rng))
    _write_portal(data_dir)
    _write_files_and_audit(data_dir, key_of, pseudo_of)
    return pseudo_of


def _warehouse(vault, links, key_of, pseudo_of, rng) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    tables = _source_tables(vault, rng)
    record_links = links[
        ["source", "record_pseudo", "person_key", "cluster_size", "linkage_confidence"]
    ]
    people = vault.groupby("person_key", as_index=False).agg(n_records=("record_key", "size"))
    fam = PLANTED.family_key
    members = {
        key_of["ED-T-000001"]: "child",
        key_of["PO-M-000001"]: "adult",
        key_of["PO-EXPIRED-01"]: "adult",
    }
    families = pd.DataFrame({"person_key": list(members), "family_key": fam, "role": list(members.values()),
                             "valid_from": pd.Timestamp(2024, 1, 1), "valid_to": pd.NaT})  # fmt: skip
    events = vault[["record_pseudo", "source", "person_key"]].assign(
        event_type=lambda f: f["source"] + ".event", event_date=pd.Timestamp(2025, 6, 1)
    )
    evidence = [{"source": "police", "record_pseudo": pseudo_of["PO-M-000001"], "event_date": "2025-06-01", "event_type": "police.domestic_abuse", "person_key": key_of["PO-M-000001"]},
                {"source": "police", "record_pseudo": pseudo_of["PO-EXPIRED-01"], "event_date": "2015-03-14", "event_type": "police.violence", "person_key": key_of["PO-EXPIRED-01"]},
                {"source": "families", "record_pseudo": None, "event_date": "2024-01-01", "event_type": "families.adult_joined", "person_key": key_of["PO-M-000001"]},
                {"source": "education", "record_pseudo": pseudo_of["ED-T-000001"], "event_date": "2025-06-01", "event_type": "education.attendance", "person_key": key_of["ED-T-000001"]}]  # fmt: skip
    flag = PLANTED.flag_id
    return {
        **tables, "record_links": record_links, "people": people, "families": families, "events": events,
        "family_features": pd.DataFrame({"family_key": [fam, "0ther0family0001"], "as_of_date": pd.Timestamp(2026, 10, 1), "police_da_incidents_6m": [3, 0]}),
        "family_scores": pd.DataFrame({"family_key": [fam], "as_of_date": pd.Timestamp(2026, 10, 1), "probability": [0.41], "band": ["very high"]}),
        "flags": pd.DataFrame({"flag_id": [flag, "flag-old-2023"], "family_key": [fam, "0ther0family0001"], "as_of_date": [pd.Timestamp(2026, 10, 1), pd.Timestamp(2023, 1, 1)], "worker_id": ["W01", "W02"], "probability": [0.41, 0.3]}),
        "flag_explanations": pd.DataFrame({"flag_id": [flag, flag, "flag-old-2023"], "family_key": [fam, fam, "0ther0family0001"], "reason_rank": [1, 2, 1], "text": ["3 police-recorded domestic abuse incidents at the home", "Attendance fell", "Old reason"], "evidence": [json.dumps(evidence[:3]), json.dumps(evidence[3:]), "[]"]}),
        "caseloads": pd.DataFrame({"worker_id": ["W01", "W02"], "flag_id": [flag, "flag-old-2023"], "family_key": [fam, "0ther0family0001"]}),
        "linkage_quality": pd.DataFrame({"metric": ["pairwise_precision", "pairwise_recall"], "value": [0.995, 0.961]}),
        "row_accounting": pd.DataFrame({"extract_date": pd.Timestamp(2026, 10, 1), "file": [f"{s}.csv" for s in SOURCES], "rows_read": 100, "rows_accepted": 98, "rows_quarantined": 2}),
        "firewall_log": pd.DataFrame({"extract_date": [pd.Timestamp(2026, 10, 1)], "file": ["police.csv"], "column": ["Immigration Status"], "action": ["dropped_prohibited"], "row_count": [100]}),
        "quarantine": pd.DataFrame({"extract_date": [pd.Timestamp(2026, 10, 1), pd.Timestamp(2025, 1, 1)], "file": ["police.csv", "police.csv"], "row_number": [4, 9], "column": ["dob", "dob"], "rule": ["type", "type"], "reason": ["dob 'Zephyrine Quillfeather' is not a date", "old"]}),
    }  # fmt: skip


def _write_portal(data_dir: Path) -> None:
    """Through safeguard.portal.records, into whichever portal database the settings name."""
    judgements = pd.DataFrame({
        "judgement_id": ["j1", "j2"], "flag_id": [PLANTED.flag_id, "flag-old-2023"],
        "family_key": [PLANTED.family_key, "0ther0family0001"], "worker_id": ["W01", "W02"],
        "username": ["pat.practitioner", "sam.social"], "decision": ["agree_act", "disagree"],
        "reason": ["Checked school and police records; offering early help", "Already known"],
        "decided_at": [datetime(2026, 10, 5, 10), datetime(2023, 2, 1)], "model_version": "v1"})  # fmt: skip
    users = pd.DataFrame({
        "username": ["pat.practitioner", "sam.social", "ig.officer"],
        "display_name": ["Pat Practitioner", "Sam Social", "Ira Governance"],
        "role": ["practitioner", "practitioner", "admin"], "worker_id": ["W01", "W02", None],
        "team": [None, None, None], "password_hash": "$argon2id$not-a-real-hash",
        "disabled": False, "created_at": datetime(2026, 1, 1)})  # fmt: skip
    replace_practitioner_tables(data_dir, {"judgements": judgements, "users": users})


def _write_files_and_audit(
    data_dir: Path, key_of: dict[str, str], pseudo_of: dict[str, str]
) -> None:
    packs = data_dir / "artefacts" / "case_packs"
    packs.mkdir(parents=True, exist_ok=True)
    (packs / "W01.html").write_text(
        f"<html><body><p>{' '.join(EXPIRED_NAME)}</p><p>{pseudo_of['PO-EXPIRED-01']}</p></body></html>"
    )
    (data_dir / "data_docs").mkdir(exist_ok=True)
    (data_dir / "data_docs" / "index.html").write_text("<html><body>Data Docs</body></html>")
    audit = AuditLog(data_dir / "audit" / "audit.jsonl")
    audit.append("data_team", "run_started", run_id="run-1")
    audit.append(
        "pat.practitioner", "case_view", f"family_key:{PLANTED.family_key}", flag_id=PLANTED.flag_id
    )
    audit.append(
        "pat.practitioner",
        "reidentification",
        f"person_key:{key_of['ED-T-000001']}",
        source="education",
    )
    audit.append("sam.social", "case_view", "family_key:0ther0family0001")


def link_at_past_date(
    data_dir: Path, records: tuple[tuple[str, str], ...], as_of: date = date(2026, 5, 1)
) -> None:
    """Make the vault look linked at a past as-of date with ``records`` dated after it.

    As ``safeguard run --as-of`` leaves it (docs/DESIGN.md, "Run context"): every row carries
    ``linked`` and ``linkage_as_of``; a record dated after the as-of date keeps its row with no
    person key and ``linked`` false.
    """
    con = duckdb.connect(str(data_dir / "vault.duckdb"))
    try:
        con.execute("ALTER TABLE identity_vault ADD COLUMN linked BOOLEAN DEFAULT true")
        con.execute(
            "ALTER TABLE identity_vault ADD COLUMN linkage_as_of TIMESTAMP "
            f"DEFAULT TIMESTAMP '{as_of.isoformat()}'"
        )
        for source, key in records:
            con.execute(
                "UPDATE identity_vault SET person_key = NULL, linked = false "
                "WHERE source = ? AND record_key = ?",
                [source, key],
            )
    finally:
        con.close()
