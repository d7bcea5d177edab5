"""Ingest assets: the newest complete drop, through the firewall, typed, quarantined, pseudonymised.

One step reads every file of the drop once. Rows that break a contract rule are quarantined at
the door; each table is then screened with its GX suite's row-level rules and the failing rows
are quarantined too (rule and column, never the value), so one bad row never stops the run.
The step writes the pseudonymised `<source>_records` tables to the warehouse and the
identifiers to the identity vault in one staged commit. Table-level gates: volume against the
previous complete drop (the 2021 PNC deletion lesson), rows accounted for, required columns
filled, and the share of quarantined rows within the configured limits.
"""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from safeguard import expectations
from safeguard.contracts.tables import AGENCY_SOURCES, LANDING_FILES, REFERENCE_FILES, table_of
from safeguard.ingest.contract import LandingContract, load_contract
from safeguard.ingest.drops import Drop, newest_complete_drop, previous_complete_drop
from safeguard.ingest.reader import (
    FileIngest,
)
from safeguard.ingest.volume import compare_volumes, drop_volumes
from safeguard.pipelines.catalogue import row_count
from safeguard.pipelines.dpia_metadata import dpia_check_spec
from safeguard.pipelines.ingesting import Ingested, Screened, ingest_and_publish
from safeguard.pipelines.objections import (
    REGISTER_COMPLETE,
    REGISTER_VOLUME,
    register_check_results,
    withdraw_served_flags,
)
from safeguard.pipelines.resources import RunSettings, Warehouse, declared_reads
from safeguard.pipelines.run_context import resolve_as_of
from safeguard.warehouse.storage import atomic_write_text

VOLUME_CHECK = "volume_vs_previous_extract"
ACCOUNTING_CHECK = "every_row_accounted_for"
REQUIRED_CHECK = "required_columns_filled"
QUARANTINE_CHECK = "quarantine_within_limits"


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


REFERENCE_DESCRIPTIONS = {
    "workers": "Practitioners with their team, districts covered and capacity (staff reference).",
    "areas": "Reference geography: postcode districts with their area attributes.",
    "objections": "The objections register (Art 21 objections, Art 18 restrictions), pseudonymised: "
    "identities in the vault. Kept as last accepted when the register fails its gates.",
}


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
        dg.AssetSpec(
            name,
            deps=[f"landing_{name}"],
            group_name="ingest",
            kinds={"duckdb"},
            description=REFERENCE_DESCRIPTIONS[name],
        )
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
            (
                "row_accounting",
                "Per file: rows read = rows accepted + rows quarantined; of those accepted, the "
                "rows dated after the run's as-of date (kept, not linked or used).",
            ),
        ]
    ]
    return specs


def register_check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dpia_check_spec(
            REGISTER_COMPLETE,
            "objections",
            "Blocking: the objections register is readable, has its header row, every "
            "quarantined row still names someone (first and last name; it is then honoured by "
            "name, pending verification), the quarantined share is within the reference limit, "
            "it is not empty, and no newer delivery lacks it. On failure scoring and flagging "
            "stop and served flags are withdrawn.",
        ),
        dpia_check_spec(
            REGISTER_VOLUME,
            "objections",
            "Blocking: no objection of the last accepted register (pending ones included) is "
            "missing from this one (limit configurable). On failure served flags are withdrawn.",
        ),
    ]


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
    for name in LANDING_FILES:
        checks += [
            dpia_check_spec(
                REQUIRED_CHECK,
                table_of(name),
                f"Blocking: no required column of {name}.csv is absent or empty in every row "
                "(optional columns may be empty throughout).",
            ),
            dpia_check_spec(
                QUARANTINE_CHECK,
                table_of(name),
                f"Blocking: the share of {name}.csv rows quarantined (contract and suite "
                "row-level rules together) and the share failing each row-level rule stay "
                "within the configured limits.",
            ),
        ]
    return checks + register_check_specs()


@dg.multi_asset(specs=_ingest_specs(), check_specs=_ingest_check_specs(), name="ingest_drop")
def ingest_drop(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: RunSettings):
    """Read the newest complete drop once and write every ingest table in one staged commit."""
    warehouse = declared_reads(context, warehouse)
    contract = load_contract()
    landing = Path(settings.landing_dir)
    drop = newest_complete_drop(landing)
    # Refused before anything is read: the whole run stands at this date (pipelines/run_context).
    as_of = resolve_as_of(settings.as_of, drop.extract_date)
    context.log.info(f"ingesting drop {drop.extract_date} from {drop.path} (as of {as_of})")
    suite_settings = settings.suite_settings()
    ingested = ingest_and_publish(warehouse, drop, contract, settings, as_of=as_of)
    screened, assessment, ledgers = ingested.screened, ingested.assessment, ingested.ledgers
    yield from _ingested_results(context, warehouse, drop, ingested)
    yield _accounting_check(ledgers["row_accounting"])
    for name, item in screened.items():
        yield _required_columns_check(name, item.ingest, contract)
        yield _quarantine_check(name, item, suite_settings)
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


