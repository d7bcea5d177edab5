"""Score the current families and choose which ones practitioners are asked to look at.

``score_families`` turns ``family_features`` at the current as-of date into ``family_scores``
(calibrated probability, log-odds, rank, band); ``select_flags`` removes excluded families
(objections and restrictions, open social-care cases), keeps those above the operating
threshold and routes them, highest first, to the practitioner covering their postcode district
until each practitioner's capacity is used. Every family left out is counted by reason, so no
family above the threshold disappears silently.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from safeguard.contracts.gates import DEFAULT_THRESHOLD
from safeguard.dpia.pseudonymise import Pseudonymiser
from safeguard.features.point_in_time import districts_at
from safeguard.models.estimator import ScoringModel

# DEFAULT_THRESHOLD (safeguard.contracts.gates): operating threshold on the calibrated probability (a
# proportionality floor: capacity decides within it). The one default used by evaluation, the
# fairness audit, flagging and the council configuration, so the figures the gates judge are
# those of the flags.

FLAG_ROLES: tuple[str, ...] = ("social_worker", "early_help_practitioner")
BANDS: tuple[str, ...] = ("low", "medium", "high", "very high")
NO_DISTRICT = "(unknown)"
EXCLUSION_REASONS: tuple[str, ...] = (
    "objection_or_restriction",
    "objection_pending_verification",
    "open_to_social_care",
    "restricted",
)
"""Reason keys for ``select_flags(excluded_family_keys=...)``: the Art 21/18 register matched
through the linkage; people who may be named by a register row quarantined for a defect (same
name and district, any date of birth: ``safeguard.governance.pending_objections``) until it is verified;
families with a child open to children's social care (``safeguard.features.open_to_social_care``); and
any other restriction (e.g. a legal hold)."""

SCORE_DTYPES: dict[str, str] = {
    "family_key": "string", "as_of_date": "datetime64[ns]", "probability": "Float64",
    "log_odds": "Float64", "rank": "Int64", "band": "string", "model_version": "string",
    "postcode_district": "string",
}  # fmt: skip
SCORE_COLUMNS: tuple[str, ...] = tuple(SCORE_DTYPES)
FLAG_COLUMNS = (
    "flag_id", "family_key", "as_of_date", "worker_id", "rank", "probability", "band",
    "model_version", "postcode_district",
)  # fmt: skip
WORKER_COLUMNS = ("worker_id", "role", "area_codes", "capacity")


class FlaggingInputError(ValueError):
    """A table given to scoring or flagging lacks a column or breaks a rule flags rely on."""


@dataclass(frozen=True)
class BandCuts:
    """Lower bounds (calibrated probability) of the bands ``medium``, ``high``, ``very high``."""

    medium: float
    high: float
    very_high: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.medium <= self.high <= self.very_high <= 1.0:
            raise ValueError(
                f"band cuts must satisfy 0 <= medium <= high <= very_high <= 1, got {self}"
            )

    def band(self, probability: np.ndarray) -> np.ndarray:
        """The band name of each probability."""
        index = np.searchsorted([self.medium, self.high, self.very_high], probability, "right")
        return np.asarray(BANDS, dtype=object)[index]


@dataclass(frozen=True)
class FlagConfig:
    """How families are flagged and banded.

    Attributes
    ----------
    threshold_probability : float, default 0.05
        Families at or above this calibrated probability may be flagged. A council sets it
        from ``model_evaluation``: pick the threshold whose ``precision_at_threshold`` (lower
        95% bound) it is prepared to act on and check that ``share_above_threshold`` times the
        number of families is near the practitioners' total capacity. Capacity still caps
        the flags; the threshold stops low-probability families being flagged when capacity
        exceeds need.
    very_high_probability : float, optional
        Start of the ``very high`` band; default ``min(2 * threshold, (1 + threshold) / 2)``
        (0.1 at the default threshold): the top of the flagged range.
    medium_multiple : float, default 2.0
        ``medium`` starts at this multiple of the base rate (never above the threshold):
        clearly above an average family but below the flagging range.
    base_rate : float, optional
        Base rate for the ``medium`` band; default the mean calibrated probability of the
        families scored (calibration makes it the expected outcome rate).
    flag_roles : tuple of str
        Worker roles that receive flags (team managers allocate, they do not receive).
    """

    threshold_probability: float = DEFAULT_THRESHOLD
    very_high_probability: float | None = None
    medium_multiple: float = 2.0
    base_rate: float | None = None
    flag_roles: tuple[str, ...] = FLAG_ROLES

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold_probability < 1.0:
            raise ValueError("FlagConfig.threshold_probability must lie strictly between 0 and 1")

    def band_cuts(self, mean_probability: float) -> BandCuts:
        """Band boundaries: ``low < medium < high (= threshold) <= very high``."""
        t = self.threshold_probability
        very_high = self.very_high_probability
        if very_high is None:
            very_high = min(2.0 * t, (1.0 + t) / 2.0)
        base = self.base_rate if self.base_rate is not None else mean_probability
        return BandCuts(medium=min(self.medium_multiple * base, t), high=t, very_high=very_high)


def flag_id(
    family_key: str, as_of: date | pd.Timestamp, model_version: str, *, pseudonymiser: Pseudonymiser
) -> str:
    """Opaque, deterministic flag id: the same family, date and model give the same id.

    Keyed (``flag-`` + the ``flag`` pseudonym of ``family_key``, date and model version), so a
    flag id quoted in the portal, an audit entry or a case pack cannot be matched to a
    family key by anyone without the install's secret.
    """
    day = pd.Timestamp(as_of).date().isoformat()
    return "flag-" + pseudonymiser.pseudonym("flag", f"{family_key}\x1f{day}\x1f{model_version}")


Exclusions = Mapping[str, Collection[str]] | Collection[str]


def exclusion_sets(excluded_family_keys: Exclusions) -> dict[str, set[str]]:
    """``{reason: family keys}``; a plain collection is filed under ``"excluded"``."""
    if isinstance(excluded_family_keys, Mapping):
        return {str(k): set(map(str, v)) for k, v in excluded_family_keys.items()}
    return {"excluded": set(map(str, excluded_family_keys))}


def exclusion_counts(
    family_keys: Iterable[str], excluded_family_keys: Exclusions
) -> dict[str, int]:
    """How many of ``family_keys`` each exclusion reason covers (aggregates for run metadata)."""
    keys = set(map(str, family_keys))
    return {reason: len(keys & s) for reason, s in exclusion_sets(excluded_family_keys).items()}


def family_districts(events: pd.DataFrame, families: pd.DataFrame, as_of: date) -> pd.Series:
    """Each current family's postcode district: that of its latest located event before ``as_of``.

    Returns a ``string`` Series indexed by ``family_key`` (families with no located event are
    absent). The rule (ties on the date go to the highest district) is
    :func:`safeguard.features.point_in_time.districts_at`'s.
    """
    for table, frame, cols in (
        ("events", events, ("record_pseudo", "person_key", "event_date", "postcode_district")),
        ("families", families, ("person_key", "family_key", "valid_from", "valid_to")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise FlaggingInputError(f"table {table} lacks column(s) {missing} (docs/DESIGN.md)")
    out = districts_at(events, families, [as_of])
    return out.set_index("family_key")["postcode_district"].astype("string")


def _districts_by_family(postcode_districts: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(postcode_districts, pd.DataFrame):
        missing = {"family_key", "postcode_district"} - set(postcode_districts.columns)
        if missing:
            raise FlaggingInputError(f"postcode_districts lacks column(s) {sorted(missing)}")
        postcode_districts = postcode_districts.set_index("family_key")["postcode_district"]
    series = postcode_districts.astype("string")
    series.index = series.index.astype("string")
    return series.str.strip().str.upper()


def score_families(
    model: ScoringModel,
    family_features: pd.DataFrame,
    *,
    model_version: str,
    as_of: date,
    postcode_districts: pd.Series | pd.DataFrame,
    config: FlagConfig | None = None,
    excluded_family_keys: Exclusions = (),
) -> pd.DataFrame:
    """``family_scores`` for the families current at ``as_of`` (docs/DESIGN.md, Flags).

    Parameters
    ----------
    model : ScoringModel
        The model that passed both gates.
    family_features : pandas.DataFrame
        ``family_features``; rows of other as-of dates are ignored.
    model_version : str
        ``ModelRecord.version`` of the model, carried onto every score and flag.
    as_of : date
    postcode_districts : pandas.Series or DataFrame
        Current district per family (:func:`family_districts`): a Series indexed by
        ``family_key`` or a frame with ``family_key, postcode_district``.
    config : FlagConfig, optional
        Threshold and band settings (see :class:`FlagConfig`).
    excluded_family_keys : mapping of reason -> family keys, or a collection
        Families that are not scored at all (as in :func:`select_flags`): objections and
        restrictions exclude a family from analytics, not only from flags, and families
        open to social care are not scored (``safeguard.features.outcomes``). Count them for run
        metadata with :func:`exclusion_counts`.

    Returns
    -------
    pandas.DataFrame
        One row per family, sorted by ``rank`` (1 = highest probability; ties broken by the
        booster's log-odds, then by the features, then by ``family_key``, so ranks are unique,
        reproducible and the same under another pseudonym key but for identical families).
    """
    config = config or FlagConfig()
    ts = pd.Timestamp(as_of).normalize()
    rows = family_features
    if "as_of_date" in rows.columns:
        rows = rows.loc[pd.to_datetime(rows["as_of_date"]) == ts]
    if rows.empty:
        raise FlaggingInputError(f"family_features has no rows at as_of_date {ts.date()}")
    keys = rows["family_key"].astype("string")
    if keys.duplicated().any():
        raise FlaggingInputError(
            f"family_features has {int(keys.duplicated().sum())} duplicated family_key(s) at "
            f"{ts.date()}; one row per family is expected"
        )
    excluded = set().union(*exclusion_sets(excluded_family_keys).values())
    keep = ~keys.isin(excluded).to_numpy(dtype=bool)
    rows, keys = rows.loc[keep], keys.loc[keep]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in SCORE_DTYPES.items()})
    probability = model.predict_proba(rows)[:, 1]
    log_odds = model.decision_function(rows)
    cuts = config.band_cuts(float(probability.mean()))
    scores = pd.DataFrame(
        {
            "family_key": keys.to_numpy(),
            "as_of_date": ts,
            "probability": probability,
            "log_odds": log_odds,
            "band": cuts.band(probability),
            "model_version": model_version,
        }
    )
    districts = _districts_by_family(postcode_districts)
    scores["postcode_district"] = scores["family_key"].map(districts)
    # Equal scores: the features decide, then the key (a keyed pseudonym, so another key only
    # reorders families identical in every feature).
    content = rows.drop(columns=[c for c in ("family_key", "as_of_date") if c in rows.columns])
    ranks = content.reset_index(drop=True).rank(method="dense", na_option="bottom")
    scores["content"] = ranks.groupby(list(ranks.columns), sort=True).ngroup().to_numpy()
    scores = scores.sort_values(
        ["probability", "log_odds", "content", "family_key"], ascending=[False, False, True, True]
    ).reset_index(drop=True)
    scores["rank"] = np.arange(1, len(scores) + 1)
    return scores.astype(SCORE_DTYPES)[list(SCORE_COLUMNS)]


@dataclass(frozen=True)
class FlagSelection:
    """The flags and an account of every family considered (aggregates carry no identifiers).

    ``considered = excluded_total + below_threshold + flagged + unflagged_capacity + unrouted``.
    ``not_flagged`` lists the families above the threshold that were not flagged, with the
    reason (``capacity``: every covering practitioner was full; ``unrouted``: no practitioner
    covers the district), for the data team; it is not for practitioners.
    """

    flags: pd.DataFrame
    not_flagged: pd.DataFrame
    considered: int
    excluded: Mapping[str, int]
    excluded_total: int
    above_threshold: int
    flagged: int
    unflagged_capacity: int
    unrouted: int
    unrouted_districts: Mapping[str, int]
    total_capacity: int
    threshold_probability: float
    per_worker: Mapping[str, int] = field(default_factory=dict)

    @property
    def below_threshold(self) -> int:
        """Eligible families under the operating threshold."""
        return self.considered - self.excluded_total - self.above_threshold

    def summary(self) -> dict[str, Any]:
        """JSON-able counts for run metadata and the data team (districts, no family keys)."""
        return {
            "considered": self.considered,
            "excluded": dict(self.excluded),
            "excluded_total": self.excluded_total,
            "below_threshold": self.below_threshold,
            "above_threshold": self.above_threshold,
            "flagged": self.flagged,
            "unflagged_capacity": self.unflagged_capacity,
            "unrouted": self.unrouted,
            "unrouted_districts": dict(self.unrouted_districts),
            "total_capacity": self.total_capacity,
            "threshold_probability": self.threshold_probability,
        }


def _coverage(
    workers: pd.DataFrame, roles: tuple[str, ...]
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """District -> covering worker ids, and each eligible worker's capacity."""
    missing = [c for c in WORKER_COLUMNS if c not in workers.columns]
    if missing:
        raise FlaggingInputError(f"table workers lacks column(s) {missing} (landing contract)")
    eligible = workers.loc[workers["role"].astype("string").isin(roles)]
    cover: dict[str, list[str]] = {}
    capacity: dict[str, int] = {}
    for row in eligible.itertuples(index=False):
        worker = str(row.worker_id)
        if worker in capacity:
            raise FlaggingInputError(f"workers: worker_id {worker!r} appears more than once")
        if pd.isna(row.capacity) or int(row.capacity) < 0:
            raise FlaggingInputError(
                f"workers: worker {worker!r} has capacity {row.capacity!r}; need an integer >= 0"
            )
        capacity[worker] = int(row.capacity)
        codes = "" if pd.isna(row.area_codes) else str(row.area_codes)
        for code in {c.strip().upper() for c in codes.split(";") if c.strip()}:
            cover.setdefault(code, []).append(worker)
    return {d: sorted(ws) for d, ws in cover.items()}, capacity


