"""Does the fairness gate decide correctly? Unbiased estates should pass, planted bias should fail.

For each seed: generate an estate with the generator's recording bias switched off, run the real
pipeline up to the gates with a council configuration, and record the gate's decision. Then,
on the same fitted model and test rows, plant a score bias (every family of one group scored as
if its chance were ``factor`` times higher: +log(factor) on the log-odds) and run the audit
again. The issue's bar: the gate passes in at least 9 of 10 unbiased seeds and fails in at
least 9 of 10 with a 1.5x planted bias.

    python -m bench.bench_fairness_gate --people 100000 --seeds 1-10 \\
        --out bench/results          # default configuration: contracts/council-demo.yaml

Not a test: it takes about six minutes a seed at 100k people on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

PLANTS = (
    ("ethnicity_group", "Black"),
    ("ethnicity_group", "Asian"),
    ("deprivation_quintile", "Q1"),
)


@dataclass(frozen=True)
class SeedResult:
    seed: int
    unbiased_passed: bool
    verdicts: dict[str, int]
    failing: list[str]
    planted: dict[str, dict[str, object]]
    seconds: float


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def _planted_audit(warehouse_dir: Path, truth_dir: Path, config_path: Path | None,
                   dimension: str, group: str, factor: float) -> tuple[bool, list[str]]:  # fmt: skip
    """The audit of the approved run's model with every family of one group scored up."""
    from safeguard.contracts.council import load_config
    from safeguard.models.fairness import _make_up, audit_predictions, select_flags
    from safeguard.models.fairness_truth import need_strata
    from safeguard.models.training import fit_risk_model, labels
    from safeguard.pipelines.council import release_config
    from safeguard.pipelines.release import audit_inputs, total_capacity
    from safeguard.pipelines.resources import Warehouse

    w = Warehouse(data_dir=str(warehouse_dir))
    config = load_config(config_path)
    settings = release_config(config, total_capacity(w, config), config.training.random_state)
    frame = w.read_table("training_frame")
    split = settings.risk.split(frame)
    fitted = fit_risk_model(frame, config=settings.risk, split=split)
    sensitive, leakage, truth = audit_inputs(w, frame, split, str(truth_dir))
    _, _, test = split.frames(frame)
    test = test.reset_index(drop=True)
    keys = test[["as_of_date", "family_key"]].astype({"family_key": "string"})
    rows = keys.merge(
        sensitive.astype({"family_key": "string"}), on=["as_of_date", "family_key"], how="left"
    )
    names = list(fitted.feature_names)
    raw = fitted.model.decision_function(test[names])
    biased = (rows[dimension].astype(str) == group).to_numpy()
    # the planted bias: the group's calibrated chance overstated by ``factor``, and ranked so
    prob = np.clip(fitted.model.calibrate_log_odds(raw) * np.where(biased, factor, 1.0), 0, 1)
    score = raw + np.where(biased, np.log(factor), 0.0)
    dates = test["as_of_date"].to_numpy()
    aligned = keys.merge(
        truth.astype({"family_key": "string"}), on=["as_of_date", "family_key"], how="left"
    )
    need = aligned["latent_need"].astype(float).fillna(aligned["latent_need"].median()).to_numpy()
    audit = audit_predictions(
        labels(test), prob, select_flags(score, prob, settings.fairness, dates),
        rows.drop(columns=["as_of_date", "family_key"]), config=settings.fairness,
        clusters=test["family_key"].astype(str).to_numpy(), dates=dates, need=need,
        strata=need_strata(need, *_make_up(test)), leakage=leakage,
    )  # fmt: skip
    return audit.gate.passed, [
        r for r in audit.gate.reasons if r.startswith(("FAIL", "INCONCLUSIVE (blocking)"))
    ]


def run_seed(
    seed: int, people: int, config_path: Path | None, factor: float, work: Path
) -> SeedResult:
    from safeguard.contracts.council import load_config
    from safeguard.pipelines.runner import run_pipeline
    from safeguard.synth import EstateConfig, RecordingBias, generate_estate

    started = time.perf_counter()
    landing, truth, data = work / "landing", work / "truth", work / "data"
    generate_estate(
        EstateConfig(people=people, seed=seed, recording_bias=RecordingBias(enabled=False)),
        out=landing, truth_out=truth,
    )  # fmt: skip
    outcome = run_pipeline(landing=landing, data_dir=data, truth_dir=truth,
                           council=load_config(config_path))  # fmt: skip
    import duckdb

    fairness = {c.check: c for c in outcome.checks}.get("fairness_gate")
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        verdicts = dict(
            con.execute("SELECT verdict, count(*) FROM fairness_audit GROUP BY 1").fetchall()
        )
        failing = [f"{d} = {g} ({m}): {v}" for d, g, m, v in con.execute(
            "SELECT dimension, \"group\", metric, verdict FROM fairness_audit "
            "WHERE verdict IN ('fail', 'inconclusive')").fetchall()]  # fmt: skip
    planted = {}
    for dimension, group in PLANTS:
        passed, reasons = _planted_audit(data, truth, config_path, dimension, group, factor)
        planted[f"{dimension} = {group}"] = {"gate_passed": passed, "blocking": reasons[:4]}
    return SeedResult(seed, bool(fairness and fairness.passed), verdicts, failing, planted,
                      time.perf_counter() - started)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seeds", default="1-10")
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument(
        "--config", type=Path, default=None,
        help="council configuration (default: the demo one, with its sign-offs)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results"))
    args = parser.parse_args()
    if args.config is None:
        from safeguard.contracts.council import demo_config_path

        args.config = demo_config_path()
    results = []
    for seed in _seeds(args.seeds):
        work = Path(tempfile.mkdtemp(prefix=f"fairness-bench-{seed}-"))
        try:
            result = run_seed(seed, args.people, args.config, args.factor, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append(result)
        print(json.dumps(result.__dict__, default=str), flush=True)
    n = len(results)
    summary = {
        "date": date.today().isoformat(), "people": args.people, "factor": args.factor,
        "config": str(args.config), "seeds": [r.seed for r in results],
        "unbiased_passed": sum(r.unbiased_passed for r in results), "of": n,
        "planted_failed": {k: sum(not r.planted[k]["gate_passed"] for r in results)
                           for k in results[0].planted} if results else {},
        "results": [r.__dict__ for r in results],
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fairness-gate-{args.people // 1000}k-{date.today().isoformat()}.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    print(f"unbiased estates passing: {summary['unbiased_passed']} of {n}")
    for k, v in summary["planted_failed"].items():
        print(f"planted {args.factor}x score bias on {k}: gate failed in {v} of {n}")
    print(f"written {path}")


if __name__ == "__main__":
    main()
