"""Which expectations judge single rows and which judge the whole table.

Every expectation of every suite carries one level in its GX ``meta``:

``row``
    A defect of one row (a date in the future, a worker's area code that is not a postcode
    district). Ingest screens the candidate table with these rules before it is written
    (:func:`safeguard.expectations.screen_rows`): failing rows go to quarantine with the rule and the
    column, never the value, and are counted in row accounting. The rule's ``mostly`` is
    the share of rows that must pass; above that share the defect is systemic (a format
    change, swapped columns) and the table is blocked even though every bad row was
    quarantined.
``table``
    A property of the table as a whole (schema, types, key uniqueness, pseudonym shapes,
    distributions such as the share of pupils of school age). A failure blocks the run.
``advisory``
    Reported, never blocking: the filled share of optional columns. An optional column that
    is empty throughout is legitimate (no exclusions that term); a drop in how often it is
    filled is worth a look but is not a reason to stop every flag.

The level lives in the expectation's ``meta``, so it travels with the GX result into Data
Docs and into :class:`~safeguard.expectations.outcome.SuiteOutcome` without a side table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

Level = Literal["row", "table", "advisory"]
ROW: Level = "row"
TABLE: Level = "table"
ADVISORY: Level = "advisory"
LEVELS: frozenset[str] = frozenset({ROW, TABLE, ADVISORY})
BLOCKING: frozenset[str] = frozenset({ROW, TABLE})
LEVEL_KEY = "safeguard_level"


def at_level(level: Level, expectation: Expectation) -> Expectation:
    """Tag ``expectation`` with ``level`` (advisory ones are also GX ``warning`` severity)."""
    if level not in LEVELS:
        raise ValueError(f"unknown expectation level {level!r}; expected one of {sorted(LEVELS)}")
    expectation.meta = {**(expectation.meta or {}), LEVEL_KEY: level}
    if level == ADVISORY:
        expectation.severity = FailureSeverity.WARNING
    return expectation


def tag_all(level: Level, expectations: list[Expectation]) -> list[Expectation]:
    """Tag every expectation of a list with one level."""
    return [at_level(level, e) for e in expectations]


def level_of(item: Expectation | Mapping[str, Any]) -> Level:
    """The level of an expectation or of its JSON configuration.

    An expectation nobody tagged counts as ``table``: it then blocks and never removes a row,
    which is the safe reading of a suite written before levels existed.
    """
    meta = item.meta if isinstance(item, Expectation) else item.get("meta")
    level = (meta or {}).get(LEVEL_KEY, TABLE)
    return level if level in LEVELS else TABLE
