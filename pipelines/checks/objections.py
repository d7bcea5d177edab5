"""The objections register's Great Expectations suite, as a blocking asset check.

Kept apart from the per-source suites in ``checks/ingest.py``: the register gates its own
downstream (linkage, training, flagging) and its results say counts only, like every suite.
"""

import json

import dagster as dg

from safeguard.expectations import run_suite
from safeguard.pipelines.dpia_metadata import register
from safeguard.pipelines.resources import RunSettings, Warehouse
from safeguard.pipelines.validation import GX_CHECK, publish_data_docs


@dg.asset_check(
    asset="objections",
    name=GX_CHECK,
    blocking=True,
    description="Blocking: the objections Great Expectations suite (not empty, keyed pseudonyms, "
    "unique, received dates real and not after the extract).",
    metadata=register().check_metadata("objections", GX_CHECK),
)
def objections_gx_suite(warehouse: Warehouse, settings: RunSettings) -> dg.AssetCheckResult:
    df = warehouse.read_table("objections")
    if df.empty and settings.objections_may_be_empty:
        return dg.AssetCheckResult(
            passed=True, metadata={"rows": 0, "note": "empty register confirmed by the council"}
        )
    outcome = run_suite("objections", df, extract_date=_extract_date(warehouse))
    path = warehouse.artefact_dir("validation") / "objections.json"
    path.write_text(json.dumps(outcome.as_dict(), indent=2, default=str))
    if not outcome.success:
        publish_data_docs(warehouse)
    return dg.AssetCheckResult(
        passed=outcome.success,
        metadata={
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": outcome.failed,
            "failures": "; ".join(f.describe() for f in outcome.failures) or "none",
        },
    )


def _extract_date(warehouse: Warehouse):
    accounting = warehouse.read_table("row_accounting", columns=["extract_date"])
    return accounting["extract_date"].max().date() if len(accounting) else None
