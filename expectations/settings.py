"""Tunable thresholds of the suites, typed once at the edge (``run_suite(**params)``)."""

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
    earliest_event_date : date
        Event dates before this are implausible for a live case system (default 1990-01-01).
    future_slack_days : int
        Event dates may run this many days past the extract date (systems that record
        planned dates, clock skew); anything later is a data error.
    max_age_years : int
        Upper bound on age at the extract date derived from ``birth_month``.
    plausible_age_mostly : float
        Share of rows whose age must lie in 0..``max_age_years`` (default 0.999): a rare
        mistyped date of birth is an agency's recording error, reported in the results; more
        than 0.1% points to a systemic problem (e.g. swapped date columns) and blocks.
    pupil_age_years : tuple of int
        Plausible age range of pupils in the education extract (inclusive).
    pupil_age_mostly : float
        Share of education rows that must fall in ``pupil_age_years`` (a few adult learners
        and data-entry slips are expected, a wholesale shift is not).
    non_negative_mostly : float
        Share of money amounts (arrears, benefit amounts) that must be >= 0; credits exist.
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
    allow_extra_columns: bool = False
    features: tuple[FeatureSpec, ...] = ()

    def __post_init__(self) -> None:
        for name, share in self.null_thresholds.items():
            if share is not None and not 0.0 <= share <= 1.0:
                raise SuiteConfigError(f"null_thresholds[{name!r}] = {share}: must be in [0, 1]")
        for name in ("pupil_age_mostly", "non_negative_mostly", "plausible_age_mostly"):
            share = getattr(self, name)
            if not 0.0 < share <= 1.0:
                raise SuiteConfigError(f"{name} = {share}: must be in (0, 1]")
        low, high = self.pupil_age_years
        if not 0 <= low <= high <= self.max_age_years:
            raise SuiteConfigError(
                f"pupil_age_years = {self.pupil_age_years}: need 0 <= low <= high"
            )

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
