"""Plain-English reasons for a family's indicator, each with the agency records behind it.

Attributions come from :func:`safeguard.models.shap_explain.explain` (native TreeSHAP on the booster's
log-odds, mapped through the calibrator), so they are in **probability points** (0.05 = five
percentage points) and the base probability plus every feature's contribution is exactly the
calibrated probability shown. Model columns are grouped to the feature dictionary's features,
the largest are written with the dictionary's reason templates plus a direction and a size
word, and each reason carries its evidence: the family's records that the feature counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from safeguard.features.dictionary import (
    FEATURE_DICTIONARY,
    FEATURE_NAMES,
    MAX_WINDOW_MONTHS,
    EvidenceKind,
    FeatureSpec,
    feature_spec,
)
from safeguard.features.point_in_time import SPELL_COLUMNS, spells_at
from safeguard.models.estimator import ScoringModel
from safeguard.models.shap_explain import explain

REASON_DTYPES: dict[str, str] = {
    "flag_id": "string", "family_key": "string", "reason_rank": "Int64", "feature": "string",
    "label": "string", "agency": "string", "direction": "string", "contribution": "Float64",
    "value": "Float64", "text": "string", "evidence": "string", "probability": "Float64",
    "base_probability": "Float64", "other_contribution": "Float64",
}  # fmt: skip
REASON_COLUMNS: tuple[str, ...] = tuple(REASON_DTYPES)
"""``flag_explanations`` columns: DESIGN's, plus ``agency`` (the feature's agency) and
``probability, base_probability, other_contribution`` so each flag's rows add up on their own."""


class ExplanationInputError(ValueError):
    """Features or flags given to the explainer do not line up."""


@dataclass(frozen=True)
class ReasonConfig:
    """Which attributions become reasons and how their size is worded.

    Attributes
    ----------
    min_points : float, default 0.001
        Contributions smaller than 0.1 percentage point are not shown as reasons (they still
        count in ``other_contribution``).
    a_lot, moderately : float, default 0.25 and 0.10
        Size words, as a share of the family's own movement from the base: the reference is
        ``r = max(b, |p - b|)`` with p the family's calibrated probability and b the base
        probability (the calibrated probability at the average score: a typical family's
        indicator). ``|contribution| >= a_lot * r`` is "a lot", ``>= moderately * r`` is
        "moderately", else "slightly". For a flagged family at 30% with b = 3%, "a lot" is
        6.8 points or more and "slightly" under 2.7 points; near the base, r = b, so a few
        tenths of a point are never called "a lot".
    """

    min_points: float = 0.001
    a_lot: float = 0.25
    moderately: float = 0.10

    def size_word(self, contribution: float, base_probability: float, probability: float) -> str:
        """The size word for ``contribution``: "a lot", "moderately" or "slightly"."""
        reference = max(base_probability, abs(probability - base_probability))
        size = abs(contribution)
        if size >= self.a_lot * reference:
            return "a lot"
        if size >= self.moderately * reference:
            return "moderately"
        return "slightly"


@dataclass(frozen=True)
class Attributions:
    """Contributions grouped to dictionary features, one row per family (index = input index).

    ``base_probability + contributions.sum(axis=1) == probability`` (calibrated), and
    ``base_log_odds + log_odds.sum(axis=1)`` is the booster's raw score.
    """

    contributions: pd.DataFrame
    log_odds: pd.DataFrame
    values: pd.DataFrame
    probability: np.ndarray
    base_probability: float
    base_log_odds: float


def concept_of(column: str) -> str:
    """The dictionary feature a model column belongs to: its own name, or ``<feature>__<part>``.

    Raises
    ------
    KeyError
        For a column that is not in the feature dictionary (no reason could be written for it).
    """
    if column in FEATURE_NAMES:
        return column
    head = column.split("__", 1)[0]
    return feature_spec(head).name


