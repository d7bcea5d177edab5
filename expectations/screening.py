"""Row-level screening: which rows of a candidate table break a suite's row-level rules.

Ingest calls :func:`screen_rows` on each table before it is written. The suite's ``row``
expectations (:mod:`safeguard.expectations.levels`) run through GX with a result format that returns
the failing row positions and never the values (``exclude_unexpected_values``); the
positions leave this module, the values never exist outside GX. The caller quarantines
those rows with the rule and column, and the screen's :class:`SuiteOutcome` (aggregates
only) says whether any rule failed on more rows than its ``mostly`` allows.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from safeguard.expectations.levels import ROW, level_of
from safeguard.expectations.outcome import SuiteOutcome, sanitise_result, summarise
from safeguard.expectations.runner import (
    _BUILDERS,
    _LOCK,
    _as_nanoseconds,
    _gx,
    _infer_extract_date,
    canonical_dataset,
    suite_table_name,
)
from safeguard.expectations.settings import SuiteSettings

# Positions of failing rows, no values (GX 1.24 then omits unexpected_list and the partial
# lists of values; the index lists are all we read, and sanitise_result drops them).
SCREEN_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
}
REJECTION_COLUMNS = ("position", "column", "rule", "description")


@dataclass(frozen=True)
class RowScreen:
    """The row-level verdict on one candidate table.

    Attributes
    ----------
    dataset : str
        Table name (``police_records``, ``workers``).
    outcome : SuiteOutcome
        The row-level rules only, aggregates only: ``success`` is False when a rule failed on
        a larger share of rows than its ``mostly`` allows, or could not be evaluated.
    rejections : pandas.DataFrame
        One row per failing (row, rule): ``position`` (0-based row of the screened frame),
        ``column``, ``rule`` (GX expectation type) and ``description`` (the rule in words,
        never a value), in suite order within a row.
    rows : int
        Rows screened.
    """

    dataset: str
    outcome: SuiteOutcome
    rejections: pd.DataFrame = field(repr=False)
    rows: int

    @property
    def keep(self) -> np.ndarray:
        """Boolean mask over the screened rows: True where no row-level rule failed."""
        mask = np.ones(self.rows, dtype=bool)
        mask[self.rejections["position"].to_numpy(dtype=np.int64)] = False
        return mask

    @property
    def rows_rejected(self) -> int:
        return int(self.rejections["position"].nunique())

    def rule_counts(self) -> dict[tuple[str, str], int]:
        """Rows failing each (rule, column): aggregates for run metadata."""
        counts = self.rejections.groupby(["rule", "column"]).size()
        return {(str(r), str(c)): int(n) for (r, c), n in counts.items()}


def _text(bound: object) -> str:
    if isinstance(bound, pd.Timestamp | date):
        return pd.Timestamp(bound).date().isoformat()
    if isinstance(bound, str) and len(bound) >= 10 and bound[4] == "-" and bound[7] == "-":
        return bound[:10]  # an ISO timestamp from the JSON configuration
    if isinstance(bound, float) and bound.is_integer():
        return str(int(bound))
    return str(bound)


def describe_rule(config: Mapping[str, Any]) -> str:
    """A row-level rule in words, for quarantine reasons: bounds from the suite, never a value."""
    kind = config.get("type", "")
    kwargs = config.get("kwargs", {})
    notes = str(config.get("notes") or "").strip().rstrip(".")
    notes = notes[:1].lower() + notes[1:]
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        if low is not None and high is not None:
            return f"value is outside {_text(low)} to {_text(high)}"
        return (
            f"value is below {_text(low)}" if low is not None else f"value is above {_text(high)}"
        )
    if kind == "expect_column_values_to_match_regex":
        return "value does not have the expected form" + (f" ({notes})" if notes else "")
    if kind == "expect_column_values_to_be_in_set":
        return "value is not one of the allowed values"
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        return f"{kwargs.get('column_A')} is less than {kwargs.get('column_B')}"
    return f"breaks {kind}" + (f" ({notes})" if notes else "")


def _column(kwargs: Mapping[str, Any]) -> str:
    return str(
        kwargs.get("column") or kwargs.get("column_A") or ", ".join(kwargs.get("column_list", []))
    )


def _rejections(raw: Mapping[str, Any]) -> pd.DataFrame:
    parts = []
    for order, evr in enumerate(raw.get("results", [])):
        positions = (evr.get("result") or {}).get("unexpected_index_list") or []
        if not positions:
            continue
        config = evr["expectation_config"]
        n = len(positions)
        parts.append(
            pd.DataFrame(
                {
                    "position": np.asarray(positions, dtype=np.int64),
                    "order": order,
                    "column": [_column(config.get("kwargs", {}))] * n,
                    "rule": [config.get("type", "")] * n,
                    "description": [describe_rule(config)] * n,
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                "position": pd.Series(dtype="int64"),
                **{c: pd.Series(dtype="string") for c in REJECTION_COLUMNS[1:]},
            }
        )
    out = pd.concat(parts, ignore_index=True).sort_values(["position", "order"], kind="stable")
    out = out.drop(columns="order").reset_index(drop=True)
    return out.astype({"column": "string", "rule": "string", "description": "string"})


def _vectorised_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable Int64/Float64 columns as float64 (missing as NaN, which GX's map rules skip).

    GX compares only numpy int/float columns vectorised; extension dtypes take a per-row
    Python path (~20x slower). Only row-level rules run on this frame, never the type checks.
    """
    slow = {
        c: "float64"
        for c, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.Int64Dtype | pd.Int32Dtype | pd.Float64Dtype | pd.Float32Dtype)
    }
    return frame.astype(slow) if slow else frame


