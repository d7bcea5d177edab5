"""Tunable thresholds of the suites, typed once at the edge (``run_suite(**params)``).

:class:`SuiteSettings` is the one place for the ingest gates' ``mostly`` shares and quarantine
limits. It is frozen and every field has a documented default, so a council configuration
file can be turned into it with ``SuiteSettings.from_params(**section)`` (unknown keys are
errors, not silently ignored).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

FEATURE_UNITS: frozenset[str] = frozenset(
    {"count", "rate", "days", "gbp", "flag", "years", "people"}
)


class SuiteConfigError(ValueError):
    """A suite parameter or feature dictionary entry is invalid."""


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of the feature dictionary, as far as validation needs it.

    Parameters
    ----------
    name : str
        Column name in ``family_features``.
    unit : str
        One of count, rate, days, gbp, flag, years, people; decides the range checks.
    signed : bool
        A trend (difference between windows): the lower bound becomes minus the upper one.
    nullable : bool
        May be missing (nothing to measure); the not-null expectation is skipped.
    """

    name: str
    unit: str
    signed: bool = False
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.unit not in FEATURE_UNITS:
            raise SuiteConfigError(
                f"feature {self.name!r}: unit {self.unit!r} is not one of {sorted(FEATURE_UNITS)}"
            )


def feature_specs(entries: Sequence[Mapping[str, Any] | FeatureSpec]) -> tuple[FeatureSpec, ...]:
    """Read a feature dictionary given as dicts with ``name`` and ``unit`` (other keys ignored)."""
    specs: list[FeatureSpec] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, FeatureSpec):
            specs.append(entry)
            continue
        if "name" not in entry or "unit" not in entry:
            raise SuiteConfigError(f"feature dictionary entry {i}: needs 'name' and 'unit' keys")
        specs.append(
            FeatureSpec(
                name=str(entry["name"]),
                unit=str(entry["unit"]),
                signed=bool(entry.get("signed", False)),
                nullable=bool(entry.get("nullable", False)),
            )
        )
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteConfigError(f"feature dictionary: duplicate feature names {duplicates}")
    return tuple(specs)


