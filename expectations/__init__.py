"""Great Expectations 1.x validation gates, built in code from the landing contract.

``screen_rows`` names the rows of a candidate table that break a suite's row-level rules (for
quarantine); ``run_suite`` validates one warehouse table and returns aggregates only;
``build_data_docs`` renders the sanitised results as static HTML for reviewers. Every
expectation carries a level (``row``, ``table`` or ``advisory``; see
:mod:`safeguard.expectations.levels`). Dagster wiring lives in ``pipelines/``; nothing here imports
dagster.
"""

from safeguard.expectations.data_docs import DataDocsError, build_data_docs
from safeguard.expectations.levels import ADVISORY, ROW, TABLE, level_of
from safeguard.expectations.outcome import FailureSummary, SuiteOutcome
from safeguard.expectations.runner import DATASETS, build_suite, run_suite, suite_table_name
from safeguard.expectations.screening import RowScreen, screen_rows
from safeguard.expectations.settings import FeatureSpec, SuiteConfigError, SuiteSettings

__all__ = [
    "ADVISORY",
    "DATASETS",
    "ROW",
    "TABLE",
    "DataDocsError",
    "FailureSummary",
    "FeatureSpec",
    "RowScreen",
    "SuiteConfigError",
    "SuiteOutcome",
    "SuiteSettings",
    "build_data_docs",
    "build_suite",
    "level_of",
    "run_suite",
    "screen_rows",
    "suite_table_name",
]
