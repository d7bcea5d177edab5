"""Suites for the five ``<source>_records`` tables: one generic builder plus per-source rules.

The generic part comes from the landing contract (schema, types, enums, required columns,
pseudonym shapes, record-key uniqueness, event-date ranges, plausible ages); what the
contract cannot say (which columns are sparse by design, session arithmetic, money signs,
pupils' ages) lives in :data:`SOURCE_RULES`.

Levels (:mod:`safeguard.expectations.levels`): a defect of one record (an event date in the future, an
end before its start, a negative session count, an impossible age) is ``row``: the record is
quarantined. The table's shape, types, keys and pseudonyms, and distributions where single
rows are legitimate (pupils of school age, money mostly not negative), are ``table``. How
often optional columns are filled is ``advisory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from great_expectations.expectations.expectation import Expectation

from safeguard.expectations import builders as b
from safeguard.expectations.contract import TableSpec, records_table_spec
from safeguard.expectations.levels import ADVISORY, ROW, TABLE, tag_all
from safeguard.expectations.settings import SuiteSettings

# Columns that are not events even though they are dates.
NON_EVENT_DATES = frozenset({"birth_month", "extract_date"})

# UK outward code (``NB1``, ``SW1A``); DESIGN.md: postcode_district is missing when not UK-shaped.
OUTWARD_CODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]?$"

# A school year has at most 380 half-day sessions; a bigger figure is a unit or join error.
MAX_SESSIONS_POSSIBLE = 400


@dataclass(frozen=True)
class SourceRules:
    """What the contract cannot say about one source.

    Parameters
    ----------
    null_defaults : mapping of str to float or None
        Minimum non-null share of optional columns that are normally filled in (advisory:
        a shortfall is reported, never blocks). Optional columns not listed are sparse by
        design (end dates of open episodes, DASH risk on non-DA incidents, session counts on
        non-attendance rows) and get no null check.
    date_order : tuple of (later, earlier)
        Pairs of date columns where the first may not precede the second.
    counts : tuple of str
        Integer counts that must be >= 0 (row-level).
    parts_of : tuple of (part, total)
        Counts that may not exceed another count on the same row.
    money : tuple of str
        Amounts that are mostly >= 0 (``SuiteSettings.non_negative_mostly``).
    pupils : bool
        Apply the pupil age range (education only).
    """

    null_defaults: Mapping[str, float | None] = field(default_factory=dict)
    date_order: tuple[tuple[str, str], ...] = ()
    counts: tuple[str, ...] = ()
    parts_of: tuple[tuple[str, str], ...] = ()
    money: tuple[str, ...] = ()
    pupils: bool = False


_SESSIONS = (
    "sessions_possible",
    "sessions_missed_authorised",
    "sessions_missed_unauthorised",
    "sessions_excluded",
)

SOURCE_RULES: Mapping[str, SourceRules] = {
    "social_care": SourceRules(
        null_defaults={
            "sex": 0.8,
            "ethnicity": 0.5,
            "disability": 0.5,
            "postcode_district": 0.5,
            "address_key": 0.5,
        },
        date_order=(("end_date", "start_date"),),
    ),
    "education": SourceRules(
        null_defaults={
            "sex": 0.8,
            "ethnicity": 0.5,
            "sen_status": 0.5,
            "fsm": 0.5,
            "school_urn": 0.5,
            "postcode_district": 0.5,
            "address_key": 0.5,
        },
        date_order=(("period_end", "period_start"),),
        counts=_SESSIONS,
        parts_of=(
            ("sessions_missed_authorised", "sessions_possible"),
            ("sessions_missed_unauthorised", "sessions_possible"),
        ),
        pupils=True,
    ),
    "housing": SourceRules(
        null_defaults={"tenancy_role": 0.5, "postcode_district": 0.8, "birth_month": 0.3},
        money=("arrears_gbp",),
    ),
    "police": SourceRules(
        null_defaults={
            "sex": 0.5,
            "postcode_district": 0.3,
            "address_key": 0.3,
            "birth_month": 0.3,
        },
    ),
    "revenues_benefits": SourceRules(
        null_defaults={"postcode_district": 0.8, "birth_month": 0.3},
        money=("amount_gbp",),
    ),
}


def _years_before(day: pd.Timestamp, years: int) -> pd.Timestamp:
    return day - pd.DateOffset(years=years)


def _date_rules(
    spec: TableSpec, extract: pd.Timestamp, settings: SuiteSettings
) -> list[Expectation]:
    earliest = pd.Timestamp(settings.earliest_event_date)
    latest = extract + pd.Timedelta(days=settings.future_slack_days)
    return [
        b.dates_between(col.name, earliest, latest, mostly=settings.row_rule_mostly)
        for col in spec.of_kind("date")
        if col.name not in NON_EVENT_DATES
    ]


def _plausible_age(extract: pd.Timestamp, settings: SuiteSettings) -> Expectation:
    # birth_month is the first day of the birth month, so age at the extract date is
    # bounded by comparing it with the extract date shifted back by whole years.
    return b.dates_between(
        "birth_month",
        _years_before(extract, settings.max_age_years),
        extract,
        mostly=settings.plausible_age_mostly,
    )


def _pupil_age(extract: pd.Timestamp, settings: SuiteSettings) -> Expectation:
    youngest, oldest = settings.pupil_age_years
    return b.dates_between(
        "birth_month",
        _years_before(extract, oldest + 1) + pd.Timedelta(days=1),
        _years_before(extract, youngest),
        mostly=settings.pupil_age_mostly,
    )


def build_records_suite(
    source: str,
    extract_date: date,
    settings: SuiteSettings,
    *,
    extract_date_given: bool = True,
) -> list[Expectation]:
    """All expectations for ``<source>_records`` at one extract date.

    Parameters
    ----------
    source : str
        Contract source name, e.g. ``"police"``.
    extract_date : date
        The drop's extract date: upper bound for event dates (plus slack) and the reference
        point for ages.
    settings : SuiteSettings
        Thresholds.
    extract_date_given : bool
        When the caller named the extract date, the ``extract_date`` column must equal it;
        when it was inferred from the column itself that check would be circular.
    """
    spec = records_table_spec(source)
    rules = SOURCE_RULES[source]
    extract = pd.Timestamp(extract_date)
    mostly = settings.row_rule_mostly
    table = [
        *b.table_shape(spec, settings),
        *b.column_types(spec),
        *b.required_present(spec),
        *b.pseudonym_shapes(spec),
        b.unique("record_pseudo"),
        # Derived by ingest from the postcode: a failure is a pipeline defect, not a row's.
        b.matches(
            "postcode_district", OUTWARD_CODE, notes="Outward code of a normalised UK postcode."
        ),
        *(b.values_at_least(col, 0, mostly=settings.non_negative_mostly) for col in rules.money),
    ]
    if rules.pupils:
        table.append(_pupil_age(extract, settings))
    if extract_date_given:
        table.append(b.dates_between("extract_date", extract, extract))
    row = [
        *b.enum_sets(spec, mostly=mostly),
        *_date_rules(spec, extract, settings),
        *(b.pair_at_least(later, earlier, mostly=mostly) for later, earlier in rules.date_order),
        _plausible_age(extract, settings),
        *(b.values_between(col, 0, mostly=mostly) for col in rules.counts),
        *(b.pair_at_least(total, part, mostly=mostly) for part, total in rules.parts_of),
    ]
    if "sessions_possible" in rules.counts:
        row.append(
            b.values_between("sessions_possible", maximum=MAX_SESSIONS_POSSIBLE, mostly=mostly)
        )
    return [
        *tag_all(TABLE, table),
        *tag_all(ROW, row),
        *tag_all(ADVISORY, b.optional_filled(spec, settings, rules.null_defaults)),
    ]