def attribute(model: ScoringModel, X: pd.DataFrame) -> Attributions:
    """TreeSHAP attributions of ``X`` on both scales, summed per dictionary feature."""
    result = explain(model, X)
    columns = list(result.probability.columns)
    concepts = list(dict.fromkeys(concept_of(c) for c in columns))
    if concepts == columns:
        points, logit = result.probability, result.log_odds
    else:
        grouping = np.zeros((len(columns), len(concepts)))
        for i, column in enumerate(columns):
            grouping[i, concepts.index(concept_of(column))] = 1.0
        points = pd.DataFrame(result.probability.to_numpy() @ grouping, X.index, concepts)
        logit = pd.DataFrame(result.log_odds.to_numpy() @ grouping, X.index, concepts)
    values = pd.DataFrame(
        {
            c: X[c].to_numpy(dtype=float, na_value=np.nan) if c in X.columns else np.nan
            for c in concepts
        },
        index=X.index,
    )
    return Attributions(
        contributions=points,
        log_odds=logit,
        values=values,
        probability=result.probability_base + points.to_numpy().sum(axis=1),
        base_probability=result.probability_base,
        base_log_odds=result.log_odds_base,
    )


def _select(
    attrs: Attributions, top_n: int | None, top_lowered: int | None, min_points: float
) -> pd.DataFrame:
    """Long frame of shown reasons: ``pos, feature, contribution, value, direction, reason_rank``."""
    contrib = attrs.contributions.to_numpy()
    n, k = contrib.shape
    long = pd.DataFrame(
        {
            "pos": np.repeat(np.arange(n), k),
            "feature": np.tile(np.asarray(attrs.contributions.columns, dtype=object), n),
            "contribution": contrib.ravel(),
            "value": attrs.values.to_numpy().ravel(),
        }
    )
    long = long.loc[long["contribution"].abs() >= min_points].copy()
    long["direction"] = np.where(long["contribution"] > 0, "raised", "lowered")
    long["size"] = -long["contribution"].abs()
    long = long.sort_values(["pos", "direction", "size", "feature"])
    within = long.groupby(["pos", "direction"]).cumcount()
    keep_raised = np.inf if top_n is None else top_n
    keep_lowered = np.inf if top_lowered is None else top_lowered
    limit = np.where(long["direction"] == "raised", keep_raised, keep_lowered)
    long = long.loc[within.to_numpy() < limit].sort_values(["pos", "size", "feature"])
    long["reason_rank"] = long.groupby("pos").cumcount() + 1
    return long.drop(columns="size").reset_index(drop=True)


# --- Evidence: which records support each reason ------------------------------------------
# Mirrors the windows and filters of features/build.py (tests/flags checks, feature by
# feature, that the evidence found for a family reproduces the value built for it).


@dataclass(frozen=True)
class EvidenceRule:
    """Which of a family's events (or membership rows) support a feature's value.

    ``records``: events of ``event_types`` in the last ``months`` (police features count the
    distinct incidents among them); ``latest``: the most recent such event (recency features);
    ``closed``: episodes ended before the as-of date; ``high_risk``: DASH high; attendance
    kinds: the children's attendance returns for terms ending in the last 12 months (of the
    lowest child, of persistently absent children, or all); ``members_*``: the family's
    current membership rows (composition features have no agency record).
    """

    kind: EvidenceKind
    event_types: tuple[str, ...] = ()
    months: int = 24
    children_only: bool = False
    older_than_months: int = 0  # events at least this old (a window such as 24-36 months ago)


def evidence_rule(spec: FeatureSpec) -> EvidenceRule:
    """The evidence rule of a dictionary feature, from its aggregate (one definition)."""
    if spec.aggregate is None:
        raise ExplanationInputError(f"feature {spec.name} has no aggregate: no evidence rule")
    agg = spec.aggregate
    kind = agg.evidence_kind
    if kind.startswith("members"):
        return EvidenceRule(kind)
    months = spec.window_months or MAX_WINDOW_MONTHS
    return EvidenceRule(kind, agg.event_types, months, agg.children_only, agg.older_than_months)


EVIDENCE_RULES: dict[str, EvidenceRule] = {
    spec.name: evidence_rule(spec) for spec in FEATURE_DICTIONARY
}


_EVENT_NEEDS = (
    "record_pseudo", "source", "person_key", "event_type", "event_date", "end_date", "dash_risk",
    "sessions_possible", "sessions_missed_authorised", "sessions_missed_unauthorised",
    "sessions_excluded",
)  # fmt: skip
_ITEM = ["family_key", "source", "record_pseudo", "event_date", "event_type", "person_key"]


