"""End to end on a synthetic frame: fit, evaluate, audit, model card from the measured figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from model_tables import training_frame, truth_of

from safeguard.models import (
    EvaluationConfig,
    FairnessConfig,
    RiskModelConfig,
    audit_fairness,
    evaluate_risk_model,
    fit_risk_model,
    save_risk_model,
    write_model_card,
)


def test_model_card_reports_measured_figures(tmp_path: Path) -> None:
    frame = training_frame(n_per_date=2000, seed=4, interaction=2.0)
    fitted = fit_risk_model(
        frame,
        config=RiskModelConfig(n_estimators=60, learning_rate=0.1, calibration="sigmoid",
                               calibration_dates=1, test_dates=3, min_train_dates=2),
    )  # fmt: skip
    _, _, test = fitted.split.frames(frame)
    rng = np.random.default_rng(0)
    sensitive = pd.DataFrame(
        {"as_of_date": test["as_of_date"].to_numpy(), "family_key": test["family_key"].to_numpy(),
         "ethnicity_group": rng.choice(["White", "Black", "Asian"], len(test), p=[0.7, 0.2, 0.1]),
         "ethnicity": "WBRI", "sex_children": rng.choice(["F", "M"], len(test)), "sex_lead_adult": "F",
         "disability": rng.choice(["Y", "N", "Unknown"], len(test), p=[0.1, 0.885, 0.015]),
         "youngest_child_age_band": "5-10", "deprivation_quintile": rng.choice(["Q1", "Q5"], len(test))},
    )  # fmt: skip
    truth = truth_of(frame, fitted.split.test_dates)
    config = EvaluationConfig(total_capacity=40, n_boot=50, threshold=0.01)
    evaluation = evaluate_risk_model(fitted, frame, config=config, truth=truth)
    audit = audit_fairness(
        fitted, frame, sensitive,
        config=FairnessConfig(total_capacity=40, n_boot=50, threshold=0.01), truth=truth,
    )  # fmt: skip
    assert json.dumps(audit.summary())
    assert audit.proxy is not None and set(audit.proxy["dimension"]) >= {
        "ethnicity_group",
        "disability",
    }
    assert (audit.groups.set_index(["dimension", "group"]).loc[("disability", "Unknown"), "status"]
            == "not compared")  # fmt: skip
    assert set(audit.decisions["verdict"]) <= {"pass", "fail", "inconclusive", "not assessable"}

    record = save_risk_model(fitted.model, tmp_path / "models", training_window=fitted.training_window(),
                             metrics=evaluation.summary())  # fmt: skip
    sign_off = (
        "ethnicity_group = Black: signed off by A. Patel, DPO on 2026-11-20: too few outcomes"
    )
    md_path, html_path = write_model_card(
        fitted, evaluation, audit, tmp_path, version=record.version, sign_offs=[sign_off]
    )
    markdown, html = md_path.read_text(), html_path.read_text()
    auc = evaluation.metrics["model"]["auc_roc"].value
    for text in (markdown, html):
        assert record.version in text
        assert f"{auc:.3f}" in text
        assert "Not intended use" in text and "recorded action" in text
        assert "WWCSC" in text and "oracle" in text
        assert ("PASSED" if evaluation.gate.passed else "FAILED") in text
        assert "police_da_incidents_12m" in text
        assert "Calibration slope" in text and "Observed / expected" in text
        assert "signed off by A. Patel" in text
    assert "<script" not in html and html.startswith("<!doctype html>")
    assert "<table>" in html  # tables rendered from the Markdown source
    for verdict in set(audit.decisions["verdict"]):
        assert verdict in markdown

    # charts: files beside the card, linked with alt text, their numbers in a table beside them
    charts = sorted(p.name for p in tmp_path.glob("chart_*.png"))
    assert {"chart_calibration.png", "chart_review.png"} <= set(charts)
    assert any(name.startswith("chart_fairness_") for name in charts)
    for name in charts:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert re.search(rf'<img src="{name}" alt="[^"]{{40,}}"', html), name
    assert "observed 95% interval" in markdown and "| families reviewed per run |" in markdown
    capacity_row = evaluation.review_curve.loc[evaluation.review_curve["multiple_of_capacity"] == 1]
    assert f"{capacity_row['precision'].iloc[0]:.3f}" in markdown
    # the reviewers' fairness report, written whatever the gate decided
    report = (tmp_path / "fairness_report.html").read_text()
    assert "Fairness gate" in report and "ratio to rest" in report
    assert all(f'src="{n}"' in report for n in charts if n.startswith("chart_fairness_"))
    # the same figures give the same bytes (no timestamps in the files)
    before = {n: (tmp_path / n).read_bytes() for n in charts}
    write_model_card(fitted, evaluation, audit, tmp_path, version=record.version)
    assert {n: (tmp_path / n).read_bytes() for n in charts} == before
    _screenshot_offline(html_path, charts)


def _screenshot_offline(card: Path, charts: list[str]) -> None:
    """The card in Debian chromium with the network blocked: every chart renders from the
    files beside it, nothing is asked of the internet; the screenshot goes to
    test-artefacts/models/ for CI to keep. Skipped where chromium is not installed."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        return
    from playwright.sync_api import sync_playwright

    asked_network: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            asked_network.append(r.request.url)
            r.abort()

    out = Path(__file__).resolve().parents[2] / "test-artefacts" / "models"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route("**/*", route)
            page.goto(card.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])"
            )
            out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out / "model_card.png"), full_page=True)
        finally:
            browser.close()
    assert asked_network == []
    assert {src for src, _ in images} == set(charts)
    assert all(width > 0 for _, width in images), images
