"""What a run is about, resolved in one place: its extract, its as-of date, who objected, which model.

The as-of date is the date the whole run stands at: features, the training window and its
labels, families, exclusions, scores and the reports. It is ``--as-of`` / ``SAFEGUARD_AS_OF``
when given, otherwise the extract date of the drop in the warehouse, and it is never later
than the extract (a later date would score a future nobody has recorded yet). The runner
validates it against the drop it is about to ingest before any work starts; every asset reads
it through :func:`run_dates`, which applies the same rule to the extract in the warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from safeguard import models
from safeguard.contracts.tables import APPROVED, OBJECTIONS_SOURCE
from safeguard.features.outcomes import open_to_social_care
from safeguard.governance.pending_objections import (
    PENDING_REASON,
    families_of,
    pending_person_keys,
)
from safeguard.ingest.drops import NoCompleteDrop, newest_complete_drop

if TYPE_CHECKING:
    from safeguard.pipelines.resources import RunSettings, Warehouse


class AsOfError(ValueError):
    """The requested as-of date is malformed or later than the extract."""


class NoApprovedModel(RuntimeError):
    """No model has passed both gates: nothing may be flagged."""


def parse_as_of(text: str | date | None) -> date | None:
    """The requested as-of date (``YYYY-MM-DD``), or None for "the extract date"."""
    if text is None or text == "":
        return None
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise AsOfError(f"as-of date {text!r} is not a date (expected YYYY-MM-DD)") from None


def resolve_as_of(requested: str | date | None, extract: date) -> date:
    """The run's as-of date: the requested one, validated against ``extract``, or ``extract``."""
    as_of = parse_as_of(requested)
    if as_of is None:
        return extract
    if as_of > extract:
        raise AsOfError(
            f"as-of date {as_of.isoformat()} is after the extract date {extract.isoformat()}: "
            "a run cannot stand at a date its data has not reached"
        )
    return as_of


@dataclass(frozen=True)
class RunDates:
    """The extract in the warehouse and the date the run stands at (``as_of <= extract``)."""

    extract_date: date
    as_of: date


def extract_date(warehouse: Warehouse) -> date:
    """The extract date of the drop in the warehouse (the ``row_accounting`` ledger)."""
    extract = warehouse.read_table("row_accounting", columns=["extract_date"])["extract_date"].max()
    return pd.Timestamp(extract).date()


def run_dates(warehouse: Warehouse, settings: RunSettings) -> RunDates:
    """Extract and as-of date of this run (reads ``row_accounting``: declare it)."""
    extract = extract_date(warehouse)
    return RunDates(extract, resolve_as_of(settings.as_of, extract))


def objector_person_keys(warehouse: Warehouse) -> set[str]:
    """People matched to the objections register through the linkage (Art 21 / Art 18)."""
    links = warehouse.read_table("record_links", columns=["source", "person_key"])
    return set(links.loc[links["source"] == OBJECTIONS_SOURCE, "person_key"].astype(str))


def excluded_people(warehouse: Warehouse) -> tuple[set[str], set[str]]:
    """Objectors, and the people an objection pending verification may name."""
    return objector_person_keys(warehouse), pending_person_keys(warehouse)


def excluded_families(
    warehouse: Warehouse, events: pd.DataFrame, families: pd.DataFrame, as_of: date
) -> dict[str, set[str]]:
    """Families never scored: objectors' (every spell, to be safe), those of anyone an objection
    pending verification may name (same name and district), and those open to social care."""
    objectors, pending = excluded_people(warehouse)
    open_cases = set(open_to_social_care(events, families, as_of)["family_key"].astype(str))
    return {
        "objection_or_restriction": families_of(objectors, families),
        PENDING_REASON: families_of(pending, families),
        "open_to_social_care": open_cases,
    }


def approved_model(warehouse: Warehouse) -> tuple[models.RiskModel, models.ModelRecord] | None:
    """The model ``approved.json`` points at, with its record; None when none passed the gates."""
    model_dir = warehouse.artefact_dir("models")
    pointer = model_dir / APPROVED
    if not pointer.exists():
        return None
    return models.load_risk_model(model_dir / json.loads(pointer.read_text())["model_file"])


def load_approved_model(warehouse: Warehouse) -> tuple[models.RiskModel, str]:
    """The approved model and its version, or :class:`NoApprovedModel`."""
    approved = approved_model(warehouse)
    if approved is None:
        raise NoApprovedModel(
            f"no approved model in {warehouse.artefact_dir('models')}: no model has passed both "
            "the performance and fairness gates, so no family is scored or flagged"
        )
    model, record = approved
    return model, record.version


def events_known_at(events: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The events as they stood at ``as_of``: nothing dated after it, no end recorded after it.

    A run at a past as-of date must not see what was recorded later (a fact recorded after the
    as-of date does not exist at it): later events are dropped and an episode that ended later
    is still open. At the extract date this changes nothing (the ingest suites refuse dates
    after the extract). Candidate for ``features/point_in_time.py``.
    """
    cutoff = pd.Timestamp(as_of)
    known = events.loc[events["event_date"] <= cutoff].copy()
    if "end_date" in known:
        known.loc[known["end_date"] > cutoff, "end_date"] = pd.NaT
    return known.reset_index(drop=True)


def check_as_of(landing: Path, requested: str | date | None) -> date | None:
    """Validate a requested as-of date against the drop a run would ingest, before any work.

    Returns the as-of date (None when none was asked for, or no complete drop is there yet:
    ingest then refuses the run with its own message).
    """
    as_of = parse_as_of(requested)
    if as_of is None:
        return None
    try:
        drop = newest_complete_drop(Path(landing))
    except NoCompleteDrop:
        return as_of
    return resolve_as_of(as_of, drop.extract_date)
