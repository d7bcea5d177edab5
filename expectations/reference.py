"""Suites for the council's reference tables: ``workers`` (who receives flags) and ``areas``.

These are small tables, but allocation depends on them: a worker with no capacity or an area
listed twice would silently misroute flags. A row that breaks a row-level rule (an area code
that is not a postcode district, an IMD decile of 11) is quarantined and reported; the
families in a quarantined worker's districts are then reported as unrouted by flagging.
"""

from __future__ import annotations

from great_expectations.expectations.expectation import Expectation

from safeguard.expectations import builders as b
from safeguard.expectations.contract import reference_table_spec
from safeguard.expectations.levels import ROW, TABLE, tag_all
from safeguard.expectations.settings import SuiteSettings

# "NB1;NB2": semicolon-separated outward codes; spaces around separators and either case are
# tolerated because the file is typed by hand.
_DISTRICT = r"[A-Za-z]{1,2}[0-9][A-Za-z0-9]?"
AREA_CODES_PATTERN = rf"^\s*{_DISTRICT}(\s*;\s*{_DISTRICT})*\s*;?\s*$"
DISTRICT_PATTERN = rf"^\s*{_DISTRICT}\s*$"
# A worker id names the practitioner's case-pack file (models/case_pack.py).
WORKER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

IMD_DECILES = (1, 10)


def build_workers_suite(settings: SuiteSettings) -> list[Expectation]:
    """Every worker is unique, has a contract role, covers parseable districts and has capacity."""
    spec = reference_table_spec("workers")
    mostly = settings.row_mostly(reference=True)
    return [
        *tag_all(
            TABLE,
            [
                *b.table_shape(spec, settings),
                *b.column_types(spec),
                *b.required_present(spec),
                b.unique("worker_id"),
            ],
        ),
        *tag_all(
            ROW,
            [
                *b.enum_sets(spec, mostly=mostly),
                b.matches(
                    "worker_id",
                    WORKER_ID_PATTERN,
                    notes="Letters, digits, '.', '_' or '-' only: it names the case-pack file.",
                    mostly=mostly,
                ),
                b.matches(
                    "area_codes",
                    AREA_CODES_PATTERN,
                    notes="Semicolon-separated postcode districts.",
                    mostly=mostly,
                ),
                b.values_between("capacity", 1, mostly=mostly),
            ],
        ),
    ]


def build_areas_suite(settings: SuiteSettings) -> list[Expectation]:
    """Each postcode district appears once and carries a valid IMD decile."""
    spec = reference_table_spec("areas")
    low, high = IMD_DECILES
    mostly = settings.row_mostly(reference=True)
    return [
        *tag_all(
            TABLE,
            [
                *b.table_shape(spec, settings),
                *b.column_types(spec),
                *b.required_present(spec),
                b.unique("postcode_district"),
            ],
        ),
        *tag_all(
            ROW,
            [
                b.matches(
                    "postcode_district",
                    DISTRICT_PATTERN,
                    notes="A postcode district such as NB1.",
                    mostly=mostly,
                ),
                b.values_between("imd_decile", low, high, mostly=mostly),
            ],
        ),
    ]
