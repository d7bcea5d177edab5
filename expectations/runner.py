"""Run a suite over a pandas frame with one GX ephemeral context per process.

Called from Dagster asset checks (``pipelines/``); never imports dagster. A process-wide lock
serialises GX calls because the context and its stores are not thread-safe.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import great_expectations as gx
import great_expectations.execution_engine.pandas_execution_engine as gx_pandas_engine
import pandas as pd
from great_expectations.core.validation_definition import ValidationDefinition
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import BatchDefinition, PandasDatasource
from great_expectations.expectations.expectation import Expectation

from safeguard.expectations.builders import expectation_from_config
from safeguard.expectations.contract import AGENCY_SOURCES, REFERENCE_TABLES
from safeguard.expectations.family_features import build_family_features_suite
from safeguard.expectations.objections import build_objections_suite
from safeguard.expectations.outcome import SuiteOutcome, sanitise_result, summarise
from safeguard.expectations.records import build_records_suite
from safeguard.expectations.reference import build_areas_suite, build_workers_suite
from safeguard.expectations.settings import SuiteConfigError, SuiteSettings

# Two passes. The gate pass uses BOOLEAN_ONLY: GX then computes no unexpected-value metric
# at all, which is both the privacy default and ~30% less work. Only expectations that failed
# are re-run with BASIC for counts and shares; exclude_unexpected_values keeps GX from copying
# unexpected values into that result (BASIC would otherwise carry a partial_unexpected_list).
GATE_FORMAT: dict[str, Any] = {"result_format": "BOOLEAN_ONLY"}
DETAIL_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "exclude_unexpected_values": True,
    "partial_unexpected_count": 0,
}

DATASETS: tuple[str, ...] = (*AGENCY_SOURCES, *REFERENCE_TABLES, "objections", "family_features")

SuiteBuilder = Callable[[date, SuiteSettings, bool], list[Expectation]]


def _records_builder(source: str) -> SuiteBuilder:
    def build(extract: date, settings: SuiteSettings, given: bool) -> list[Expectation]:
        return build_records_suite(source, extract, settings, extract_date_given=given)

    return build


_BUILDERS: dict[str, SuiteBuilder] = {
    **{s: _records_builder(s) for s in AGENCY_SOURCES},
    "workers": lambda _e, settings, _g: build_workers_suite(settings),
    "areas": lambda _e, settings, _g: build_areas_suite(settings),
    "family_features": lambda _e, settings, _g: build_family_features_suite(settings),
    "objections": lambda extract, settings, _g: build_objections_suite(extract, settings),
}


def canonical_dataset(dataset: str) -> str:
    """Accept ``police`` or ``police_records``; raise with the list of known datasets."""
    name = dataset.removesuffix("_records")
    if name not in _BUILDERS:
        raise SuiteConfigError(f"no suite for dataset {dataset!r}; known: {list(DATASETS)}")
    return name


def suite_table_name(dataset: str) -> str:
    """Warehouse table a dataset's suite validates (``police`` -> ``police_records``)."""
    name = canonical_dataset(dataset)
    return f"{name}_records" if name in AGENCY_SOURCES else name


@dataclass
class _GxState:
    context: Any
    datasource: PandasDatasource
    batches: dict[str, BatchDefinition] = field(default_factory=dict)
    validations: dict[str, tuple[str, ValidationDefinition]] = field(default_factory=dict)

    def batch_definition(self, table: str) -> BatchDefinition:
        if table not in self.batches:
            asset = self.datasource.add_dataframe_asset(name=table)
            self.batches[table] = asset.add_batch_definition_whole_dataframe(name=table)
        return self.batches[table]

    def _replace(
        self, name: str, table: str, expectations: list[Expectation]
    ) -> ValidationDefinition:
        """Add suite + validation ``name`` over ``table``'s batch, replacing an older one.

        Delete-then-add instead of GX's ``add_or_update``: the latter matches every new
        expectation against every stored one (quadratic; ~0.5 s for a 55-expectation suite).
        """
        if name in self.validations:
            self.context.validation_definitions.delete(name)
            self.context.suites.delete(name)
        suite = self.context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        return self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=self.batch_definition(table), suite=suite)
        )

    def validation(
        self,
        table: str,
        key: str,
        build: Callable[[], list[Expectation]],
        *,
        name: str | None = None,
    ) -> ValidationDefinition:
        """A validation of ``table`` (named ``name``, default the table), rebuilt only when its
        parameters (``key``) change."""
        name = name or table
        cached = self.validations.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        validation = self._replace(name, table, build())
        self.validations[name] = (key, validation)
        return validation

    def detail_validation(self, table: str, configs: list[dict[str, Any]]) -> ValidationDefinition:
        """A throw-away validation of just the failed expectations, for their counts."""
        name = f"{table}__failed"
        validation = self._replace(name, table, [expectation_from_config(c) for c in configs])
        self.validations[name] = ("", validation)
        return validation


