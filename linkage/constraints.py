"""Cannot-link constraints: disagreements that no amount of other agreement outweighs.

Splink's model adds up evidence as if fields were independent. Within a family they are
not: twins share surname, address and date of birth; a father and son called David Stanley
share name and address. Added up, such pairs can look like a match. A pair is therefore
*cannot-link* when

* both given names are present and share nothing: not equal, not a known nickname or
  transliteration of each other, more than one edit apart (a transposition is one edit), Jaro-Winkler below 0.9, and not
  given and family names swapped (typos tolerated, as in the model's swap level); or
* both dates of birth are present and are neither equal, nor a day/month swap, nor one
  digit apart, nor the same year with one of them a 1 January default, nor within a year.

Clustering never merges two clusters across a cannot-link pair (unless a trusted
identifier already put them together). The checks mirror the model's comparison levels and
run locally in DuckDB on the standardised table, whatever backend Splink runs on.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from safeguard.linkage.model import NAME_SIMILARITY

__all__ = ["cannot_link", "constraint_table"]

_SQL = f"""
SELECT coalesce(
    (l.first_name IS NOT NULL AND r.first_name IS NOT NULL
     AND l.first_name <> r.first_name
     AND coalesce(len(list_intersect(l.first_name_variants, r.first_name_variants)), 0) = 0
     AND damerau_levenshtein(l.first_name, r.first_name) > 1
     AND jaro_winkler_similarity(l.first_name, r.first_name) < {NAME_SIMILARITY}
     AND NOT (coalesce(jaro_winkler_similarity(l.first_name, r.last_name), 0) >= {NAME_SIMILARITY}
              AND coalesce(jaro_winkler_similarity(l.last_name, r.first_name), 0) >= {NAME_SIMILARITY}))
    OR
    (l.dob IS NOT NULL AND r.dob IS NOT NULL
     AND l.dob <> r.dob
     AND coalesce(l.dob_swap, '') <> r.dob
     AND levenshtein(l.dob, r.dob) > 1
     AND NOT (substr(l.dob, 1, 4) = substr(r.dob, 1, 4)
              AND (substr(l.dob, 6, 5) = '01-01' OR substr(r.dob, 6, 5) = '01-01'))
     AND abs(date_diff('day', CAST(l.dob AS DATE), CAST(r.dob AS DATE))) > 366),
    false) AS veto
FROM pairs p
JOIN people l ON l.unique_id = p.unique_id_l
JOIN people r ON r.unique_id = p.unique_id_r
ORDER BY p.row
"""

_COLUMNS = ["unique_id", "first_name", "first_name_variants", "last_name", "dob", "dob_swap"]


def constraint_table(table: pd.DataFrame) -> pa.Table:
    """The columns the constraints read, as Arrow (converted once, queried many times)."""
    return pa.Table.from_pandas(table[_COLUMNS], preserve_index=False)


def cannot_link(table: pd.DataFrame | pa.Table, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """True for each pair ``(left[i], right[i])`` of ``table.unique_id`` that must not link.

    Parameters
    ----------
    table
        The standardised table Splink saw (``unique_id`` and the name and dob columns), or
        its :func:`constraint_table`.
    left, right
        Unique ids of the pairs, aligned.
    """
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    pairs = pd.DataFrame({"row": np.arange(len(left)), "unique_id_l": left, "unique_id_r": right})
    con = duckdb.connect()
    try:
        con.register("pairs", pairs)
        people = table if isinstance(table, pa.Table) else constraint_table(table)
        con.register("people", people)
        veto = con.execute(_SQL).fetchnumpy()["veto"]
    finally:
        con.close()
    return np.asarray(veto, dtype=bool)
