"""True harm beside the recorded label: aligned to families point-in-time, and in the model card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from model_tables import training_frame, truth_of

from safeguard.models import EvaluationConfig, RiskModelConfig, evaluate_risk_model, fit_risk_model
from safeguard.models.truth import harm_in_window

FAST = RiskModelConfig(
    n_estimators=60, learning_rate=0.1, calibration="sigmoid", calibration_dates=1,
    test_dates=3, min_train_dates=2,
)  # fmt: skip
D = pd.Timestamp("2025-01-01")


def test_harm_counts_for_the_family_in_its_window_through_members_or_household() -> None:
    members = pd.DataFrame({
        "as_of_date": [D] * 4, "family_key": ["fa", "fa", "fb", "fc"],
        "person_key": ["pa1", "pa2", "pb1", "pc1"], "role": ["child", "adult", "child", "child"],
    })  # fmt: skip
    person_truth = pd.DataFrame({"person_key": ["pa1", "pa2", "pb1", "pc1"],
                                 "true_person_id": ["T1", "T2", "T3", "T4"]})  # fmt: skip
    families_at = pd.DataFrame({"as_of_date": [D] * 3, "family_key": ["fa", "fb", "fc"],
                                "true_family_id": ["H1", "H2", "H3"]})  # fmt: skip
    harm = pd.DataFrame({
        # T1 (a child of fa) in the window; T2 is fa's adult: counts through the household;
        # T3 before the as-of date; a baby (T9) of household H3 in the window; T4 after it
        "true_person_id": ["T1", "T2", "T3", "T9", "T4"],
        "true_family_id": ["H1", "H1", "H2", "H3", "H3"],
        "harm_date": ["2025-03-01", "2025-06-01", "2024-12-31", "2025-12-31", "2026-01-02"],
        "kind": ["abusive_injury"] * 5, "referred": ["N", "Y", "Y", "N", "Y"],
    })  # fmt: skip
    out = harm_in_window(members, person_truth, families_at, harm).set_index("family_key")
    assert set(out.index) == {"fa", "fc"}
    assert bool(out.loc["fa", "true_harm_referred"])  # one of its two harms was referred
    assert not bool(out.loc["fc", "true_harm_referred"])  # the referred one fell after the window


def _harm(frame: pd.DataFrame, dates, *, follows_need: bool, seed: int) -> pd.DataFrame:
    truth = truth_of(frame, dates)
    rng = np.random.default_rng(seed)
    need = truth["latent_need"].to_numpy() if follows_need else rng.normal(size=len(truth))
    p = 1.0 / (1.0 + np.exp(-(-4.5 + 1.2 * need)))
    harm = rng.random(len(truth)) < p
    return truth.assign(true_harm=harm, true_harm_referred=harm & (rng.random(len(truth)) < 0.2))


def test_the_evaluation_and_card_report_true_harm_beside_the_label(tmp_path: Path) -> None:
    from safeguard.models import FairnessConfig, audit_fairness, write_model_card

    frame = training_frame(n_per_date=3000, seed=5, interaction=2.0)
    fitted = fit_risk_model(frame, config=FAST)
    config = EvaluationConfig(total_capacity=90, n_boot=60, threshold=0.01)
    figures = {}
    for follows in (True, False):
        truth = _harm(frame, fitted.split.test_dates, follows_need=follows, seed=1)
        summary = evaluate_risk_model(fitted, frame, config=config, truth=truth).summary()
        harm = summary["true_harm"]
        assert harm["with_harm"] == truth["true_harm"].sum()
        assert harm["recorded_label_auc_roc"]["value"] == summary["model"]["auc_roc"]["value"]
        figures[follows] = harm["true_harm_auc_roc"]["value"]
    # harm driven by the need the features reflect is ranked; harm unrelated to it is not
    assert figures[True] > 0.65 and abs(figures[False] - 0.5) < 0.08
    truth = _harm(frame, fitted.split.test_dates, follows_need=True, seed=1)
    evaluation = evaluate_risk_model(fitted, frame, config=config, truth=truth)
    _, _, test = fitted.split.frames(frame)
    rng = np.random.default_rng(0)
    sensitive = test[["as_of_date", "family_key"]].assign(
        ethnicity_group=rng.choice(["White", "Black"], len(test)), ethnicity="WBRI",
        sex_children=rng.choice(["F", "M"], len(test)), sex_lead_adult="F", disability="N",
        youngest_child_age_band="5-10", deprivation_quintile=rng.choice(["Q1", "Q5"], len(test)),
    )  # fmt: skip
    audit = audit_fairness(
        fitted, frame, sensitive, config=FairnessConfig(total_capacity=90, n_boot=20)
    )
    md, _ = write_model_card(fitted, evaluation, audit, tmp_path, version="test")
    text = md.read_text()
    assert "Validation against true harm" in text
    assert f"{figures[True]:.3f}" in text
    without = evaluate_risk_model(
        fitted, frame, config=config, truth=truth_of(frame, fitted.split.test_dates)
    )
    assert "true_harm" not in without.summary()
