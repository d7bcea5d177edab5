"""Row rules of the landing contract: required, type and enum, evaluated column by column.

Each column is parsed once per *distinct* value (dates and codes repeat a lot), then mapped
back to rows, which keeps a million-row file to a fraction of a second per column. The
result per column is a typed pandas array plus the rule each row broke, if any.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from safeguard.ingest.contract import ColumnSpec
from safeguard.ingest.formats import FORMATS, matches_format

__all__ = ["DATE_RANGE", "ColumnCheck", "check_column", "describe_failure", "empty_column"]

# Dates outside this range are typos (0211-05-03) or placeholders (9999-12-31), and would not
# fit the nanosecond timestamps the warehouse uses.
DATE_RANGE = (pd.Timestamp("1800-01-01"), pd.Timestamp("2199-12-31"))

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT = re.compile(r"[+-]?\d{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:\d{1,15}(?:\.\d{0,6})?|\.\d{1,6})")
_BOOLS = {"Y": True, "N": False, "y": True, "n": False}
_TYPE_WORDS = {
    "date": "is not a date (expected YYYY-MM-DD between 1800-01-01 and 2199-12-31)",
    "int": "is not a whole number",
    "decimal": "is not a decimal number (expected digits with an optional point, e.g. 120.50)",
    "bool": "is not Y or N",
}
_ECHO_CHARS = 20
# A bad value is quoted only when it cannot carry words: digits and date/number separators.
_ECHO_SAFE = re.compile(r"[0-9 ./:+,-]{1,20}")


@dataclass(frozen=True)
class ColumnCheck:
    """One column after the rules: typed values and per-row rule failures.

    Attributes
    ----------
    values : pandas.api.extensions.ExtensionArray | numpy.ndarray
        Typed values for every row (missing where empty or unparseable).
    failed_rule : numpy.ndarray
        Per row: ``""`` when the value passes, else ``required``, ``type``, ``enum`` or ``format``.
    text : pyarrow.Array
        The trimmed text, kept to quote event values in reasons (never stored).
    """

    values: object
    failed_rule: np.ndarray
    text: pa.Array


def _typed_uniques(kind: str, uniques: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse distinct values; return (parsed, ok) aligned with ``uniques``.

    ``parsed`` has a concrete numpy dtype (datetime64[ns], int64, float64 or bool) with a
    placeholder where ``ok`` is False.
    """
    if kind == "date":
        shaped = np.array([bool(_DATE.fullmatch(v)) for v in uniques], dtype=bool)
        series = pd.Series(uniques, dtype=object).where(shaped)
        parsed = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce")
        ok = shaped & parsed.notna().to_numpy() & parsed.between(*DATE_RANGE).to_numpy()
        return parsed.where(ok).to_numpy(dtype="datetime64[ns]"), ok
    if kind == "int":
        ok = np.array([bool(_INT.fullmatch(v)) for v in uniques], dtype=bool)
        values = [int(v) if good else 0 for v, good in zip(uniques, ok, strict=True)]
        return np.array(values, dtype=np.int64), ok
    if kind == "decimal":
        ok = np.array([bool(_DECIMAL.fullmatch(v)) for v in uniques], dtype=bool)
        floats = [float(v) if good else 0.0 for v, good in zip(uniques, ok, strict=True)]
        return np.array(floats, dtype=np.float64), ok
    if kind == "bool":
        ok = np.array([v in _BOOLS for v in uniques], dtype=bool)
        return np.array([_BOOLS.get(v, False) for v in uniques], dtype=bool), ok
    raise ValueError(f"no parser for column type {kind!r}")


def check_column(text: pa.Array, spec: ColumnSpec) -> ColumnCheck:
    """Apply required, type, enum and format rules to one column of raw text.

    Values are compared after trimming surrounding whitespace; an empty value is missing.
    A text column with a ``format`` (see :mod:`safeguard.ingest.formats`) rejects values of another shape.
    """
    trimmed = pc.utf8_trim_whitespace(text)
    missing = pc.equal(trimmed, "").to_numpy(zero_copy_only=False)
    rule = np.full(len(trimmed), "", dtype=object)
    if spec.required:
        rule[missing] = "required"
    if spec.type in ("string", "enum"):
        bad = np.zeros(len(trimmed), dtype=bool)
        if spec.format is not None:
            bad = ~matches_format(trimmed, spec.format) & ~missing
            rule[bad & (rule == "")] = "format"
        if spec.type == "enum":
            allowed = pa.array(list(spec.values or ()), pa.string())
            inside = pc.is_in(trimmed, value_set=allowed).to_numpy(zero_copy_only=False)
            bad = ~inside & ~missing
            rule[bad & (rule == "")] = "enum"
        masked = pc.if_else(pa.array(missing | bad), pa.scalar(None, pa.string()), trimmed)
        return ColumnCheck(values=pd.array(masked, dtype="string"), failed_rule=rule, text=trimmed)
    encoded = trimmed.dictionary_encode()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    parsed, ok = _typed_uniques(spec.type, encoded.dictionary.to_pylist())
    row_ok = ok[indices]
    bad = ~row_ok & ~missing
    rule[bad & (rule == "")] = "type"
    good = row_ok & ~missing
    row_values = parsed[indices]
    if spec.type == "date":
        typed = np.where(good, row_values, np.datetime64("NaT", "ns")).astype("datetime64[ns]")
        return ColumnCheck(values=typed, failed_rule=rule, text=trimmed)
    array_type = {
        "int": pd.arrays.IntegerArray,
        "decimal": pd.arrays.FloatingArray,
        "bool": pd.arrays.BooleanArray,
    }[spec.type]
    return ColumnCheck(values=array_type(row_values, ~good), failed_rule=rule, text=trimmed)


def empty_column(spec: ColumnSpec, n_rows: int) -> object:
    """All-missing typed values for a declared column the file does not have."""
    if spec.type == "date":
        return np.full(n_rows, np.datetime64("NaT", "ns"))
    dtype = {"int": "Int64", "decimal": "Float64", "bool": "boolean"}.get(spec.type, "string")
    return pd.array([None] * n_rows, dtype=dtype)


def _quote(value: str) -> str:
    shown = "".join(ch if ch.isprintable() else "?" for ch in value)
    if len(shown) > _ECHO_CHARS:
        shown = shown[:_ECHO_CHARS] + "..."
    return "'" + shown.replace("'", "?") + "'"


def describe_failure(rule: str, spec: ColumnSpec, value: str | None) -> str:
    """The reason text for a failed cell, quoting ``value`` only where the column allows it.

    Parameters
    ----------
    rule : str
        ``required``, ``type``, ``enum`` or ``format``.
    spec : ColumnSpec
        The column; :attr:`ColumnSpec.echo_allowed` decides whether the value may be quoted,
        and it is quoted only when made of digits and separators (a mistyped date or number),
        so a word typed into a date column is never repeated.
    value : str, optional
        The trimmed raw value; ignored unless it may be quoted.
    """
    if rule == "required":
        return "required value is missing"
    quotable = value is not None and spec.echo_allowed and _ECHO_SAFE.fullmatch(value)
    subject = _quote(value) if quotable and value is not None else "value"
    if rule == "enum":
        return f"value is not one of {_allowed(spec.values or ())}"
    if rule == "format":
        return f"value does not have the shape of {FORMATS[spec.format or ''].description}"
    return f"{subject} {_TYPE_WORDS[spec.type]}"


def _allowed(values: Sequence[str]) -> str:
    text = ", ".join(values)
    return text if len(text) <= 160 else text[:157] + "..."