_LOCK = threading.Lock()
_STATE: _GxState | None = None


def _gx() -> _GxState:
    """The process's ephemeral GX context, created on first use (call with ``_LOCK`` held)."""
    global _STATE
    if _STATE is None:
        # GX fingerprints every in-memory batch with an md5 over all cells (~1 s per million
        # rows x 20 columns) only to label the batch; frames under this threshold are
        # fingerprinted, so a threshold of 0 turns that off. The label never reaches our results.
        if hasattr(gx_pandas_engine, "HASH_THRESHOLD"):
            gx_pandas_engine.HASH_THRESHOLD = 0
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.enable_analytics(False)
        datasource = context.data_sources.add_pandas(name="safeguard")
        _STATE = _GxState(context=context, datasource=datasource)
    return _STATE


def build_suite(
    dataset: str, *, extract_date: date | None = None, **params: Any
) -> list[Expectation]:
    """The expectations of a dataset's suite (for inspection, docs and tests).

    ``extract_date`` defaults to today when not given; :func:`run_suite` infers it from the
    frame instead.
    """
    name = canonical_dataset(dataset)
    settings = SuiteSettings.from_params(**params)
    given = extract_date is not None
    return _BUILDERS[name](extract_date or date.today(), settings, given)


def _infer_extract_date(df: pd.DataFrame) -> date:
    if "extract_date" in df.columns and df["extract_date"].notna().any():
        return pd.Timestamp(df["extract_date"].max()).date()
    return date.today()


def _as_nanoseconds(df: pd.DataFrame) -> pd.DataFrame:
    """Cast datetime columns to ``[ns]``: GX's between-check is vectorised only for ns.

    pandas 3 and DuckDB hand back ``datetime64[us]``; GX then falls to a per-row path
    (~20x slower). ``astype`` on a few columns leaves the others shared (copy-on-write).
    """
    slow = {
        c: "datetime64[ns]"
        for c, dtype in df.dtypes.items()
        if pd.api.types.is_datetime64_dtype(dtype) and dtype != "datetime64[ns]"
    }
    return df.astype(slow) if slow else df


def _config_key(config: Mapping[str, Any]) -> str:
    kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
    return json.dumps([config.get("type"), kwargs], sort_keys=True, default=str)


def _merge_details(gate: dict[str, Any], detail: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the gate pass's bare verdicts of failed expectations by their counted results."""
    counted = {_config_key(evr["expectation_config"]): evr for evr in detail["results"]}
    gate["results"] = [
        counted.get(_config_key(evr["expectation_config"]), evr) if not evr["success"] else evr
        for evr in gate["results"]
    ]
    return gate


def run_suite(
    dataset: str, df: pd.DataFrame, *, extract_date: date | None = None, **params: Any
) -> SuiteOutcome:
    """Validate one warehouse table and return aggregates only.

    Parameters
    ----------
    dataset : str
        ``social_care``, ``education``, ``housing``, ``police``, ``revenues_benefits`` (or
        with a ``_records`` suffix), ``workers``, ``areas`` or ``family_features``.
    df : pandas.DataFrame
        The table as stored (pseudonymised for agency records; see docs/DESIGN.md).
    extract_date : date, optional
        Drop date: bounds event dates and anchors ages. Inferred from the ``extract_date``
        column when omitted (then the column is not checked against it).
    **params
        Fields of :class:`~safeguard.expectations.settings.SuiteSettings`, e.g.
        ``null_thresholds={"sex": 0.95}`` or ``feature_dictionary=[{"name": ..., "unit": ...}]``.

    Returns
    -------
    SuiteOutcome
        ``success`` is the gate decision; ``failures`` say which rule failed on which column
        with counts and shares, never a value from a row.
    """
    name = canonical_dataset(dataset)
    table = suite_table_name(name)
    settings = SuiteSettings.from_params(**params)
    given = extract_date is not None
    extract = extract_date or _infer_extract_date(df)
    frame = _as_nanoseconds(df)
    started = time.perf_counter()
    with _LOCK:
        validation = _gx().validation(
            table,
            key=repr((extract, given, settings)),
            build=lambda: _BUILDERS[name](extract, settings, given),
        )
        batch = {"dataframe": frame}
        result = validation.run(batch_parameters=batch, result_format=GATE_FORMAT).to_json_dict()
        failed = [evr["expectation_config"] for evr in result["results"] if not evr["success"]]
        if failed:
            detail = _gx().detail_validation(table, failed)
            counts = detail.run(batch_parameters=batch, result_format=DETAIL_FORMAT).to_json_dict()
            result = _merge_details(result, counts)
    sanitised = sanitise_result(result, columns=set(frame.columns))
    return summarise(
        table, sanitised, duration_s=time.perf_counter() - started, row_count=len(frame)
    )
