"""End-to-end linkage on a small noisy estate with planted hard cases."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import pytest
from linkage_fakes import FAST, KEYS, make_people, planted_records

from safeguard import linkage
from safeguard.linkage import LinkageConfig, LinkageInputError


def _keys(result: linkage.LinkageResult, prefix: str) -> pd.Series:
    links = result.links
    chosen = links[links["record_key"].str.startswith(prefix)]
    return chosen.set_index("record_key")["person_key"]


@pytest.mark.parametrize(
    "case", ["nick", "swap", "move", "nodob", "abroad-1|abroad-2", "upn", "nhs"]
)
def test_same_person_variants_link(estate_result, case: str) -> None:
    links = estate_result.links
    chosen = links[links["record_key"].str.match(rf"({case})")]
    assert len(chosen) >= 2
    assert chosen["person_key"].nunique() == 1, case


def test_twins_stay_two_people(estate_result) -> None:
    keys = _keys(estate_result, "twin-")
    assert keys["twin-1"] == keys["twin-2"]
    assert keys["twin-3"] == keys["twin-4"]
    assert keys["twin-1"] != keys["twin-3"]


def test_common_name_collision_stays_apart(estate_result) -> None:
    a, b = _keys(estate_result, "khanA-"), _keys(estate_result, "khanB-")
    assert a.nunique() == 1 and b.nunique() == 1  # each man is one person...
    assert set(a) != set(b)  # ...and they are two people


def test_one_bridging_record_does_not_chain_father_and_son(estate_result) -> None:
    father, son = _keys(estate_result, "chainF-"), _keys(estate_result, "chainS-")
    bridge = _keys(estate_result, "chain-bridge")
    assert father.nunique() == 1 and son.nunique() == 1
    assert set(father) != set(son)
    assert bridge.iloc[0] == father.iloc[0]  # it carries the father's NHS number
    assert estate_result.clustering["merges_refused"] >= 1


def test_invalid_nhs_number_is_not_a_deterministic_link(estate_result) -> None:
    keys = _keys(estate_result, "badnhs-")
    assert keys["badnhs-1"] != keys["badnhs-2"]


def test_non_uk_postcode_people_stay_apart(estate_result) -> None:
    keys = _keys(estate_result, "abroad-")
    assert keys["abroad-3"] != keys["abroad-1"]


def test_output_has_one_row_per_input_row_in_input_order(estate_records, estate_result) -> None:
    links = estate_result.links
    assert list(links.columns) == list(linkage.LINK_COLUMNS)
    assert len(links) == len(estate_records)
    assert links["record_key"].tolist() == estate_records["record_key"].tolist()
    assert links["person_key"].notna().all()
    sizes = links.groupby("person_key")["record_key"].transform("size")
    assert (links["cluster_size"] == sizes).all()
    assert links["linkage_confidence"].between(0, 1).all()


def test_estate_accuracy(estate_records, estate_result) -> None:
    scores = linkage.evaluate_links(estate_result.links, estate_records)
    assert scores.pairwise_precision >= 0.98
    assert scores.pairwise_recall >= 0.85


def test_rerun_on_shuffled_input_gives_the_same_keys(estate_records, estate_result) -> None:
    shuffled = estate_records.drop(columns="true_person_id").sample(frac=1.0, random_state=3)
    again = linkage.link(keys=KEYS, records=shuffled, config=FAST)
    before = estate_result.links.set_index(["source", "record_key"])["person_key"]
    after = again.set_index(["source", "record_key"])["person_key"]
    assert after.loc[before.index].tolist() == before.tolist()


def test_result_reports_threshold_model_and_distributions(estate_result) -> None:
    assert estate_result.clustering["model_trained"] == 1
    assert estate_result.threshold_match_probability == LinkageConfig().threshold_match_probability
    assert "expected pairwise precision" in estate_result.threshold_justification
    hist = estate_result.match_weight_histogram
    assert hist["pairs"].sum() == estate_result.clustering["scored_pairs"]
    dist = estate_result.cluster_size_distribution
    assert dist["records"].sum() == len(estate_result.links)
    names = {c["output_column_name"] for c in estate_result.model_settings["comparisons"]}
    assert {"first_name", "last_name", "dob", "address", "upn", "nhs_number"} <= names


def test_artefacts_hold_the_model_and_no_identities(estate_result) -> None:
    paths = estate_result.artefacts
    model = json.loads(paths["model"].read_text())
    assert model["comparisons"]
    for name in ("match_weights_chart", "waterfall_chart"):
        html = paths[name].read_text()
        assert "<html" in html.lower()
        for identity in ("Fotheringay", "fotheringay", "Quennell", "quennell", "NB7 7HH"):
            assert identity not in html


def test_missing_required_column_is_reported(estate_records) -> None:
    with pytest.raises(LinkageInputError, match="postcode"):
        linkage.link(keys=KEYS, records=estate_records.drop(columns=["postcode", "true_person_id"]))


def test_duplicate_record_keys_are_rejected(estate_records) -> None:
    doubled = pd.concat([estate_records.head(3), estate_records.head(1)])
    with pytest.raises(LinkageInputError, match="not unique"):
        linkage.link(keys=KEYS, records=doubled.drop(columns="true_person_id"))


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="threshold_match_probability"):
        LinkageConfig(threshold_match_probability=1.5)
    with pytest.raises(ValueError, match="must_link_on"):
        LinkageConfig(must_link_on=("passport",))
    with pytest.raises(TypeError, match="create_db_api"):
        LinkageConfig(backend=object())  # type: ignore[arg-type]


def test_empty_and_single_record_inputs() -> None:
    empty = planted_records().drop(columns="true_person_id").head(0)
    out = linkage.link(keys=KEYS, records=empty)
    assert list(out.columns) == list(linkage.LINK_COLUMNS) and out.empty
    one = linkage.link(keys=KEYS, records=planted_records().drop(columns="true_person_id").head(1))
    assert len(one) == 1 and one["cluster_size"].iloc[0] == 1


def test_a_small_table_uses_the_shipped_model_and_gets_the_planted_cases_right() -> None:
    planted = planted_records()
    result = linkage.link_with_details(keys=KEYS, records=planted.drop(columns="true_person_id"))
    assert result.clustering["model_trained"] == 0
    scores = linkage.evaluate_links(result.links, planted)
    assert scores.pairwise_precision == 1.0 and scores.cluster_recall == 1.0


class _SingleThreadDuckDB:
    """A backend defined outside the library: the seam a Spark backend will use."""

    name = "duckdb-1-thread"

    def __init__(self) -> None:
        self.calls = 0

    def create_db_api(self):
        self.calls += 1
        return linkage.DuckDBBackend(threads=1).create_db_api()


def test_backend_is_injected() -> None:
    backend = _SingleThreadDuckDB()
    planted = planted_records().drop(columns="true_person_id")
    links = linkage.link(keys=KEYS, records=planted, config=LinkageConfig(backend=backend))
    assert backend.calls == 1 and len(links) == len(planted)


def test_a_table_without_any_matches_falls_back_to_the_shipped_model() -> None:
    people = make_people(60, seed=5)  # one record per person: EM finds no matches to learn from
    records = pd.DataFrame(
        {
            "source": "a",
            "record_key": people["true_person_id"],
            "first_name": people["first_name"],
            "last_name": people["last_name"],
            "dob": people["dob"].astype(str),
            "address_line": people["address_line"],
            "postcode": people["postcode"],
        }
    )
    result = linkage.link_with_details(keys=KEYS, records=records, config=FAST)
    assert result.links["person_key"].nunique() == len(records)  # twins included: no merge
    assert result.clustering["model_trained"] == 0
    assert any("shipped model" in note for note in result.training_notes)


def _unkeyed(namespace: str, value: str) -> str:
    return hashlib.blake2b(f"{namespace}\x1f{value}".encode(), digest_size=8).hexdigest()


def test_person_keys_are_not_reversible_from_guessed_record_numbers(
    estate_result, estate_records: pd.DataFrame
) -> None:
    """The attack: hash every (source, record_key) an agency's numbering allows and match.

    Used here with the real record keys, the best guess an attacker could make: with an
    unkeyed hash every cluster's key is found; with the keyed function none is, and without
    the secret a guessed secret finds nothing either.
    """
    person_keys = set(estate_result.links["person_key"])
    guesses = [
        f"{s}\x1f{k}"
        for s, k in zip(estate_records["source"], estate_records["record_key"], strict=True)
    ]
    assert not person_keys & {
        hashlib.blake2b(g.encode(), digest_size=8).hexdigest() for g in guesses
    }
    assert not person_keys & {hashlib.sha256(g.encode()).hexdigest()[:16] for g in guesses}
    assert not person_keys & set(linkage.keyed(b"a guessed secret, not ours!")("person", guesses))
    assert person_keys <= set(KEYS("person", guesses))  # the holder of the secret can recompute


def test_family_keys_do_not_reveal_their_anchor() -> None:
    residence = pd.DataFrame(
        {"person_key": ["kid", "mum"], "address_key": ["A", "A"],
         "event_date": pd.to_datetime(["2025-01-01", "2025-01-01"]),
         "source": ["education", "housing"], "group_key": [None, None]}
    )  # fmt: skip
    people = pd.DataFrame(
        {"person_key": ["kid", "mum"], "birth_month": pd.to_datetime(["2015-01-01", "1985-01-01"])}
    )
    families = linkage.form_families(residence, people, dt.date(2026, 1, 1), keys=KEYS)
    family_key = families["family_key"].iloc[0]
    assert family_key not in {_unkeyed("family", p) for p in ("kid", "mum")}
    assert family_key == KEYS("family", ["kid"])[0]


def test_match_records_finds_a_misspelt_query_with_the_trained_model(
    estate_records, estate_result
) -> None:
    known = estate_records.drop(columns="true_person_id")
    queries = pd.DataFrame(
        {
            "source": "request",
            "record_key": ["typo", "stranger"],
            "first_name": ["Wiliam", "Zebedee"],  # William Ashdown, misspelt
            "last_name": ["Ashdown", "Nonesuch"],
            "dob": ["2011-05-14", "1950-01-01"],
            "address_line": ["4 Larch Row", "1 Nowhere Lane"],
            "postcode": ["NB3 4XY", "ZZ9 9ZZ"],
        }
    )
    pairs = linkage.match_records(queries, known, estate_result.model_settings, floor=0.5)
    assert tuple(pairs.columns) == linkage.MATCH_COLUMNS
    assert set(pairs["query_row"]) == {0}  # the stranger matches nobody
    found = set(known["record_key"].to_numpy()[pairs["known_row"].to_numpy()])
    assert found == {"nick-1", "nick-2"}  # Bill is a nickname of William: both records
    assert (pairs["match_probability"] >= 0.5).all()
    with pytest.raises(LinkageInputError, match="dob"):
        linkage.match_records(queries.drop(columns="dob"), known, estate_result.model_settings)
