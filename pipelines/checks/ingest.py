"""Great Expectations suites as blocking asset checks on the ingest tables.

GX 1.x is called directly (the dagster-ge integration only supports GX < 1.0). Results carry
aggregates only: counts and shares, never a value from a row. Row-level rules were already
applied at ingest (failing rows quarantined, see ``pipelines/assets/ingest.py``); here the
whole suite judges the written table. A failed ``row`` or ``table`` expectation blocks; an
``advisory`` one (how often an optional column is filled) fails the check with severity WARN,
which is reported but does not block.
"""

import json

import dagster as dg

from safeguard.contracts.tables import AGENCY_SOURCES
from safeguard.contracts.tables import table_of as _table
from safeguard.expectations import run_suite
from safeguard.pipelines.dpia_metadata import register
from safeguard.pipelines.resources import RunSettings, Warehouse
from safeguard.pipelines.validation import GX_CHECK, publish_data_docs
from safeguard.warehouse.storage import atomic_write_text

GX_DATASETS = (*AGENCY_SOURCES, "workers", "areas")


def _make_gx_check(dataset: str) -> dg.AssetChecksDefinition:
    table = _table(dataset)

    @dg.asset_check(
        asset=table,
        name=GX_CHECK,
        blocking=True,
        description=f"Blocking: the {dataset} Great Expectations suite (schema, types, enums, "
        "key uniqueness, date ranges, plausible ages); advisory null rates warn only.",
        metadata=register().check_metadata(table, GX_CHECK),
    )
    def _check(warehouse: Warehouse, settings: RunSettings) -> dg.AssetCheckResult:
        df = warehouse.read_table(table)
        extract_date = df["extract_date"].max().date() if "extract_date" in df and len(df) else None
        outcome = run_suite(
            dataset, df, extract_date=extract_date, **settings.suite_settings().as_params()
        )
        path = warehouse.artefact_dir("validation") / f"{dataset}.json"
        atomic_write_text(path, json.dumps(outcome.as_dict(), indent=2, default=str))
        if not outcome.success:
            # downstream data_docs will be skipped: publish the failing results for reviewers now
            publish_data_docs(warehouse)
        blocking = outcome.blocking_failures
        return dg.AssetCheckResult(
            passed=not outcome.failures,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "expectations_evaluated": outcome.evaluated,
                "expectations_failed": len(blocking),
                "advisory_warnings": len(outcome.warnings),
                "failures": "; ".join(f.describe() for f in blocking) or "none",
                "warnings": "; ".join(f.describe() for f in outcome.warnings) or "none",
                "duration_s": round(outcome.duration_s, 2),
            },
        )

    return _check


@dg.asset(
    deps=[_table(d) for d in GX_DATASETS],
    group_name="validation",
    kinds={"html"},
    description="Great Expectations Data Docs (static HTML, aggregates only) for reviewers.",
)
def data_docs(warehouse: Warehouse) -> dg.MaterializeResult:
    index = publish_data_docs(warehouse)
    return dg.MaterializeResult(metadata={"index": dg.MetadataValue.path(str(index))})


gx_checks = [_make_gx_check(d) for d in GX_DATASETS]
