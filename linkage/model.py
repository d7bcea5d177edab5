"""The Splink model: comparisons, training and scoring of candidate pairs.

The comparisons are built for people records from public-sector systems: names with
nicknames and transliterations, dates of birth with day/month transpositions, addresses that
change when people move, and identifiers that are often missing.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.column_expression import ColumnExpression
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.database_api import DatabaseAPISubClass
from splink.internals.dialects import SplinkDialect
from splink.internals.splink_dataframe import SplinkDataFrame

from safeguard.linkage.blocking import (
    comparison_distributions,
    expected_coverage,
    null_shares,
    rule_events,
)
from safeguard.linkage.config import LinkageConfig

__all__ = [
    "LOOSE_NAME_SIMILARITY",
    "MODEL_COLUMNS",
    "NAME_SIMILARITY",
    "OPTIONAL_COMPARISONS",
    "PRIOR_RULE",
    "NameInOtherFieldLevel",
    "SwappedNamesLevel",
    "build_settings",
    "comparisons_for",
    "default_model",
    "em_failed",
    "score_pairs",
    "settle_rare_levels",
    "train_linker",
    "trained_comparisons",
    "untrained_linker",
    "with_rules",
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
    "address_key",
    "postcode",
    "postcode_sector",
    "postcode_district",
    "sex",
    "upn",
    "nhs_number",
    "agency_id",
)

#: Optional identifiers that become comparisons when enough records have them.
OPTIONAL_COMPARISONS = ("sex", "upn", "nhs_number")

#: Jaro-Winkler similarity above which two spellings count as "the same name with a typo"
#: (Splink's own name comparisons use 0.88-0.92); the name-swap level uses it crosswise.
NAME_SIMILARITY = 0.9

#: The lowest grade of name similarity, Splink's own default for its name comparison (0.7):
#: two corrupted spellings of one name often share little more than their first letters.
LOOSE_NAME_SIMILARITY = 0.7


class SwappedNamesLevel(ComparisonLevelCreator):
    """Given and family names written the other way round, typos tolerated.

    ``first_name_l`` resembles ``last_name_r`` and ``last_name_l`` resembles ``first_name_r``
    (Jaro-Winkler at least ``threshold``, which includes equality). Written with the
    dialect's own Jaro-Winkler function, so it runs on every Splink backend.
    """

    def __init__(self, threshold: float = NAME_SIMILARITY) -> None:
        self.threshold = threshold
        self.first = ColumnExpression.instantiate_if_str("first_name")
        self.last = ColumnExpression.instantiate_if_str("last_name")

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        self.first.sql_dialect = sql_dialect
        self.last.sql_dialect = sql_dialect
        jw = sql_dialect.jaro_winkler_function_name
        first, last, t = self.first, self.last, self.threshold
        return (
            f"{jw}({first.name_l}, {last.name_r}) >= {t} AND "
            f"{jw}({last.name_l}, {first.name_r}) >= {t}"
        )

    def create_label_for_charts(self) -> str:
        return "Given and family names swapped (typos tolerated)"


class NameInOtherFieldLevel(SwappedNamesLevel):
    """One record's family name written in the other's given-name field (either way).

    A form filled in the wrong order, or a family name keyed twice; the given name itself
    is then lost. EM learns how much it is worth on each data set.
    """

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        self.first.sql_dialect = sql_dialect
        self.last.sql_dialect = sql_dialect
        jw = sql_dialect.jaro_winkler_function_name
        first, last, t = self.first, self.last, self.threshold
        return (
            f"{jw}({first.name_l}, {last.name_r}) >= {t} OR "
            f"{jw}({last.name_l}, {first.name_r}) >= {t}"
        )

    def create_label_for_charts(self) -> str:
        return "Family name in the given-name field (one way)"


def _given_name() -> cl.CustomComparison:
    # Every level is learned by EM, the disagreement too: what a different given name is
    # worth depends on how often a data set corrupts or omits names. Family members who
    # share everything else are kept apart by the cannot-link tie-breaker
    # (safeguard.linkage.clustering), not by a penalty fixed in advance.
    return cl.CustomComparison(
        output_column_name="first_name",
        comparison_description="Given name: exact, nickname or transliteration, typo, swap",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
            cll.ArrayIntersectLevel("first_name_variants", 1).configure(
                label_for_charts="Nickname, transliteration or shared name part"
            ),
            cll.DamerauLevenshteinLevel("first_name", 1),
            cll.JaroWinklerLevel("first_name", NAME_SIMILARITY),
            SwappedNamesLevel(),
            NameInOtherFieldLevel(),
            cll.JaroWinklerLevel("first_name", LOOSE_NAME_SIMILARITY).configure(
                label_for_charts="Given names loosely similar"
            ),
            cll.ElseLevel(),
        ],
    )


def _family_name() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="last_name",
        comparison_description="Family name: exact, typo, shared part of a double-barrelled name",
        comparison_levels=[
            cll.NullLevel("last_name"),
            cll.ExactMatchLevel("last_name").configure(tf_adjustment_column="last_name"),
            cll.DamerauLevenshteinLevel("last_name", 1),
            cll.JaroWinklerLevel("last_name", NAME_SIMILARITY),
            cll.ArrayIntersectLevel("last_name_variants", 1).configure(
                label_for_charts="Spelling variant or shared part of a multi-part name"
            ),
            SwappedNamesLevel(),
            cll.JaroWinklerLevel("last_name", LOOSE_NAME_SIMILARITY).configure(
                label_for_charts="Family names loosely similar"
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


def _address(uk_postcodes: bool) -> cl.CustomComparison:
    # One comparison for postcode and address line together: both describe the same fact
    # (where the person lives), and scoring them separately would count it twice. The line
    # is graded: the same words in any order (address_key), then Jaro-Winkler on the line
    # as written (address_line, not sorted: sorting moves a typo'd word and lowers the
    # similarity of true pairs). Sector and district levels exist only for tables with UK
    # postcodes: elsewhere they can never occur, and a level that never occurs keeps
    # Splink's u sampling from stopping early.
    levels = [
        cll.And(cll.NullLevel("postcode"), cll.NullLevel("address_key")),
        cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("address_key")).configure(
            label_for_charts="Same address words and postcode"
        ),
        cll.And(
            cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address_line", 0.9)
        ).configure(label_for_charts="Same postcode, address spelt slightly differently"),
        cll.ExactMatchLevel("postcode").configure(label_for_charts="Same postcode"),
        cll.ExactMatchLevel("address_key").configure(
            label_for_charts="Same address words, postcode differs or missing"
        ),
        cll.JaroWinklerLevel("address_line", 0.9).configure(
            label_for_charts="Similar address line, postcode differs or missing"
        ),
    ]
    if uk_postcodes:
        levels.append(
            cll.ExactMatchLevel("postcode_sector").configure(
                label_for_charts="Same postcode sector"
            )
        )
    levels += [
        cll.LevenshteinLevel("postcode", 1).configure(label_for_charts="Postcode typo"),
        cll.JaroWinklerLevel("address_line", 0.75).configure(
            label_for_charts="Address line loosely similar"
        ),
    ]
    if uk_postcodes:
        levels.append(
            cll.ExactMatchLevel("postcode_district").configure(
                label_for_charts="Same postcode district"
            )
        )
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(
        output_column_name="address",
        comparison_description="Address: graded address line, postcode, sector, district",
        comparison_levels=levels,
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

    ``coverage`` may also give the share with a UK postcode (``postcode_district``); the
    sector and district levels are left out below ``min_optional_coverage``.

    An optional column that almost nobody has cannot be trained (EM would see no pairs in
    its levels), so it is left out rather than scored with default guesses.
    """
    comparisons: list[ComparisonCreator | dict[str, Any]] = [
        _given_name(),
        _family_name(),
        _date_of_birth(),
        _address(coverage.get("postcode_district", 1.0) >= min_optional_coverage),
    ]
    for column in OPTIONAL_COMPARISONS:
        if coverage.get(column, 0.0) >= min_optional_coverage:
            comparisons.append(_exact_identifier(column))
    return comparisons


