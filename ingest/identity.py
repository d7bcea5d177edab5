"""Split accepted rows into pseudonymised analytic records and identity-vault rows.

Names, dates of birth, addresses, postcodes, agency ids and raw record keys go to the vault
(``identity_<source>``) only; the warehouse gets ``<source>_records`` with keyed pseudonyms,
the postcode district, an address pseudonym and the birth month. Address and postcode
normalisation live here because the address pseudonym must be stable however an agency
spells an address ("Flat 2, 10 High Rd" and "2/10 High Road" are one home).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from safeguard.dpia.pseudonymise import Pseudonymiser
from safeguard.ingest.contract import LandingContract

__all__ = [
    "PSEUDONYMISED_EVENT_COLUMNS",
    "VAULT_COLUMNS",
    "normalise_address",
    "normalise_postcode",
    "postcode_district",
    "split_identities",
    "split_objections",
]

# Event columns that identify a household or incident across records: pseudonymised in place.
PSEUDONYMISED_EVENT_COLUMNS = {"tenancy_ref": "tenancy", "incident_ref": "incident"}
VAULT_COLUMNS = (
    "source", "record_key", "record_pseudo", "agency_id", "first_name", "last_name", "dob",
    "address_line", "postcode", "sex", "upn", "nhs_number",
)  # fmt: skip
_POSTCODE = r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$"
_DISTRICT = r"^([A-Z]{1,2}[0-9][A-Z0-9]?)$"
# (RE2 pattern, replacement), applied in order to lowercase text with punctuation removed.
_ADDRESS_RULES: tuple[tuple[str, str], ...] = (
    (r"\b(flat|apartment|apt|unit)\s+", ""),
    (r"^st\b", "saint"),
    (r"\b(\d+[a-z]?) st\b", r"\1 saint"),
    (r"\bst\b", "street"),
    (r"\brd\b", "road"),
    (r"\b(ave|av)\b", "avenue"),
    (r"\bln\b", "lane"),
    (r"\bdr\b", "drive"),
    (r"\bcl\b", "close"),
    (r"\bct\b", "court"),
    (r"\bpl\b", "place"),
    (r"\bsq\b", "square"),
    (r"\bcres\b", "crescent"),
    (r"\bgdns\b", "gardens"),
    (r"\b(terr|ter)\b", "terrace"),
)


def _on_distinct(values: pd.Series, transform: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """Apply an Arrow transform to each distinct value once and map the result back."""
    text = values.astype("string")
    codes, uniques = pd.factorize(text)
    if len(uniques) == 0:
        return pd.Series(pd.NA, index=values.index, dtype="string", name=values.name)
    result = transform(pa.array(np.asarray(uniques, dtype=object), pa.string()))
    mapped = np.asarray(result.to_pylist(), dtype=object)[np.where(codes < 0, 0, codes)]
    mapped[codes < 0] = None
    return pd.Series(mapped, index=values.index, dtype="string", name=values.name)


def _compact_upper(array: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(pc.utf8_upper(array), r"\s+", "")


def normalise_postcode(values: pd.Series) -> pd.Series:
    """UK postcodes as ``OUT IN`` (``nb12ab`` -> ``NB1 2AB``); missing when not UK-shaped."""

    def transform(array: pa.Array) -> pa.Array:
        compact = _compact_upper(array)
        shaped = pc.match_substring_regex(compact, _POSTCODE)
        spaced = pc.replace_substring_regex(compact, _POSTCODE, r"\1 \2")
        return pc.if_else(shaped, spaced, pa.scalar(None, pa.string()))

    return _on_distinct(values, transform)


def postcode_district(values: pd.Series) -> pd.Series:
    """Outward code (``NB1``) of a full or outward-only UK postcode; missing otherwise."""

    def transform(array: pa.Array) -> pa.Array:
        compact = _compact_upper(array)
        full = pc.match_substring_regex(compact, _POSTCODE)
        outward_only = pc.match_substring_regex(compact, _DISTRICT)
        outward = pc.replace_substring_regex(compact, _POSTCODE, r"\1")
        chosen = pc.if_else(full, outward, compact)
        return pc.if_else(pc.or_(full, outward_only), chosen, pa.scalar(None, pa.string()))

    return _on_distinct(values, transform)


def normalise_address(values: pd.Series) -> pd.Series:
    """Address lines reduced to a comparable form; missing when empty.

    Lowercase; apostrophes removed; other punctuation to spaces; ``Flat``/``Apt`` dropped
    (``Flat 2, 10 High Rd`` and ``2/10 High Road`` both give ``2 10 high road``); common
    abbreviations expanded (``St`` is ``saint`` before a name, ``street`` after one).
    """

    def transform(array: pa.Array) -> pa.Array:
        text = pc.utf8_lower(array)
        text = pc.replace_substring(text, "'", "")
        text = pc.replace_substring_regex(text, r"[^a-z0-9]+", " ")
        text = pc.utf8_trim_whitespace(text)
        for pattern, replacement in _ADDRESS_RULES:
            text = pc.replace_substring_regex(text, pattern, replacement)
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)

    return _on_distinct(values, transform)


def _column(frame: pd.DataFrame, name: str, dtype: str = "string") -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA if dtype != "datetime64[ns]" else pd.NaT, index=frame.index, dtype=dtype)


def _birth_month(dob: pd.Series) -> pd.Series:
    values = dob.to_numpy(dtype="datetime64[ns]")
    return pd.Series(values.astype("datetime64[M]").astype("datetime64[ns]"), index=dob.index)


def _address_key(accepted: pd.DataFrame, pseudonymiser: Pseudonymiser) -> pd.Series:
    address = normalise_address(_column(accepted, "address_line"))
    postcode = _column(accepted, "postcode")
    uk = normalise_postcode(postcode)
    other = _on_distinct(postcode, _compact_upper)
    postcode_part = uk.fillna(other).fillna("")
    return pseudonymiser.pseudonymise("address", address + "|" + postcode_part)


def split_identities(
    source: str,
    accepted: pd.DataFrame,
    contract: LandingContract,
    pseudonymiser: Pseudonymiser,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one source's accepted rows into (``<source>_records``, vault ``identity_<source>``).

    Parameters
    ----------
    source : str
        Contract source name (``police``); ``objections`` is handled by :func:`split_objections`.
    accepted : pandas.DataFrame
        ``FileIngest.accepted`` for that source (declared columns + ``extract_date``).
    contract : LandingContract
    pseudonymiser : Pseudonymiser

    Returns
    -------
    tuple[pandas.DataFrame, pandas.DataFrame]
        The analytic records (pseudonyms, event and protected columns, ``postcode_district``,
        ``address_key``, ``birth_month``, ``extract_date``) and the vault rows (see
        :data:`VAULT_COLUMNS`), aligned row for row.
    """
    if source == "objections":
        return split_objections(accepted, pseudonymiser)
    if source not in contract.sources:
        raise KeyError(f"{source!r} is not an agency source of the landing contract")
    spec = contract.sources[source]
    record_key = accepted[spec.key_column].astype("string")
    agency_id = accepted[spec.person_key_column].astype("string")
    record_pseudo = pseudonymiser.pseudonymise("record", f"{source}:" + record_key)
    records = pd.DataFrame(
        {
            "record_pseudo": record_pseudo,
            "agency_person_pseudo": pseudonymiser.pseudonymise(
                "agency_person", f"{source}:" + agency_id
            ),
        },
        index=accepted.index,
    )
    for column in spec.role_columns("event", "protected"):
        if column in PSEUDONYMISED_EVENT_COLUMNS:
            namespace = PSEUDONYMISED_EVENT_COLUMNS[column]
            records[column] = pseudonymiser.pseudonymise(namespace, accepted[column])
        else:
            records[column] = accepted[column]
    records["postcode_district"] = postcode_district(_column(accepted, "postcode"))
    records["address_key"] = _address_key(accepted, pseudonymiser)
    records["birth_month"] = _birth_month(_column(accepted, "dob", "datetime64[ns]"))
    records["extract_date"] = _column(accepted, "extract_date", "datetime64[ns]")

    vault = pd.DataFrame(index=accepted.index)
    vault["source"] = pd.Series(source, index=accepted.index, dtype="string")
    vault["record_key"] = record_key
    vault["record_pseudo"] = record_pseudo
    vault["agency_id"] = agency_id
    for column in VAULT_COLUMNS[4:]:
        dtype = "datetime64[ns]" if column == "dob" else "string"
        vault[column] = _column(accepted, column, dtype)
    return records.reset_index(drop=True), vault.reset_index(drop=True)


def split_objections(
    accepted: pd.DataFrame, pseudonymiser: Pseudonymiser
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the objections register into (``objections``, vault ``identity_objections``)."""
    objection_id = accepted["objection_id"].astype("string")
    pseudo = pseudonymiser.pseudonymise("objection", objection_id)
    objections = pd.DataFrame(
        {"objection_pseudo": pseudo, "received_date": accepted["received_date"]}
    ).reset_index(drop=True)
    vault = pd.DataFrame(
        {
            "objection_id": objection_id,
            "objection_pseudo": pseudo,
            "first_name": accepted["first_name"],
            "last_name": accepted["last_name"],
            "dob": accepted["dob"],
            "postcode": accepted["postcode"],
        }
    ).reset_index(drop=True)
    return objections, vault
