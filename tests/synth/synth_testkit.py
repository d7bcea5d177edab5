"""Helpers shared by the synth tests (imported by module name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from pathlib import Path

from safeguard.synth import EstateSummary

REPO = Path(__file__).resolve().parents[2]
CONTRACT_PATH = REPO / "contracts" / "landing_contract.yaml"
AGENCY_FILES = ("social_care", "education", "housing", "police", "revenues_benefits")
ALL_FILES = (*AGENCY_FILES, "workers", "objections", "areas")


@dataclass(frozen=True)
class Estate:
    """A generated estate: landing dir, truth dir and the summary."""

    landing: Path
    truth: Path
    summary: EstateSummary

    @property
    def newest(self) -> Path:
        return self.landing / self.summary.newest.isoformat()

    def drop(self, when: datetime.date) -> Path:
        return self.landing / when.isoformat()


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV, read with the csv module (RFC 4180)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)