def build_settings(
    coverage: dict[str, float], config: LinkageConfig, rules: Sequence[str] | None = None
) -> SettingsCreator:
    """Splink settings for deduplicating the standardised table of all sources.

    ``rules`` are the blocking rules (the configured ones when ``None``).
    """
    rules = config.blocking_rules if rules is None else rules
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons_for(coverage, config.min_optional_coverage),
        blocking_rules_to_generate_predictions=[CustomRule(rule) for rule in rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=25,
    )


#: Recall assumed for the exact name-and-dob rule when the prior is first estimated. It only
#: seeds EM (which re-estimates the prior inside each session); the prior the model keeps is
#: re-estimated with the rule's recall derived from the trained m-probabilities.
SEED_RULE_RECALL = 0.8

#: The deterministic rule behind the prior: pairs agreeing exactly on names and dob.
PRIOR_RULE = "l.first_name = r.first_name AND l.last_name = r.last_name AND l.dob = r.dob"

#: At most this many comparison levels may be fixed after collapsing in EM (each costs a
#: restart of training; the model has fewer levels than this that can be rare).
MAX_COLLAPSED_LEVELS = 6


class _ChosenMaxPairs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("You are using the default value for `max_pairs`")


@contextlib.contextmanager
def _chosen_max_pairs() -> Iterator[None]:
    """Silence Splink's warning about its default ``max_pairs``: ours is chosen (see
    :class:`safeguard.linkage.config.LinkageConfig`, ``u_max_pairs``), whatever its value."""
    splink_logger = logging.getLogger("splink.internals.linker_components.training")
    quiet = _ChosenMaxPairs()
    splink_logger.addFilter(quiet)
    try:
        yield
    finally:
        splink_logger.removeFilter(quiet)


