"""Suite for ``family_features``, built from the feature dictionary (name + unit per feature).

The model trusts these columns blindly, so the gate checks what each unit implies: counts and
people are non-negative whole numbers, rates lie in [0, 1], flags are 0/1, durations and money
are non-negative, ages in years are plausible; trends (``signed``) may be negative; only features
the dictionary marks ``nullable`` may be missing; there is one row per family per as-of date.

Every expectation here is ``table`` level (:mod:`safeguard.expectations.levels`): the model's input is
judged as a whole and never has rows removed.
"""

from __future__ import annotations

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

from safeguard.expectations import builders as b
from safeguard.expectations.custom import ExpectColumnValuesToBeWholeNumbers
from safeguard.expectations.levels import TABLE, tag_all
from safeguard.expectations.settings import FeatureSpec, SuiteConfigError, SuiteSettings

ROW_KEY = ("family_key", "as_of_date")
MAX_YEARS = 110


def _bounds(feature: FeatureSpec, low: float | None, high: float | None) -> list[Expectation]:
    """Range checks: min/max aggregates (fast), or per row when the feature may be missing:
    a nullable feature can be empty throughout (nobody was referred), leaving no aggregate."""
    if feature.nullable:
        return [b.values_between(feature.name, low, high)]
    return [
        *([b.not_below(feature.name, low)] if low is not None else []),
        *([b.not_above(feature.name, high)] if high is not None else []),
    ]


def _unit_rules(feature: FeatureSpec) -> list[Expectation]:
    name = feature.name
    if feature.signed:
        # a trend is the difference of two windows: rates move within [-1, 1], counts by whole numbers
        if feature.unit == "rate":
            return _bounds(feature, -1, 1)
        if feature.unit in ("count", "people"):
            return [ExpectColumnValuesToBeWholeNumbers(column=name)]
        return []
    if feature.unit in ("count", "people"):
        return [*_bounds(feature, 0, None), ExpectColumnValuesToBeWholeNumbers(column=name)]
    if feature.unit == "rate":
        return _bounds(feature, 0, 1)
    if feature.unit == "flag":
        return [gxe.ExpectColumnValuesToBeInSet(column=name, value_set=[0, 1])]
    if feature.unit == "years":
        return _bounds(feature, 0, MAX_YEARS)
    # days and gbp: durations and amounts owed or paid are never negative.
    return _bounds(feature, 0, None)


def build_family_features_suite(settings: SuiteSettings) -> list[Expectation]:
    """All expectations for ``family_features`` given ``settings.features``.

    Raises
    ------
    SuiteConfigError
        If no feature dictionary was passed, or a feature is named like a row-key column.
    """
    if not settings.features:
        raise SuiteConfigError(
            "family_features suite needs the feature dictionary: "
            "run_suite('family_features', df, feature_dictionary=[{'name': ..., 'unit': ...}])"
        )
    clash = sorted({f.name for f in settings.features} & set(ROW_KEY))
    if clash:
        raise SuiteConfigError(f"feature dictionary names row-key columns as features: {clash}")
    names = [*ROW_KEY, *(f.name for f in settings.features)]
    exps: list[Expectation] = [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectTableColumnsToMatchSet(
            column_set=names, exact_match=not settings.allow_extra_columns
        ),
        gxe.ExpectColumnValuesToBeOfType(column="as_of_date", type_="datetime64"),
        b.unique_together(ROW_KEY),
    ]
    nullable = {f.name for f in settings.features if f.nullable}
    exps += [
        gxe.ExpectColumnValuesToNotBeNull(column=name) for name in names if name not in nullable
    ]
    for feature in settings.features:
        exps += _unit_rules(feature)
    return tag_all(TABLE, exps)
