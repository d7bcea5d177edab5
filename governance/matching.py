"""Find linked people for given identities with the trained Splink model (SAR, objections).

A subject access request or an objection names a person as they wrote it; agencies may have
spelt them differently. Matching the request against ``identity_vault`` with the *same*
standardisation and the *same* trained model as the pipeline's linkage finds the person's
cluster (``person_key``); every record the linkage put in that cluster, including a typo'd
one that no exact search would find, then comes with it.

A linkage that stood at a past as-of date (``safeguard run --as-of``) linked only the records
dated by then: the later ones are in the vault with no person key. Matching against it could
miss a person's later records, or a person known only from them, and answer "nothing found";
so it is refused (:class:`LinkageIncomplete`) with the dates and what to do: run the pipeline
at the extract date, which links every record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from safeguard.governance.store import LINKAGE_MODEL_PATH, VAULT_FILE, WAREHOUSE_FILE, read_table
from safeguard.linkage import LinkageConfig, match_records

__all__ = [
    "DEFAULT_MATCH_THRESHOLD",
    "IDENTITY_COLUMNS",
    "LinkageIncomplete",
    "MatchInputError",
    "MatchingUnavailable",
    "match_objections",
    "match_people",
    "score_candidates",
]

#: A request matches a person at the linkage's own link threshold (see ``safeguard.linkage.linking``).
DEFAULT_MATCH_THRESHOLD = LinkageConfig().threshold_match_probability
IDENTITY_COLUMNS = ("first_name", "last_name", "dob")
_OPTIONAL_QUERY = ("postcode", "address_line", "sex", "upn", "nhs_number")


class MatchInputError(ValueError):
    """The identities to match lack a required column or a query id."""


class MatchingUnavailable(RuntimeError):
    """The linkage has not run yet: no identity vault or no saved linkage model."""


class LinkageIncomplete(MatchingUnavailable):
    """The vault's linkage stood at a past as-of date: records dated after it are not linked."""


def _refuse_incomplete(data_dir: Path, vault: pd.DataFrame) -> None:
    """Fail closed when the vault holds records the linkage left out (dated after its as-of)."""
    if "linked" not in vault:
        return  # written before the linkage recorded its as-of date: every record was linked
    unlinked = ~vault["linked"].astype("boolean").fillna(False)
    if not unlinked.any():
        return
    as_of = pd.to_datetime(vault["linkage_as_of"]).max()
    ledger = read_table(
        data_dir / WAREHOUSE_FILE,
        "row_accounting",
        sql="SELECT max(extract_date) AS extract_date FROM row_accounting",
    )
    extract = (
        f" of the drop extracted {pd.Timestamp(ledger['extract_date'].iloc[0]).date()}"
        if ledger is not None and ledger["extract_date"].notna().any()
        else ""
    )
    raise LinkageIncomplete(
        f"the linkage in {data_dir} stands at {as_of.date()} (a run with --as-of): "
        f"{int(unlinked.sum()):,} record(s){extract} are dated after it and linked to nobody, "
        "so a match against it could miss a person's records or answer that nothing is held. "
        "Nothing was matched. Run the pipeline on this data directory at its extract date "
        "(safeguard run without --as-of), then make the request again."
    )


