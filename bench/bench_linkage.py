"""Benchmark ``safeguard.linkage.link`` against a plain Splink script on the same records.

Both variants standardise the records the same way, build the same Splink model (same
comparisons, blocking rules and training calls) and predict the same pairs. The plain script
then clusters with Splink's connected components at the threshold; ``safeguard.linkage.link`` adds the
must-link rules, the chaining guard and person keys. Each variant runs in its own process so
that its peak memory (max RSS) is its own. Target: ``safeguard.linkage.link`` within 1.1x the plain
script's time at 377k people.

Usage::

    python bench/bench_linkage.py --people 20000            # generate with synth, then bench
    python bench/bench_linkage.py --drop DIR --truth DIR    # an existing estate
    python bench/bench_linkage.py --people 20000 --quality  # also precision/recall/families

Variants: ``plain`` is Splink on every record; ``plain_collapsed`` is Splink on the distinct
identities (the same input ``safeguard.linkage.link`` scores), which isolates the cost of linkage's
must-link rules, cannot-link constraints, rescoring and average-linkage clustering.

With ``--quality`` (and a truth folder) the linkage output is scored against the ground truth
(pairwise and cluster precision/recall) and families are formed and scored against
``memberships.csv`` (share of true families whose children and resident adults share one
family_key at the extract date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

#: source -> (record key column, agency person id column, event date column)
SOURCES = {
    "social_care": ("episode_id", "child_id", "start_date"),
    "education": ("record_id", "upn", "period_start"),
    "housing": ("event_id", "person_ref", "event_date"),
    "police": ("involvement_id", "person_ref", "incident_date"),
    "revenues_benefits": ("event_id", "claimant_ref", "event_date"),
}
#: A random secret per benchmark run: keys are only compared within the run.
BENCH_SECRET = os.urandom(32)
IDENTITY = [
    "first_name",
    "last_name",
    "dob",
    "address_line",
    "postcode",
    "sex",
    "upn",
    "nhs_number",
]


def newest_drop(landing: Path) -> Path:
    """The newest ``<landing>/<YYYY-MM-DD>/`` folder (or ``landing`` itself if it has CSVs)."""
    if (landing / "police.csv").exists():
        return landing
    dated = sorted(p for p in landing.iterdir() if p.is_dir() and p.name[:4].isdigit())
    if not dated:
        raise FileNotFoundError(f"{landing}: no <YYYY-MM-DD>/ drop folder with agency CSVs")
    return dated[-1]


def load_drop(drop: Path, *, agency_ids: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map the five agency CSVs to linkage input, and their address events for families."""
    frames, events = [], []
    for source, (key, agency, date) in SOURCES.items():
        raw = pd.read_csv(drop / f"{source}.csv", dtype=str, keep_default_na=False, na_values=[""])
        frame = pd.DataFrame({"source": source, "record_key": raw[key]})
        for column in IDENTITY:
            frame[column] = raw[column] if column in raw.columns else pd.NA
        if agency_ids:
            frame["agency_id"] = raw[agency]
        frames.append(frame)
        events.append(
            pd.DataFrame(
                {
                    "source": source,
                    "record_key": raw[key],
                    "event_date": pd.to_datetime(raw[date], errors="coerce"),
                    "address_line": raw["address_line"],
                    "postcode": raw["postcode"],
                    "group_key": raw["tenancy_ref"] if "tenancy_ref" in raw.columns else pd.NA,
                }
            )
        )
    return pd.concat(frames, ignore_index=True), pd.concat(events, ignore_index=True)


def run_plain_splink(records: pd.DataFrame, *, collapse: bool = False) -> pd.DataFrame:
    """The plain Splink script: same model, default connected-components clustering.

    With ``collapse``, records with identical standardised identities are scored once (as
    ``safeguard.linkage.link`` does): this variant isolates the cost of linkage's own clustering.
    """
    import numpy as np
    import pyarrow as pa

    from safeguard.linkage import LinkageConfig
    from safeguard.linkage.config import OPTIONAL_COLUMNS
    from safeguard.linkage.deterministic import collapse_identical
    from safeguard.linkage.model import (
        MODEL_COLUMNS,
        OPTIONAL_COMPARISONS,
        build_settings,
        train_linker,
    )
    from safeguard.linkage.standardise import standardise_records

    config = LinkageConfig()
    table = standardise_records(records, OPTIONAL_COLUMNS)
    rep = collapse_identical(table) if collapse else np.arange(len(table))
    reps = np.flatnonzero(rep == np.arange(len(table)))
    model_table = table.iloc[reps].reset_index(drop=True)
    model_table["unique_id"] = np.arange(len(reps))
    coverage = {c: float(model_table[c].notna().mean()) for c in OPTIONAL_COMPARISONS}
    db_api = config.backend.create_db_api()
    sdf = db_api.register(
        pa.Table.from_pandas(model_table[list(MODEL_COLUMNS)], preserve_index=False)
    )
    # the same Splink training calls as safeguard.linkage.link (train_linker is only Splink's API)
    linker, _ = train_linker(sdf, build_settings(coverage, config), config, model_table)
    # connected components only use pairs at or above the threshold: predict only those
    predictions = linker.inference.predict(
        threshold_match_probability=config.threshold_match_probability
    )
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=config.threshold_match_probability
    )
    ids = clusters.query_sql("SELECT unique_id, cluster_id FROM {this}").as_pandas_dataframe()
    cluster_of = ids.set_index("unique_id")["cluster_id"].astype(str)
    return pd.DataFrame(
        {
            "source": table["source"].to_numpy(),
            "record_key": table["record_key"].to_numpy(),
            "person_key": cluster_of.loc[np.searchsorted(reps, rep)].to_numpy(),
        }
    )


