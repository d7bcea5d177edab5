"""Flags: score the current families, choose which ones practitioners are asked to look at,
explain each flag (reasons with their evidence), and write the case packs and the global
explanations. Sits above ``models`` (it uses the approved model, never trains or judges one);
``models`` never imports it. Pure library code (no dagster); the pipeline's assets call it."""

from safeguard.flags.case_pack import CasePackConfig, build_caseloads, write_case_packs
from safeguard.flags.flagging import (
    EXCLUSION_REASONS,
    FlagConfig,
    FlaggingInputError,
    FlagSelection,
    family_districts,
    score_families,
    select_flags,
)
from safeguard.flags.global_explain import GlobalExplanation, global_explanations
from safeguard.flags.reasons import (
    ExplanationInputError,
    ReasonConfig,
    explain_family,
    explain_flags,
)

__all__ = [
    "EXCLUSION_REASONS",
    "CasePackConfig",
    "ExplanationInputError",
    "FlagConfig",
    "FlagSelection",
    "FlaggingInputError",
    "GlobalExplanation",
    "ReasonConfig",
    "build_caseloads",
    "explain_family",
    "explain_flags",
    "family_districts",
    "global_explanations",
    "score_families",
    "select_flags",
    "write_case_packs",
]