def _collapsed_level(err: BaseException) -> tuple[str, str] | None:
    """(comparison, level label) whose m EM drove to zero, read from Splink's traceback.

    Splink raises from its maximisation step while setting the level's new m; that frame
    holds the level. ``None`` if Splink's internals changed (the session is then discarded,
    as before this was handled).
    """
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "populate_m_u_from_lookup":
            level = frame.f_locals.get("cl")
            name = frame.f_locals.get("output_column_name")
            label = getattr(level, "label_for_charts", None)
            if isinstance(name, str) and isinstance(label, str):
                return name, label
        tb = tb.tb_next
    return None


def _is_collapse(err: ValueError) -> bool:
    # Splink's messages when EM drives a probability to zero: an m probability (a level
    # never seen among matches) or the prior (no matches in the sample).
    return "below the minimum allowed value" in str(err) or str(err) == "math domain error"


def _with_floors(model: dict[str, Any], floors: dict[tuple[str, str], float]) -> dict[str, Any]:
    model = copy.deepcopy(model)
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            key = (comparison["output_column_name"], level.get("label_for_charts"))
            if key in floors:
                level["m_probability"] = floors[key]
                level["fix_m_probability"] = True
    return model


def trained_comparisons(linker: Linker, settings: SettingsCreator) -> list[dict[str, Any]]:
    """The model's comparisons in DuckDB SQL with the linker's trained m and u.

    Whatever backend trained the model, the coverage estimates (:mod:`safeguard.linkage.blocking`)
    read the level SQL locally with DuckDB, so the levels are taken from the DuckDB rendering
    of ``settings`` and the probabilities from the linker, level by level.
    """
    local = settings.create_settings_dict("duckdb")["comparisons"]
    trained = {c["output_column_name"]: c for c in linker.misc.save_model_to_json()["comparisons"]}
    for comparison in local:
        levels = trained[comparison["output_column_name"]]["comparison_levels"]
        for level, fitted in zip(comparison["comparison_levels"], levels, strict=True):
            for key in ("m_probability", "u_probability"):
                if key in fitted:
                    level[key] = fitted[key]
    return local


def _pairs(n: int) -> float:
    return n * (n - 1) / 2


def session_estimates(linker: Linker) -> pd.DataFrame:
    """m and u estimates of every training session of ``linker`` and of its final model.

    The records behind Splink's ``parameter_estimate_comparisons_chart``: ``comparison_name,
    comparison_level_label, m_or_u, estimated_probability, estimate_description`` (aggregates
    of the model, no record values). Empty when the linker holds no training session.
    """
    chart = linker.visualisations.parameter_estimate_comparisons_chart()
    spec = chart.chart_dict if hasattr(chart, "chart_dict") else chart.to_dict()
    datasets = spec.get("datasets") or {}
    values = next(iter(datasets.values())) if datasets else spec.get("data", {}).get("values", [])
    columns = ["comparison_name", "comparison_level_label", "m_or_u", "estimated_probability",
               "estimate_description"]  # fmt: skip
    return pd.DataFrame(values).reindex(columns=columns)


