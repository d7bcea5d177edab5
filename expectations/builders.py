"""Generic expectation builders shared by every suite: schema, types, completeness, enums, keys.

Each builder returns a list of GX 1.x expectation objects. They favour checks that GX computes
vectorised on pandas (dtype, null, set membership, min/max aggregates) so that a suite over
a million rows stays well under a few seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from safeguard.expectations.contract import TableSpec
from safeguard.expectations.settings import SuiteSettings

# expect_column_values_to_be_of_type compares the dtype's scalar type with the name: pandas
# `string`/`str` -> str, `boolean` -> bool, datetime64[ns] -> datetime64. It cannot accept
# several widths, and DuckDB hands INTEGER back as int32, so numbers use the type-list check,
# which compares dtypes and therefore needs numpy and pandas extension names side by side.
GX_TYPE: Mapping[str, str] = {"string": "str", "enum": "str", "date": "datetime64", "bool": "bool"}
GX_TYPE_LISTS: Mapping[str, tuple[str, ...]] = {
    "int": ("int64", "int32", "Int64Dtype", "Int32Dtype"),
    "decimal": ("float64", "float32", "Float64Dtype", "Float32Dtype"),
}

# Keyed pseudonyms: first 16 hex characters of an HMAC-SHA256 (DESIGN.md, "Pseudonyms").
PSEUDONYM_PATTERN = r"^[0-9a-f]{16}$"


def table_shape(spec: TableSpec, settings: SuiteSettings) -> list[Expectation]:
    """At least one row, and exactly the specified columns (extra columns allowed on request)."""
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1, notes="An empty table is a failed load."),
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(spec.names),
            exact_match=not settings.allow_extra_columns,
            notes="No identity column may reach a pseudonymised table.",
        ),
    ]


def column_types(spec: TableSpec) -> list[Expectation]:
    """One dtype check per column, against the contract type (decided on the dtype, not per row)."""
    return [
        gxe.ExpectColumnValuesToBeInTypeList(
            column=col.name, type_list=list(GX_TYPE_LISTS[col.kind])
        )
        if col.kind in GX_TYPE_LISTS
        else gxe.ExpectColumnValuesToBeOfType(column=col.name, type_=GX_TYPE[col.kind])
        for col in spec.columns
    ]


def required_present(spec: TableSpec) -> list[Expectation]:
    """Required columns are never null (ingest quarantines rows without them, so a null here
    is a pipeline defect, judged on the whole table)."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=col.name) for col in spec.columns if col.required
    ]


def optional_filled(
    spec: TableSpec,
    settings: SuiteSettings,
    defaults: Mapping[str, float | None],
) -> list[Expectation]:
    """Optional columns meet a minimum non-null share (advisory: reported, never blocking).

    The share for an optional column comes from ``settings.null_thresholds`` first, then from
    the suite's ``defaults``; a column with neither (or ``None``) is sparse by design and
    gets no null check.
    """
    out: list[Expectation] = []
    for col in spec.columns:
        if col.required:
            continue
        share = settings.null_thresholds.get(col.name, defaults.get(col.name))
        if share:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=col.name, mostly=float(share)))
    return out


def enum_sets(spec: TableSpec, *, mostly: float = 1.0) -> list[Expectation]:
    """Enum columns hold only the contract's values (nulls are judged by the null checks)."""
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column=col.name, value_set=list(col.values or ()), mostly=mostly
        )
        for col in spec.of_kind("enum")
    ]


def pseudonym_shapes(spec: TableSpec) -> list[Expectation]:
    """Pseudonym columns look like pseudonyms, so a raw identifier left in place fails."""
    return [
        gxe.ExpectColumnValuesToMatchRegex(
            column=col.name,
            regex=PSEUDONYM_PATTERN,
            notes="Keyed pseudonym: 16 lower-case hex characters.",
        )
        for col in spec.columns
        if col.pseudonym
    ]


def unique(column: str) -> Expectation:
    """A record key occurs once."""
    return gxe.ExpectColumnValuesToBeUnique(column=column)


def unique_together(columns: Sequence[str]) -> Expectation:
    """A compound row key occurs once."""
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(columns))


def dates_between(
    column: str, earliest: pd.Timestamp, latest: pd.Timestamp, *, mostly: float | None = None
) -> Expectation:
    """Dates within [earliest, latest]; results carry counts only, never a date from a row.

    Bounds must be ``pd.Timestamp``: GX 1.24 silently fails a between-check given strings.
    """
    if mostly is None:
        return gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=earliest, max_value=latest
        )
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=earliest, max_value=latest, mostly=mostly
    )


def not_below(column: str, minimum: float) -> Expectation:
    """Numeric lower bound as a min aggregate: vectorised even for nullable Int64/Float64."""
    return gxe.ExpectColumnMinToBeBetween(column=column, min_value=minimum)


def not_above(column: str, maximum: float) -> Expectation:
    """Numeric upper bound as a max aggregate."""
    return gxe.ExpectColumnMaxToBeBetween(column=column, max_value=maximum)


def pair_at_least(greater: str, lesser: str, *, mostly: float = 1.0) -> Expectation:
    """Row-wise ``greater >= lesser`` where both are present (end dates, session counts)."""
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=greater,
        column_B=lesser,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        mostly=mostly,
    )


def values_between(
    column: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    mostly: float = 1.0,
) -> Expectation:
    """Row-wise bounds (nulls pass); results carry counts only.

    A per-row check rather than a min/max aggregate: it names the failing rows, so they can
    be quarantined, and a column that is empty throughout simply has nothing to fail.
    """
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=minimum, max_value=maximum, mostly=mostly
    )


def values_at_least(column: str, minimum: float, *, mostly: float) -> Expectation:
    """Row-wise lower bound tolerating a share of exceptions; results carry counts only."""
    return values_between(column, minimum, mostly=mostly)


def matches(column: str, regex: str, *, notes: str, mostly: float = 1.0) -> Expectation:
    """Every present value matches ``regex`` (counts only in results)."""
    return gxe.ExpectColumnValuesToMatchRegex(
        column=column, regex=regex, notes=notes, mostly=mostly
    )


def expectation_from_config(config: Mapping[str, Any]) -> Expectation:
    """Rebuild an expectation from its JSON configuration (as found in a GX result)."""
    kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
    return ExpectationConfiguration(
        type=config["type"], kwargs=kwargs, meta=config.get("meta") or {}, notes=config.get("notes")
    ).to_domain_obj()