def _accounting_check(acc: pd.DataFrame) -> dg.AssetCheckResult:
    unbalanced = acc[acc["rows_read"] != acc["rows_accepted"] + acc["rows_quarantined"]]
    return dg.AssetCheckResult(
        asset_key="row_accounting",
        check_name=ACCOUNTING_CHECK,
        passed=unbalanced.empty,
        metadata={
            "files": len(acc),
            "rows_read": int(acc["rows_read"].sum()),
            "unbalanced_files": ", ".join(unbalanced["file"]) or "none",
        },
    )


def _ingested_results(
    context: dg.AssetExecutionContext, warehouse: Warehouse, drop: Drop, ingested: Ingested
):
    """Observations of the landing files and the materialisations of every ingest table."""
    screened, assessment, ledgers = ingested.screened, ingested.assessment, ingested.ledgers
    validation = warehouse.artefact_dir("validation")
    for name, item in screened.items():  # the landing files as delivered (external assets)
        context.log_event(
            dg.AssetObservation(
                asset_key=f"landing_{name}",
                metadata={
                    "extract_date": drop.extract_date.isoformat(),
                    "dagster/row_count": dg.MetadataValue.int(item.ingest.accounting.rows_read),
                },
            )
        )
    if "objections" not in screened:
        yield dg.MaterializeResult(
            asset_key="objections", metadata={"register": "unreadable: last accepted register kept"}
        )
    for name, item in screened.items():
        result = item.ingest
        kept = {}
        if name == "objections":
            kept = (
                {"register": "refused by its gates: last accepted register kept"}
                if not assessment.passed
                else {"rows_pending_verification": assessment.pending}
            )
        yield dg.MaterializeResult(
            asset_key=table_of(name),
            metadata={
                "extract_date": drop.extract_date.isoformat(),
                "rows_read": result.accounting.rows_read,
                "rows_accepted": result.accounting.rows_accepted,
                "dagster/row_count": dg.MetadataValue.int(result.accounting.rows_accepted),
                "rows_quarantined": result.accounting.rows_quarantined,
                "rows_quarantined_by_suite_rules": item.screen.rows_rejected if item.screen else 0,
                "columns_dropped_at_firewall": len(result.firewall_log),
                **kept,
            },
        )
        if item.screen is not None and item.screen.outcome.evaluated:  # a suite with row rules
            atomic_write_text(
                validation / f"{name}__rows.json",
                json.dumps(item.screen.outcome.as_dict(), indent=2, default=str),
            )
    for ledger, table in ledgers.items():
        yield dg.MaterializeResult(asset_key=ledger, metadata={**row_count(len(table))})


def required_columns_empty(result: FileIngest, contract: LandingContract) -> list[str]:
    """Required columns of a file that are absent from its header or empty in every row."""
    spec = contract.file_spec(result.name)
    unusable = set(result.missing_columns) | set(result.empty_columns)
    return [c for c, col in spec.columns.items() if col.required and c in unusable]


def _required_columns_check(
    name: str, result: FileIngest, contract: LandingContract
) -> dg.AssetCheckResult:
    empty = required_columns_empty(result, contract)
    message = (
        f"{result.file}: required column(s) {', '.join(empty)} absent or empty in every row; "
        "every row is quarantined. Ask the agency for a corrected extract."
        if empty
        else ""
    )
    return dg.AssetCheckResult(
        asset_key=table_of(name),
        check_name=REQUIRED_CHECK,
        passed=not empty,
        description=message or None,
        metadata={
            "required_columns_empty": ", ".join(empty) or "none",
            "optional_columns_empty": ", ".join(
                c for c in result.empty_columns + result.missing_columns if c not in empty
            )
            or "none",
            **({"failure": message} if message else {}),
        },
    )


def quarantine_findings(
    name: str, item: Screened, settings: expectations.SuiteSettings
) -> list[str]:
    """Why a file's quarantine is beyond its limits (empty when within them)."""
    reference = name not in AGENCY_SOURCES
    limit = settings.quarantine_limit(reference=reference)
    acc = item.ingest.accounting
    findings = []
    share = acc.rows_quarantined / acc.rows_read if acc.rows_read else 0.0
    if share > limit:
        findings.append(
            f"{acc.file}: {acc.rows_quarantined:,} of {acc.rows_read:,} rows quarantined "
            f"({share:.2%}; limit {limit:.2%})"
        )
    if item.screen is not None and not item.screen.outcome.success:
        findings += [f"{acc.file}: {f.describe()}" for f in item.screen.outcome.blocking_failures]
    return findings


def _quarantine_check(
    name: str, item: Screened, settings: expectations.SuiteSettings
) -> dg.AssetCheckResult:
    acc = item.ingest.accounting
    findings = quarantine_findings(name, item, settings)
    reference = name not in AGENCY_SOURCES
    by_rule = item.ingest.quarantine.groupby(["rule", "column"], dropna=False).size()
    return dg.AssetCheckResult(
        asset_key=table_of(name),
        check_name=QUARANTINE_CHECK,
        passed=not findings,
        description="; ".join(findings) or None,
        metadata={
            "rows_read": acc.rows_read,
            "rows_quarantined": acc.rows_quarantined,
            "max_quarantined_share": settings.quarantine_limit(reference=reference),
            "row_rule_mostly": settings.row_mostly(reference=reference),
            "quarantined_by_rule": "; ".join(
                f"{rule} on {column}: {n}" for (rule, column), n in by_rule.items()
            )
            or "none",
            **({"failure": "; ".join(findings)} if findings else {}),
        },
    )


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