def train_linker(
    records: SplinkDataFrame,
    settings: SettingsCreator,
    config: LinkageConfig,
    table: pd.DataFrame,
    *,
    estimates: list[pd.DataFrame] | None = None,
) -> tuple[Linker, list[str]]:
    """Train the model on the registered standardised records (prior, u by sampling, m by EM).

    Two EM sessions are used so that every comparison is trained once while it is not the
    blocking field: blocking on date of birth trains names and address; blocking on the
    names trains date of birth and address. Every level is learned, disagreements and
    name swaps included.

    A level that no match in the EM sample falls in (name swaps, on data without any) has
    a maximum-likelihood m of zero, which Splink refuses. Such a level's m is then fixed
    at half a pair of the matches the prior expects in the table (the Jeffreys estimate of
    a rate never observed: ``0.5 / (prior * n(n-1)/2)``) and training restarts; the notes
    say which level. The prior is estimated from exact name-and-dob agreements, first with
    :data:`SEED_RULE_RECALL` to seed EM, then again with that rule's recall as the trained
    model predicts it (:func:`safeguard.linkage.blocking.expected_coverage`).

    ``table`` is the pandas copy of ``records`` (for the share of null comparisons). Given
    ``estimates``, the m and u estimates of every training session (the data of Splink's
    parameter-estimate comparison chart) are appended to it as one frame: the linker
    returned may be a fresh one without the sessions (:func:`settle_rare_levels`).
    Returns the linker and notes on anything that could not be estimated. No exact
    name-and-dob agreements at all: Splink's default prior is kept (EM re-estimates it).
    An EM session in which the prior collapses (the sample holds no matches) is discarded;
    if both are, the caller should use the shipped model (the notes say so).
    """
    dialect = records.db_api.sql_dialect.sql_dialect_str
    model = settings.create_settings_dict(dialect)
    floors: dict[tuple[str, str], float] = {}
    n = len(table)
    while True:
        notes: list[str] = []
        linker = Linker(records, _with_floors(model, floors), log_level=logging.WARNING)
        prior_found = _estimate_prior(linker, SEED_RULE_RECALL, notes)
        with _chosen_max_pairs():
            linker.training.estimate_u_using_random_sampling(
                max_pairs=config.u_max_pairs, seed=config.seed
            )
        collapsed = None
        for name, rule in (
            ("dob", block_on("dob")),
            ("names", block_on("first_name", "last_name")),
        ):
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=config.em_max_pairs, estimate_without_term_frequencies=True
                )
            except ValueError as err:
                if not _is_collapse(err):
                    raise
                level = _collapsed_level(err)
                if level is not None and level not in floors and len(floors) < MAX_COLLAPSED_LEVELS:
                    collapsed = level
                    break
                notes.append(
                    f"EM blocked on {name}: a probability collapsed to zero (no matches, or a "
                    "level never seen among matches); this session's estimates were discarded"
                )
        if collapsed is None:
            break
        prior = float(linker.misc.save_model_to_json()["probability_two_random_records_match"])
        floors[collapsed] = min(0.5 / max(prior * _pairs(n), 1.0), 0.5)
    for (comparison, label), m in floors.items():
        notes.append(
            f"EM: level '{label}' of {comparison} was never seen among matches; its m "
            f"probability was fixed at {m:.3g} (half a pair of the matches the prior expects)"
        )
    if prior_found and not em_failed(notes):
        recall = prior_rule_recall(linker, settings, table, config.seed)
        _estimate_prior(linker, recall, notes)
        notes.append(
            f"prior: the exact name-and-dob rule's recall, from the trained model, is {recall:.3f}"
        )
    if estimates is not None:  # a chart's data: never a reason to fail training
        try:
            estimates.append(session_estimates(linker))
        except Exception as exc:
            notes.append(f"chart: the training sessions' estimates were not kept ({exc})")
    if not em_failed(notes):
        linker, raised = settle_rare_levels(linker, records, config.u_max_pairs, n)
        if raised:
            notes.append(
                "EM: m raised to half a match for level(s) hardly ever seen among matches: "
                + "; ".join(raised)
            )
    return linker, notes


def settle_rare_levels(
    linker: Linker, records: SplinkDataFrame, sampled: float, n: int
) -> tuple[Linker, list[str]]:
    """Bound what sampling cannot measure: m below half a match, u below half a pair.

    *u without the matches.* Splink estimates u on random pairs, taking them all to be
    non-matches. A share ``prior`` of them are matches, and they fall in the agreeing
    levels, so a level that strangers almost never reach (same postcode *and* a similar
    address line, on a table with few people per address) gets a u made mostly of matches,
    and too little weight. With the trained m: ``u = (u_sampled - prior * m) / (1 - prior)``,
    at least half a pair of the ``sampled`` random pairs (the Jeffreys estimate of a rate
    never observed). Levels whose u is far above the matches' share (most) barely move.

    *m of at least half a match.* EM can drive the m of a level seen only among non-matches
    towards zero without reaching Splink's refusal (1e-122 after 25 iterations, -400 bits).
    With about ``prior * n(n-1)/2`` matches in the table, a rate below half of one of them
    cannot be measured, so m is raised to that (and the comparison's m renormalised).

    Returns the linker with these probabilities and the labels of the levels whose m was
    raised.
    """
    model = linker.misc.save_model_to_json()
    prior = float(model["probability_two_random_records_match"])
    u_floor = 0.5 / sampled
    m_floor = min(0.5 / max(prior * _pairs(n), 1.0), 0.5)
    raised = []
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for level in levels:
            m, u = level.get("m_probability"), level.get("u_probability")
            if isinstance(m, int | float) and isinstance(u, int | float):
                level["u_probability"] = max((u - prior * m) / (1 - prior), u_floor)
            if isinstance(m, int | float) and m < m_floor and not level.get("fix_m_probability"):
                level["m_probability"] = m_floor
                raised.append(f"{comparison['output_column_name']}: {level['label_for_charts']}")
        total = sum(
            lv["m_probability"] for lv in levels if isinstance(lv.get("m_probability"), int | float)
        )
        for level in levels:
            if isinstance(level.get("m_probability"), int | float) and total > 0:
                level["m_probability"] /= total
    return Linker(records, model, log_level=logging.WARNING), raised


