"""Stage benchmark: the pipeline's own stage functions beside a plain-library baseline.

For each data directory of a finished ``safeguard run`` (its warehouse is opened read-only),
times the real stage functions on that run's tables, and next to each a plain-library version
of the same work on the same records, and prints the ratio (pipeline / baseline):

* family snapshots: ``safeguard.linkage.families.form_families_at`` (the families formed again at every
  training date from the records known then) vs one plain DuckDB query grouping the people
  last seen at each address into households at every date (co-residence only: no tenancy,
  moving-together or spell rules, so a floor, not an equivalent).
* features: ``safeguard.features.outcomes.build_training_frame`` (features + labels at every date) vs one
  plain DuckDB query with the same event-count aggregates over the same members and events.
* fit: ``safeguard.models.training.fit_risk_model`` (monotone LightGBM + calibration + logistic
  baseline) vs a plain ``lightgbm.LGBMClassifier`` with the same settings on the same matrix.
* train + gates: ``safeguard.models.release.train_and_judge`` (fit, evaluation with bootstraps, fairness
  audit) vs the same plain LightGBM fit.

    python -m bench.bench_stages --data-dir /tmp/x/p20000/data /tmp/x/p50000/data

Writes ``bench/results/stages-<date>.{md,json}`` with the machine described. Not a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
DATE_COLUMN = {
    "social_care": "start_date", "education": "period_start", "housing": "event_date",
    "police": "incident_date", "revenues_benefits": "event_date",
}  # fmt: skip


_CPU: list[float] = []  # CPU seconds of the latest _timed call (all threads of this process)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn``; return its result and wall seconds (CPU seconds go to ``_CPU``)."""
    started, cpu = time.perf_counter(), time.process_time()
    out = fn()
    _CPU[:] = [time.process_time() - cpu]
    return out, time.perf_counter() - started


def _stage(pipeline: tuple[float, float], baseline: tuple[float, float]) -> dict[str, float]:
    return {
        "pipeline_s": pipeline[0], "baseline_s": baseline[0],
        "pipeline_cpu_s": pipeline[1], "baseline_cpu_s": baseline[1],
    }  # fmt: skip


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """CPU model, cores, memory and load: the figures mean little without them."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 1024**2:.0f} GB RAM"
    except (OSError, StopIteration):
        memory = "unknown RAM"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, {memory}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load average {load} "
        "(machine shared with other engineers: treat timings as upper bounds)"
    )


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    read = lambda sql: con.execute(sql).df()  # noqa: E731
    links = read("SELECT record_pseudo, person_key FROM record_links")
    frames = []
    for source, column in DATE_COLUMN.items():
        group = "tenancy_ref" if source == "housing" else "NULL::VARCHAR"
        frame = read(
            f"SELECT record_pseudo, address_key, {column} AS event_date, {group} AS group_key "
            f"FROM {source}_records"
        )
        frames.append(frame.assign(source=source))
    residence = pd.concat(frames, ignore_index=True).merge(links, on="record_pseudo")
    return {
        "residence": residence.drop(columns="record_pseudo"),
        "events": read("SELECT * FROM events"),
        "people": read("SELECT person_key, birth_month FROM people"),
        "families": read("SELECT * FROM families"),
        "extract": read("SELECT max(extract_date) AS d FROM row_accounting"),
    }


_PLAIN_HOUSEHOLDS = """
WITH d AS (SELECT unnest($dates::TIMESTAMP[]) AS as_of),
last_seen AS (
  SELECT d.as_of, r.person_key, arg_max(r.address_key, r.event_date) AS address_key
  FROM residence r JOIN d ON r.event_date <= d.as_of
  WHERE r.address_key IS NOT NULL AND r.person_key IS NOT NULL
  GROUP BY d.as_of, r.person_key
)
SELECT l.as_of, l.address_key, count(*) AS members,
       count(*) FILTER (WHERE p.birth_month > l.as_of - INTERVAL 18 YEAR) AS children