def _load(data_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    model_path = data_dir / LINKAGE_MODEL_PATH
    if not model_path.exists():
        raise MatchingUnavailable(
            f"no linkage model at {model_path}: run the pipeline (linkage) on {data_dir} first"
        )
    vault = read_table(data_dir / VAULT_FILE, "identity_vault")
    if vault is None:
        raise MatchingUnavailable(
            f"no identity_vault table in {data_dir / VAULT_FILE}: run the linkage first"
        )
    _refuse_incomplete(data_dir, vault)
    vault = vault[vault["person_key"].notna()].reset_index(drop=True)
    return json.loads(model_path.read_text(encoding="utf-8")), vault


def _query_records(identities: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("query_id", *IDENTITY_COLUMNS) if c not in identities.columns]
    if missing:
        raise MatchInputError(
            f"identities lack column(s) {missing}; expected query_id, first_name, last_name, dob "
            f"and optionally {', '.join(_OPTIONAL_QUERY)}"
        )
    if identities["query_id"].isna().any() or identities["query_id"].duplicated().any():
        raise MatchInputError("identities.query_id must be present and unique on every row")
    records = pd.DataFrame(
        {
            "source": "request",
            "record_key": identities["query_id"].astype("string").to_numpy(),
            **{c: identities[c].to_numpy() for c in IDENTITY_COLUMNS},
        }
    )
    for column in _OPTIONAL_QUERY:
        records[column] = identities[column].to_numpy() if column in identities else None
    return records


def score_candidates(
    data_dir: Path, identities: pd.DataFrame, *, floor: float = 0.5
) -> pd.DataFrame:
    """Every (query, linked record) pair the model scores at ``floor`` or above.

    Returns ``query_id, person_key, source, record_key, match_probability`` (one row per
    vault record). Used directly by subject access, which must see weak candidates to
    refuse an ambiguous request rather than disclose a stranger's records.
    """
    data_dir = Path(data_dir)
    queries = _query_records(identities)
    model, vault = _load(data_dir)
    pairs = match_records(queries, vault, model, floor=floor)  # the trained linkage model
    query_row, vault_row = pairs["query_row"].to_numpy(), pairs["known_row"].to_numpy()
    return pd.DataFrame(
        {
            "query_id": queries["record_key"].to_numpy()[query_row],
            "person_key": vault["person_key"].to_numpy()[vault_row],
            "source": vault["source"].to_numpy()[vault_row],
            "record_key": vault["record_key"].to_numpy()[vault_row],
            "match_probability": pairs["match_probability"].to_numpy(),
        }
    )


def match_people(
    data_dir: Path,
    identities: pd.DataFrame,
    *,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
) -> pd.DataFrame:
    """The linked people each identity matches, through the trained linkage model.

    Parameters
    ----------
    data_dir
        Data directory with ``vault.duckdb`` (``identity_vault``) and the linkage model at
        ``artefacts/linkage/linkage_model.json``.
    identities
        ``query_id, first_name, last_name, dob`` and optionally ``postcode, address_line,
        sex, upn, nhs_number`` (e.g. the vault's ``identity_objections`` with
        ``objection_id`` renamed to ``query_id``).
    threshold
        Match probability needed; the linkage's own link threshold by default, so a request
        matches a person exactly when a new record of theirs would have been linked.

    Returns
    -------
    pandas.DataFrame
        ``query_id, person_key, match_probability`` (the best pair per query and person);
        a query matching nobody has no row, one matching two people has two.
    """
    scored = score_candidates(data_dir, identities, floor=threshold)
    best = (
        scored.groupby(["query_id", "person_key"], as_index=False)["match_probability"]
        .max()
        .sort_values(["query_id", "match_probability"], ascending=[True, False])
    )
    return best.astype(
        {"query_id": "string", "person_key": "string", "match_probability": "Float64"}
    ).reset_index(drop=True)


def match_objections(data_dir: Path, *, threshold: float = DEFAULT_MATCH_THRESHOLD) -> pd.DataFrame:
    """The linked people behind every objection or restriction in the register.

    Reads the vault's ``identity_objections`` and matches it with :func:`match_people`, so
    an objector is found even where an agency mistyped their name.

    Returns
    -------
    pandas.DataFrame
        ``objection_pseudo, person_key, match_probability``: exclude these people (and the
        families they belong to) from scoring, flags and training. Empty when there are no
        objections.
    """
    objections = read_table(Path(data_dir) / VAULT_FILE, "identity_objections")
    columns = {"objection_pseudo": "string", "person_key": "string", "match_probability": "Float64"}
    if objections is None or objections.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    queries = objections.rename(columns={"objection_pseudo": "query_id"})
    matched = match_people(data_dir, queries, threshold=threshold)
    return matched.rename(columns={"query_id": "objection_pseudo"}).astype(columns)
