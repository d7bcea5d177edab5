"""Compare each source's volume with the previous drop: the data-loss gate's arithmetic.

A full-snapshot extract that suddenly holds far fewer rows or people (a failed export, a mass
deletion like the 2021 Police National Computer loss) must stop the run before anything
downstream trusts it. Counts come straight from the files, reading only the person-key
column, so both drops are measured the same way and no value is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pyarrow.compute as pc

from safeguard.dpia.firewall import classify_columns
from safeguard.ingest.contract import LandingContract
from safeguard.ingest.csvfile import read_header, read_kept_columns
from safeguard.ingest.drops import Drop

__all__ = ["SourceVolume", "VolumeFinding", "compare_volumes", "drop_volumes"]


@dataclass(frozen=True)
class SourceVolume:
    """Rows and distinct agency person keys in one source file."""

    rows: int
    distinct_persons: int


@dataclass(frozen=True)
class VolumeFinding:
    """A measure that fell by more than the allowed share (or a source that disappeared)."""

    source: str
    measure: Literal["rows", "distinct_persons"]
    previous: int
    current: int
    share_lost: float
    max_drop_share: float

    @property
    def message(self) -> str:
        """E.g. ``police: rows fell from 120,000 to 60,000 (50.0% lost; limit 20.0%)``."""
        what = "rows" if self.measure == "rows" else "distinct people (agency person keys)"
        return (
            f"{self.source}: {what} fell from {self.previous:,} to {self.current:,} "
            f"({self.share_lost:.1%} lost; limit {self.max_drop_share:.1%})"
        )


def compare_volumes(
    previous: Mapping[str, SourceVolume],
    current: Mapping[str, SourceVolume],
    max_drop_share: float = 0.2,
) -> list[VolumeFinding]:
    """Findings for every source whose rows or distinct people fell by more than the limit.

    Parameters
    ----------
    previous, current : Mapping[str, SourceVolume]
        Volumes per source for the previous and the current drop. A source missing from
        ``current`` counts as zero; a source new in ``current`` has nothing to compare.
    max_drop_share : float
        Largest tolerated loss, as a share of the previous count (0.2 = 20%). A loss of
        exactly the limit passes.

    Returns
    -------
    list[VolumeFinding]
        Empty when every source is within the limit; growth never fails.
    """
    if not 0 <= max_drop_share < 1:
        raise ValueError(f"max_drop_share must be in [0, 1), got {max_drop_share}")
    findings = []
    for source, before in previous.items():
        after = current.get(source, SourceVolume(rows=0, distinct_persons=0))
        measures: tuple[tuple[Literal["rows", "distinct_persons"], int, int], ...] = (
            ("rows", before.rows, after.rows),
            ("distinct_persons", before.distinct_persons, after.distinct_persons),
        )
        for measure, old, new in measures:
            if old <= 0:
                continue
            lost = (old - new) / old
            if lost > max_drop_share:
                findings.append(
                    VolumeFinding(source, measure, old, new, round(lost, 6), max_drop_share)
                )
    return findings


def drop_volumes(drop: Drop, contract: LandingContract) -> dict[str, SourceVolume]:
    """Rows and distinct person keys per agency source of a drop, from the files.

    Only the person-key column is converted; rows with the wrong number of fields still
    count as rows (they were delivered), and empty keys are not people.
    """
    volumes = {}
    for source, spec in contract.sources.items():
        path = drop.file_path(spec.file)
        header, offset = read_header(path)
        person_key = spec.person_key_column
        decision = classify_columns(header, [person_key] if person_key else [], contract.prohibited)
        raw = read_kept_columns(path, len(header), decision.kept, offset)
        distinct = 0
        if person_key in raw.columns:
            keys = pc.utf8_trim_whitespace(raw.columns[person_key])
            distinct = pc.count_distinct(pc.if_else(pc.equal(keys, ""), None, keys)).as_py()
        volumes[source] = SourceVolume(rows=raw.rows_read, distinct_persons=int(distinct))
    return volumes
