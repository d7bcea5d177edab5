"""What a generation run produced, for the CLI to print and for tests to check."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table as RichTable


@dataclass(frozen=True)
class EstateSummary:
    """People and households of the estate, the drops written and their sizes.

    ``rows`` holds the rows per file of the newest drop (file name -> rows, header excluded).
    """

    people: int
    households: int
    families_with_children: int
    children: int
    extract_dates: tuple[datetime.date, ...]
    rows: tuple[tuple[str, int], ...]
    out: Path
    truth_out: Path | None
    seconds: float

    @property
    def newest(self) -> datetime.date:
        return self.extract_dates[-1]

    def rows_of(self, file: str) -> int:
        """Rows of one file of the newest drop (``"police.csv"`` or ``"police"``)."""
        name = file if file.endswith(".csv") else f"{file}.csv"
        return dict(self.rows)[name]

    def as_table(self) -> RichTable:
        """A rich table: the estate, the drops, rows per file of the newest drop."""
        table = RichTable(title=f"synthetic estate -> {self.out}", show_header=True)
        table.add_column("what")
        table.add_column("value", justify="right")
        table.add_row("people", f"{self.people:,}")
        table.add_row("children (0-17)", f"{self.children:,}")
        table.add_row("households", f"{self.households:,}")
        table.add_row("households with children", f"{self.families_with_children:,}")
        table.add_row("extract dates", ", ".join(d.isoformat() for d in self.extract_dates))
        for name, count in self.rows:
            table.add_row(f"{self.newest.isoformat()}/{name}", f"{count:,}")
        table.add_row("ground truth", str(self.truth_out) if self.truth_out else "not written")
        table.add_row("seconds", f"{self.seconds:.1f}")
        return table

    def as_dict(self) -> dict[str, object]:
        """Plain-JSON form."""
        return {
            "people": self.people,
            "households": self.households,
            "families_with_children": self.families_with_children,
            "children": self.children,
            "extract_dates": [d.isoformat() for d in self.extract_dates],
            "rows": dict(self.rows),
            "out": str(self.out),
            "truth_out": str(self.truth_out) if self.truth_out else None,
        }
