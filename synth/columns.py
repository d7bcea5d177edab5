"""Compact column storage: rows keep ints (codes, day numbers, ids) and strings are made only for
the chunk of rows being written, so a multi-million-row drop fits in little memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from safeguard.synth.world import NEVER

MISSING_DAY = np.int32(-(2**31) + 1)
_DAY0 = -25_567  # 1900-01-01
_DAY1 = 47_482  # 2100-01-01


@lru_cache(maxsize=1)
def _day_strings() -> np.ndarray:
    days = np.arange(_DAY0, _DAY1).astype("datetime64[D]")
    return np.concatenate(
        [np.datetime_as_string(days).astype(object), np.array([""], dtype=object)]
    )


def iso_days(days: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings for day numbers; MISSING_DAY and NEVER give ''."""
    table = _day_strings()
    idx = days.astype(np.int64) - _DAY0
    idx = np.where((idx < 0) | (idx >= len(table) - 1), len(table) - 1, idx)
    return table[idx]


def quote(text: str) -> str:
    """RFC 4180: quote a field holding a comma, a quote or a line break; double its quotes."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


class Col:
    """A column: renders a chunk of rows to strings for one extract date."""

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def render_csv(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        """As :meth:`render`, quoted for CSV (dates, numbers and keys never need quotes)."""
        return self.render(rows, extract_day)


@dataclass
class Const(Col):
    value: str = ""

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        return np.full(len(rows), self.value, dtype=object)


@dataclass
class Vocab(Col):
    """Row codes into a vocabulary of strings; code -1 renders as missing ('')."""

    codes: np.ndarray
    vocab: np.ndarray

    def __post_init__(self) -> None:
        self.vocab = np.concatenate(
            [np.asarray(self.vocab, dtype=object), np.array([""], dtype=object)]
        )

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        return self.vocab[self.codes[rows]]

    def render_csv(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        if not hasattr(self, "_quoted"):
            self._quoted = np.array([quote(v) for v in self.vocab.tolist()], dtype=object)
        return self._quoted[self.codes[rows]]


@dataclass
class Dates(Col):
    """Day numbers; with ``open_at_extract`` a day on/after the extract date renders as ''."""

    days: np.ndarray
    open_at_extract: bool = False

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        d = self.days[rows]
        if self.open_at_extract:
            d = np.where(d >= extract_day, NEVER, d)
        return iso_days(d)


@dataclass
class Ints(Col):
    """Non-negative integers; negative values render as missing."""

    values: np.ndarray

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        v = self.values[rows]
        return np.array([str(x) if x >= 0 else "" for x in v.tolist()], dtype=object)


@dataclass
class Money(Col):
    """Amounts in pounds with pence; NaN renders as missing."""

    values: np.ndarray

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        v = self.values[rows]
        return np.array(["" if x != x else f"{x:.2f}" for x in v.tolist()], dtype=object)


@dataclass
class Keys(Col):
    """Identifiers ``<prefix><number>``; ``kinds`` picks a prefix per row from ``prefix`` when given."""

    prefix: str | tuple[str, ...]
    numbers: np.ndarray
    width: int = 8
    kinds: np.ndarray | None = None

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        w = self.width
        nums = self.numbers[rows].tolist()
        if self.kinds is None:
            pre = self.prefix if isinstance(self.prefix, str) else self.prefix[0]
            return np.array([f"{pre}{x:0{w}d}" for x in nums], dtype=object)
        pres = self.prefix
        return np.array([f"{pres[k]}{x:0{w}d}" for k, x in zip(self.kinds[rows].tolist(), nums, strict=True)],
                        dtype=object)  # fmt: skip


@dataclass
class Override(Col):
    """A base column with a few rows replaced (noise made per row, planted malformed values)."""

    base: Col
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    def __post_init__(self) -> None:
        order = np.argsort(self.rows, kind="stable")
        self.rows, self.values = (
            np.asarray(self.rows)[order],
            np.asarray(self.values, dtype=object)[order],
        )

    def add(self, rows: np.ndarray, values: np.ndarray) -> Override:
        """Return a new override with more replaced rows (later values win)."""
        keep = ~np.isin(self.rows, rows)
        return Override(self.base, np.concatenate([self.rows[keep], rows]),
                        np.concatenate([self.values[keep], np.asarray(values, dtype=object)]))  # fmt: skip

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        return self._apply(self.base.render(rows, extract_day), rows, self.values)

    def render_csv(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        if not hasattr(self, "_quoted"):
            self._quoted = np.array([quote(v) for v in self.values.tolist()], dtype=object)
        return self._apply(self.base.render_csv(rows, extract_day), rows, self._quoted)

    def _apply(self, out: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        if len(self.rows):
            pos = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
            hit = self.rows[pos] == rows
            if hit.any():
                out = out.copy()
                out[hit] = values[pos[hit]]
        return out


@dataclass
class BeforeBirth(Col):
    """A column that renders ``before`` for rows whose person was not yet born on the extract
    date (an unborn child's record shows what the system held then: "Unborn", the due date)."""

    base: Col
    dob: np.ndarray  # true date of birth per row
    before: Col

    def render(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        return self._merge(self.base.render(rows, extract_day), rows, extract_day, csv=False)

    def render_csv(self, rows: np.ndarray, extract_day: int) -> np.ndarray:
        return self._merge(self.base.render_csv(rows, extract_day), rows, extract_day, csv=True)

    def _merge(self, out: np.ndarray, rows: np.ndarray, extract_day: int, csv: bool) -> np.ndarray:
        unborn = self.dob[rows] >= extract_day
        if unborn.any():
            out = out.copy()
            sub = rows[unborn]
            before = self.before
            out[unborn] = (before.render_csv(sub, extract_day) if csv
                           else before.render(sub, extract_day))  # fmt: skip
        return out


@dataclass
class Table:
    """Rows of one landing file: true person per row, visibility dates and column renderers.

    A row is in the drop of extract date ``E`` when ``visible < E`` and it overlaps the look-back
    window (``end >= W`` where ``end`` is the last day the record describes).
    """

    source: str
    person: np.ndarray  # int32 true person id
    visible: np.ndarray  # int32 first day the record exists in the agency system
    last: np.ndarray  # int32 last day the record is about (NEVER while open)
    columns: dict[str, Col]
    key_column: str

    @property
    def n(self) -> int:
        return len(self.person)

    def rows_for(self, extract_day: int, window_start: int) -> np.ndarray:
        """Row indices in the drop of an extract date."""
        return np.flatnonzero((self.visible < extract_day) & (self.last >= window_start))

    def render(self, rows: np.ndarray, extract_day: int) -> dict[str, np.ndarray]:
        return {name: col.render(rows, extract_day) for name, col in self.columns.items()}

    def render_csv(self, rows: np.ndarray, extract_day: int) -> dict[str, np.ndarray]:
        return {name: col.render_csv(rows, extract_day) for name, col in self.columns.items()}