def select_flags(
    family_scores: pd.DataFrame,
    workers: pd.DataFrame,
    *,
    config: FlagConfig,
    excluded_family_keys: Exclusions,
    pseudonymiser: Pseudonymiser,
) -> FlagSelection:
    """Flags: eligible families above the threshold, highest first, routed within capacity.

    Parameters
    ----------
    family_scores : pandas.DataFrame
        Output of :func:`score_families` (one as-of date, one model version).
    workers : pandas.DataFrame
        ``workers`` (landing contract): only ``config.flag_roles`` receive flags; a worker
        covers the districts in ``area_codes`` (semicolon-separated, case-insensitive).
    config : FlagConfig
    excluded_family_keys : mapping of reason -> family keys, or a collection of family keys
        Families that must never be flagged, keyed by reason (:data:`EXCLUSION_REASONS`,
        e.g. ``{"objection_or_restriction": ..., "open_to_social_care": ...}``); each reason
        is counted (a family may count under several). A plain collection is counted under
        ``"excluded"``. Pass the same families to :func:`score_families` so they are never
        scored; here they are checked again (defence in depth), so the counts are normally 0.
    pseudonymiser : Pseudonymiser
        Makes the keyed ``flag_id`` (:func:`flag_id`).

    Returns
    -------
    FlagSelection
        When several practitioners cover a district, the family goes to the one with the most
        capacity left (ties: lowest ``worker_id``), so work spreads evenly and reproducibly.
    """
    missing = [c for c in SCORE_COLUMNS if c not in family_scores.columns]
    if missing:
        raise FlaggingInputError(f"family_scores lacks column(s) {missing}; use score_families")
    for column in ("as_of_date", "model_version"):
        if family_scores[column].nunique() > 1:
            raise FlaggingInputError(f"family_scores mixes several {column} values; flag one run")
    exclusions = exclusion_sets(excluded_family_keys)
    scores = family_scores.sort_values("rank").reset_index(drop=True)
    keys = scores["family_key"].astype("string")
    all_excluded = set().union(*exclusions.values()) if exclusions else set()
    is_excluded = keys.isin(all_excluded).to_numpy(dtype=bool)
    eligible = scores.loc[~is_excluded]
    above = eligible.loc[
        eligible["probability"].to_numpy(dtype=float) >= config.threshold_probability
    ]

    cover, remaining = _coverage(workers, config.flag_roles)
    total_capacity = sum(remaining.values())
    routed_to: list[str | None] = []
    not_flagged: list[str] = []
    for district in above["postcode_district"].astype("object"):
        candidates = cover.get(str(district).upper(), []) if isinstance(district, str) else []
        if not candidates:
            routed_to.append(None)
            not_flagged.append("unrouted")
            continue
        best = min(candidates, key=lambda w: (-remaining[w], w))
        if remaining[best] == 0:
            routed_to.append(None)
            not_flagged.append("capacity")
            continue
        remaining[best] -= 1
        routed_to.append(best)
        not_flagged.append("")
    above = above.assign(worker_id=pd.array(routed_to, dtype="string"), _why=not_flagged)
    flagged = above.loc[above["worker_id"].notna()].copy()
    flagged["flag_id"] = [
        flag_id(k, d, v, pseudonymiser=pseudonymiser)
        for k, d, v in zip(
            flagged["family_key"], flagged["as_of_date"], flagged["model_version"], strict=True
        )
    ]
    flags = flagged[list(FLAG_COLUMNS)].astype({"flag_id": "string"}).reset_index(drop=True)
    left = above.loc[above["worker_id"].isna()]
    left_out = pd.DataFrame(
        {
            "family_key": left["family_key"].to_numpy(),
            "rank": left["rank"].to_numpy(),
            "probability": left["probability"].to_numpy(),
            "postcode_district": left["postcode_district"].to_numpy(),
            "reason": left["_why"].to_numpy(),
        }
    ).astype({"family_key": "string", "postcode_district": "string", "reason": "string"})
    unrouted = left_out.loc[left_out["reason"] == "unrouted", "postcode_district"]
    by_district = unrouted.fillna(NO_DISTRICT).value_counts().sort_index()
    return FlagSelection(
        flags=flags,
        not_flagged=left_out,
        considered=len(scores),
        excluded={r: int(keys.isin(s).sum()) for r, s in exclusions.items()},
        excluded_total=int(is_excluded.sum()),
        above_threshold=len(above),
        flagged=len(flags),
        unflagged_capacity=int((left_out["reason"] == "capacity").sum()),
        unrouted=len(unrouted),
        unrouted_districts={str(d): int(n) for d, n in by_district.items()},
        total_capacity=total_capacity,
        threshold_probability=config.threshold_probability,
        per_worker=flags["worker_id"].value_counts().sort_index().astype(int).to_dict(),
    )