FROM last_seen l LEFT JOIN people p USING (person_key)
GROUP BY l.as_of, l.address_key HAVING children >= 1
"""


def _plain_features(
    events: pd.DataFrame, snapshots: pd.DataFrame, dates: list[date]
) -> pd.DataFrame:
    """The dictionary's event-count features as one hand-written DuckDB query (no extras)."""
    from safeguard.features.dictionary import FEATURE_DICTIONARY

    counts = []
    for spec in FEATURE_DICTIONARY:
        agg = getattr(spec, "aggregate", None)  # absent before the FeatureSpec refactor
        if agg is None or agg.kind != "count" or agg.condition or agg.older_than_months:
            continue
        kinds = ", ".join(f"'{t}'" for t in agg.event_types)
        child = " AND m.role = 'child'" if agg.children_only else ""
        counts.append(
            f"count(*) FILTER (WHERE e.event_type IN ({kinds}) AND e.event_date >= m.as_of_date"
            f" - INTERVAL {spec.window_months} MONTH{child}) AS {spec.name}"
        )
    if not counts:
        return pd.DataFrame()
    sql = f"""
    SELECT m.as_of_date, m.family_key, {", ".join(counts)}
    FROM snapshots m JOIN events e ON e.person_key = m.person_key
     AND e.event_date < m.as_of_date AND e.event_date >= m.as_of_date - INTERVAL 36 MONTH
    GROUP BY m.as_of_date, m.family_key
    """
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        con.register("events", events)
        con.register("snapshots", snapshots)
        return con.execute(sql).df()
    finally:
        con.close()


def bench_one(data_dir: Path) -> dict[str, Any]:
    """Time every stage and its baseline on one finished run's warehouse."""
    import lightgbm as lgb

    from safeguard import models
    from safeguard.contracts.council import demo_config_path, parse_config
    from safeguard.features.outcomes import build_training_frame, monthly_as_of_dates
    from safeguard.features.point_in_time import members_at
    from safeguard.features.protected import attribute_leakage, build_sensitive_features_many
    from safeguard.linkage.families import form_families_at
    from safeguard.linkage.keys import keyed
    from safeguard.models.training import labels
    from safeguard.pipelines.council import release_config

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    t = _tables(con)
    observations = con.execute("SELECT * FROM protected_characteristics").df()
    areas = con.execute("SELECT * FROM areas").df()
    capacity = int(con.execute("SELECT sum(capacity) FROM workers").fetchone()[0])
    con.close()
    config = parse_config(demo_config_path().read_text())
    training = config.training
    extract = pd.Timestamp(t["extract"]["d"].iloc[0]).date()
    dates = monthly_as_of_dates(
        extract, training.first_as_of_months_back, training.last_as_of_months_back
    )
    stages: dict[str, dict[str, float]] = {}

    snapshots, s = _timed(
        lambda: form_families_at(
            t["residence"],
            t["people"],
            dates,
            keys=keyed(os.urandom(32)),
            reuse_months=training.family_snapshot_months,
        )
    )
    sc = _CPU[0]
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.register("residence", t["residence"])
    con.register("people", t["people"])
    _, b = _timed(lambda: con.execute(_PLAIN_HOUSEHOLDS, {"dates": dates}).df())
    con.close()
    stages["family snapshots"] = _stage((s, sc), (b, _CPU[0]))

    frame, s = _timed(
        lambda: build_training_frame(
            t["events"],
            snapshots,
            t["people"],
            dates,
            extract_date=extract,
            outcome_families=t["families"],
        )
    )
    sc = _CPU[0]
    _, b = _timed(lambda: _plain_features(t["events"], snapshots, dates))
    stages["features + labels"] = _stage((s, sc), (b, _CPU[0]))

    rs = release_config(config, capacity, training.random_state)
    split = rs.risk.split(frame)
    train, _, _ = split.frames(frame)
    names = list(rs.risk.feature_names)
    plain = lgb.LGBMClassifier(
        n_estimators=rs.risk.n_estimators, learning_rate=rs.risk.learning_rate,
        max_depth=rs.risk.max_depth, min_child_samples=rs.risk.min_child_samples,
        n_jobs=rs.risk.n_jobs, random_state=rs.risk.random_state, verbose=-1,
    )  # fmt: skip
    X = train[names].astype("float64").to_numpy()
    y = labels(train)
    _, b = _timed(lambda: plain.fit(X, y))
    bc = _CPU[0]
    _, s = _timed(lambda: models.fit_risk_model(frame, config=rs.risk, split=split))
    stages["fit"] = _stage((s, _CPU[0]), (b, bc))

    def judge() -> Any:
        sensitive = build_sensitive_features_many(
            t["events"], snapshots, t["people"], observations, areas,
            [d.date() for d in split.test_dates],
        )  # fmt: skip
        _, _, test_rows = split.frames(frame)
        leakage = attribute_leakage(sensitive, test_rows, snapshots, observations)
        members_at(snapshots, split.test_dates)
        return models.train_and_judge(frame, sensitive, config=rs, split=split, leakage=leakage)

    release, s = _timed(judge)
    stages["train + gates (no truth)"] = _stage((s, _CPU[0]), (b, bc))
    for stage in stages.values():
        stage["ratio"] = stage["pipeline_s"] / max(stage["baseline_s"], 1e-9)
        stage["cpu_ratio"] = stage["pipeline_cpu_s"] / max(stage["baseline_cpu_s"], 1e-9)
    return {
        "data_dir": str(data_dir),
        "people": len(t["people"]),
        "events": len(t["events"]),
        "as_of_dates": len(dates),
        "training_rows": len(frame),
        "snapshot_rows": len(snapshots),
        "approved": bool(release.approved),
        "peak_rss_mb": round(_peak_mb()),
        "stages": {k: {m: round(v, 2) for m, v in d.items()} for k, d in stages.items()},
    }


