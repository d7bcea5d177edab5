"""The blocking objector check: computed on scores and flags before anything is published."""

from __future__ import annotations

import pandas as pd

from safeguard.pipelines.objections import OBJECTOR_CHECK, objector_check
from safeguard.pipelines.resources import Warehouse


def test_an_objectors_family_in_scores_or_flags_fails_the_check(tmp_path):
    warehouse = Warehouse(data_dir=str(tmp_path))
    warehouse.write_table(
        "identity_vault",
        pd.DataFrame({"source": ["objections", "police"], "person_key": ["p1", "p2"]}),
        vault=True,
    )
    # p1 was in family f1 in an earlier spell only: every spell counts.
    families = pd.DataFrame({"person_key": ["p1", "p2"], "family_key": ["f1", "f2"]})
    scores = pd.DataFrame({"family_key": ["f1", "f2"]})
    flags = pd.DataFrame({"family_key": ["f1"]})

    failed = objector_check(warehouse, families, scores, flags)
    assert failed.check_name == OBJECTOR_CHECK and not failed.passed
    assert failed.metadata["flagged_objector_families"].value == 1
    assert "p1" not in str(failed.metadata) and "f1" not in str(failed.metadata)

    clean = objector_check(warehouse, families, scores.iloc[1:], flags.iloc[:0])
    assert clean.passed
