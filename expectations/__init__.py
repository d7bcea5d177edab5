"""Great Expectations 1.x validation gates, built in code from the landing contract.

``run_suite`` validates one warehouse table and returns aggregates only; ``build_data_docs``
renders the sanitised results as static HTML for reviewers. Dagster wiring lives in
``pipelines/``; nothing here imports dagster.
"""

from expectations.data_docs import DataDocsError, build_data_docs
from expectations.outcome import FailureSummary, SuiteOutcome
from expectations.runner import DATASETS, build_suite, run_suite, suite_table_name
from expectations.settings import FeatureSpec, SuiteConfigError, SuiteSettings

__all__ = [
    "DATASETS",
    "DataDocsError",
    "FailureSummary",
    "FeatureSpec",
    "SuiteConfigError",
    "SuiteOutcome",
    "SuiteSettings",
    "build_data_docs",
    "build_suite",
    "run_suite",
    "suite_table_name",
]
