"""Write drops: one folder per extract date, one CSV per file, rendered in chunks.

CSV: UTF-8, header row, comma separated, RFC 4180 quoting (fields with commas, quotes or line
breaks are quoted, quotes doubled), ``\\n`` line ends, empty string = missing. Rows are joined
directly (values are quoted once per vocabulary entry), which is several times faster than the
csv module at millions of rows.
"""

from __future__ import annotations

import csv
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from safeguard.synth.columns import Table
from safeguard.synth.malformed import Planted
from safeguard.synth.timeline import day_number

CHUNK = 100_000


@dataclass
class TruthSink:
    """Open truth files for records and malformed rows (``None`` when no truth is kept)."""

    records: IO[str] | None = None
    malformed: IO[str] | None = None

    @classmethod
    def open(cls, truth_out: Path | None) -> TruthSink:
        if truth_out is None:
            return cls()
        truth_out.mkdir(parents=True, exist_ok=True)
        sink = cls(
            (truth_out / "records.csv").open("w", newline="", encoding="utf-8"),
            (truth_out / "malformed.csv").open("w", newline="", encoding="utf-8"),
        )
        sink.write_records(["extract_date,source,record_key,true_person_id"])
        sink.write_malformed(["extract_date", "file", "record_key", "row", "column", "kind"])
        return sink

    def write_records(self, lines: list[str]) -> None:
        """Append pre-formatted ``extract_date,source,record_key,true_person_id`` lines."""
        if self.records is not None and lines:
            self.records.write("\n".join(lines) + "\n")

    def write_malformed(self, row: list[object]) -> None:
        """Append one malformed-value row."""
        if self.malformed is not None:
            csv.writer(self.malformed, lineterminator="\n").writerow(row)

    def close(self) -> None:
        for handle in (self.records, self.malformed):
            if handle is not None:
                handle.close()


def person_ids(person: np.ndarray) -> np.ndarray:
    """``P0000001``-style true person ids."""
    return np.array([f"P{p + 1:07d}" for p in person.tolist()], dtype=object)


def write_file(path: Path, table: Table, rows: np.ndarray, extract: datetime.date, sink: TruthSink,
               planted: Planted | None, tick: Callable[[int], None] | None = None) -> int:  # fmt: skip
    """Write ``rows`` of ``table`` to ``path``; stream truth records and malformed rows."""
    e_day = day_number(extract)
    stamp = extract.isoformat()
    names = list(table.columns)
    with_truth = sink.records is not None and table.n > 0 and int(table.person.min()) >= 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(names) + "\n")
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            cols = table.render_csv(chunk, e_day)
            handle.write(
                "\n".join(map(",".join, zip(*(cols[n].tolist() for n in names), strict=True)))
                + "\n"
            )
            if with_truth:
                keys = cols[table.key_column].tolist()
                ids = person_ids(table.person[chunk]).tolist()
                prefix = f"{stamp},{table.source},"
                sink.write_records([f"{prefix}{k},{i}" for k, i in zip(keys, ids, strict=True)])
            if tick is not None:
                tick(len(chunk))
    if sink.malformed is not None and planted is not None and len(planted.rows) and len(rows):
        pos = np.minimum(np.searchsorted(rows, planted.rows), len(rows) - 1)
        present = rows[pos] == planted.rows
        key_col = table.columns[table.key_column]
        for i in np.flatnonzero(present):
            key = key_col.render(planted.rows[i : i + 1], e_day)[0]
            sink.write_malformed([stamp, f"{table.source}.csv", key, int(pos[i]) + 1,
                                     planted.columns[i], planted.kinds[i]])  # fmt: skip
    return len(rows)
