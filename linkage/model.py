"""The Splink model: comparisons, training and scoring of candidate pairs.

The comparisons are built for people records from public-sector systems: names with
nicknames and transliterations, dates of birth with day/month transpositions, addresses that
change when people move, and identifiers that are often missing.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.database_api import DatabaseAPISubClass
from splink.internals.splink_dataframe import SplinkDataFrame

from linkage.config import LinkageConfig

__all__ = [
    "GIVEN_NAME_DISAGREEMENT_M",
    "MODEL_COLUMNS",
    "OPTIONAL_COMPARISONS",
    "build_settings",
    "comparisons_for",
    "default_model",
    "em_failed",
    "score_pairs",
    "train_linker",
    "untrained_linker",
]

#: Columns of the standardised table that Splink sees (identities only, no record keys).
MODEL_COLUMNS = (
    "unique_id",
    "source",
    "first_name",
    "first_name_variants",
    "last_name",
    "last_name_variants",
    "dob",
    "dob_swap",
    "address_line",
    "postcode",
    "postcode_sector",
    "postcode_district",
    "sex",
    "upn",
    "nhs_number",
    "agency_id",
)

#: m probability fixed for "given and family names swapped": too rare for EM to learn (it
#: drives the m of a level with no matches in the sample to zero, which Splink rejects).
RARE_LEVEL_M = 1e-3

#: Optional identifiers that become comparisons when enough records have them.
OPTIONAL_COMPARISONS = ("sex", "upn", "nhs_number")

#: m probability fixed for "given names share nothing". EM would learn a mild penalty,
#: because under its independence assumption the agreement of household members on
#: surname, address and (for twins) date of birth looks like strong evidence. Fixing the
#: disagreement at -13 bits makes a different given name decisive unless a strong identifier
#: agrees: twins and siblings stay apart.
GIVEN_NAME_DISAGREEMENT_M = 1e-4


def _given_name() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_description="Given name: exact, nickname or transliteration, typo",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
            cll.ArrayIntersectLevel("first_name_variants", 1).configure(
                label_for_charts="Nickname, transliteration or shared name part"
            ),
            cll.LevenshteinLevel("first_name", 1),
            cll.JaroWinklerLevel("first_name", 0.9),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True).configure(
                label_for_charts="Given and family names swapped",
                m_probability=RARE_LEVEL_M,
                fix_m_probability=True,
            ),
            cll.ElseLevel().configure(
                m_probability=GIVEN_NAME_DISAGREEMENT_M, fix_m_probability=True
            ),
        ],
    )


def _family_name() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="last_name",
        comparison_description="Family name: exact, typo, shared part of a double-barrelled name",
        comparison_levels=[
            cll.NullLevel("last_name"),
            cll.ExactMatchLevel("last_name").configure(tf_adjustment_column="last_name"),
            cll.LevenshteinLevel("last_name", 1),
            cll.JaroWinklerLevel("last_name", 0.9),
            cll.ArrayIntersectLevel("last_name_variants", 1).configure(
                label_for_charts="Spelling variant or shared part of a multi-part name"
            ),
            cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True).configure(
                label_for_charts="Given and family names swapped",
                m_probability=RARE_LEVEL_M,
                fix_m_probability=True,
            ),
            cll.ElseLevel(),
        ],
    )


def _date_of_birth() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="dob",
        comparison_description="Date of birth: exact, day/month swapped, one-digit typo",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel("dob_swap_l = dob_r").configure(
                label_for_charts="Day and month swapped"
            ),
            cll.LevenshteinLevel("dob", 1),
            cll.CustomLevel(
                "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND "
                "(substr(dob_l, 6, 5) = '01-01' OR substr(dob_r, 6, 5) = '01-01')"
            ).configure(label_for_charts="Same year, one is 1 January (a default date)"),
            cll.AbsoluteDateDifferenceLevel(
                "dob", threshold=1, metric="year", input_is_string=True
            ),
            cll.ElseLevel(),
        ],
    )


def _address() -> cl.CustomComparison:
    # One comparison for postcode and address line together: both describe the same fact
    # (where the person lives), and scoring them separately would count it twice.
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="Address: same address, same postcode, same street, same sector",
        comparison_levels=[
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("address_line")),
            cll.And(
                cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address_line", 0.9)
            ).configure(label_for_charts="Same address and postcode"),
            cll.ExactMatchLevel("postcode").configure(label_for_charts="Same postcode"),
            cll.And(cll.JaroWinklerLevel("address_line", 0.9), cll.NullLevel("postcode")).configure(
                label_for_charts="Same address line, postcode missing"
            ),
            cll.JaroWinklerLevel("address_line", 0.9).configure(
                label_for_charts="Same address line, different postcode"
            ),
            cll.ExactMatchLevel("postcode_sector").configure(
                label_for_charts="Same postcode sector"
            ),
            cll.LevenshteinLevel("postcode", 1).configure(label_for_charts="Postcode typo"),
            cll.ExactMatchLevel("postcode_district").configure(
                label_for_charts="Same postcode district"
            ),
            cll.ElseLevel(),
        ],
    )


def _exact_identifier(column: str) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=column,
        comparison_description=f"{column}: equal or different",
        comparison_levels=[
            cll.NullLevel(column),
            cll.ExactMatchLevel(column),
            cll.ElseLevel(),
        ],
    )


def comparisons_for(
    coverage: dict[str, float], min_optional_coverage: float
) -> list[ComparisonCreator | dict[str, Any]]:
    """The comparisons for a table, given the share of records holding each optional column.

    An optional column that almost nobody has cannot be trained (EM would see no pairs in
    its levels), so it is left out rather than scored with default guesses.
    """
    comparisons: list[ComparisonCreator | dict[str, Any]] = [
        _given_name(),
        _family_name(),
        _date_of_birth(),
        _address(),
    ]
    for column in OPTIONAL_COMPARISONS:
        if coverage.get(column, 0.0) >= min_optional_coverage:
            comparisons.append(_exact_identifier(column))
    return comparisons


def build_settings(coverage: dict[str, float], config: LinkageConfig) -> SettingsCreator:
    """Splink settings for deduplicating the standardised table of all sources."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons_for(coverage, config.min_optional_coverage),
        blocking_rules_to_generate_predictions=[CustomRule(rule) for rule in config.blocking_rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
    )


