"""The feature dictionary: every model input with its plain-English meaning.

The explanations shown to practitioners (issue 6), the model's monotone constraints and the
model card are all generated from this one list, so a feature cannot enter the model without a
label, a unit, an agency and a reason template. Protected characteristics are never features;
:func:`assert_no_protected` is the automated check that guards model inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "rate", "days", "gbp", "flag", "years", "people"]
Agency = Literal[
    "education", "housing", "police", "social_care", "revenues_benefits", "family_composition"
]

PROTECTED_COLUMNS: tuple[str, ...] = ("sex", "ethnicity", "disability")

# Name tokens that reveal a protected characteristic (or a prohibited column of the landing
# contract) used directly or through an obvious derived name such as ``lead_adult_sex``.
_PROTECTED_TOKENS: frozenset[str] = frozenset(
    {
        *PROTECTED_COLUMNS,
        "gender",
        "ethnic",
        "race",
        "disabled",
        "religion",
        "nationality",
        "immigration",
        "visa",
        "nrpf",
    }
)

RECENCY_CAP_DAYS = 730
"""Days-since features are capped here (and set to it when nothing happened in 24 months)."""


AggregateKind = Literal[
    "count", "sum", "max", "change", "recency", "attendance_lowest", "attendance_persistent",
    "attendance_change", "children", "adults", "youngest_child_age", "children_under_17",
]  # fmt: skip
Condition = Literal["", "high_risk", "closed"]
EvidenceKind = Literal[
    "records", "latest", "closed", "high_risk", "sessions_excluded", "attendance",
    "attendance_lowest", "attendance_persistent", "members_child", "members_adult",
]  # fmt: skip

POLICE_EVENT_TYPES: tuple[str, ...] = (
    "police.domestic_abuse", "police.asb", "police.missing_episode", "police.absent_episode",
    "police.exploitation_concern", "police.violence", "police.sexual_offence", "police.drugs",
    "police.theft", "police.criminal_damage",
)  # fmt: skip
SOCIAL_CARE_EVENT_TYPES: tuple[str, ...] = (
    "social_care.referral", "social_care.assessment", "social_care.s47_enquiry",
    "social_care.cin_plan", "social_care.cp_plan", "social_care.looked_after",
)  # fmt: skip
ATTENDANCE_EVENT_TYPES: tuple[str, ...] = ("education.attendance",)

_EVIDENCE_BY_KIND: dict[str, EvidenceKind] = {
    "recency": "latest", "attendance_lowest": "attendance_lowest",
    "attendance_persistent": "attendance_persistent", "attendance_change": "attendance",
    "children": "members_child", "youngest_child_age": "members_child",
    "children_under_17": "members_child", "adults": "members_adult",
}  # fmt: skip


@dataclass(frozen=True)
class Aggregate:
    """How a feature is computed from the events (``safeguard.features.build`` generates its SQL).

    Attributes
    ----------
    kind : AggregateKind
        ``count`` events (police features: distinct incidents), ``sum``/``max`` of ``column``,
        ``change`` (count in the last half of the window minus the half before), ``recency``
        (days since the latest event, capped), the children's ``attendance_*`` measures or a
        composition measure (``children``, ``adults``, ...) of the members at the as-of date.
    event_types : tuple of str
        The event types counted (all ``police.*``: counted per incident, not per person).
    column : str, optional
        The events column summed or maximised.
    children_only : bool
        Only the family's children's events.
    condition : Condition
        ``high_risk`` (DASH high) or ``closed`` (ended before the as-of date).
    older_than_months : int
        Only events at least this many months old (a window such as 24-36 months ago).
    evidence : EvidenceKind, optional
        Which records are shown as the reason's evidence, when not the default for the kind
        (``records`` for event aggregates).
    """

    kind: AggregateKind
    event_types: tuple[str, ...] = ()
    column: str | None = None
    children_only: bool = False
    condition: Condition = ""
    older_than_months: int = 0
    evidence: EvidenceKind | None = None

    @property
    def police(self) -> bool:
        """Counted over distinct police incidents rather than events."""
        return bool(self.event_types) and all(t.startswith("police.") for t in self.event_types)

    @property
    def evidence_kind(self) -> EvidenceKind:
        """The evidence rule's kind (see ``safeguard.flags.reasons.EvidenceRule``)."""
        if self.evidence is not None:
            return self.evidence
        if self.condition:
            return self.condition
        return _EVIDENCE_BY_KIND.get(self.kind, "records")


