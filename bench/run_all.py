"""End-to-end benchmark: generate an estate, run the whole pipeline, time every stage.

Each size runs in a fresh subprocess so peak memory is that run's own. Prints a table of wall
time and peak resident memory per stage, the end-to-end figures, and the growth ratio between
sizes (time ratio / size ratio: 1.0 is linear), and writes bench/results/e2e-<date>.{md,json}.

    python -m bench.run_all                       # 50k, 150k, 377k people
    python -m bench.run_all --sizes 20000 50000   # quicker
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# Stages: Dagster steps grouped as a data team thinks of them.
STAGES = {
    "ingest": ("ingest_drop", "gx_suite", "data_docs"),
    "linkage": ("link_records", "people", "protected_characteristics", "families"),
    "features": ("events", "family_features_at_as_of", "training_frame"),
    "model + gates": ("train_and_gate_model",),
    "flags + explanations": (
        "score_and_flag",
        "family_scores",
        "flags",
        "flag_explanations",
        "global_explanations",
        "caseloads",
    ),
}


def _stage_of(step: str) -> str:
    for stage, prefixes in STAGES.items():
        if any(step == p or step.startswith(p) or step.endswith(p) for p in prefixes):
            return stage
    return "other"


def run_one(people: int, seed: int, work: Path) -> dict:
    """Generate and run one estate in this process; return timings (called in a subprocess)."""
    from safeguard.contracts.council import demo_config_path, load_config
    from safeguard.pipelines.runner import run_pipeline
    from safeguard.synth import EstateConfig, generate_estate

    landing, truth, data = work / "landing", work / "truth", work / "data"
    councils = max(1, round(people / 75_000))
    started = time.perf_counter()
    generate_estate(
        EstateConfig(people=people, seed=seed, councils=councils), out=landing, truth_out=truth
    )
    generate_s = time.perf_counter() - started
    generate_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_before = time.process_time()
    # The demo configuration (the shipped gates plus its named sign-offs of inconclusive fairness
    # results), as `safeguard demo` runs: without sign-offs the fairness gate withholds flags at
    # these sizes and the flags stage would not be timed.
    config = demo_config_path()
    outcome = run_pipeline(
        landing=landing,
        data_dir=data,
        truth_dir=truth,
        council=load_config(config),
        council_source=str(config),
    )
    stages: dict[str, dict[str, float]] = {}
    for step in outcome.steps:
        stage = stages.setdefault(_stage_of(step.step), {"seconds": 0.0, "peak_rss_mb": 0.0})
        stage["seconds"] += step.seconds
        stage["peak_rss_mb"] = max(stage["peak_rss_mb"], step.peak_rss_mb)
    return {
        "people": people,
        "councils": councils,
        "generate_s": round(generate_s, 1),
        "generate_peak_mb": round(generate_peak),
        "pipeline_s": round(outcome.duration_s, 1),
        "pipeline_cpu_s": round(time.process_time() - cpu_before, 1),
        "pipeline_peak_mb": round(max((s.peak_rss_mb for s in outcome.steps), default=0.0)),
        "success": outcome.success,
        "error": outcome.error,
        "failed_gates": [f"{g.asset}/{g.check}" for g in outcome.failed_gates],
        "stages": {
            k: {"seconds": round(v["seconds"], 1), "peak_rss_mb": round(v["peak_rss_mb"])}
            for k, v in stages.items()
        },
        "steps": [
            {"step": s.step, "seconds": round(s.seconds, 2), "peak_rss_mb": round(s.peak_rss_mb)}
            for s in outcome.steps
        ],
        "materialised": {k: v for k, v in outcome.materialised.items() if v is not None},
    }


def _markdown(results: list[dict]) -> str:
    stages = [*list(STAGES), "other"]
    lines = [
        f"# End-to-end benchmark ({date.today().isoformat()}, {results[0].get('machine', '2 cores')})",
        "",
        "| people | "
        + " | ".join(f"{s} s / MB" for s in stages)
        + " | pipeline s | pipeline peak MB | generate s | gates |",
        "|---" * (len(stages) + 5) + "|",
    ]
    for r in results:
        cells = [
            f"{r['stages'][s]['seconds']} / {r['stages'][s]['peak_rss_mb']}"
            if s in r["stages"]
            else "-"
            for s in stages
        ]
        gates = "all passed" if r["success"] else "failed: " + ", ".join(r["failed_gates"])
        lines.append(
            f"| {r['people']:,} | "
            + " | ".join(cells)
            + f" | {r['pipeline_s']} | {r['pipeline_peak_mb']:,} | {r['generate_s']} | {gates} |"
        )
    if len(results) > 1:
        lines += ["", "Growth (time ratio / size ratio; 1.0 = linear):", ""]
        for a, b in itertools.pairwise(results):
            size = b["people"] / a["people"]
            lines.append(
                f"- {a['people']:,} -> {b['people']:,} people (x{size:.2f}): pipeline time x"
                f"{b['pipeline_s'] / a['pipeline_s']:.2f} (growth {b['pipeline_s'] / a['pipeline_s'] / size:.2f}), "
                f"peak memory x{b['pipeline_peak_mb'] / max(a['pipeline_peak_mb'], 1):.2f}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 150_000, 377_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each size's landing/truth/data under this folder (for bench_stages)",
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.work)))
        return
    results = []
    for people in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"bench-{people}-") as tmp:
            work = str(args.keep / f"p{people}") if args.keep else tmp
            load_before = os.getloadavg()[0]
            print(f"running {people:,} people ...", file=sys.stderr, flush=True)
            proc = subprocess.run(
                [sys.executable, "-m", "bench.run_all", "--one", str(people), "--seed", str(args.seed), "--work", work],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise SystemExit(f"{people:,} people failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            if results[-1]["steps"] == []:
                raise SystemExit(f"{people:,} people: the run was refused: {results[-1]['error']}")
            results[-1]["load_average_1m"] = {
                "before": round(load_before, 2),
                "after": round(os.getloadavg()[0], 2),
            }
            print(
                json.dumps(
                    {
                        k: results[-1][k]
                        for k in ("people", "pipeline_s", "pipeline_peak_mb", "success")
                    }
                ),
                file=sys.stderr,
            )
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"e2e-{date.today().isoformat()}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2))
    table = _markdown(results)
    stem.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
