"""Suites for the council's reference tables: ``workers`` (who receives flags) and ``areas``.

These are small tables, but allocation depends on them: a worker with no capacity or an area
listed twice would silently misroute flags.
"""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from expectations import builders as b
from expectations.contract import reference_table_spec
from expectations.settings import SuiteSettings

# "NB1;NB2": semicolon-separated outward codes; spaces around separators and either case are
# tolerated because the file is typed by hand.
_DISTRICT = r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]?"
AREA_CODES_PATTERN = rf"^\s*{_DISTRICT}(\s*;\s*{_DISTRICT})*\s*;?\s*$"

IMD_DECILES = (1, 10)


def build_workers_suite(settings: SuiteSettings) -> list[Expectation]:
    """Every worker is unique, has a contract role, covers parseable districts and has capacity."""
    spec = reference_table_spec("workers")
    return [
        *b.table_shape(spec, settings),
        *b.column_types(spec),
        *b.completeness(spec, settings, {}),
        *b.enum_sets(spec),
        b.unique("worker_id"),
        b.matches(
            "area_codes", AREA_CODES_PATTERN, notes="Semicolon-separated postcode districts."
        ),
        b.not_below("capacity", 1),
    ]


def build_areas_suite(settings: SuiteSettings) -> list[Expectation]:
    """Each postcode district appears once and carries a valid IMD decile."""
    spec = reference_table_spec("areas")
    low, high = IMD_DECILES
    return [
        *b.table_shape(spec, settings),
        *b.column_types(spec),
        *b.completeness(spec, settings, {}),
        b.unique("postcode_district"),
        b.not_below("imd_decile", low),
        b.not_above("imd_decile", high),
    ]
