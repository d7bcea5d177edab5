"""Plant ~0.5% malformed rows in every agency file, as real extracts have them: impossible or
non-ISO dates, values outside the contract's enums, and empty required fields. Each planted value
is returned so it can be written to ``truth/malformed.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safeguard.synth.columns import Override, Table
from safeguard.synth.world import NEVER

MALFORMED_SHARE = 0.005
KINDS = ("bad_date", "bad_date_format", "unknown_enum", "missing_required")
_KIND_P = np.array([0.35, 0.2, 0.25, 0.2])

# Columns per file that a malformed value may hit (never the record key, never an end date, whose
# value depends on the extract date).
DATES = {
    "social_care": ("dob", "start_date"),
    "education": ("dob", "period_start"),
    "housing": ("dob", "event_date"),
    "police": ("dob", "incident_date"),
    "revenues_benefits": ("dob", "event_date"),
}
ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "social_care": {"episode_type": ("referal", "Early Help", "CIN"), "sex": ("X", "Male"),
                    "ethnicity": ("WHITE", "Black British"), "referral_source": ("gp", "Police")},
    "education": {"record_type": ("attendence", "exclusion"), "sen_status": ("EHC plan", "K"), "sex": ("X",)},
    "housing": {"event_type": ("arrears", "ASB"), "tenancy_role": ("lodger", "Lead")},
    "police": {"incident_type": ("ASB", "fraud", "DA"), "role": ("offender", "informant"),
               "dash_risk": ("HIGH", "severe")},
    "revenues_benefits": {"event_type": ("ctr", "UC", "council tax")},
}  # fmt: skip
REQUIRED = {
    "social_care": ("child_id", "first_name", "last_name", "dob", "episode_type", "start_date"),
    "education": ("upn", "first_name", "last_name", "dob", "record_type", "period_start"),
    "housing": ("tenancy_ref", "person_ref", "first_name", "last_name", "address_line", "postcode",
                "event_type", "event_date"),
    "police": ("incident_ref", "person_ref", "first_name", "last_name", "role", "incident_type", "incident_date"),
    "revenues_benefits": ("claimant_ref", "first_name", "last_name", "address_line", "postcode",
                          "event_type", "event_date"),
}  # fmt: skip


@dataclass(frozen=True)
class Planted:
    """Malformed values planted in one file: row index, column and kind of each."""

    source: str
    rows: np.ndarray
    columns: tuple[str, ...]
    kinds: tuple[str, ...]


def _bad_iso(value: str, rng: np.random.Generator) -> str:
    year = value[:4]
    return (
        f"{year}-{('02-30', '02-31', '04-31', '13-01', '00-12', '06-31')[int(rng.integers(0, 6))]}"
    )


def _bad_format(value: str, rng: np.random.Generator) -> str:
    y, m, d = value[:4], value[5:7], value[8:10]
    return (f"{d}/{m}/{y}", f"31/02/{y}", f"{d}.{m}.{y}", f"{y}{m}{d}")[int(rng.integers(0, 4))]


def plant(rng: np.random.Generator, table: Table) -> Planted:
    """Corrupt ~0.5% of the rows of ``table`` in place (one column each)."""
    n = table.n
    k = round(n * MALFORMED_SHARE)
    rows = np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
    kinds = rng.choice(len(KINDS), size=k, p=_KIND_P)
    src = table.source
    new: dict[str, tuple[list[int], list[str]]] = {}
    out_rows, out_cols, out_kinds = [], [], []
    for row, kind in zip(rows.tolist(), kinds.tolist(), strict=True):
        kind_name = KINDS[kind]
        if kind_name in ("bad_date", "bad_date_format"):
            col = DATES[src][int(rng.integers(0, 2))]
            value = str(table.columns[col].render(np.array([row]), int(NEVER))[0])
            if not value:
                col, kind_name = DATES[src][1], kind_name
                value = str(table.columns[col].render(np.array([row]), int(NEVER))[0])
            bad = _bad_iso(value, rng) if kind_name == "bad_date" else _bad_format(value, rng)
        elif kind_name == "unknown_enum":
            options = ENUMS[src]
            col = list(options)[int(rng.integers(0, len(options)))]
            bad = options[col][int(rng.integers(0, len(options[col])))]
        else:
            col = REQUIRED[src][int(rng.integers(0, len(REQUIRED[src])))]
            bad = ""
        new.setdefault(col, ([], []))
        new[col][0].append(row)
        new[col][1].append(bad)
        out_rows.append(row)
        out_cols.append(col)
        out_kinds.append(kind_name)
    for col, (r, v) in new.items():
        base = table.columns[col]
        table.columns[col] = (base.add(np.array(r), np.array(v, dtype=object)) if isinstance(base, Override)
                              else Override(base, np.array(r), np.array(v, dtype=object)))  # fmt: skip
    return Planted(src, np.array(out_rows, dtype=np.int64), tuple(out_cols), tuple(out_kinds))
