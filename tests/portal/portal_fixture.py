"""A small synthetic data directory for portal tests and the load benchmark.

Builds the warehouse, vault and report files the portal reads (docs/DESIGN.md, "Flags" and
"Portal") without running the pipeline. Every name is obviously fake ("Ada Testperson").
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from safeguard.portal.snapshot import publish_serving_snapshot

AS_OF = date(2026, 3, 1)
EARLIER_AS_OF = date(2026, 2, 1)
MODEL_VERSION = "risk-model-2026.03.01-test"
SOURCES = ("social_care", "education", "housing", "police", "revenues_benefits")

WORKERS = [
    ("W01", "Alex Worker (synthetic)", "North", "social_worker", "NB1;NB2", 5),
    ("W02", "Sam Worker (synthetic)", "North", "early_help_practitioner", "NB3", 5),
    ("W03", "Jo Worker (synthetic)", "South", "social_worker", "NB4;NB5", 5),
    ("W04", "Morgan Manager (synthetic)", "North", "team_manager", "NB1", 0),
]
# family_key suffix -> (district, [(first, last, role, dob)])
# fmt: off
FAMILIES = {
    "f1": ("NB1", [("Ada", "Testperson", "adult", "1985-03-14"), ("Bram", "Testperson", "child", "2014-07-02"),
                   ("Cleo", "Testperson", "child", "2017-11-23")]),
    "f2": ("NB2", [("Dara", "Fakeley", "adult", "1990-01-30"), ("Eli", "Fakeley", "child", "2016-05-09")]),
    "f3": ("NB3", [("Fern", "Mockford", "adult", "1982-09-17"), ("Gus", "Mockford", "child", "2012-02-28"),
                   ("Hal", "Mockford", "adult", "1979-12-01")]),
    "f4": ("NB3", [("Ivy", "Fauxbridge", "adult", "1993-06-06"), ("Jem", "Fauxbridge", "child", "2019-08-15")]),
    "f5": ("NB4", [("Kit", "Pretendon", "adult", "1988-04-22"), ("Lou", "Pretendon", "child", "2015-10-10")]),
    "f6": ("NB1", [("Mo", "Dummett", "adult", "1975-11-11"), ("Nia", "Dummett", "child", "2013-03-03")]),
}
# fmt: on
FORMER_MEMBER = ("Otto", "Leftfamily", "adult", "1980-07-07")  # left family f1: never shown
# flag name -> (family, worker, rank, probability, band)
FLAGS = {
    "A1": ("f1", "W01", 1, 0.62, "very high"),
    "A2": ("f2", "W01", 4, 0.31, "high"),
    "B1": ("f3", "W02", 2, 0.55, "very high"),
    "B2": ("f4", "W02", 5, 0.18, "medium"),
    "C1": ("f5", "W03", 3, 0.41, "high"),
}
OLD_FLAG = ("OLD", "f6", "W01", 1, 0.50, "very high")  # an earlier run's flag: history, not work

USERS = {  # username -> (role, worker_id, team, display_name)
    "alex": ("practitioner", "W01", "North", "Alex Worker"),
    "sam": ("practitioner", "W02", "North", "Sam Worker"),
    "jo": ("practitioner", "W03", "South", "Jo Worker"),
    "morgan": ("team_manager", "W04", "North", "Morgan Manager"),
    "riley": ("reviewer", None, None, "Riley Reviewer"),
    "root": ("admin", None, None, "Data Team Admin"),
    "gone": ("practitioner", "W01", "North", "Disabled Person"),
}


def password_for(username: str) -> str:
    return f"synthetic-password-{username}"


def _hex(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def flag_id(name: str) -> str:
    return "fl" + _hex("flag", name)[:10]


def family_key(name: str) -> str:
    return "fam" + _hex("family", name)[:12]


@dataclass(frozen=True)
class PortalFixture:
    """What a test needs to know about the synthetic data directory."""

    data_dir: Path
    flags: dict[str, str]  # flag name -> flag_id
    families: dict[str, str]  # family name -> family_key
    identities: tuple[str, ...]  # names, dobs, addresses, postcodes and ids held in the vault
    full_names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # family -> members


def _records(people: list[dict[str, object]]) -> pd.DataFrame:
    """Vault rows: adults have police, housing and benefits records; children education and care."""
    rows, counter = [], 0
    for person in people:
        sources = (
            ["police", "housing", "revenues_benefits"]
            if person["role"] == "adult"
            else ["education", "social_care"]
        )
        for source in sources:
            counter += 1
            key = f"{source[:3].upper()}-{counter:05d}"
            rows.append(
                {
                    "source": source,
                    "record_key": key,
                    "record_pseudo": _hex("record", source, key),
                    "agency_id": f"{source[:2].upper()}{counter:06d}",
                    "first_name": person["first_name"],
                    "last_name": person["last_name"],
                    "dob": person["dob"],
                    "address_line": person["address"],
                    "postcode": person["postcode"],
                    "sex": "U",
                    "upn": f"A{counter:012d}" if source == "education" else None,
                    "nhs_number": f"94{counter:08d}" if source == "social_care" else None,
                    "person_key": person["person_key"],
                    "family": person["family"],
                }
            )
    return pd.DataFrame(rows)


def _explanations(records: pd.DataFrame, flags: dict[str, tuple]) -> pd.DataFrame:
    rows = []
    for name, (fam, _worker, _rank, probability, _band) in flags.items():
        fam_records = records[records["family"] == fam]

        def evidence(source: str, event_type: str, fam_records: pd.DataFrame = fam_records) -> str:
            picked = fam_records[fam_records["source"] == source].head(2)
            return json.dumps(
                [
                    {
                        "source": source,
                        "record_pseudo": r,
                        "event_date": f"2026-0{1 + i}-1{i}",
                        "event_type": event_type,
                    }
                    for i, r in enumerate(picked["record_pseudo"])
                ]
            )

        reasons = [
            (
                "da_incidents_6m",
                "Domestic abuse incidents (6 months)",
                "raised",
                0.21,
                2.0,
                "2 police-recorded domestic abuse incidents at the home in the last 6 months: raised the indicator a lot",
                evidence("police", "police.domestic_abuse"),
            ),
            (
                "unauthorised_absence",
                "Unauthorised school absence",
                "raised",
                0.09,
                0.14,
                "A child missed 14% of school sessions without authorisation this term: raised the indicator",
                evidence("education", "education.attendance"),
            ),
            (
                "rent_arrears",
                "Rent arrears notices",
                "raised",
                0.05,
                1.0,
                "1 rent arrears notice in the last 12 months: raised the indicator a little",
                evidence("housing", "housing.arrears_notice"),
            ),
            (
                "no_recent_care",
                "No recent social care contact",
                "lowered",
                -0.04,
                0.0,
                "No children's social care contact in the last 2 years: lowered the indicator a little",
                "[]",
            ),
        ]
        for rank, (feature, label, direction, contribution, value, text, ev) in enumerate(
            reasons, 1
        ):
            rows.append(
                {
                    "flag_id": flag_id(name),
                    "family_key": family_key(fam),
                    "reason_rank": rank,
                    "feature": feature,
                    "label": label,
                    "direction": direction,
                    "contribution": contribution * probability / 0.62,
                    "value": value,
                    "text": text,
                    "evidence": ev,
                }
            )
    return pd.DataFrame(rows)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        if column.endswith("_date") or column in {"valid_from", "valid_to"}:
            out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
        elif column == "dob":
            out[column] = pd.to_datetime(out[column]).dt.date  # DuckDB DATE, as in the vault
        elif out[column].dtype == object:
            out[column] = out[column].astype("string")
    return out


def _write(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    con = duckdb.connect(str(path))
    try:
        for name, df in tables.items():
            con.register("_df", _typed(df))
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _df')
            con.unregister("_df")
    finally:
        con.close()


def _reports(data_dir: Path, leak: str) -> None:
    reports, artefacts = data_dir / "reports", data_dir / "artefacts"
    for folder in (reports, artefacts / "fairness", artefacts / "case_packs", artefacts / "charts"):
        folder.mkdir(parents=True, exist_ok=True)
    (reports / "review_pack.html").write_text(
        "<!doctype html><html><head><title>Review pack</title><style>body{font-family:sans-serif}</style>"
        "</head><body><h1>Review pack (synthetic)</h1><ul>"
        '<li><a href="../artefacts/model_card.html">Model card</a></li>'
        '<li><a href="../artefacts/fairness/fairness_report.html">Fairness report</a></li>'
        '<li><a href="dpia.md">DPIA (Markdown)</a></li>'
        '<li><a href="leaky_appendix.html">Appendix</a></li>'
        '<li><a href="../artefacts/case_packs/W01.html">Case pack</a></li>'
        '<li><a href="/review/overrides">Override statistics</a></li>'
        '</ul><img src="../artefacts/charts/shap_summary.svg" alt="SHAP summary"></body></html>'
    )
    (artefacts / "model_card.html").write_text(
        "<html><body><h1>Model card</h1><p>Calibrated gradient boosting; AUC 0.74 on 12,000 families "
        f"as of {AS_OF.isoformat()}; postcode districts NB1-NB5.</p>"
        '<a href="../reports/review_pack.html">Back</a></body></html>'
    )
    (artefacts / "fairness" / "fairness_report.html").write_text(
        "<html><body><h1>Fairness report</h1><p>Selection rate ratio 0.91 (sex), 0.87 (ethnicity).</p>"
        '<a href="../../reports/review_pack.html">Back</a></body></html>'
    )
    (artefacts / "charts" / "shap_summary.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    )
    (reports / "dpia.md").write_text("# DPIA\n\n## Step 1: the need\n\nEarly help for families.\n")
    # Reports that must never reach a reviewer: one leaks a name, one is a worker's case pack.
    (reports / "leaky_appendix.html").write_text(
        f"<html><body><p>Example case: {leak}</p></body></html>"
    )
    (artefacts / "case_packs" / "W01.html").write_text(f"<html><body>{leak}</body></html>")


def build_portal_data(
    data_dir: Path,
    *,
    workers: list[tuple] | None = None,
    families: dict[str, tuple] | None = None,
    flags: dict[str, tuple] | None = None,
) -> PortalFixture:
    """Write warehouse.duckdb, vault.duckdb and report files for the synthetic estate.

    The defaults are the small estate the tests know by heart; the load benchmark passes a
    larger one from :func:`scaled_estate`.
    """
    workers = WORKERS if workers is None else workers
    families = FAMILIES if families is None else families
    flags = FLAGS if flags is None else flags
    data_dir.mkdir(parents=True, exist_ok=True)
    people, families_rows = [], []
    for n, (fam, (district, members)) in enumerate(families.items(), 1):
        for i, (first, last, role, dob) in enumerate(members):
            person_key = "pk" + _hex("person", fam, i)[:12]
            people.append(
                {
                    "first_name": first,
                    "last_name": last,
                    "role": role,
                    "dob": dob,
                    "person_key": person_key,
                    "family": fam,
                    "address": f"{10 + i} Synthetic Row {fam.upper()}",
                    "postcode": f"{district} {n}ZZ",
                }
            )
            families_rows.append(
                {
                    "person_key": person_key,
                    "family_key": family_key(fam),
                    "role": role,
                    "valid_from": "2024-01-01",
                    "valid_to": None,
                }
            )
    first, last, role, dob = FORMER_MEMBER
    former = {
        "first_name": first,
        "last_name": last,
        "role": role,
        "dob": dob,
        "person_key": "pkformer0001",
        "family": "former",
        "address": "1 Elsewhere Lane",
        "postcode": "NB9 9ZZ",
    }
    people.append(former)
    families_rows.append(
        {
            "person_key": "pkformer0001",
            "family_key": family_key("f1"),
            "role": "adult",
            "valid_from": "2020-01-01",
            "valid_to": "2023-12-31",
        }
    )
    records = _records(people)

    def flag_row(
        name: str, fam: str, worker: str, rank: int, p: float, band: str, as_of: date
    ) -> dict:
        return {
            "flag_id": flag_id(name),
            "family_key": family_key(fam),
            "as_of_date": as_of,
            "worker_id": worker,
            "rank": rank,
            "probability": p,
            "band": band,
            "model_version": MODEL_VERSION,
            "postcode_district": families[fam][0],
        }

    flag_rows = [flag_row(n, *spec, AS_OF) for n, spec in flags.items()] + [
        flag_row(*OLD_FLAG, EARLIER_AS_OF)
    ]
    explanations = _explanations(records, flags)
    n_reasons = explanations.groupby("flag_id").size()
    _write(
        data_dir / "warehouse.duckdb",
        {
            "workers": pd.DataFrame(
                workers,
                columns=["worker_id", "display_name", "team", "role", "area_codes", "capacity"],
            ),
            "families": pd.DataFrame(families_rows),
            "family_scores": pd.DataFrame(
                [
                    {
                        "family_key": family_key(f),
                        "as_of_date": AS_OF,
                        "probability": 0.05 * (i + 1),
                        "log_odds": -1.0,
                        "rank": i + 1,
                        "band": "low",
                        "model_version": MODEL_VERSION,
                        "postcode_district": families[f][0],
                    }
                    for i, f in enumerate(families)
                ]
            ),
            "flags": pd.DataFrame(flag_rows),
            "flag_explanations": explanations,
            "caseloads": pd.DataFrame(
                [
                    {
                        "worker_id": f["worker_id"],
                        "flag_id": f["flag_id"],
                        "family_key": f["family_key"],
                        "rank": f["rank"],
                        "band": f["band"],
                        "probability": f["probability"],
                        "n_reasons": int(n_reasons.get(f["flag_id"], 0)),
                    }
                    for f in flag_rows[:-1]
                ]
            ),
        },
    )
    vault_columns = [
        "source",
        "record_key",
        "record_pseudo",
        "agency_id",
        "first_name",
        "last_name",
        "dob",
        "address_line",
        "postcode",
        "sex",
        "upn",
        "nhs_number",
    ]
    vault_tables = {"identity_vault": records[[*vault_columns, "person_key"]]}
    for source in SOURCES:
        vault_tables[f"identity_{source}"] = records.loc[records["source"] == source, vault_columns]
    _write(data_dir / "vault.duckdb", vault_tables)
    os.chmod(data_dir / "vault.duckdb", 0o600)
    _reports(data_dir, leak="Ada Testperson")
    # What the pipeline's runner does at the end of every run: the portal reads only this.
    publish_serving_snapshot(data_dir)
    identities = {
        str(v)
        for col in (
            "first_name",
            "last_name",
            "dob",
            "address_line",
            "postcode",
            "agency_id",
            "upn",
            "nhs_number",
            "record_key",
        )
        for v in records[col].dropna().unique()
    }
    full_names = {
        fam: tuple(f"{m[0]} {m[1]}" for m in members) for fam, (_d, members) in families.items()
    }
    return PortalFixture(
        data_dir=data_dir,
        flags={name: flag_id(name) for name in [*flags, "OLD"]},
        families={fam: family_key(fam) for fam in families},
        identities=tuple(sorted(identities)),
        full_names=full_names,
    )


def scaled_estate(
    n_workers: int, flags_per_worker: int
) -> tuple[list[tuple], dict[str, tuple], dict[str, tuple]]:
    """Workers, families and flags for a larger synthetic estate (the f1 family is kept for the
    former member and the old flag). Worker ``L001`` holds flags ``L001-1`` .. ``L001-k``."""
    workers = [
        (
            f"L{w:03d}",
            f"Load Worker {w} (synthetic)",
            f"Team {1 + w // 10}",
            "social_worker",
            f"NB{w % 9 + 1}",
            flags_per_worker,
        )
        for w in range(1, n_workers + 1)
    ]
    families: dict[str, tuple] = {"f1": FAMILIES["f1"], "f6": FAMILIES["f6"]}
    flags: dict[str, tuple] = {}
    bands = ("very high", "high", "medium")
    for w, (worker_id, *_rest) in enumerate(workers):
        for k in range(1, flags_per_worker + 1):
            fam = f"g{w}x{k}"
            families[fam] = (
                f"NB{w % 9 + 1}",
                [
                    (f"Loadadult{w}x{k}", "Benchperson", "adult", "1984-02-02"),
                    (f"Loadchild{w}x{k}", "Benchperson", "child", "2015-06-06"),
                    (f"Loadteen{w}x{k}", "Benchperson", "child", "2011-09-09"),
                ],
            )
            rank = w * flags_per_worker + k
            flags[f"{worker_id}-{k}"] = (
                fam,
                worker_id,
                rank,
                round(0.7 - rank / 1000, 3),
                bands[k % 3],
            )
    return workers, families, flags


def add_fixture_users(data_dir: Path) -> None:
    """Create the fixture's accounts (password: ``password_for(username)``); ``gone`` is disabled."""
    from safeguard.portal.users import add_user, disable_user

    for username, (role, worker_id, team, name) in USERS.items():
        add_user(
            data_dir,
            username,
            role,
            password_for(username),
            worker_id=worker_id,
            team=team,
            display_name=name,
        )
    disable_user(data_dir, "gone")