def train_linker(
    records: SplinkDataFrame, settings: SettingsCreator, config: LinkageConfig
) -> tuple[Linker, list[str]]:
    """Train the model on the registered standardised records (prior, u by sampling, m by EM).

    Two EM sessions are used so that every comparison is trained once while it is not the
    blocking field: blocking on date of birth trains names and address; blocking on the
    names trains date of birth and address.

    Returns the linker and notes on anything that could not be estimated. Two situations
    are handled rather than fatal, because they depend on the data and not on a mistake:
    no exact name-and-dob agreements to estimate the prior from (Splink's default prior is
    kept; EM re-estimates it), and an EM session in which a probability collapses to zero
    (a rare level never occurs among matches, or the sample holds no matches at all) and
    Splink refuses it (that session's estimates are discarded). If no EM session succeeds, the caller should use
    the shipped model instead (the returned notes say so).
    """
    notes: list[str] = []
    linker = Linker(records, settings, log_level=logging.WARNING)
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first_name", "last_name", "dob")], recall=0.8
        )
    except ZeroDivisionError:
        notes.append(
            "prior: no exact name-and-dob agreements to estimate it from; Splink's default kept"
        )
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed)
    for name, rule in (("dob", block_on("dob")), ("names", block_on("first_name", "last_name"))):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=config.em_max_pairs, estimate_without_term_frequencies=True
            )
        except ValueError as err:
            # Splink's messages when EM drives a probability to zero: an m probability
            # (a level never seen among matches) or the prior (no matches in the sample).
            if "below the minimum allowed value" not in str(err) and str(err) != (
                "math domain error"
            ):
                raise
            notes.append(
                f"EM blocked on {name}: a probability collapsed to zero (no matches, or a "
                "level never seen among matches); this session's estimates were discarded"
            )
    return linker, notes


def em_failed(notes: list[str]) -> bool:
    """True when every EM session of :func:`train_linker` was discarded."""
    return sum(note.startswith("EM blocked on") for note in notes) == 2


