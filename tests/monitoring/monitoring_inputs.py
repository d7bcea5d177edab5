"""Synthetic monitoring inputs with a known truth and an optional planted change.

A stable population of families (a little turnover each month) with persistent agency
counts; a calibrated model whose probability is the true chance of the outcome in the next 12
months while nothing changes; outcomes drawn as monthly events, so a family's labels at
consecutive months share events exactly as real overlapping windows do. Twelve earlier months
play the training window (drift reference) and the test dates (the promise, measured as the
release does: pooled top-k precision with a family-clustered bootstrap).

Planted changes, from month ``change_at`` (0-based among the monitored months):

* ``recording_halves``: police records half of what it did (the counts the model sees are
  thinned; the families' true risk is unchanged, so the model under-rates them);
* ``outcome_shift``: outcomes stop following the score (the true chance becomes the base rate);
* ``group_missed``: families whose children are girls who go on to the outcome are mostly
  unflagged ones (a route to harm the features do not see, as self-harm would be), so the
  group's realised recall falls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from safeguard.models import metrics as m
from safeguard.models.evaluation import per_date_top_k
from safeguard.monitoring import MonitoringInputs, Promise
from safeguard.monitoring.promise import Figure

FEATURES = ("pol_incidents_12m", "hou_arrears_12m", "edu_absence_rate")
START = pd.Timestamp("2023-01-01")
GROUPS = ("White", "Asian", "Black", "Mixed", "Other")
GROUP_SHARES = (0.70, 0.12, 0.09, 0.06, 0.03)


@dataclass(frozen=True)
class Scenario:
    families: int = 5000
    capacity: int = 400
    months: int = 24
    reference_months: int = 12
    change: str | None = None
    change_at: int = 12
    seed: int = 0
    turnover: float = 0.015


def _logit_p(pol: np.ndarray, hou: np.ndarray, edu: np.ndarray, depr: np.ndarray) -> np.ndarray:
    x = -4.6 + 0.45 * np.log1p(pol) * 2 + 0.35 * np.log1p(hou) * 2 + 3.0 * edu + 0.15 * depr
    return 1.0 / (1.0 + np.exp(-x))


def build(s: Scenario) -> tuple[MonitoringInputs, dict]:
    """Monitoring inputs for ``s`` and a few facts about the truth (for assertions)."""
    rng = np.random.default_rng(s.seed)
    total = s.reference_months + s.months
    n_event_months = total + 12
    # Families: a fixed pool, each active for a span of months (turnover replaces a few).
    pool = int(s.families * (1 + s.turnover * total) + 10)
    need = rng.normal(size=pool)
    depr = rng.integers(1, 6, size=pool)
    pol = rng.poisson(np.exp(-0.7 + 0.7 * need + 0.1 * depr))
    hou = rng.poisson(np.exp(-1.2 + 0.5 * need + 0.15 * depr))
    edu = 1.0 / (1.0 + np.exp(-(-2.5 + 0.6 * need + rng.normal(0, 0.5, pool))))
    group = rng.choice(GROUPS, size=pool, p=GROUP_SHARES)
    sex = rng.choice(["F", "M", "mixed"], size=pool, p=[0.35, 0.35, 0.30])
    start = np.zeros(pool, dtype=int)
    start[s.families :] = rng.integers(1, total, size=pool - s.families)
    life = rng.geometric(s.turnover, size=pool)
    end = np.minimum(start + life, total)
    end[: s.families] = np.minimum(life[: s.families], total)  # the first cohort leaves over time
    # keep the population near s.families every month: top up from later starters
    true_p = _logit_p(pol, hou, edu, depr)
    # Monthly events from the true annual probability (constant per family), over every month.
    hazard = 1.0 - (1.0 - true_p) ** (1.0 / 12.0)
    changed = np.zeros(n_event_months, dtype=bool)
    first_change = s.reference_months + s.change_at
    changed[first_change:] = s.change is not None
    events = np.zeros((pool, n_event_months), dtype=bool)
    base = float(true_p.mean())
    for t in range(n_event_months):
        h = hazard
        if changed[t] and s.change == "outcome_shift":
            h = np.full(pool, 1.0 - (1.0 - base) ** (1.0 / 12.0))
        if changed[t] and s.change == "group_missed":
            g = sex == "F"
            rank = np.argsort(np.argsort(-true_p[g])) / max(g.sum() - 1, 1)
            scale = np.where(
                rank < 0.15, 0.3, 2.0
            )  # its high scorers rarely, its low scorers often
            h = h.copy()
            h[g] = np.clip(h[g] * scale, 0, 0.5)
        events[:, t] = rng.random(pool) < h
    rows, feats, volumes = [], [], []
    for t in range(total):
        active = np.flatnonzero((start <= t) & (end > t))
        pol_seen = pol[active]
        if s.change == "recording_halves" and changed[t]:
            pol_seen = rng.binomial(pol_seen, 0.5)
        p = _logit_p(pol_seen, hou[active], edu[active], depr[active])
        label = events[active, t : t + 12].any(axis=1)
        month = START + pd.DateOffset(months=t)
        rows.append(pd.DataFrame({
            "as_of_date": month, "family_key": [f"f{i:06d}" for i in active], "probability": p,
            "label": label, "ethnicity_group": group[active], "sex_children": sex[active],
            "deprivation_quintile": [f"Q{d}" for d in depr[active]],
        }))  # fmt: skip
        feats.append(pd.DataFrame({
            "as_of_date": month, "family_key": [f"f{i:06d}" for i in active],
            "pol_incidents_12m": pol_seen, "hou_arrears_12m": hou[active], "edu_absence_rate": edu[active],
        }))  # fmt: skip
        police = rng.poisson(
            pol[active].sum()
            / 12.0
            * (0.5 if s.change == "recording_halves" and changed[t] else 1.0)
        )
        volumes += [{"as_of_date": month, "source": "police", "events": float(police)},
                    {"as_of_date": month, "source": "housing", "events": float(rng.poisson(hou[active].sum() / 12.0))}]  # fmt: skip
    frame = pd.concat(rows, ignore_index=True)
    frame["rank"] = (
        frame.groupby("as_of_date")["probability"].rank(ascending=False, method="first").astype(int)
    )
    frame["model_version"] = "synthetic"
    features = pd.concat(feats, ignore_index=True)
    ref_months = [START + pd.DateOffset(months=t) for t in range(s.reference_months)]
    reference = frame.loc[frame["as_of_date"].isin(ref_months)]
    promise = _promise(reference, s.capacity)
    monitored = frame.loc[~frame["as_of_date"].isin(ref_months)]
    inputs = MonitoringInputs(
        scores=monitored[["as_of_date", "family_key", "probability", "rank", "model_version"]],
        outcomes=monitored[["as_of_date", "family_key", "label"]].assign(label_complete=True),
        promise=promise, capacity=s.capacity, threshold=0.0001,
        sensitive=monitored[["as_of_date", "family_key", "ethnicity_group", "sex_children", "deprivation_quintile"]],
        reference_features=features.loc[features["as_of_date"].isin(ref_months)],
        monthly_features=features.loc[~features["as_of_date"].isin(ref_months)],
        feature_names=FEATURES, reference_probability=reference["probability"].to_numpy(),
        volumes=pd.DataFrame(volumes), reference_months=ref_months,
    )  # fmt: skip
    months = sorted(monitored["as_of_date"].unique())
    return inputs, {"months": [pd.Timestamp(x) for x in months],
                    "change_month": pd.Timestamp(months[s.change_at]) if s.change else None}  # fmt: skip


def _promise(test: pd.DataFrame, capacity: int) -> Promise:
    """The release's measurement on pooled test months (family-clustered bootstrap)."""
    test = test.reset_index(drop=True)
    y = test["label"].to_numpy(dtype=float)
    score = test["probability"].to_numpy()
    dates = test["as_of_date"].to_numpy()
    ks = {d: capacity for d in np.unique(dates)}
    boot = m.Bootstrap(len(test), n_boot=200, seed=1, clusters=test["family_key"].to_numpy())
    with m.single_threaded_blas():
        prec = boot.estimate(m.pooled_top_k(y, score, dates, ks))
        rec = boot.estimate(m.pooled_top_k(y, score, dates, ks, what="recall"))
        oe = boot.estimate(m.observed_over_expected(y, score))
    flags = per_date_top_k(score, dates, ks)
    assert flags.sum() == capacity * len(ks)
    return Promise(
        figures={"precision_at_capacity": Figure(prec.value, prec.lower, prec.upper),
                 "recall_at_capacity": Figure(rec.value, rec.lower, rec.upper),
                 "observed_over_expected": Figure(oe.value, oe.lower, oe.upper)},
        base_rate=float(y.mean()), capacity_k=capacity, threshold=0.0001,
    )  # fmt: skip
