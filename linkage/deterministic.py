"""Deterministic rules: identical identities and trusted identifiers link without a model.

Two kinds of certainty are settled before Splink sees the records:

* **Identical identities.** Records whose standardised identity values are all equal (name,
  date of birth, address, postcode, sex, UPN, NHS number) are indistinguishable to any
  model. They are collapsed to one representative, which Splink scores once. School
  censuses repeat a child's identity every term, so this removes most of the work.
* **Trusted identifiers.** Records sharing a valid UPN or NHS number (check character right) or (within one source)
  an agency person id are must-linked, unless the record's date of birth contradicts the
  identifier group's usual one: a mistyped identifier must not merge two children.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "IDENTITY_COLUMNS",
    "collapse_identical",
    "components",
    "must_link_groups",
    "trusted_codes",
]

#: Standardised columns that make up a record's identity for collapsing duplicates.
IDENTITY_COLUMNS = (
    "first_name",
    "last_name",
    "dob",
    "address_key",
    "postcode",
    "sex",
    "upn",
    "nhs_number",
)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label per node of an undirected graph given as edge arrays."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def collapse_identical(table: pd.DataFrame, rank: np.ndarray | None = None) -> np.ndarray:
    """Representative index per record: the record of lowest ``rank`` with the same identity.

    ``rank`` orders the records (default: row order); the representative of a group of
    identical identities is its lowest-ranked record, so it does not depend on input order.
    """
    if table.empty:
        return np.zeros(0, dtype=np.int64)
    rank = np.arange(len(table)) if rank is None else rank
    codes = np.zeros(len(table), dtype=np.int64)
    for column in IDENTITY_COLUMNS:  # combine per-column codes; stays below len(table)
        values = pd.factorize(table[column], use_na_sentinel=True)[0].astype(np.int64) + 1
        codes = pd.factorize(codes * (values.max() + 1) + values)[0].astype(np.int64)
    order = np.lexsort((rank, codes))  # by identity, then rank
    starts = np.r_[True, codes[order][1:] != codes[order][:-1]]
    first = np.empty(codes.max() + 1, dtype=np.int64)
    first[codes[order][starts]] = order[starts]  # each identity's lowest-ranked record
    return first[codes]


def trusted_codes(table: pd.DataFrame, column: str) -> np.ndarray:
    """Integer code per record for a must-link identifier; -1 where it is not trusted.

    ``agency_id`` is only trusted within its source. A record whose date of birth is known
    and differs from the identifier group's most common one (other than by a day/month swap)
    is not trusted: it is more likely a mistyped identifier than a person with two birthdays.
    """
    values = table[column]
    if column == "agency_id":
        values = table["source"] + "\x1f" + values
    codes = pd.factorize(values, use_na_sentinel=True)[0]
    frame = pd.DataFrame({"code": codes, "dob": table["dob"], "swap": table["dob_swap"]})
    dated = frame[frame["code"] >= 0].dropna(subset=["dob"])
    if dated.empty:
        return codes
    modal = (
        dated.groupby(["code", "dob"], sort=True).size().rename("n").reset_index()
        .sort_values(["code", "n", "dob"], ascending=[True, False, True])
        .drop_duplicates("code")
        .set_index("code")["dob"]
    )  # fmt: skip
    expected = dated["code"].map(modal)
    contradicts = (dated["dob"] != expected) & (dated["swap"].fillna("") != expected)
    codes = codes.copy()
    codes[contradicts[contradicts.to_numpy(dtype=bool)].index.to_numpy()] = -1
    return codes


def must_link_groups(n: int, keys: list[np.ndarray]) -> np.ndarray:
    """Group records that share any trusted identifier value (union over identifiers).

    Parameters
    ----------
    n
        Number of records.
    keys
        One array of length ``n`` per identifier: an integer code per value, -1 for missing
        or untrusted (:func:`trusted_codes`).
    """
    left_parts, right_parts = [], []
    for codes in keys:
        present = np.flatnonzero(codes >= 0)
        if present.size == 0:
            continue
        order = present[np.argsort(codes[present], kind="stable")]
        sorted_codes = codes[order]
        first = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
        leader = order[np.maximum.accumulate(np.where(first, np.arange(order.size), 0))]
        left_parts.append(leader)
        right_parts.append(order)
    if not left_parts:
        return np.arange(n)
    return components(n, np.concatenate(left_parts), np.concatenate(right_parts))