def markdown(results: list[dict[str, Any]], host: str) -> str:
    """The results table, growth ratios included."""
    lines = [
        f"# Stage benchmark ({date.today().isoformat()})",
        "",
        f"Machine: {host}",
        "",
        "Wall seconds on a shared machine swing with its load; CPU seconds (all threads of",
        "the process) are the steadier measure, and the growth ratios use them.",
        "",
        "| linked people | events | stage | pipeline wall s | baseline wall s | ratio (wall) "
        "| pipeline CPU s | baseline CPU s | ratio (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, st in r["stages"].items():
            lines.append(
                f"| {r['people']:,} | {r['events']:,} | {name} | {st['pipeline_s']} | "
                f"{st['baseline_s']} | {st['ratio']:.1f} | {st['pipeline_cpu_s']} | "
                f"{st['baseline_cpu_s']} | {st['cpu_ratio']:.1f} |"
            )
    if len(results) > 1:
        lines += ["", "Growth (time ratio / size ratio; 1.0 = linear):", ""]
        for a, c in itertools.pairwise(results):
            size = c["people"] / a["people"]
            for name in a["stages"]:
                ratio = c["stages"][name]["pipeline_cpu_s"] / max(
                    a["stages"][name]["pipeline_cpu_s"], 1e-9
                )
                lines.append(
                    f"- {name}: {a['people']:,} -> {c['people']:,} people (x{size:.2f}): "
                    f"CPU time x{ratio:.2f} (growth {ratio / size:.2f})"
                )
    lines += ["", "Peak RSS of the bench process: " + ", ".join(
        f"{r['people']:,} people {r['peak_rss_mb']:,} MB" for r in results
    )]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, nargs="+", required=True)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    results = [bench_one(d) for d in args.data_dir]
    host = machine()
    table = markdown(results, host)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"stages-{date.today().isoformat()}{'-' + args.tag if args.tag else ''}"
    stem.with_suffix(".json").write_text(
        json.dumps({"machine": host, "results": results}, indent=2)
    )
    stem.with_suffix(".md").write_text(table)


if __name__ == "__main__":
    main()