def _child(variant: str, records_path: Path, out_path: Path) -> None:
    records = pd.read_parquet(records_path)
    start = time.perf_counter()
    if variant.startswith("plain"):
        links = run_plain_splink(records, collapse=variant == "plain_collapsed")
    else:
        from safeguard import linkage

        links = linkage.link(records, keys=linkage.keyed(BENCH_SECRET))
    seconds = time.perf_counter() - start
    links.to_parquet(out_path)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"variant": variant, "seconds": seconds, "peak_mb": peak_mb}))


def _run_variant(variant: str, records_path: Path, out_path: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", variant, str(records_path), str(out_path)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _family_recovery(
    links: pd.DataFrame, events: pd.DataFrame, truth: Path, as_of: dt.date
) -> dict[str, float]:
    from safeguard.linkage import keyed
    from safeguard.linkage.addresses import resolve_addresses
    from safeguard.linkage.families import form_families
    from safeguard.linkage.quality import evaluate_families

    residence = events.merge(
        links[["source", "record_key", "person_key"]], on=["source", "record_key"]
    )
    residence["address_key"] = resolve_addresses(residence["address_line"], residence["postcode"])
    people_truth = pd.read_csv(truth / "people.csv", dtype=str)
    records_truth = pd.read_csv(truth / "records.csv", dtype=str)
    if "extract_date" in records_truth.columns:
        records_truth = records_truth[records_truth["extract_date"] == as_of.isoformat()]
    dob = pd.to_datetime(people_truth["dob"])
    birth = pd.DataFrame(
        {
            "true_person_id": people_truth["true_person_id"],
            "birth_month": dob.dt.to_period("M").dt.start_time,
        }
    )
    person_birth = (
        links.merge(records_truth, on=["source", "record_key"])
        .merge(birth, on="true_person_id")
        .groupby("person_key")["birth_month"]
        .agg(lambda s: s.mode().iloc[0])
        .reset_index()
    )
    families = form_families(residence, person_birth, as_of, keys=keyed(BENCH_SECRET))
    memberships = pd.read_csv(truth / "memberships.csv", dtype=str)
    return evaluate_families(families, links, records_truth, memberships, people_truth, as_of)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000, help="estate size to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop", type=Path, help="existing landing folder (skip generation)")
    parser.add_argument("--truth", type=Path, help="ground-truth folder of the estate")
    parser.add_argument("--quality", action="store_true", help="score links and families")
    parser.add_argument("--agency-ids", action="store_true", help="also pass agency person ids")
    parser.add_argument(
        "--variants",
        default="plain,plain_collapsed,linkage",
        help="comma-separated: plain (Splink on every record), plain_collapsed (Splink on "
        "distinct identities) and linkage (safeguard.linkage.link)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    work = Path(tempfile.mkdtemp(prefix="bench_linkage_"))
    try:
        _bench(args, work)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> None:
    if args.drop is None:
        from safeguard.synth import EstateConfig, generate_estate

        args.drop, args.truth = work / "landing", work / "truth"
        start = time.perf_counter()
        generate_estate(
            EstateConfig(people=args.people, seed=args.seed), out=args.drop, truth_out=args.truth
        )
        print(f"generated {args.people:,} people in {time.perf_counter() - start:.1f} s -> {work}")
    drop = newest_drop(args.drop)
    records, events = load_drop(drop, agency_ids=args.agency_ids)
    records_path = work / "records.parquet"
    records.to_parquet(records_path)
    print(f"{len(records):,} records from {drop}")

    variants = list(dict.fromkeys(args.variants.split(",")))
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for _ in range(args.repeat):  # alternate variants so that machine load hits all alike
        for variant in variants:
            r = _run_variant(variant, records_path, work / f"links_{variant}.parquet")
            runs[variant].append(r)
            print(f"{variant:16s} {r['seconds']:8.1f} s   peak {r['peak_mb']:8.0f} MB")
    best = {v: min(runs[v], key=lambda r: r["seconds"]) for v in variants}
    for base in ("plain", "plain_collapsed"):
        if base in best and "linkage" in best:
            ratio = best["linkage"]["seconds"] / best[base]["seconds"]
            mem = best["linkage"]["peak_mb"] / best[base]["peak_mb"]
            print(
                f"ratio linkage/{base} (fastest of {args.repeat}): time {ratio:.2f}x, "
                f"peak memory {mem:.2f}x (target <= 1.10x)"
            )

    if args.quality and args.truth is not None:
        from safeguard.linkage.quality import evaluate_links

        truth = pd.read_csv(args.truth / "records.csv", dtype=str)
        if "extract_date" in truth.columns:  # truth covers every drop; score the one linked
            truth = truth[truth["extract_date"] == drop.name]
        for variant in variants:
            links = pd.read_parquet(work / f"links_{variant}.parquet")
            s = evaluate_links(links, truth)
            print(
                f"{variant:16s} pairwise P {s.pairwise_precision:.4f} R {s.pairwise_recall:.4f} "
                f"F1 {s.pairwise_f1:.4f} | clusters P {s.cluster_precision:.4f} R {s.cluster_recall:.4f}"
                f" | wrong pairs {s.predicted_pairs - s.true_positive_pairs:,} of "
                f"{s.predicted_pairs:,} linked, {s.true_pairs:,} true"
            )
        if "linkage" not in variants:
            return
        links = pd.read_parquet(work / "links_linkage.parquet")
        as_of = dt.date.fromisoformat(drop.name) if drop.name[:4].isdigit() else dt.date.today()
        print("families", _family_recovery(links, events, args.truth, as_of))


if __name__ == "__main__":
    main()
