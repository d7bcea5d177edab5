"""The small estate several pipeline tests share (see conftest.py), and its planted marker."""

from __future__ import annotations

import csv
from pathlib import Path

MARKER = "PLANTED-IMMIGRATION-MARKER-7f3a"
PEOPLE = 3000


def plant_prohibited_marker(drop: Path) -> int:
    """Put a unique marker in every prohibited cell of police.csv; return the rows touched."""
    path = drop / "police.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    targets = [
        i
        for i, name in enumerate(header)
        if name.strip().lower() in ("immigration_status", "nationality")
    ]
    assert targets, "the generator is expected to put prohibited columns in police.csv"
    for row in rows[1:]:
        for i in targets:
            if i < len(row):
                row[i] = f"{MARKER}-{row[i]}"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return len(rows) - 1