@dataclass(frozen=True)
class SuiteSettings:
    """Thresholds shared by the suites; every field can be overridden through ``run_suite``.

    Parameters
    ----------
    null_thresholds : mapping of str to float or None
        Minimum share of non-null values per optional column, overriding the per-source
        defaults; ``None`` switches the check off for a column that is sparse by design.
        Advisory: a shortfall is reported as a warning and never blocks (an optional column
        may legitimately be empty throughout, e.g. no exclusions in a term).
    earliest_event_date : date
        Event dates before this are implausible for a live case system (default 1990-01-01).
    future_slack_days : int
        Event dates may run this many days past the extract date (systems that record
        planned dates, clock skew); anything later is a data error.
    max_age_years : int
        Upper bound on age at the extract date derived from ``birth_month``.
    plausible_age_mostly : float
        Row-level: share of rows whose age must lie in 0..``max_age_years`` (default 0.999).
        A rare mistyped date of birth is an agency's recording error: the row is quarantined
        and reported; more than 0.1% points to a systemic problem (e.g. swapped date
        columns) and blocks.
    pupil_age_years : tuple of int
        Plausible age range of pupils in the education extract (inclusive).
    pupil_age_mostly : float
        Table-level: share of education rows that must fall in ``pupil_age_years`` (adult
        learners are legitimate rows, so nothing is quarantined; a wholesale shift blocks).
    non_negative_mostly : float
        Table-level: share of money amounts (arrears, benefit amounts) that must be >= 0;
        credits are legitimate rows, so nothing is quarantined.
    row_rule_mostly : float
        Agency extracts: share of rows each row-level rule (event dates in range, end not
        before start, counts not negative, ...) must pass (default 0.99). Failing rows are
        quarantined whatever the share; above 1% one rule is failing systemically (a date
        format change, swapped columns) and the table is blocked.
    reference_row_rule_mostly : float
        The same for the reference files (workers, areas, objections), default 0.5. They are
        short and typed by hand: one bad row in a workers file of four is 25%, and blocking
        the whole run for it would stop every flag, while quarantining it only leaves that
        practitioner's districts unrouted (reported). Half the file failing one rule points
        to a wrong file or a changed format and blocks.
    max_quarantined_share : float
        Agency extracts: largest share of the rows read that may be quarantined by all rules
        together, contract rules at the door included (default 0.05).
    reference_max_quarantined_share : float
        The same for the reference files (default 0.5, for the reason given above).
    allow_extra_columns : bool
        Accept columns beyond the specification. Off by default: an extra column in a
        pseudonymised table is most likely an identifier that escaped the vault.
    features : tuple of FeatureSpec
        The feature dictionary for the ``family_features`` suite.
    """

    null_thresholds: Mapping[str, float | None] = field(default_factory=dict)
    earliest_event_date: date = date(1990, 1, 1)
    future_slack_days: int = 7
    max_age_years: int = 110
    plausible_age_mostly: float = 0.999
    pupil_age_years: tuple[int, int] = (2, 20)
    pupil_age_mostly: float = 0.95
    non_negative_mostly: float = 0.99
    row_rule_mostly: float = 0.99
    reference_row_rule_mostly: float = 0.5
    max_quarantined_share: float = 0.05
    reference_max_quarantined_share: float = 0.5
    allow_extra_columns: bool = False
    features: tuple[FeatureSpec, ...] = ()

    def __post_init__(self) -> None:
        for name, share in self.null_thresholds.items():
            if share is not None and not 0.0 <= share <= 1.0:
                raise SuiteConfigError(f"null_thresholds[{name!r}] = {share}: must be in [0, 1]")
        for name in (
            "pupil_age_mostly",
            "non_negative_mostly",
            "plausible_age_mostly",
            "row_rule_mostly",
            "reference_row_rule_mostly",
        ):
            share = getattr(self, name)
            if not 0.0 < share <= 1.0:
                raise SuiteConfigError(f"{name} = {share}: must be in (0, 1]")
        for name in ("max_quarantined_share", "reference_max_quarantined_share"):
            share = getattr(self, name)
            if not 0.0 <= share < 1.0:
                raise SuiteConfigError(f"{name} = {share}: must be in [0, 1)")
        low, high = self.pupil_age_years
        if not 0 <= low <= high <= self.max_age_years:
            raise SuiteConfigError(
                f"pupil_age_years = {self.pupil_age_years}: need 0 <= low <= high"
            )

    def row_mostly(self, *, reference: bool) -> float:
        """``mostly`` of the row-level rules of an agency extract or a reference file."""
        return self.reference_row_rule_mostly if reference else self.row_rule_mostly

    def quarantine_limit(self, *, reference: bool) -> float:
        """Largest share of a file's rows that may be quarantined before its table is blocked."""
        return self.reference_max_quarantined_share if reference else self.max_quarantined_share

    def as_params(self) -> dict[str, Any]:
        """The fields as keyword arguments for ``run_suite``/``screen_rows`` (round-trips)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_params(cls, **params: Any) -> SuiteSettings:
        """Build settings from ``run_suite`` keyword arguments with a clear error on typos.

        ``feature_dictionary`` (list of dicts) is accepted as an alias of ``features``.
        """
        if "feature_dictionary" in params:
            params["features"] = params.pop("feature_dictionary")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise SuiteConfigError(
                f"unknown suite parameter(s) {unknown}; accepted: {sorted(known | {'feature_dictionary'})}"
            )
        if "features" in params:
            params["features"] = feature_specs(params["features"])
        if "pupil_age_years" in params:
            params["pupil_age_years"] = tuple(params["pupil_age_years"])
        return cls(**params)
