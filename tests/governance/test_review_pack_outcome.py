"""The review pack leads with the run's outcome, styles gates by verdict, labels metrics for
people, prints counts as integers, names the command line's run id and no local path."""

from __future__ import annotations

from pathlib import Path

from safeguard.dpia.audit import AuditLog
from safeguard.governance.document import render_html, render_markdown
from safeguard.governance.facts import GateResult, ModelFacts, RunFacts, collect_run_facts
from safeguard.governance.review_pack import build_review_pack, outcome_sentence

PERF_FAIL = (
    "FAIL: precision among the top 12 families is 0.014 (95% CI 0.000-0.055); its lower bound "
    "must be at least 0.077.; PASS: not worse than the baseline; FAIL: calibration slope is "
    "0.579; NOT MET: the WWCSC bar (reported, not part of the gate)"
)
GATES = (
    GateResult("police_records/gx_suite", True, "none"),
    GateResult(
        "objections/objections_register_complete",
        True,
        "1 objection(s) pending verification: honoured by name; families excluded",
    ),
    GateResult("model_evaluation/performance_gate", False, PERF_FAIL),
    GateResult("monitoring_triggers/decommission_triggers", False, "not evaluated (never run)"),
)


def _pack(register, tmp_path: Path, facts: RunFacts) -> tuple[str, str]:
    doc = build_review_pack(register, facts, data_dir=tmp_path, out_dir=tmp_path / "reports")
    return render_html(doc), render_markdown(doc)


def test_a_withheld_run_says_which_gate_and_why_first(register, tmp_path: Path) -> None:
    facts = RunFacts(run_id="gov-run", gates=GATES, flags_per_worker=(3, 4))
    sentence = outcome_sentence(facts)
    assert sentence.startswith("No new flags: the check model_evaluation/performance_gate failed")
    assert "precision among the top 12 families is 0.014" in sentence
    html, md = _pack(register, tmp_path, facts)
    # the outcome is the first thing under the title, before the contents
    assert html.index(sentence) < html.index("<nav>")
    assert md.index("No new flags") < md.index("## ")
    assert "withheld by model_evaluation/performance_gate" in md
    assert "last good run's 7 flags" in md
    # styled by verdict; a check that did not run is not shown as a failure
    assert '<td class="v-fail">Failed</td>' in html
    assert '<td class="v-pass">Passed</td>' in html
    assert '<td class="v-none">Not evaluated</td>' in html
    assert "| police_records/gx_suite | Passed | All conditions met |" in md
    # a passed check's note (not a condition) is shown whole
    assert "1 objection(s) pending verification: honoured by name; families excluded" in md
    # each condition of the failed gate on its own line, never one run-on cell
    assert "- FAIL: calibration slope is 0.579" in md


def test_a_run_with_flags_says_how_many(register, tmp_path: Path) -> None:
    facts = RunFacts(gates=GATES[:1], flags_per_worker=(2, 5, 9))
    assert outcome_sentence(facts) == (
        "Every check passed: 16 families were flagged for review by 3 practitioners."
    )


def test_metrics_have_human_labels_and_counts_are_integers(register, tmp_path: Path) -> None:
    model = ModelFacts(
        "v1",
        {"model.auc_roc": 0.7591, "capacity_k": 872.0, "n_test": 66093.0, "base_rate": 0.021},
        gate_passed=True,
    )
    facts = RunFacts(gates=GATES[:1], model=model, linkage_quality={"singleton_share": 0.0278})
    _, md = _pack(register, tmp_path, facts)
    assert "| Model: AUC-ROC | 0.759 |" in md
    assert "| Practitioner capacity (families reviewed per run) | 872 |" in md
    assert "| Family-dates tested | 66,093 |" in md
    assert "| Share of people with one record | 2.8% |" in md
    assert "model.auc_roc" not in md and "872.000" not in md


def test_run_id_is_the_command_lines_and_no_local_path_appears(register, tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = AuditLog(data / "audit" / "audit.jsonl")
    log.append("data_team", "run_started", run_id="cli-run-1234")
    facts = collect_run_facts(data, run_id="governance-run-9", gates=GATES[:1])
    assert facts.pipeline_run_id == "cli-run-1234"
    html, md = _pack(register, data, facts)
    assert "| Run (as printed by safeguard run) | cli-run-1234 |" in md
    assert "before run cli-run-1234's closing run_finished entry" in md
    assert str(Path(register.source_path).parent) not in html + md
    assert "dpia/register.yaml" in md
    log.append("data_team", "run_finished", run_id="cli-run-1234")
    closed = collect_run_facts(data, run_id="governance-run-9", gates=GATES[:1])
    assert closed.audit is not None and not closed.audit.run_open


def test_charts_are_embedded_with_alt_text_and_their_numbers(register, tmp_path: Path) -> None:
    import pandas as pd

    from safeguard.models.charts import calibration_chart, write_index

    model_dir = tmp_path / "artefacts" / "model"
    curve = pd.DataFrame({"bin": [1, 2], "n": [400, 100], "mean_predicted": [0.01, 0.2],
                          "observed_rate": [0.0125, 0.17]})  # fmt: skip
    write_index([calibration_chart(curve, model_dir)], model_dir / "charts.json")
    html, md = _pack(register, tmp_path, RunFacts(gates=GATES[:1]))
    assert '<img src="../artefacts/model/chart_calibration.png" alt="Calibration curve' in html
    assert "| 2 | 100 | 0.2000 | 0.1700 (" in md  # the chart's numbers, beside it
    (model_dir / "chart_calibration.png").unlink()
    html, _ = _pack(register, tmp_path, RunFacts(gates=GATES[:1]))
    assert "chart_calibration.png" not in html  # never a link to a missing file
