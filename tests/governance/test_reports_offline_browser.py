"""The review pack in a real browser with the network blocked: every chart and link it holds is
a local file, every image renders, and nothing asks the internet for anything.

Drives Debian's chromium through Playwright (as tests/portal does); the screenshot goes to
test-artefacts/reports/ for CI to keep.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from chromium import ARGS, CHROMIUM, require_chromium

from safeguard.governance.facts import GateResult, RunFacts
from safeguard.governance.reports import build_report
from safeguard.models.charts import calibration_chart, fairness_charts, review_chart, write_index

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "reports"


def _charts(model_dir: Path) -> None:
    calibration = pd.DataFrame({"bin": [1, 2, 3], "n": [900, 300, 80],
                                "mean_predicted": [0.01, 0.05, 0.2], "observed_rate": [0.012, 0.04, 0.23]})  # fmt: skip
    review = pd.DataFrame({"multiple_of_capacity": [0.5, 1.0, 2.0],
                           "families_reviewed_per_run": [20.0, 40.0, 80.0],
                           "precision": [0.3, 0.25, 0.18], "precision_lower": [0.2, 0.18, 0.13],
                           "precision_upper": [0.4, 0.31, 0.22], "recall": [0.2, 0.33, 0.48],
                           "recall_lower": [0.14, 0.26, 0.4], "recall_upper": [0.27, 0.4, 0.56]})  # fmt: skip
    decisions = pd.DataFrame({"dimension": ["sex_children", "sex_children"], "group": ["F", "M"],
                              "metric": ["recall_ratio"] * 2, "ratio": [0.95, 1.04],
                              "lower_90": [0.85, 0.93], "upper_90": [1.06, 1.16],
                              "verdict": ["pass", "inconclusive"]})  # fmt: skip
    charts = [calibration_chart(calibration, model_dir), review_chart(review, 40.0, model_dir),
              *fairness_charts(decisions, (0.8, 1.25), model_dir)]  # fmt: skip
    write_index(charts, model_dir / "charts.json")


def test_review_pack_renders_offline_with_every_image(register, profile, tmp_path: Path) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    _charts(tmp_path / "artefacts" / "model")
    facts = RunFacts(run_id="r1", gates=(GateResult("model_evaluation/performance_gate", True),),
                     flags_per_worker=(3, 5))  # fmt: skip
    pack = build_report("review_pack", register, facts, data_dir=tmp_path, profile=profile).html
    asked_network: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            asked_network.append(r.request.url)
            r.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route("**/*", route)
            page.goto(pack.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth, e.alt])"
            )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "review_pack.png"), full_page=True)
        finally:
            browser.close()
    assert asked_network == []
    assert len(images) == 3  # calibration, families reviewed, the fairness metric
    for src, width, alt in images:
        assert width > 0, f"{src} did not render"
        assert len(alt) > 40, src
