"""A person's recorded value across agencies: the most frequent wins, ties by smallest value."""

import pandas as pd

from safeguard.pipelines.assets.linkage import modal_value


def test_most_frequent_value_wins_and_ties_are_deterministic() -> None:
    frame = pd.DataFrame(
        {
            "person_key": ["a", "a", "a", "b", "b", "c"],
            "ethnicity": ["WBRI", "BAFR", "BAFR", "WIRI", "APKN", None],
        }
    )
    result = modal_value(frame, "person_key", "ethnicity")
    assert result.to_dict() == {"a": "BAFR", "b": "APKN"}
    shuffled = modal_value(frame.sample(frac=1, random_state=3), "person_key", "ethnicity")
    assert shuffled.to_dict() == result.to_dict()


def test_a_person_with_no_recorded_value_gets_none() -> None:
    frame = pd.DataFrame({"person_key": ["c", "c"], "sex": [None, None]})
    assert modal_value(frame, "person_key", "sex").empty
