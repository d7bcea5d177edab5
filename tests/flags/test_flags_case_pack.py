"""Caseloads, printable case packs (statement, judgement prompt, no names) and global views."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from chromium import ARGS, CHROMIUM, require_chromium
from flag_tables import AS_OF, PSEUDONYMISER

from safeguard.flags.case_pack import STATEMENT, build_caseloads, write_case_packs
from safeguard.flags.flagging import FlagConfig, FlaggingInputError, score_families, select_flags
from safeguard.flags.global_explain import global_explanations
from safeguard.flags.reasons import explain_flags
from safeguard.models.estimator import RiskModel

Estate = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
WORKERS = pd.DataFrame(
    {
        "worker_id": ["w1", "w2", "w3", "m1"],
        "display_name": ["Alice Staffname", "Bob Staffname", "Cara Staffname", "Dan Staffname"],
        "team": ["North", "North", "South", "North"],
        "role": ["social_worker", "early_help_practitioner", "social_worker", "team_manager"],
        "area_codes": ["NB1;NB2", "NB2", "NB3", "NB1;NB2;NB3;NB4"],
        "capacity": [3, 2, 0, 20],
    }
)
NAMES = ("Zebedee", "Quintavius")  # planted identity values that must never reach a pack


@pytest.fixture(scope="module")
def run(
    model: RiskModel, family_features: pd.DataFrame, districts: pd.Series, estate: Estate
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    events, families, _ = estate
    config = FlagConfig(threshold_probability=0.05)
    scores = score_families(
        model, family_features, model_version="v1", as_of=AS_OF, postcode_districts=districts,
        config=config,
    )  # fmt: skip
    flags = select_flags(
        scores, WORKERS, config=config, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    ).flags
    explanations = explain_flags(model, family_features, flags, events, families, as_of=AS_OF)
    caseloads = build_caseloads(flags, explanations, WORKERS)
    return flags, explanations, caseloads


def test_caseloads_list_each_workers_flags_with_their_reason_counts(
    run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    flags, explanations, caseloads = run
    assert list(caseloads.columns) == [
        "worker_id", "flag_id", "family_key", "rank", "band", "probability", "n_reasons",
    ]  # fmt: skip
    assert sorted(caseloads["flag_id"]) == sorted(flags["flag_id"])
    counts = explanations["flag_id"].value_counts()
    assert all(caseloads["n_reasons"] == caseloads["flag_id"].map(counts))
    assert set(caseloads["worker_id"]) == {"w1", "w2"}  # w3 has no capacity, m1 is a manager
    for _, rows in caseloads.groupby("worker_id"):
        assert rows["rank"].is_monotonic_increasing


def test_caseloads_refuse_flags_for_unknown_or_non_receiving_workers(
    run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    flags, explanations, _ = run
    with pytest.raises(FlaggingInputError, match="missing from workers"):
        build_caseloads(flags.assign(worker_id="gone"), explanations, WORKERS)
    with pytest.raises(FlaggingInputError, match="gets no flags"):
        build_caseloads(flags.assign(worker_id="m1"), explanations, WORKERS)


def test_case_packs_carry_statement_prompt_reasons_and_no_names(
    run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    flags, explanations, caseloads = run
    leaky_flags = flags.assign(first_name=NAMES[0])  # an identity column joined by mistake
    leaky_explanations = explanations.assign(last_name=NAMES[1])
    paths = write_case_packs(
        caseloads,
        leaky_flags,
        leaky_explanations,
        WORKERS,
        tmp_path,
        model_version="v1",
        as_of=AS_OF,
    )
    assert sorted(p.name for p in paths) == ["w1.html", "w2.html", "w3.html"]
    for path in paths:
        html = path.read_text(encoding="utf-8")
        assert "This is an indicator, not a decision." in html
        assert STATEMENT.split(".")[0] in html
        assert "@media print" in html
        for name in (*NAMES, *WORKERS["display_name"]):
            assert name not in html
    w1 = (tmp_path / "w1.html").read_text(encoding="utf-8")
    mine = caseloads.loc[caseloads["worker_id"] == "w1"]
    others = caseloads.loc[caseloads["worker_id"] != "w1"]
    assert all(f in w1 for f in mine["flag_id"]) and not any(f in w1 for f in others["flag_id"])
    assert w1.count("Your professional judgement.") == len(mine)
    first = explanations.loc[explanations["flag_id"] == mine["flag_id"].iloc[0]]
    for text in first["text"]:
        assert text.replace("'", "&#39;") in w1
    records = [
        i["record_pseudo"] for e in first["evidence"] for i in json.loads(e) if i["record_pseudo"]
    ]
    assert records and all(r in w1 for r in records[:3])
    assert "No families were flagged for you" in (tmp_path / "w3.html").read_text(encoding="utf-8")


def test_case_pack_file_names_cannot_escape_the_folder(
    run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    flags, explanations, caseloads = run
    workers = WORKERS.assign(worker_id=["../w1", "w2", "w3", "m1"])
    with pytest.raises(FlaggingInputError, match="cannot name a file"):
        write_case_packs(
            caseloads, flags, explanations, workers, tmp_path, model_version="v1", as_of=AS_OF
        )


def test_global_explanations_table_plot_and_page(
    model: RiskModel, family_features: pd.DataFrame, tmp_path: Path
) -> None:
    result = global_explanations(
        model, family_features, tmp_path, sample_size=40, model_version="v1"
    )
    assert result.n_sample == 40 and result.n_population == len(family_features)
    assert result.table["mean_abs_log_odds"].is_monotonic_decreasing
    assert (result.table["mean_abs_points"] >= result.table["mean_points"].abs() - 1e-12).all()
    assert result.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = result.html.read_text(encoding="utf-8")
    assert 'src="shap_summary.png"' in page and "log-odds" in page and "probability points" in page
    assert result.table["label"].iloc[0].replace("'", "&#39;") in page
    assert 'alt="SHAP beeswarm of 40 sampled families' in page
    first = result.png.read_bytes()
    again = global_explanations(model, family_features, tmp_path, sample_size=40)
    assert again.png.read_bytes() == first  # same seed, same jitter, no timestamp: same bytes
    with pytest.raises(ValueError, match="at least one"):
        global_explanations(model, family_features.iloc[0:0], tmp_path)


def test_a_run_without_flags_gives_empty_tables_and_says_so_in_the_packs(
    model: RiskModel, family_features: pd.DataFrame, districts: pd.Series, estate: Estate,
    tmp_path: Path,
) -> None:  # fmt: skip
    events, families, _ = estate
    config = FlagConfig(threshold_probability=0.999)
    scores = score_families(
        model, family_features, model_version="v1", as_of=AS_OF, postcode_districts=districts,
        config=config,
    )  # fmt: skip
    flags = select_flags(
        scores, WORKERS, config=config, excluded_family_keys=(), pseudonymiser=PSEUDONYMISER
    ).flags
    assert flags.empty
    explanations = explain_flags(model, family_features, flags, events, families, as_of=AS_OF)
    assert explanations.empty and "evidence" in explanations.columns
    caseloads = build_caseloads(flags, explanations, WORKERS)
    paths = write_case_packs(
        caseloads, flags, explanations, WORKERS, tmp_path, model_version="v1", as_of=AS_OF
    )
    assert len(paths) == 3
    assert all("No families were flagged for you" in p.read_text(encoding="utf-8") for p in paths)


def test_each_family_gets_a_shap_waterfall_on_the_calibrated_scale(
    run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    flags, explanations, caseloads = run
    write_case_packs(caseloads, flags, explanations, WORKERS, tmp_path, model_version="v1",
                     as_of=AS_OF)  # fmt: skip
    w1 = (tmp_path / "w1.html").read_text(encoding="utf-8")
    mine = caseloads.loc[caseloads["worker_id"] == "w1"]
    assert w1.count('<svg role="img" aria-label="SHAP waterfall: from the typical family') == len(
        mine
    )
    assert "in percentage points on the calibrated scale" in w1
    assert "All other factors" in w1
    assert "<script" not in w1 and "<metadata>" not in w1 and 'href="http' not in w1
    # the waterfall's first step is the first reason's points, as listed beside it
    first = explanations.loc[explanations["flag_id"] == mine["flag_id"].iloc[0]]
    top = first.sort_values("reason_rank").iloc[0]
    assert f"{100 * top['contribution']:+.2f}".replace("-", "−") in w1 or (
        f"{100 * top['contribution']:+.2f}" in w1
    )


SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "reports"


@pytest.mark.browser
def test_case_pack_waterfalls_render_offline(
    run: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    flags, explanations, caseloads = run
    write_case_packs(caseloads, flags, explanations, WORKERS, tmp_path, model_version="v1",
                     as_of=AS_OF)  # fmt: skip
    asked: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            asked.append(r.request.url)
            r.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.route("**/*", route)
            page.goto((tmp_path / "w1.html").as_uri())
            sizes = page.eval_on_selector_all(
                "figure.waterfall svg", "els => els.map(e => e.getBoundingClientRect().height)"
            )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "case_pack.png"), full_page=True)
        finally:
            browser.close()
    assert asked == []
    families = (caseloads["worker_id"] == "w1").sum()
    assert len(sizes) == families and all(h > 100 for h in sizes)
