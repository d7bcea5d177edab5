"""Suite for the ``objections`` warehouse table: the register every exclusion depends on.

The warehouse holds only the pseudonym of each objection and the date it was received (the
names live in the vault). The suite makes sure the register loaded (at least one row: an empty
register is a failed export), each objection is a keyed pseudonym and appears once, and every
received date is a real date not after the extract (a DD/MM swap that still parses as ISO lands
in the future).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from great_expectations.expectations.expectation import Expectation

from safeguard.expectations import builders as b
from safeguard.expectations.contract import ColumnSpec, TableSpec
from safeguard.expectations.levels import TABLE, tag_all
from safeguard.expectations.settings import SuiteSettings

OBJECTIONS_TABLE = TableSpec(
    dataset="objections",
    columns=(
        ColumnSpec("objection_pseudo", "string", required=True, pseudonym=True),
        ColumnSpec("received_date", "date", required=True),
    ),
)


def build_objections_suite(extract_date: date, settings: SuiteSettings) -> list[Expectation]:
    """Shape, types, completeness, pseudonyms, uniqueness and received-date range.

    Every rule is table-level (blocking, never removing a row): a register that
    breaks any of them fails closed rather than dropping an objection.
    """
    latest = pd.Timestamp(extract_date) + pd.Timedelta(days=settings.future_slack_days)
    return tag_all(
        TABLE,
        [
            *b.table_shape(OBJECTIONS_TABLE, settings),
            *b.column_types(OBJECTIONS_TABLE),
            *b.required_present(OBJECTIONS_TABLE),
            *b.pseudonym_shapes(OBJECTIONS_TABLE),
            b.unique("objection_pseudo"),
            b.dates_between("received_date", pd.Timestamp(settings.earliest_event_date), latest),
        ],
    )