def count(*types: str, child: bool = False, condition: Condition = "", older: int = 0) -> Aggregate:
    """Shorthand: count events of ``types``."""
    return Aggregate(
        "count", types, children_only=child, condition=condition, older_than_months=older
    )


class ProtectedFeatureError(ValueError):
    """A protected characteristic (or an obvious proxy name for one) is among model inputs."""


@dataclass(frozen=True)
class FeatureSpec:
    """One model input, described for practitioners and reviewers.

    Attributes
    ----------
    name : str
        Column name in ``family_features``.
    label : str
        Plain-English label for tables and charts.
    unit : Unit
        How the value is measured; drives how the value is written in reasons.
    agency : Agency
        The partner agency whose records the feature is built from.
    window_months : int | None
        Look-back window; ``None`` for composition features measured at the as-of date.
    description : str
        How the value is computed, for the model card and reviewers.
    direction : int
        ``+1`` the risk indicator may only rise with the value, ``-1`` only fall, ``0`` unknown
        (no monotone constraint).
    reason_template : str
        Plain-English reason with a ``{value}`` placeholder.
    signed : bool
        A trend (this window minus the one before): may be negative.
    nullable : bool
        Missing when there is nothing to measure (e.g. no attendance return); the trees handle
        missing values natively and validation allows them.
    aggregate : Aggregate, optional
        How the value is computed from the events: the feature SQL (``safeguard.features.build``) and the
        evidence behind a reason (``safeguard.flags.reasons``) are generated from it.
    """

    name: str
    label: str
    unit: Unit
    agency: Agency
    window_months: int | None
    description: str
    direction: int
    reason_template: str
    signed: bool = False
    nullable: bool = False
    aggregate: Aggregate | None = None

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"feature {self.name}: direction must be -1, 0 or +1")
        if "{value}" not in self.reason_template:
            raise ValueError(f"feature {self.name}: reason_template needs a {{value}} slot")

    def format_value(self, value: float | None) -> str:
        """Write ``value`` in the feature's unit, as a practitioner would read it."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "no record"
        if self.unit == "rate":
            return f"{value:.0%}"
        if self.unit == "gbp":
            return f"£{value:,.0f}"
        if self.unit == "flag":
            return "yes" if value else "no"
        if self.unit == "days" and value >= RECENCY_CAP_DAYS:
            return f"over {RECENCY_CAP_DAYS}"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"

    def reason(self, value: float | None) -> str:
        """The plain-English reason for this feature at ``value``."""
        return self.reason_template.format(value=self.format_value(value))


def _f(
    name: str,
    label: str,
    unit: Unit,
    agency: Agency,
    window: int | None,
    direction: int,
    reason: str,
    description: str,
    aggregate: Aggregate,
) -> FeatureSpec:
    return FeatureSpec(
        name,
        label,
        unit,
        agency,
        window,
        description,
        direction,
        reason,
        signed="_change_" in name,
        nullable="missing when" in description,
        aggregate=aggregate,
    )


_M12 = "in the last 12 months"
_DA = "police.domestic_abuse"
_NOTICES = ("housing.arrears_notice", "housing.notice_seeking_possession")
FEATURE_DICTIONARY: tuple[FeatureSpec, ...] = (
    # education: the family's children
    _f("edu_attendance_rate_lowest_12m", "Lowest child's school attendance (12 months)", "rate", "education", 12, -1,
       f"school attendance as low as {{value}} for one of the children {_M12}",
       "Lowest attendance rate (1 - missed sessions / possible sessions) among the family's children, over attendance returns for terms that ended before the as-of date; missing when no return.",
       Aggregate("attendance_lowest", ATTENDANCE_EVENT_TYPES, children_only=True)),
    _f("edu_persistent_absence_children_12m", "Children persistently absent (12 months)", "people", "education", 12, 1,
       f"{{value}} child(ren) persistently absent from school (below 90% attendance) {_M12}",
       "Number of the family's children whose attendance rate over completed terms in the window is below 90%.",
       Aggregate("attendance_persistent", ATTENDANCE_EVENT_TYPES, children_only=True)),
    _f("edu_attendance_change_6m", "Change in school attendance (last 6 months vs 6 before)", "rate", "education", 12, 0,
       "family school attendance changed by {value} points in the last 6 months compared with the 6 months before",
       "Family attendance rate over terms ending in the last 6 months minus the rate over the 6 months before; missing when either is missing.",
       Aggregate("attendance_change", ATTENDANCE_EVENT_TYPES, children_only=True)),
    _f("edu_suspensions_12m", "School suspensions (12 months)", "count", "education", 12, 1,
       f"{{value}} school suspension(s) of the family's children {_M12}",
       "Suspension records of the family's children starting in the window.",
       count("education.suspension", child=True)),
    _f("edu_sessions_excluded_12m", "School sessions lost to exclusion (12 months)", "count", "education", 12, 1,
       f"{{value}} school sessions lost to suspension or exclusion {_M12}",
       "Sum of sessions_excluded on suspension and exclusion records in the window.",
       Aggregate("sum", ("education.suspension", "education.permanent_exclusion"), "sessions_excluded", children_only=True, evidence="sessions_excluded")),
    _f("edu_permanent_exclusions_24m", "Permanent exclusions (24 months)", "count", "education", 24, 1,
       "{value} permanent exclusion(s) from school in the last 24 months",
       "Permanent exclusion records of the family's children starting in the window.",
       count("education.permanent_exclusion", child=True)),
    _f("edu_missing_education_12m", "Children missing education episodes (12 months)", "count", "education", 12, 1,
       f"{{value}} episode(s) of a child missing education {_M12}",
       "Children-missing-education records starting in the window.",
       count("education.missing_education", child=True)),
    # housing
    _f("housing_arrears_notices_12m", "Rent arrears notices (12 months)", "count", "housing", 12, 1,
       f"{{value}} rent arrears notice(s) {_M12}", "Housing arrears_notice events for any family member in the window.",
       count("housing.arrears_notice")),
    _f("housing_arrears_gbp_max_12m", "Largest rent arrears on a notice (12 months)", "gbp", "housing", 12, 1,
       f"rent arrears of up to {{value}} {_M12}", "Largest arrears_gbp on an arrears notice in the window; 0 when none.",
       Aggregate("max", ("housing.arrears_notice",), "amount_gbp")),
    _f("housing_possession_notices_12m", "Notices seeking possession (12 months)", "count", "housing", 12, 1,
       f"{{value}} notice(s) seeking possession of the home {_M12}", "notice_seeking_possession events in the window.",
       count("housing.notice_seeking_possession")),
    _f("housing_evictions_24m", "Evictions (24 months)", "count", "housing", 24, 1,
       "{value} eviction(s) in the last 24 months", "eviction events in the window.",
       count("housing.eviction")),
    _f("housing_homeless_applications_12m", "Homelessness applications (12 months)", "count", "housing", 12, 1,
       f"{{value}} homelessness application(s) {_M12}", "homeless_application events in the window.",
       count("housing.homeless_application")),
    _f("housing_temporary_accommodation_12m", "Temporary accommodation placements (12 months)", "count", "housing", 12, 1,
       f"{{value}} placement(s) in temporary accommodation {_M12}", "temporary_accommodation events in the window.",
       count("housing.temporary_accommodation")),
    _f("housing_asb_complaints_12m", "Anti-social behaviour complaints to housing (12 months)", "count", "housing", 12, 1,
       f"{{value}} anti-social behaviour complaint(s) recorded by housing {_M12}", "asb_complaint events in the window.",
       count("housing.asb_complaint")),
    _f("housing_notices_change_6m", "Change in housing notices (last 6 months vs 6 before)", "count", "housing", 12, 0,
       "housing arrears and possession notices changed by {value} in the last 6 months compared with the 6 months before",
       "Arrears and possession notices in the last 6 months minus those in the 6 months before.",
       Aggregate("change", _NOTICES)),
    _f("housing_days_since_last_notice", "Days since the last housing notice", "days", "housing", 24, -1,
       "{value} days since the last housing arrears or possession notice",
       f"Days from the latest arrears/possession notice or eviction to the as-of date, capped at {RECENCY_CAP_DAYS}.",
       Aggregate("recency", (*_NOTICES, "housing.eviction"))),
    # police: distinct incidents involving any family member, whatever their role
    _f("police_da_incidents_3m", "Domestic abuse incidents (3 months)", "count", "police", 3, 1,
       "{value} police-recorded domestic abuse incident(s) involving the family in the last 3 months",
       "Distinct domestic_abuse incidents involving any family member in the window.",
       count(_DA)),
    _f("police_da_incidents_12m", "Domestic abuse incidents (12 months)", "count", "police", 12, 1,
       f"{{value}} police-recorded domestic abuse incident(s) involving the family {_M12}",
       "Distinct domestic_abuse incidents involving any family member in the window.",
       count(_DA)),
    _f("police_da_high_risk_12m", "High-risk (DASH) domestic abuse incidents (12 months)", "count", "police", 12, 1,
       f"{{value}} domestic abuse incident(s) graded high risk (DASH) {_M12}",
       "Distinct domestic_abuse incidents graded dash_risk = high in the window.",
       count(_DA, condition="high_risk")),
    _f("police_da_change_6m", "Change in domestic abuse incidents (last 6 months vs 6 before)", "count", "police", 12, 0,
       "domestic abuse incidents changed by {value} in the last 6 months compared with the 6 months before",
       "Distinct DA incidents in the last 6 months minus those in the 6 months before.",
       Aggregate("change", (_DA,))),
    _f("police_days_since_last_da", "Days since the last domestic abuse incident", "days", "police", 24, -1,
       "{value} days since the last police-recorded domestic abuse incident",
       f"Days from the latest DA incident to the as-of date, capped at {RECENCY_CAP_DAYS}.",
       Aggregate("recency", (_DA,))),
    _f("police_asb_incidents_12m", "Anti-social behaviour incidents (12 months)", "count", "police", 12, 1,
       f"{{value}} police-recorded anti-social behaviour incident(s) {_M12}", "Distinct asb incidents in the window.",
       count("police.asb")),
    _f("police_missing_episodes_12m", "Missing or absent episodes (12 months)", "count", "police", 12, 1,
       f"{{value}} missing or absent episode(s) reported to police {_M12}",
       "Distinct missing_episode and absent_episode incidents in the window. Recording varies by force.",
       count("police.missing_episode", "police.absent_episode")),
    _f("police_exploitation_concerns_12m", "Exploitation concerns (12 months)", "count", "police", 12, 1,
       f"{{value}} police-recorded exploitation concern(s) {_M12}", "Distinct exploitation_concern incidents in the window.",
       count("police.exploitation_concern")),
    _f("police_violence_incidents_12m", "Violence or sexual offence incidents (12 months)", "count", "police", 12, 1,
       f"{{value}} violence or sexual offence incident(s) involving the family {_M12}",
       "Distinct violence and sexual_offence incidents in the window, any role (victim, suspect, witness).",
       count("police.violence", "police.sexual_offence")),
    _f("police_drugs_incidents_12m", "Drugs incidents (12 months)", "count", "police", 12, 1,
       f"{{value}} drugs incident(s) involving the family {_M12}", "Distinct drugs incidents in the window.",
       count("police.drugs")),
    _f("police_incidents_12m", "All police incidents (12 months)", "count", "police", 12, 1,
       f"{{value}} police incident(s) of any kind involving the family {_M12}", "Distinct incidents of any type in the window.",
       count(*POLICE_EVENT_TYPES)),
    # prior (closed) social-care contact; families open at the as-of date are excluded upstream
    _f("sc_referrals_12m", "Referrals to children's social care (12 months)", "count", "social_care", 12, 1,
       f"{{value}} referral(s) of the family's children to social care {_M12}", "referral episodes starting in the window.",
       count("social_care.referral")),
    _f("sc_referrals_24m", "Referrals to children's social care (24 months)", "count", "social_care", 24, 1,
       "{value} referral(s) to social care in the last 24 months", "referral episodes starting in the window.",
       count("social_care.referral")),
    _f("sc_assessments_24m", "Social care assessments (24 months)", "count", "social_care", 24, 1,
       "{value} social care assessment(s) in the last 24 months", "assessment episodes starting in the window.",
       count("social_care.assessment")),
    _f("sc_closed_episodes_24m", "Closed social care episodes (24 months)", "count", "social_care", 24, 1,
       "{value} social care episode(s) opened and closed in the last 24 months",
       "Episodes of any type starting in the window and ended before the as-of date.",
       count(*SOCIAL_CARE_EVENT_TYPES, condition="closed")),
    _f("sc_days_since_last_contact", "Days since the last social care contact", "days", "social_care", 24, -1,
       "{value} days since the last contact with children's social care",
       f"Days from the latest social care episode start to the as-of date, capped at {RECENCY_CAP_DAYS}.",
       Aggregate("recency", SOCIAL_CARE_EVENT_TYPES)),
    _f("sc_children_episodes_24_36m", "Children's social care episodes 2 to 3 years ago", "count", "social_care", 36, 1,
       "{value} social care episode(s) of the family's children 2 to 3 years ago (24 to 36 months before)",
       "The family's children's own social care episodes (any type) that started 24 to 36 months before the as-of date. Older contact is not counted: the window is as long as a six-year extract allows for every training date, and contact fades out of it.",
       count(*SOCIAL_CARE_EVENT_TYPES, child=True, older=24)),
    # revenues and benefits: arrears and crisis support, not benefit receipt (poverty is not risk)
    _f("rb_council_tax_arrears_12m", "Council tax arrears events (12 months)", "count", "revenues_benefits", 12, 1,
       f"{{value}} council tax arrears record(s) {_M12}", "council_tax_arrears events in the window.",
       count("revenues_benefits.council_tax_arrears")),
    _f("rb_council_tax_arrears_gbp_12m", "Council tax arrears amount (12 months)", "gbp", "revenues_benefits", 12, 1,
       f"council tax arrears totalling {{value}} {_M12}", "Sum of amount_gbp on council_tax_arrears events in the window.",
       Aggregate("sum", ("revenues_benefits.council_tax_arrears",), "amount_gbp")),
    _f("rb_discretionary_housing_payments_12m", "Discretionary housing payments (12 months)", "count", "revenues_benefits", 12, 0,
       f"{{value}} discretionary housing payment(s) {_M12}", "discretionary_housing_payment events in the window.",
       count("revenues_benefits.discretionary_housing_payment")),
    # composition at the as-of date
    _f("fam_children", "Children in the family", "people", "family_composition", None, 0,
       "{value} child(ren) in the family", "Members with role child whose family spell is valid at the as-of date.",
       Aggregate("children")),
    _f("fam_adults", "Adults in the family", "people", "family_composition", None, 0,
       "{value} adult(s) in the family", "Members with role adult whose family spell is valid at the as-of date.",
       Aggregate("adults")),
    _f("fam_youngest_child_age", "Age of the youngest child", "years", "family_composition", None, 0,
       "the youngest child is {value} years old", "Whole years from the youngest child's birth month to the as-of date.",
       Aggregate("youngest_child_age")),
    _f("fam_children_under_17", "Children under 17", "people", "family_composition", None, 0,
       "{value} child(ren) under 17, who remain children for the next 12 months",
       "Children whose birth month is less than 17 years before the as-of date: a child of 17 turns 18 within the outcome window, after which no enquiry or plan can start.",
       Aggregate("children_under_17")),
)  # fmt: skip

FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURE_DICTIONARY)
_NO_AGGREGATE = [spec.name for spec in FEATURE_DICTIONARY if spec.aggregate is None]
if _NO_AGGREGATE:  # pragma: no cover - a dictionary edit that forgot the aggregate
    raise ValueError(f"feature(s) {_NO_AGGREGATE} have no aggregate: nothing to compute them from")
USED_EVENT_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(t for spec in FEATURE_DICTIONARY for t in spec.aggregate.event_types)  # type: ignore[union-attr]
)
"""Event types that feed some feature; others (e.g. benefit receipt) are dropped before the join."""
_BY_NAME = {spec.name: spec for spec in FEATURE_DICTIONARY}


def feature_spec(name: str) -> FeatureSpec:
    """Look up a feature by column name; raises ``KeyError`` naming the unknown feature."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not in the feature dictionary (features/dictionary.py)"
        ) from None