def current_members(
    families: pd.DataFrame, family_keys: Iterable[str], as_of: date
) -> pd.DataFrame:
    """Membership rows (``family_key, person_key, role, valid_from``) valid at ``as_of``."""
    missing = [c for c in SPELL_COLUMNS if c not in families]
    if missing:
        raise ExplanationInputError(f"table families lacks column(s) {missing} (docs/DESIGN.md)")
    rows = spells_at(
        families.loc[families["family_key"].astype("string").isin(set(family_keys))], as_of
    )
    out = rows[["family_key", "person_key", "role", "valid_from"]]
    return out.astype({"family_key": "string", "person_key": "string", "role": "string"})


def _member_events(events: pd.DataFrame, members: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Events of the members in the longest feature window before ``as_of``, with family and role."""
    missing = [c for c in _EVENT_NEEDS if c not in events.columns]
    if missing:
        raise ExplanationInputError(f"table events lacks column(s) {missing} (docs/DESIGN.md)")
    ts = pd.Timestamp(as_of)
    mask = events["person_key"].isin(set(members["person_key"])).to_numpy(dtype=bool)
    ev = events.loc[mask, list(_EVENT_NEEDS)]
    ev = ev.loc[
        (ev["event_date"] < ts) & (ev["event_date"] >= ts - pd.DateOffset(months=MAX_WINDOW_MONTHS))
    ]
    ev = ev.astype({"person_key": "string"}).merge(
        members[["family_key", "person_key", "role"]], on="person_key"
    )
    return ev.rename(columns={"role": "member_role"})


def _attendance(ev: pd.DataFrame, ts: pd.Timestamp, kind: EvidenceKind) -> pd.DataFrame:
    term_end = ev["end_date"].fillna(ev["event_date"])
    possible = ev["sessions_possible"].astype("Float64").fillna(0).to_numpy(dtype=float)
    rows = ev.loc[
        (term_end < ts) & (term_end >= ts - pd.DateOffset(months=12)) & (possible > 0)
    ].copy()
    if kind == "attendance" or rows.empty:
        return rows
    rows["p"] = rows["sessions_possible"].astype(float)
    rows["m"] = rows["sessions_missed_authorised"].astype("Float64").fillna(0).astype(float) + rows[
        "sessions_missed_unauthorised"
    ].astype("Float64").fillna(0).astype(float)
    per_child = rows.groupby(["family_key", "person_key"])[["p", "m"]].sum()
    rate = (1 - per_child["m"] / per_child["p"]).rename("rate").reset_index()
    if kind == "attendance_persistent":
        chosen = rate.loc[rate["rate"] < 0.9]
    else:
        lowest = rate.groupby("family_key")["rate"].transform("min")
        chosen = rate.loc[np.isclose(rate["rate"], lowest)]
    return rows.merge(chosen[["family_key", "person_key"]], on=["family_key", "person_key"])


def _rule_rows(rule: EvidenceRule, ev: pd.DataFrame, ts: pd.Timestamp) -> pd.DataFrame:
    rows = ev.loc[ev["event_type"].isin(rule.event_types)]
    if rule.children_only:
        rows = rows.loc[rows["member_role"] == "child"]
    if rule.kind.startswith("attendance"):
        return _attendance(rows, ts, rule.kind)
    rows = rows.loc[rows["event_date"] >= ts - pd.DateOffset(months=rule.months)]
    if rule.older_than_months:
        rows = rows.loc[rows["event_date"] < ts - pd.DateOffset(months=rule.older_than_months)]
    if rule.kind == "high_risk":
        rows = rows.loc[rows["dash_risk"].astype("string").fillna("") == "high"]
    elif rule.kind == "closed":
        rows = rows.loc[rows["end_date"].notna() & (rows["end_date"] < ts)]
    elif rule.kind == "sessions_excluded":
        rows = rows.loc[rows["sessions_excluded"].astype("Float64").fillna(0) > 0]
    elif rule.kind == "latest":
        rows = rows.loc[
            rows["event_date"] == rows.groupby("family_key")["event_date"].transform("max")
        ]
    return rows


def evidence_items(
    reasons: pd.DataFrame, events: pd.DataFrame, families: pd.DataFrame, *, as_of: date
) -> dict[tuple[str, str], list[dict[str, str | None]]]:
    """Evidence per ``(family_key, feature)`` of ``reasons``: newest record first.

    Each item is ``{source, record_pseudo, event_date, event_type, person_key}``; for
    composition features ``source`` is ``"families"``, ``record_pseudo`` is null and the item
    is the member's current membership row (``event_type`` ``families.child|adult``,
    ``event_date`` its ``valid_from``). A reason about something absent (a count of 0) has
    an empty list: the absence is the fact.
    """
    ts = pd.Timestamp(as_of).normalize()
    members = current_members(families, reasons["family_key"].unique(), ts)
    ev = _member_events(events, members, ts)
    parts = []
    for feature, group in reasons.groupby("feature", sort=True):
        rule = EVIDENCE_RULES[str(feature)]
        wanted = set(group["family_key"])
        if rule.kind.startswith("members"):
            role = "adult" if rule.kind == "members_adult" else "child"
            rows = members.loc[members["family_key"].isin(wanted) & (members["role"] == role)]
            rows = rows.assign(
                source="families", record_pseudo=None, event_type=f"families.{role}",
                event_date=rows["valid_from"],
            )  # fmt: skip
        else:
            rows = _rule_rows(rule, ev.loc[ev["family_key"].isin(wanted)], ts)
        parts.append(rows[_ITEM].assign(feature=str(feature)))
    out: dict[tuple[str, str], list[dict[str, str | None]]] = {}
    if not parts:
        return out
    found = pd.concat(parts, ignore_index=True)
    found = found.sort_values(
        ["family_key", "feature", "event_date", "record_pseudo"],
        ascending=[True, True, False, True],
    )
    dates = found["event_date"].dt.strftime("%Y-%m-%d").astype("object")
    found = found.assign(event_date=dates.where(found["event_date"].notna(), None))
    for row in found.astype("object").where(found.notna(), None).itertuples(index=False):
        item = {
            "source": row.source,
            "record_pseudo": row.record_pseudo,
            "event_date": row.event_date,
            "event_type": row.event_type,
            "person_key": row.person_key,
        }
        out.setdefault((row.family_key, row.feature), []).append(item)
    return out


def _text(
    feature: str, value: float, contribution: float, base: float, prob: float, config: ReasonConfig
) -> str:
    spec = feature_spec(feature)
    fact = f"nothing on record for “{spec.label}”" if np.isnan(value) else spec.reason(value)
    verb = "raised" if contribution > 0 else "lowered"
    sentence = f"{fact}: {verb} the indicator {config.size_word(contribution, base, prob)}"
    return sentence[:1].upper() + sentence[1:]


def _explain_rows(
    model: ScoringModel,
    rows: pd.DataFrame,
    flag_ids: list[str | None],
    events: pd.DataFrame,
    families: pd.DataFrame,
    *,
    as_of: date,
    top_n: int | None,
    top_lowered: int | None,
    config: ReasonConfig,
) -> pd.DataFrame:
    if rows.empty:  # no flags this run: an empty table, not an error
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in REASON_DTYPES.items()})
    attrs = attribute(model, rows)
    keys = rows["family_key"].astype("string").to_numpy()
    reasons = _select(attrs, top_n, top_lowered, config.min_points)
    pos = reasons["pos"].to_numpy()
    reasons["family_key"] = keys[pos]
    reasons["flag_id"] = np.asarray(flag_ids, dtype=object)[pos]
    shown = reasons.groupby("pos")["contribution"].sum().reindex(range(len(rows)), fill_value=0.0)
    total = attrs.contributions.to_numpy().sum(axis=1)
    reasons["probability"] = attrs.probability[pos]
    reasons["base_probability"] = attrs.base_probability
    reasons["other_contribution"] = (total - shown.to_numpy())[pos]
    reasons["label"] = [feature_spec(f).label for f in reasons["feature"]]
    reasons["agency"] = [feature_spec(f).agency for f in reasons["feature"]]
    base = attrs.base_probability
    reasons["text"] = [
        _text(f, v, c, base, p, config)
        for f, v, c, p in zip(
            reasons["feature"],
            reasons["value"],
            reasons["contribution"],
            reasons["probability"],
            strict=True,
        )
    ]
    evidence = evidence_items(reasons[["family_key", "feature"]], events, families, as_of=as_of)
    reasons["evidence"] = [
        json.dumps(evidence.get((k, f), []), separators=(",", ":"))
        for k, f in zip(reasons["family_key"], reasons["feature"], strict=True)
    ]
    out = reasons.sort_values(["pos", "reason_rank"])[list(REASON_COLUMNS)]
    return out.astype(REASON_DTYPES).reset_index(drop=True)


def _rows_at(family_features: pd.DataFrame, as_of: date) -> pd.DataFrame:
    if "as_of_date" not in family_features.columns:
        return family_features
    ts = pd.Timestamp(as_of).normalize()
    return family_features.loc[pd.to_datetime(family_features["as_of_date"]) == ts]


def explain_flags(
    model: ScoringModel,
    family_features_of_flagged: pd.DataFrame,
    flags: pd.DataFrame,
    events: pd.DataFrame,
    families: pd.DataFrame,
    *,
    as_of: date,
    top_n: int = 4,
    top_lowered: int = 2,
    config: ReasonConfig | None = None,
) -> pd.DataFrame:
    """``flag_explanations`` for every flag, in one pass (docs/DESIGN.md, Flags).

    Parameters
    ----------
    model : ScoringModel
        The model that scored the flags.
    family_features_of_flagged : pandas.DataFrame
        ``family_features`` rows at ``as_of`` for (at least) the flagged families.
    flags : pandas.DataFrame
        ``flags`` (``flag_id, family_key``).
    events, families : pandas.DataFrame
        DESIGN tables; evidence is drawn from the events of the family's current members.
    as_of : date
    top_n, top_lowered : int
        Most reasons shown that raised / lowered the indicator.
    config : ReasonConfig, optional

    Returns
    -------
    pandas.DataFrame
        One row per reason (:data:`REASON_COLUMNS`). ``contribution`` is in probability
        points; per flag, ``base_probability + sum(contribution) + other_contribution`` equals
        ``probability``, the calibrated probability shown.
    """
    config = config or ReasonConfig()
    rows = _rows_at(family_features_of_flagged, as_of)
    keyed = rows.assign(family_key=rows["family_key"].astype("string")).drop_duplicates(
        "family_key"
    )
    wanted = flags["family_key"].astype("string")
    missing = sorted(set(wanted) - set(keyed["family_key"]))
    if missing:
        raise ExplanationInputError(
            f"{len(missing)} flagged famil(ies) have no family_features row at {as_of}; "
            "pass the features the flags were scored from"
        )
    aligned = keyed.set_index("family_key").loc[wanted.to_numpy()].reset_index()
    return _explain_rows(
        model, aligned, flags["flag_id"].astype("object").tolist(), events, families,
        as_of=as_of, top_n=top_n, top_lowered=top_lowered, config=config,
    )  # fmt: skip


def explain_family(
    model: ScoringModel,
    family_key: str,
    family_features: pd.DataFrame,
    events: pd.DataFrame,
    families: pd.DataFrame,
    *,
    as_of: date,
    top_n: int | None = 4,
    top_lowered: int | None = 2,
    flag_id: str | None = None,
    config: ReasonConfig | None = None,
) -> pd.DataFrame:
    """Reasons for one family on demand (manager review, subject access), same shape as flags.

    ``top_n=None`` and ``top_lowered=None`` give every contribution above
    ``config.min_points``, as a subject access response would need.
    """
    rows = _rows_at(family_features, as_of)
    row = rows.loc[rows["family_key"].astype("string") == family_key]
    if row.empty:
        raise ExplanationInputError(f"family {family_key!r} has no family_features row at {as_of}")
    return _explain_rows(
        model, row.iloc[:1], [flag_id], events, families, as_of=as_of,
        top_n=top_n, top_lowered=top_lowered, config=config or ReasonConfig(),
    )  # fmt: skip
