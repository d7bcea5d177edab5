"""Ingest assets: the newest complete drop, through the firewall, typed, quarantined, pseudonymised.

One step reads every file of the drop once. It writes the pseudonymised `<source>_records`
tables to the warehouse and the identifiers to the identity vault; the volume checks compare
the drop with the previous complete one (the 2021 PNC deletion lesson).
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from ingest.contract import load_contract
from ingest.drops import newest_complete_drop, previous_complete_drop
from ingest.identity import split_identities
from ingest.reader import FileIngest, read_file, row_accounting_frame
from ingest.volume import compare_volumes, drop_volumes
from pipelines.dpia_metadata import dpia_check_spec
from pipelines.objections import (
    assess,
    read_register,
    register_check_results,
    register_check_specs,
    withdraw_served_flags,
)
from pipelines.resources import RunSettings, Warehouse

AGENCY_SOURCES = ("social_care", "education", "housing", "police", "revenues_benefits")
REFERENCE_FILES = ("workers", "areas", "objections")
LEDGERS = ("quarantine", "firewall_log", "row_accounting")
LANDING_FILES = AGENCY_SOURCES + REFERENCE_FILES

VOLUME_CHECK = "volume_vs_previous_extract"
ACCOUNTING_CHECK = "every_row_accounted_for"


class FileRefusedError(RuntimeError):
    """A file of the drop was refused whole (no header row): nothing of the drop is written."""


landing_specs = [
    dg.AssetSpec(
        f"landing_{name}",
        group_name="landing",
        kinds={"csv"},
        description=f"{name}.csv as delivered by the agency under its data-sharing agreement "
        "(external: the pipeline never modifies a drop).",
    )
    for name in LANDING_FILES
]


def _ingest_specs() -> list[dg.AssetSpec]:
    specs = [
        dg.AssetSpec(
            f"{s}_records",
            deps=[f"landing_{s}"],
            group_name="ingest",
            kinds={"duckdb"},
            description=f"Accepted {s} rows: firewalled, typed, pseudonymised (identifiers in the vault).",
        )
        for s in AGENCY_SOURCES
    ]
    specs += [
        dg.AssetSpec(name, deps=[f"landing_{name}"], group_name="ingest", kinds={"duckdb"})
        for name in REFERENCE_FILES
    ]
    specs += [
        dg.AssetSpec(
            name,
            deps=[f"landing_{f}" for f in LANDING_FILES],
            group_name="ingest",
            kinds={"duckdb"},
            description=description,
        )
        for name, description in [
            (
                "quarantine",
                "Rows refused at the door, with file, row number, column, rule and reason (never values).",
            ),
            (
                "firewall_log",
                "Prohibited and undeclared columns dropped at the door: file, column, row count only.",
            ),
            ("row_accounting", "Per file: rows read = rows accepted + rows quarantined."),
        ]
    ]
    return specs


def _ingest_check_specs() -> list[dg.AssetCheckSpec]:
    checks = [
        dpia_check_spec(
            VOLUME_CHECK,
            f"{s}_records",
            "Blocking: rows and distinct agency person keys must not fall by more than the configured "
            "share against the previous complete extract.",
        )
        for s in AGENCY_SOURCES
    ]
    checks.append(
        dpia_check_spec(
            ACCOUNTING_CHECK,
            "row_accounting",
            "Blocking: for every file, rows read = rows accepted + rows quarantined.",
        )
    )
    return checks + register_check_specs()


@dg.multi_asset(specs=_ingest_specs(), check_specs=_ingest_check_specs(), name="ingest_drop")
def ingest_drop(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings):
    """Read the newest complete drop once and write every ingest table."""
    contract = load_contract()
    landing = Path(settings.landing_dir)
    drop = newest_complete_drop(landing)
    context.log.info(f"ingesting drop {drop.extract_date} from {drop.path}")
    pseudonymiser = warehouse.pseudonymiser()

    # Read every file before writing anything: a refused file leaves the last good drop in place.
    read: dict[str, FileIngest] = {}
    for name in LANDING_FILES:
        if name != "objections":
            read[name] = read_file(drop, name, contract)
    refused = [r for r in read.values() if r.refused]
    if refused:
        raise FileRefusedError(
            "; ".join(f"{r.file} refused whole: {r.refused}" for r in refused)
            + " -> nothing of this drop was written"
        )
    register, read_error = read_register(drop, contract)
    assessment = assess(warehouse, landing, drop, register, read_error, settings)
    if register is not None:
        read["objections"] = register

    results = []
    for name in LANDING_FILES:
        if name not in read:
            yield dg.MaterializeResult(
                asset_key=name, metadata={"register": "unreadable: last accepted register kept"}
            )
            continue
        result = read[name]
        results.append(result)
        meta = {
            "extract_date": drop.extract_date.isoformat(),
            "rows_read": result.accounting.rows_read,
            "rows_accepted": result.accounting.rows_accepted,
            "rows_quarantined": result.accounting.rows_quarantined,
            "columns_dropped_at_firewall": len(result.firewall_log),
        }
        if name in AGENCY_SOURCES:
            records, identities = split_identities(name, result.accepted, contract, pseudonymiser)
            warehouse.write_table(f"identity_{name}", identities, vault=True)
            warehouse.write_table(f"{name}_records", records)
            yield dg.MaterializeResult(asset_key=f"{name}_records", metadata=meta)
        elif name == "objections":
            if assessment.passed:
                records, identities = split_identities(
                    name, result.accepted, contract, pseudonymiser
                )
                warehouse.write_table("identity_objections", identities, vault=True)
                warehouse.write_table("objections", records)
            else:  # fail closed: keep honouring the last accepted register
                meta["register"] = "refused by its gates: last accepted register kept"
            yield dg.MaterializeResult(asset_key="objections", metadata=meta)
        else:
            warehouse.write_table(
                name, result.accepted.drop(columns=["row_number", "extract_date"], errors="ignore")
            )
            yield dg.MaterializeResult(asset_key=name, metadata=meta)

    ledgers = {
        "quarantine": pd.concat([r.quarantine for r in results], ignore_index=True),
        "firewall_log": pd.concat([r.firewall_log for r in results], ignore_index=True),
        "row_accounting": row_accounting_frame(results),
    }
    for name, table in ledgers.items():
        warehouse.write_table(name, table)
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": len(table)})

    acc = ledgers["row_accounting"]
    unbalanced = acc[acc["rows_read"] != acc["rows_accepted"] + acc["rows_quarantined"]]
    yield dg.AssetCheckResult(
        asset_key="row_accounting",
        check_name=ACCOUNTING_CHECK,
        passed=unbalanced.empty,
        metadata={
            "files": len(acc),
            "rows_read": int(acc["rows_read"].sum()),
            "unbalanced_files": ", ".join(unbalanced["file"]) or "none",
        },
    )
    yield from _volume_checks(landing, drop, contract, settings.max_volume_drop_share)
    if not assessment.passed:
        withdrawn = withdraw_served_flags(
            warehouse, gate="objections register", reason=assessment.summary
        )
        context.log.error(
            f"objections register failed its gates; {withdrawn} served flags withdrawn: "
            f"{assessment.summary}"
        )
    yield from register_check_results(assessment)


def _volume_checks(landing: Path, drop, contract, max_drop_share: float):
    previous = previous_complete_drop(landing, before=drop)
    current_volumes = drop_volumes(drop, contract)
    if previous is None:
        for source in AGENCY_SOURCES:
            yield dg.AssetCheckResult(
                asset_key=f"{source}_records",
                check_name=VOLUME_CHECK,
                passed=True,
                metadata={
                    "previous_extract": "none (first drop)",
                    "rows": current_volumes[source].rows,
                },
            )
        return
    findings = compare_volumes(drop_volumes(previous, contract), current_volumes, max_drop_share)
    for source in AGENCY_SOURCES:
        message = "; ".join(f.message for f in findings if f.source == source)
        yield dg.AssetCheckResult(
            asset_key=f"{source}_records",
            check_name=VOLUME_CHECK,
            passed=not message,
            severity=dg.AssetCheckSeverity.ERROR,
            description=message or None,
            metadata={
                "previous_extract": previous.extract_date.isoformat(),
                "rows": current_volumes[source].rows,
                "distinct_people": current_volumes[source].distinct_persons,
                "max_drop_share": max_drop_share,
                **({"failure": message} if message else {}),
            },
        )
