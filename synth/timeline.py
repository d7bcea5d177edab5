"""The calendar of a simulation: months simulated, extract dates, look-back windows, school terms.

Dates are held as int32 day numbers since 1970-01-01 throughout the generator (cheap to compare
and to store); :func:`iso` turns them back into ``YYYY-MM-DD``.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

import numpy as np

#: Months simulated before the look-back window so that open social-care episodes (plans, care)
#: have reached their steady state when the window starts.
BURN_IN_MONTHS = 36
#: Every drop is a full snapshot of the last six years (what a model needs: 24-month look-backs
#: at as-of dates up to 36 months before the newest extract, plus 12-month outcome windows).
LOOKBACK_MONTHS = 72
#: Half-day sessions possible per school term (autumn, spring, summer), as in DfE absence returns.
TERM_SESSIONS = (142, 118, 120)
#: Term (start month, start day, end month, end day) in the English school year.
TERM_DATES = ((9, 2, 12, 19), (1, 6, 3, 27), (4, 14, 7, 22))

_EPOCH = datetime.date(1970, 1, 1)


def day_number(d: datetime.date) -> int:
    """Return the int day number of a date."""
    return (d - _EPOCH).days


def to_date(day: int) -> datetime.date:
    """Return the date of an int day number."""
    return _EPOCH + datetime.timedelta(days=int(day))


def iso(day: int) -> str:
    """Return ``YYYY-MM-DD`` for a day number."""
    return to_date(day).isoformat()


def add_months(d: datetime.date, months: int) -> datetime.date:
    """Shift a date by whole months, clamping the day to the target month's length."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    day = min(d.day, calendar.monthrange(year, month + 1)[1])
    return datetime.date(year, month + 1, day)


@dataclass(frozen=True)
class Term:
    """One school term: academic year (September start), index 0..2, dates and sessions."""

    year: int
    index: int
    start: int
    end: int
    sessions: int


@dataclass(frozen=True)
class Timeline:
    """Months simulated and the extract dates cut from them."""

    newest: datetime.date
    extracts: tuple[datetime.date, ...]  # ascending; the last is the newest
    first_month: datetime.date  # first day of the first simulated month
    n_months: int

    @classmethod
    def build(cls, newest: datetime.date, history_months: int) -> Timeline:
        """Lay out the months needed for ``history_months`` earlier extracts before ``newest``."""
        extracts = tuple(add_months(newest, -k) for k in range(history_months, -1, -1))
        last_day = newest - datetime.timedelta(days=1)
        last_month = last_day.replace(day=1)
        n_months = BURN_IN_MONTHS + LOOKBACK_MONTHS + history_months + 1
        first_month = add_months(last_month, -(n_months - 1))
        return cls(newest=newest, extracts=extracts, first_month=first_month, n_months=n_months)

    @property
    def month_starts(self) -> np.ndarray:
        """Day number of the first day of each simulated month, plus one past the end."""
        return np.array(
            [day_number(add_months(self.first_month, m)) for m in range(self.n_months + 1)],
            dtype=np.int32,
        )

    @property
    def start_day(self) -> int:
        """First simulated day."""
        return day_number(self.first_month)

    @property
    def newest_day(self) -> int:
        """Day number of the newest extract date (records dated before it are in the drop)."""
        return day_number(self.newest)

    def window_start(self, extract: datetime.date) -> int:
        """First day of the look-back window of an extract."""
        return day_number(add_months(extract, -LOOKBACK_MONTHS))

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Simulated month index of day numbers (clipped to the simulated range)."""
        idx = np.searchsorted(self.month_starts, days, side="right") - 1
        return np.clip(idx, 0, self.n_months - 1).astype(np.int32)

    def terms(self) -> list[Term]:
        """School terms that end inside the simulated months and before the newest extract."""
        out: list[Term] = []
        for year in range(self.first_month.year - 1, self.newest.year + 1):
            for index, (m0, d0, m1, d1) in enumerate(TERM_DATES):
                y0 = year if index == 0 else year + 1
                start = day_number(datetime.date(y0, m0, d0))
                end = day_number(datetime.date(y0, m1, d1))
                if start >= self.start_day and end < self.newest_day:
                    out.append(Term(year, index, start, end, TERM_SESSIONS[index]))
        return out