def monotone_constraints(feature_names: Iterable[str]) -> list[int]:
    """Monotone directions for ``feature_names`` in order; 0 for names not in the dictionary."""
    return [_BY_NAME[n].direction if n in _BY_NAME else 0 for n in feature_names]


def assert_no_protected(feature_names: Iterable[str]) -> None:
    """Fail if a protected characteristic, or a name built from one, is among model inputs.

    Names are split on non-alphanumeric characters so ``lead_adult_sex`` and
    ``Ethnicity-Group`` are caught while ``sessions_excluded`` is not.

    Raises
    ------
    ProtectedFeatureError
        Naming every offending column, so the data team can remove it from X.
    """
    offending = []
    for name in feature_names:
        tokens = set(re.split(r"[^a-z0-9]+", str(name).lower()))
        if tokens & _PROTECTED_TOKENS or str(name).lower() in _PROTECTED_TOKENS:
            offending.append(str(name))
    if offending:
        raise ProtectedFeatureError(
            f"protected characteristic(s) among model inputs: {offending}; protected "
            f"characteristics {PROTECTED_COLUMNS} are for the fairness audit only "
            "(pass them as sensitive_features, never in X)"
        )


assert_no_protected(FEATURE_NAMES)


MAX_WINDOW_MONTHS: int = max(f.window_months or 0 for f in FEATURE_DICTIONARY)
"""The longest look-back window: how far before an as-of date the features read."""