def prior_rule_recall(
    linker: Linker, settings: SettingsCreator, table: pd.DataFrame, seed: int
) -> float:
    """Share of matching pairs the prior's rule finds, by the trained m-probabilities."""
    comparisons = trained_comparisons(linker, settings)
    distributions = comparison_distributions(
        comparisons, null_shares(table, comparisons, seed=seed)
    )
    recall = expected_coverage(distributions, [rule_events(PRIOR_RULE)])
    return min(max(recall, 0.01), 1.0)


def _estimate_prior(linker: Linker, recall: float, notes: list[str]) -> bool:
    try:
        linker.training.estimate_probability_two_random_records_match([PRIOR_RULE], recall=recall)
    except ZeroDivisionError:
        notes.append(
            "prior: no exact name-and-dob agreements to estimate it from; Splink's default kept"
        )
        return False
    return True


def em_failed(notes: list[str]) -> bool:
    """True when every EM session of :func:`train_linker` was discarded."""
    return sum(note.startswith("EM blocked on") for note in notes) == 2


def default_model(
    config: LinkageConfig, sql_dialect: str = "duckdb", rules: Sequence[str] | None = None
) -> dict[str, Any]:
    """The shipped model, for tables too small to train on (see ``min_identities_to_train``).

    ``data/default_model.json`` holds the m and u probabilities trained by this module on
    the project's 20,000-person synthetic estate (no personal data: only probabilities).
    Only the probabilities and the prior are taken from it: the comparisons are rebuilt by
    :func:`build_settings` in ``sql_dialect``, because the JSON's SQL is DuckDB's (double-quoted
    columns, which Spark reads as string literals; ``list_intersect``). Term-frequency
    adjustments are dropped (name frequencies in a table of a few dozen records say nothing
    about how common a name is), and the blocking rules are ``rules`` (default: the
    configured ones).
    """
    text = (
        resources.files("safeguard.linkage").joinpath("data/default_model.json").read_text("utf-8")
    )
    shipped: dict[str, Any] = json.loads(text)
    trained = {c["output_column_name"]: c for c in shipped["comparisons"]}
    coverage = {column: float(column in trained) for column in OPTIONAL_COMPARISONS}
    model = build_settings(coverage, config, rules).create_settings_dict(sql_dialect)
    model["probability_two_random_records_match"] = shipped["probability_two_random_records_match"]
    for comparison in model["comparisons"]:
        levels = trained[comparison["output_column_name"]]["comparison_levels"]
        if len(levels) != len(comparison["comparison_levels"]):
            raise ValueError(
                "linkage/data/default_model.json does not match safeguard.linkage.model's comparison "
                f"{comparison['output_column_name']!r}: retrain and save the shipped model"
            )
        for level, trained_level in zip(comparison["comparison_levels"], levels, strict=True):
            level.pop("tf_adjustment_column", None)  # a small table's name frequencies mean nothing
            level.pop("tf_adjustment_weight", None)
            for key in ("m_probability", "u_probability"):
                if trained_level.get(key) is not None:
                    level[key] = trained_level[key]
    return model


def untrained_linker(
    records: SplinkDataFrame, config: LinkageConfig, rules: Sequence[str] | None = None
) -> Linker:
    """A linker on ``records`` with the shipped model's parameters (no training)."""
    dialect = records.db_api.sql_dialect.sql_dialect_str
    return Linker(records, default_model(config, dialect, rules), log_level=logging.WARNING)


def with_rules(linker: Linker, records: SplinkDataFrame, rules: Sequence[str]) -> Linker:
    """A linker with ``linker``'s trained model and other blocking rules for prediction."""
    model = linker.misc.save_model_to_json()
    dialect = records.db_api.sql_dialect.sql_dialect_str
    model["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": rule, "sql_dialect": dialect} for rule in rules
    ]
    return Linker(records, model, log_level=logging.WARNING)


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
