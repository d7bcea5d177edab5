"""Model pieces that estimate instead of assuming: swap level, rare levels, u without matches."""

from __future__ import annotations

import logging

import duckdb
import pandas as pd
import pytest
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator
from splink.internals.dialects import SplinkDialect

from safeguard.linkage.model import (
    SwappedNamesLevel,
    _chosen_max_pairs,
    _collapsed_level,
    settle_rare_levels,
)


@pytest.mark.parametrize(
    ("right", "swapped"),
    [(("smith", "john"), True), (("smiht", "jon"), True), (("smith", "jane"), False),
     (("john", "smith"), False)],
)  # fmt: skip
def test_the_swap_level_tolerates_typos(right: tuple[str, str], swapped: bool) -> None:
    sql = SwappedNamesLevel().create_sql(SplinkDialect.from_string("duckdb"))
    query = (
        "SELECT " + sql + " FROM (SELECT 'john' AS first_name_l, 'smith' AS last_name_l, "
        f"'{right[0]}' AS first_name_r, '{right[1]}' AS last_name_r)"
    )
    assert duckdb.sql(query).fetchall()[0][0] is swapped


def _linker() -> tuple[Linker, object]:
    db_api = DuckDBAPI()
    sdf = db_api.register(pd.DataFrame({"unique_id": range(4), "a": ["x", "x", "y", "z"]}))
    settings = SettingsCreator(
        link_type="dedupe_only",
        probability_two_random_records_match=0.01,
        comparisons=[
            cl.CustomComparison(
                output_column_name="a",
                comparison_levels=[
                    cll.NullLevel("a"),
                    cll.ExactMatchLevel("a").configure(m_probability=0.9, u_probability=0.02),
                    cll.CustomLevel("a_l || a_r = 'yz'").configure(
                        m_probability=1e-30, u_probability=0.01
                    ),
                    cll.ElseLevel().configure(m_probability=0.1, u_probability=0.97),
                ],
            )
        ],
    )
    return Linker(sdf, settings), sdf


def test_sampled_matches_leave_u_and_no_m_is_below_half_a_match() -> None:
    linker, sdf = _linker()
    settled, raised = settle_rare_levels(linker, sdf, sampled=1e6, n=100)
    levels = settled.misc.save_model_to_json()["comparisons"][0]["comparison_levels"]
    exact, rare, other = levels[1], levels[2], levels[3]
    assert exact["u_probability"] == pytest.approx((0.02 - 0.01 * 0.9) / 0.99)
    assert other["u_probability"] == pytest.approx((0.97 - 0.01 * 0.1) / 0.99)
    half_a_match = 0.5 / (0.01 * 100 * 99 / 2)
    assert rare["m_probability"] == pytest.approx(half_a_match / (1 + half_a_match), rel=1e-6)
    assert raised == [f"a: {rare['label_for_charts']}"]


def test_the_level_em_collapsed_is_read_from_splinks_traceback() -> None:
    class Level:
        label_for_charts = "Given and family names swapped"

    def populate_m_u_from_lookup(cl: object, output_column_name: str) -> None:
        raise ValueError("m_probability value 0.0 is below the minimum allowed value")

    with pytest.raises(ValueError) as caught:
        populate_m_u_from_lookup(Level(), "first_name")
    assert _collapsed_level(caught.value) == ("first_name", "Given and family names swapped")
    assert _collapsed_level(ValueError("elsewhere")) is None


def test_splinks_default_max_pairs_warning_is_dropped_only_around_our_chosen_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # LinkageConfig.u_max_pairs (1e6) is chosen (docs/DESIGN.md, Linkage), but equals Splink's
    # default, on which Splink warns that it "may be too small". Only that message is dropped,
    # only inside the context, and any other warning of that logger still comes through.
    from safeguard.linkage.config import LinkageConfig

    assert LinkageConfig().u_max_pairs == 1e6
    log = logging.getLogger("splink.internals.linker_components.training")
    message = "You are using the default value for `max_pairs`, which may be too small"
    with caplog.at_level(logging.WARNING, logger=log.name):
        with _chosen_max_pairs():
            log.warning(message)
            log.warning("another warning")
        log.warning(message)
    seen = [r.getMessage() for r in caplog.records]
    assert seen == ["another warning", message]
