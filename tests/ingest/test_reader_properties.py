"""Property tests: every row is accounted for, with the right rule, whatever the mix of rows."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safeguard.ingest.reader import read_file

# mutation -> (column changed, new value, expected rule); None = the row stays valid
MUTATIONS = {
    "valid": None,
    "missing_required": ("incident_date", "", "required"),
    "bad_date": ("incident_date", "2024-02-30", "type"),
    "bad_enum": ("incident_type", "Domestic Abuse", "enum"),
    "bad_protected_enum": ("sex", "IDMARK-sex", "enum"),
    "bad_identity_date": ("dob", "IDMARK-dob", "type"),
    "duplicate_key": ("involvement_id", "INV000000", "duplicate_key"),
    "short_row": (None, None, "row_shape"),
    "long_row": (None, None, "row_shape"),
}

layouts = st.fixed_dictionaries(
    {
        "bom": st.booleans(),
        "line_ending": st.sampled_from(["\n", "\r\n"]),
        "shuffle": st.randoms(use_true_random=False),
        "header_style": st.sampled_from([str, str.upper, lambda c: f" {c.title()} "]),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.sampled_from(sorted(MUTATIONS)), max_size=30), layout=layouts)
def test_rows_read_equals_accepted_plus_quarantined(drop_tools, contract, mutations, layout):
    columns = list(contract.sources["police"].columns)
    layout["shuffle"].shuffle(columns)
    header = [layout["header_style"](c) for c in columns]
    rows = [[drop_tools.valid_row(contract, "police", 0)[c] for c in columns]]
    expected: dict[int, str | None] = {1: None}
    for number, mutation in enumerate(mutations, start=2):
        row = drop_tools.valid_row(
            contract, "police", number, first_name="IDMARK-first", last_name="IDMARK-last"
        )
        change = MUTATIONS[mutation]
        values = [row[c] for c in columns]
        if mutation == "short_row":
            values = values[:-2]
        elif mutation == "long_row":
            values = [*values, "IDMARK-extra"]
        elif change is not None:
            values[columns.index(change[0])] = change[1]
        rows.append(values)
        expected[number] = change[2] if change else None

    with tempfile.TemporaryDirectory() as folder:
        drop = drop_tools.make_drop(Path(folder), files={"police": (header, rows)})
        drop_tools.write_csv(
            drop.path / "police.csv", header, rows,
            bom=layout["bom"], line_ending=layout["line_ending"],
        )  # fmt: skip
        result = read_file(drop, "police", contract)

    accounting = result.accounting
    assert accounting.rows_read == len(rows)
    assert accounting.rows_read == accounting.rows_accepted + accounting.rows_quarantined
    assert len(result.quarantine) == accounting.rows_quarantined
    quarantined = dict(zip(result.quarantine.row_number, result.quarantine.rule, strict=True))
    accepted = result.accepted.row_number.tolist()
    assert sorted([*quarantined, *accepted]) == list(range(1, len(rows) + 1))
    assert quarantined == {n: rule for n, rule in expected.items() if rule is not None}
    assert "IDMARK" not in " ".join(result.quarantine.reason.tolist())
