"""Objections pending verification: protect the person a quarantined objection names.

An objection row quarantined for a defect (a malformed date of birth, a duplicate id) still
names a person who objected or asked for restriction. Dropping it would process that person
against their wishes; stopping every run for one typo would stop every flag. So the usable parts
of its identity (names, postcode; never the defective cell) are kept in the vault's
``pending_objections`` table, and every person who *may* be the one named is treated as an
objector until the register is corrected:

* same standardised first and last name (in either order: given and family names are swapped
  often enough), with the linkage's own standardisation
  (:func:`safeguard.linkage.standardise_name`) and spaces then dropped, so case, accents,
  punctuation, hyphens and titles do not hide a match;
* and, when the objection gives a UK postcode, the same postcode district, or no district on
  the record (a missing postcode cannot rule a person out);
* any date of birth: the objection's is unusable, and a same-name relative is excluded too.

This errs on the side of the objector: a namesake in the same district is left unscored until
the data team verifies the objection. Every family (any spell) with a candidate member is
excluded from scoring and flags with the reason ``objection_pending_verification``.

Only counts leave this module; the names stay in the vault.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import pandas as pd

from safeguard.linkage import standardise_name, standardise_postcode

__all__ = [
    "PENDING_REASON",
    "PENDING_TABLE",
    "VaultReader",
    "candidate_person_keys",
    "families_of",
    "pending_person_keys",
    "usable_identity",
]

PENDING_TABLE = "pending_objections"
"""Vault table: one row per objection pending verification (restricted, never the warehouse)."""
PENDING_REASON = "objection_pending_verification"


class VaultReader(Protocol):
    """What :func:`pending_person_keys` reads through (the pipeline's ``Warehouse`` resource)."""

    def table_exists(self, name: str, *, vault: bool = False) -> bool: ...

    def read_table(
        self, name: str, *, vault: bool = False, columns: list[str] | None = None
    ) -> pd.DataFrame: ...


"""Exclusion reason (``safeguard.flags.flagging.EXCLUSION_REASONS``) of the candidates' families."""


def _names(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Standardised first and last names, spaces dropped (``Test-Person`` is ``testperson``)."""
    first, last = (
        standardise_name(frame[column]).str.replace(" ", "", regex=False)
        for column in ("first_name", "last_name")
    )
    return first, last


def usable_identity(pending: pd.DataFrame) -> pd.Series:
    """Rows that name someone: a first and a last name that survive standardisation.

    A row without both cannot be matched to anyone, so the objection cannot be honoured and
    the register must not be trusted (``safeguard.ingest.objections.assess_register``).
    """
    if pending.empty:
        return pd.Series(False, index=pending.index, dtype=bool)
    first, last = _names(pending)
    return (first.notna() & last.notna()).astype(bool)


def candidate_person_keys(identities: pd.DataFrame, pending: pd.DataFrame) -> set[str]:
    """Person keys of every person who may be named by an objection pending verification.

    Parameters
    ----------
    identities : pandas.DataFrame
        The vault's ``identity_vault`` (``first_name``, ``last_name``, ``postcode``,
        ``person_key``): every linked record.
    pending : pandas.DataFrame
        The vault's ``pending_objections`` (``first_name``, ``last_name``, ``postcode``).
    """
    if pending.empty or identities.empty:
        return set()
    usable = pending.loc[usable_identity(pending)]
    if usable.empty:
        return set()
    first, last = _names(usable)
    wanted = pd.DataFrame(
        {
            "first": first.to_numpy(),
            "last": last.to_numpy(),
            "district": standardise_postcode(usable["postcode"])["postcode_district"].to_numpy(),
        }
    )
    # Postcodes are parsed only for records sharing a name with some objection: a large vault
    # is mostly strangers.
    record_first, record_last = _names(identities)
    names = set(wanted["first"]) | set(wanted["last"])
    near = (record_last.isin(names) | record_first.isin(names)).fillna(False).to_numpy(bool)
    records = pd.DataFrame(
        {
            "first": record_first.to_numpy()[near],
            "last": record_last.to_numpy()[near],
            "district": standardise_postcode(identities.loc[near, "postcode"])[
                "postcode_district"
            ].to_numpy(),
            "person_key": identities.loc[near, "person_key"].to_numpy(),
        }
    )
    swapped = wanted.rename(columns={"first": "last", "last": "first"})
    matches = pd.concat(
        [
            records.merge(w, on=["first", "last"], suffixes=("", "_wanted"))
            for w in (wanted, swapped)
        ],
        ignore_index=True,
    )
    same_area = (
        matches["district_wanted"].isna()
        | matches["district"].isna()
        | (matches["district"] == matches["district_wanted"])
    ).fillna(False)
    keys = matches.loc[same_area.to_numpy(bool), "person_key"].dropna()
    return set(keys.astype(str))


def families_of(person_keys: Collection[str], families: pd.DataFrame) -> set[str]:
    """Family keys (any spell) with a member among ``person_keys``."""
    if not person_keys:
        return set()
    members = families["person_key"].astype(str).isin(set(person_keys))
    return set(families.loc[members, "family_key"].astype(str))


def pending_person_keys(store: VaultReader) -> set[str]:
    """People who may be named by an objection pending verification (read from the vault).

    The one reader of the vault's ``pending_objections`` for the pipeline: the run's exclusions
    and the independent objector check both take the candidates from here.
    """
    if not (
        store.table_exists(PENDING_TABLE, vault=True)
        and store.table_exists("identity_vault", vault=True)
    ):
        return set()
    pending = store.read_table(PENDING_TABLE, vault=True)
    if pending.empty:
        return set()
    identities = store.read_table(
        "identity_vault",
        vault=True,
        columns=["first_name", "last_name", "postcode", "person_key"],
    )
    identities = identities[identities["person_key"].notna()]  # linked records only
    return candidate_person_keys(identities, pending)
