"""What a suite run hands back: aggregate outcome plus a GX result stripped of row values.

Two layers keep row values out. The runner asks GX for BOOLEAN_ONLY results, then BASIC with
``exclude_unexpected_values`` and ``partial_unexpected_count=0`` for failed expectations, so
GX itself puts no unexpected-value lists in the result. :func:`sanitise_result` then keeps
only an allow-list of aggregate fields, so that nothing from a row can reach Dagster
metadata, JSON on disk or Data Docs even if a future GX version adds a field.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from safeguard.expectations.levels import ADVISORY, BLOCKING, TABLE, level_of

# Counts and shares of a row-wise (map) expectation.
SAFE_RESULT_KEYS = frozenset(
    {
        "element_count",
        "unexpected_count",
        "unexpected_percent",
        "missing_count",
        "missing_percent",
        "unexpected_percent_total",
        "unexpected_percent_nonmissing",
    }
)
# Expectations whose observed value is schema, not data (column names, dtype name, row count).
SCHEMA_OBSERVED = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
        "expect_table_row_count_to_be_between",
    }
)
# Aggregates we only ever build on non-identity numeric columns: the number may be shown.
NUMERIC_OBSERVED = frozenset({"expect_column_min_to_be_between", "expect_column_max_to_be_between"})

# Run bookkeeping; the data fingerprint in batch_markers is dropped.
SAFE_META_KEYS = frozenset(
    {
        "great_expectations_version",
        "active_batch_definition",
        "validation_id",
        "checkpoint_id",
        "run_id",
        "validation_time",
    }
)

_MISSING_COLUMN = re.compile(r'The column "([^"]+)" in BatchData does not exist')
WITHHELD = "the expectation could not be evaluated; GX's message is withheld because it may quote data values (check the column's dtype)"


@dataclass(frozen=True)
class FailureSummary:
    """One failed expectation, in aggregate terms only.

    Parameters
    ----------
    expectation : str
        GX expectation type, e.g. ``expect_column_values_to_be_in_set``.
    column : str or None
        Column (``"a, b"`` for pair/compound checks; None for table-level checks).
    observed_summary : str
        Counts, shares, dtype or numeric min/max: never a value taken from a row.
    level : str
        ``row``, ``table`` or ``advisory`` (:mod:`safeguard.expectations.levels`); only advisory
        failures leave the gate open.
    """

    expectation: str
    column: str | None
    observed_summary: str
    level: str = TABLE

    @property
    def blocking(self) -> bool:
        return self.level in BLOCKING

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        tag = " (advisory)" if self.level == ADVISORY else ""
        return f"{self.expectation}{where}{tag}: {self.observed_summary}"


@dataclass(frozen=True)
class SuiteOutcome:
    """Result of one suite run, safe to log, store and show (aggregates only).

    ``success`` is the gate decision: no ``row`` or ``table`` expectation failed (a row-level
    rule fails when more rows break it than its ``mostly`` allows). Advisory failures are in
    ``failures`` too, and in :attr:`warnings`. ``validation_result`` is the sanitised GX result
    as JSON-ready dict; it feeds :func:`safeguard.expectations.build_data_docs` and is left out of
    ``repr`` and comparisons.
    """

    dataset: str
    success: bool
    evaluated: int
    failed: int
    failures: tuple[FailureSummary, ...]
    duration_s: float
    row_count: int = 0
    validation_result: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (round-trips through :meth:`from_dict`)."""
        return {
            "dataset": self.dataset,
            "success": self.success,
            "evaluated": self.evaluated,
            "failed": self.failed,
            "failures": [
                {
                    "expectation": f.expectation,
                    "column": f.column,
                    "observed_summary": f.observed_summary,
                    "level": f.level,
                }
                for f in self.failures
            ],
            "duration_s": self.duration_s,
            "row_count": self.row_count,
            "validation_result": dict(self.validation_result),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SuiteOutcome:
        return cls(
            dataset=data["dataset"],
            success=bool(data["success"]),
            evaluated=int(data["evaluated"]),
            failed=int(data["failed"]),
            failures=tuple(FailureSummary(**f) for f in data["failures"]),
            duration_s=float(data["duration_s"]),
            row_count=int(data.get("row_count", 0)),
            validation_result=data.get("validation_result", {}),
        )

    @property
    def warnings(self) -> tuple[FailureSummary, ...]:
        """Failed advisory expectations (reported, not blocking)."""
        return tuple(f for f in self.failures if not f.blocking)

    @property
    def blocking_failures(self) -> tuple[FailureSummary, ...]:
        return tuple(f for f in self.failures if f.blocking)

    def message(self) -> str:
        """One line: dataset and each failure (blocking ones first)."""
        if not self.failures:
            return f"{self.dataset}: all {self.evaluated} expectations passed"
        blocking = self.blocking_failures
        head = f"{self.dataset}: {len(blocking)} of {self.evaluated} expectations failed"
        if self.warnings:
            head += f" ({len(self.warnings)} advisory warning(s))"
        return head + ": " + "; ".join(f.describe() for f in (*blocking, *self.warnings))


def _columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    names = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
    return [str(n) for n in [*names, *kwargs.get("column_list", [])] if n is not None]


def _safe_exception(
    info: Mapping[str, Any], kwargs: Mapping[str, Any], columns: Collection[str] | None
) -> dict[str, Any]:
    """Collapse GX's exception info (flat or keyed by metric id) to one value-free message."""
    entries = (
        [info]
        if "raised_exception" in info
        else [v for v in info.values() if isinstance(v, Mapping)]
    )
    raised = [e for e in entries if e.get("raised_exception")]
    if not raised:
        return {"raised_exception": False, "exception_traceback": None, "exception_message": None}
    absent = [c for c in _columns_of(kwargs) if columns is not None and c not in columns]
    match = _MISSING_COLUMN.search(str(raised[0].get("exception_message") or ""))
    if absent:
        safe = f'column "{absent[0]}" does not exist'
    elif match:
        safe = f'column "{match.group(1)}" does not exist'
    else:
        safe = WITHHELD
    return {"raised_exception": True, "exception_traceback": None, "exception_message": safe}


def _safe_result(kind: str, result: Mapping[str, Any]) -> dict[str, Any]:
    safe = {k: v for k, v in result.items() if k in SAFE_RESULT_KEYS}
    observed = result.get("observed_value")
    schema_value = kind in SCHEMA_OBSERVED and observed is not None
    numeric_value = (
        kind in NUMERIC_OBSERVED
        and isinstance(observed, int | float)
        and not isinstance(observed, bool)
    )
    if schema_value or numeric_value:
        safe["observed_value"] = observed
    if kind == "expect_table_columns_to_match_set" and "details" in result:
        safe["details"] = result["details"]
    return safe


def sanitise_result(
    raw: Mapping[str, Any], *, columns: Collection[str] | None = None
) -> dict[str, Any]:
    """Copy a GX suite result (JSON dict), keeping only aggregate fields.

    Dropped: unexpected/partial value lists and counts, index lists, unexpected rows and
    queries, observed values of row-wise checks, tracebacks, the data fingerprint. GX's
    exception messages are replaced by "column does not exist" (judged against ``columns``,
    the validated frame's columns) or a fixed text, because some quote data values.
    """
    results = []
    for evr in raw.get("results", []):
        config = evr.get("expectation_config", {})
        results.append(
            {
                "success": bool(evr.get("success")),
                "expectation_config": config,
                "result": _safe_result(config.get("type", ""), evr.get("result") or {}),
                "meta": {},
                "exception_info": _safe_exception(
                    evr.get("exception_info") or {}, config.get("kwargs", {}), columns
                ),
            }
        )
    meta = {k: v for k, v in (raw.get("meta") or {}).items() if k in SAFE_META_KEYS}
    meta["batch_markers"] = {
        k: v
        for k, v in (raw.get("meta", {}).get("batch_markers") or {}).items()
        if k == "ge_load_time"
    }
    return {
        "success": bool(raw.get("success")),
        "results": results,
        "suite_name": raw.get("suite_name"),
        "suite_parameters": raw.get("suite_parameters", {}),
        "statistics": raw.get("statistics", {}),
        "meta": meta,
    }


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if "column_list" in kwargs:
        return ", ".join(kwargs["column_list"])
    return None


def _summary(kind: str, kwargs: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    if kind == "expect_table_columns_to_match_set":
        mismatched = (result.get("details") or {}).get("mismatched", {})
        parts = [
            f"{label} columns {sorted(mismatched[key])}"
            for key, label in (("missing", "missing"), ("unexpected", "unexpected"))
            if mismatched.get(key)
        ]
        return "; ".join(parts) or "column set differs"
    if "unexpected_count" in result:
        count, total = result.get("unexpected_count") or 0, result.get("element_count") or 0
        share = result.get("unexpected_percent") or 0.0
        if kind == "expect_column_values_to_not_be_null":
            text = f"{count:,} of {total:,} rows are null ({share:.4g}%)"
        else:
            text = f"{count:,} of {total:,} rows fail ({share:.4g}% of non-null rows)"
        if kwargs.get("mostly") is not None:
            text += f"; at most {100 * (1 - float(kwargs['mostly'])):.4g}% allowed"
        return text
    observed = result.get("observed_value")
    if observed is not None:
        keys = ("min_value", "max_value", "type_", "type_list", "value")
        bounds = {k: kwargs[k] for k in keys if k in kwargs}
        return f"observed {observed!r}, expected {bounds}"
    return "failed (no aggregate available)"


def summarise(
    dataset: str, sanitised: Mapping[str, Any], *, duration_s: float, row_count: int
) -> SuiteOutcome:
    """Turn a sanitised GX result into a :class:`SuiteOutcome`."""
    failures = []
    for evr in sanitised["results"]:
        if evr["success"]:
            continue
        config = evr["expectation_config"]
        kind, kwargs = config.get("type", ""), config.get("kwargs", {})
        exc = evr["exception_info"]
        text = (
            exc["exception_message"]
            if exc["raised_exception"]
            else _summary(kind, kwargs, evr["result"])
        )
        failures.append(FailureSummary(kind, _column_of(kwargs), text, level_of(config)))
    stats = sanitised.get("statistics", {})
    return SuiteOutcome(
        dataset=dataset,
        success=not any(f.blocking for f in failures),
        evaluated=int(stats.get("evaluated_expectations", len(sanitised["results"]))),
        failed=len(failures),
        failures=tuple(sorted(failures, key=lambda f: (f.column or "", f.expectation))),
        duration_s=duration_s,
        row_count=row_count,
        validation_result=sanitised,
    )