def screen_rows(
    dataset: str, df: pd.DataFrame, *, extract_date: date | None = None, **params: Any
) -> RowScreen:
    """Run a dataset's row-level rules over a candidate table and name the failing rows.

    Parameters
    ----------
    dataset : str
        As for :func:`safeguard.expectations.run_suite` (``police``, ``workers``, ...).
    df : pandas.DataFrame
        The table as it would be written (pseudonymised for agency records). Rows are
        identified by position, so the caller can drop them from aligned frames (the
        identity-vault rows of the same records).
    extract_date : date, optional
        The drop's extract date (inferred from the ``extract_date`` column when omitted).
    **params
        Fields of :class:`~safeguard.expectations.settings.SuiteSettings`.

    Returns
    -------
    RowScreen
        ``rejections`` is empty and ``outcome.success`` True when every row passes. A suite
        without row-level rules screens nothing.
    """
    name = canonical_dataset(dataset)
    table = suite_table_name(name)
    settings = SuiteSettings.from_params(**params)
    given = extract_date is not None
    extract = extract_date or _infer_extract_date(df)
    frame = _vectorised_numbers(_as_nanoseconds(df.reset_index(drop=True)))
    started = time.perf_counter()

    def build() -> list:
        return [e for e in _BUILDERS[name](extract, settings, given) if level_of(e) == ROW]

    if not build():
        empty = summarise(
            table,
            {"success": True, "results": [], "statistics": {"evaluated_expectations": 0}},
            duration_s=0.0,
            row_count=len(frame),
        )
        return RowScreen(table, empty, _rejections({}), len(frame))
    with _LOCK:
        validation = _gx().validation(
            table, key=repr((extract, given, settings)), build=build, name=f"{table}__rows"
        )
        raw = validation.run(
            batch_parameters={"dataframe": frame}, result_format=SCREEN_FORMAT
        ).to_json_dict()
    rejections = _rejections(raw)
    sanitised = sanitise_result(raw, columns=set(frame.columns))
    outcome = summarise(
        f"{table}__rows",
        sanitised,
        duration_s=time.perf_counter() - started,
        row_count=len(frame),
    )
    return RowScreen(table, outcome, rejections, len(frame))