def default_model(config: LinkageConfig, sql_dialect: str = "duckdb") -> dict[str, Any]:
    """The shipped model, for tables too small to train on (see ``min_identities_to_train``).

    ``data/default_model.json`` holds the m and u probabilities trained by this module on
    the project's 20,000-person synthetic estate (no personal data: only probabilities).
    Only the probabilities and the prior are taken from it: the comparisons are rebuilt by
    :func:`build_settings` in ``sql_dialect``, because the JSON's SQL is DuckDB's (double-quoted
    columns, which Spark reads as string literals; ``list_intersect``). Term-frequency
    adjustments are dropped (name frequencies in a table of a few dozen records say nothing
    about how common a name is), and the blocking rules are the configured ones.
    """
    text = resources.files("linkage").joinpath("data/default_model.json").read_text("utf-8")
    shipped: dict[str, Any] = json.loads(text)
    trained = {c["output_column_name"]: c for c in shipped["comparisons"]}
    coverage = {column: float(column in trained) for column in OPTIONAL_COMPARISONS}
    model = build_settings(coverage, config).create_settings_dict(sql_dialect)
    model["probability_two_random_records_match"] = shipped["probability_two_random_records_match"]
    for comparison in model["comparisons"]:
        levels = trained[comparison["output_column_name"]]["comparison_levels"]
        if len(levels) != len(comparison["comparison_levels"]):
            raise ValueError(
                "linkage/data/default_model.json does not match linkage.model's comparison "
                f"{comparison['output_column_name']!r}: retrain and save the shipped model"
            )
        for level, trained_level in zip(comparison["comparison_levels"], levels, strict=True):
            level.pop("tf_adjustment_column", None)  # a small table's name frequencies mean nothing
            level.pop("tf_adjustment_weight", None)
            for key in ("m_probability", "u_probability"):
                if trained_level.get(key) is not None:
                    level[key] = trained_level[key]
    return model


def untrained_linker(records: SplinkDataFrame, config: LinkageConfig) -> Linker:
    """A linker on ``records`` with the shipped model's parameters (no training)."""
    dialect = records.db_api.sql_dialect.sql_dialect_str
    return Linker(records, default_model(config, dialect), log_level=logging.WARNING)


def predictions_to_edges(
    predictions: SplinkDataFrame | None, min_probability: float | None = None
) -> pd.DataFrame:
    """Pull scored pairs into pandas: ids, probability and weight only (no identities).

    ``min_probability`` keeps only the pairs at or above it (the candidate links; the rest
    stay in the database). ``None`` predictions (nothing was scored) give an empty table.
    """
    if predictions is None:
        return pd.DataFrame(
            {
                "unique_id_l": pd.Series(dtype="int64"),
                "unique_id_r": pd.Series(dtype="int64"),
                "match_probability": pd.Series(dtype="float64"),
                "match_weight": pd.Series(dtype="float64"),
            }
        )
    where = "" if min_probability is None else f" WHERE match_probability >= {min_probability}"
    edges = predictions.query_sql(
        "SELECT unique_id_l, unique_id_r, match_probability, match_weight FROM {this}" + where
    ).as_pandas_dataframe()
    return edges.astype(
        {
            "unique_id_l": "int64",
            "unique_id_r": "int64",
            "match_probability": "float64",
            "match_weight": "float64",
        }
    )


def score_pairs(linker: Linker, db_api: DatabaseAPISubClass, pairs: pd.DataFrame) -> pd.DataFrame:
    """Score given record pairs (``unique_id_l < unique_id_r``) with the trained model.

    Used to complete the evidence inside a cluster: pairs that no blocking rule brought
    together still carry information (a strong mismatch is a reason not to merge).
    """
    if pairs.empty:
        return predictions_to_edges(None)
    blocked: dict[str, Any] = {
        "match_key": ["0"] * len(pairs),
        "join_key_l": pairs["unique_id_l"].to_numpy(),
        "join_key_r": pairs["unique_id_r"].to_numpy(),
    }
    sdf = db_api.register(pd.DataFrame(blocked))
    linker.table_management.register_blocked_pairs_for_predict(sdf)
    predictions = linker.inference.predict(warning_mode="never")
    edges = predictions_to_edges(predictions)
    predictions.drop_table_from_database_and_remove_from_cache()
    return edges
