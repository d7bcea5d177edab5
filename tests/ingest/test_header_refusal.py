"""Finding 3: a file without its header row is refused whole, and no cell is ever logged.

Before the fix the first data row became the "column names": its cells (a nationality, an
immigration status, an officer's note) were written to firewall_log and copied from there
into the review pack and the DPIA report.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safeguard.dpia.firewall import header_refusal, looks_like_value
from safeguard.ingest.reader import read_file, row_accounting_frame

POLICE_WITH_EXTRAS = [
    "involvement_id", "incident_ref", "person_ref", "first_name", "last_name", "dob", "sex",
    "nationality", "address_line", "postcode", "immigration_status", "role", "incident_type",
    "incident_date", "dash_risk", "officer_notes",
]  # fmt: skip
FIRST_ROW = [
    "INV00000018", "INC00000018", "P00000018", "Paulo", "Kingswell", "1990-04-02", "M",
    "Syrian", "137 Park Gdns", "NB8 3HB", "Overstayer", "suspect", "violence", "2020-11-01", "",
    "Report of assault; Paulo Kingswell involved, CCTV requested",
]  # fmt: skip


def _everything_written(result) -> str:
    frames = [result.quarantine, result.firewall_log, row_accounting_frame([result])]
    return " ".join(frame.astype("string").to_csv() for frame in frames) + (result.refused or "")


def test_headerless_police_file_is_refused_whole_without_quoting_a_cell(
    tmp_path, drop_tools, contract, caplog
):
    second = [v.replace("18", "19") for v in FIRST_ROW]
    drop = drop_tools.make_drop(tmp_path, files={"police": (FIRST_ROW, [second, second])})
    with caplog.at_level(logging.DEBUG):
        result = read_file(drop, "police", contract)

    assert result.refused and "not a header row" in result.refused
    assert result.accounting.rows_read == 3 == result.accounting.rows_quarantined
    assert result.accepted.empty and result.firewall_log.empty
    assert result.quarantine.row_number.tolist() == [1, 2, 3]
    assert set(result.quarantine.rule) == {"header"}
    written = _everything_written(result) + caplog.text
    for cell in ("Syrian", "Overstayer", "Kingswell", "CCTV", "INV00000018", "1990-04-02"):
        assert cell not in written, cell


def test_a_real_header_is_never_refused(tmp_path, drop_tools, contract):
    rows = [dict(zip(POLICE_WITH_EXTRAS, FIRST_ROW, strict=True))]
    drop = drop_tools.make_drop(tmp_path, files={"police": (POLICE_WITH_EXTRAS, rows)})
    result = read_file(drop, "police", contract)
    assert result.refused is None and result.accounting.rows_accepted == 1
    dropped = dict(zip(result.firewall_log.column, result.firewall_log.action, strict=True))
    assert dropped == {
        "nationality": "dropped_prohibited",
        "immigration_status": "dropped_prohibited",
        "officer_notes": "dropped_undeclared",
    }


def test_undeclared_header_shaped_like_a_value_is_never_logged_by_name(
    tmp_path, drop_tools, contract
):
    header = [*contract.sources["police"].columns, "2011-03-04", "NB1 2AB", "a@b.example"]
    rows = [drop_tools.valid_row(contract, "police", 0)]
    drop = drop_tools.make_drop(tmp_path, files={"police": (header, rows)})
    result = read_file(drop, "police", contract)
    assert result.refused is None
    logged = " ".join(result.firewall_log.column)
    assert "2011" not in logged and "NB1" not in logged and "@" not in logged
    assert list(result.firewall_log.action) == ["dropped_undeclared"] * 3


def test_value_shapes():
    for value in ("2011-03-04", "04/03/2011", "INV00000018", "NB8 3EJ", "12.5", "a@b.c"):
        assert looks_like_value(value), value
    for name in ("first_name", "address_line2", "q1_total", "Date of Birth", "dob"):
        assert not looks_like_value(name), name


SOURCES = ["social_care", "education", "housing", "police", "revenues_benefits", "workers",
           "objections", "areas"]  # fmt: skip
# Cells a producer might have in a first data row: words (even declared column names: a value
# can coincide with one), dates, ids, free text with separators.
cells = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
    st.sampled_from(["role", "sex", "dob", "upn", "British", "victim", "M", "Y", ""]),
    st.builds(lambda d, f: d.strftime(f), st.dates(), st.sampled_from(["%Y-%m-%d", "%d/%m/%Y"])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(SOURCES), n_rows=st.integers(1, 4), data=st.data())
def test_property_headerless_files_are_refused_and_quote_nothing(
    drop_tools, contract, source, n_rows, data
):
    spec = contract.file_spec(source)
    rows = [list(drop_tools.valid_row(contract, source, i).values()) for i in range(n_rows)]
    # The first row is a real data row, with some cells replaced by arbitrary text.
    first = [data.draw(cells) if data.draw(st.booleans()) else value for value in rows[0]]
    marker_rows = [first, *rows[1:]]
    with tempfile.TemporaryDirectory() as folder:
        drop = drop_tools.make_drop(Path(folder), files={source: (first, marker_rows[1:])})
        result = read_file(drop, source, contract)
    written = _everything_written(result)
    accounted = result.accounting
    assert accounted.rows_read == accounted.rows_accepted + accounted.rows_quarantined
    if result.refused is not None:
        assert accounted.rows_read == n_rows and accounted.rows_accepted == 0
        for cell in first:
            # A cell may be quoted only if it is also ordinary reason text (e.g. "M", "").
            if len(cell.strip()) >= 4:
                assert cell.strip() not in written.replace(result.refused, ""), cell
        assert result.firewall_log.empty
    else:
        # Not refused: then the first row really does read as this file's header, and every
        # field it logs by name is a name, not a value.
        assert (
            header_refusal(first, list(spec.columns), contract.prohibited, spec.key_column) is None
        )
        for name in result.firewall_log.column:
            assert not looks_like_value(name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(SOURCES),
    style=st.sampled_from([str, str.upper, str.title, lambda c: f" {c.replace('_', ' ')} "]),
    extra=st.lists(
        st.sampled_from(["officer_notes", "shoe size", "Q1 total", "nationality"]),
        max_size=3,
        unique=True,
    ),
    shuffle=st.randoms(use_true_random=False),
)
def test_property_real_headers_are_never_refused(
    drop_tools, contract, source, style, extra, shuffle
):
    columns = [*contract.file_spec(source).columns, *extra]
    shuffle.shuffle(columns)
    header = [style(c) for c in columns]
    rows = [drop_tools.valid_row(contract, source, i) for i in range(3)]
    with tempfile.TemporaryDirectory() as folder:
        drop = drop_tools.make_drop(Path(folder), files={source: (header, [])})
        drop_tools.write_csv(
            drop.path / contract.file_spec(source).file,
            header,
            [[row.get(c, "x") for c in columns] for row in rows],
        )
        result = read_file(drop, source, contract)
    assert result.refused is None
    assert result.accounting.rows_read == 3 == result.accounting.rows_accepted
