"""Finding a vacant home: families that move take a free address of the tenure they can get,
mostly in the same district, otherwise elsewhere in the council (rarely another council)."""

from __future__ import annotations

import numpy as np

from safeguard.synth.config import GenerationError
from safeguard.synth.geography import Geography

#: Share of moves that cross to another council when there are several.
AWAY_SHARE = 0.05
_TRIES = 12


def allocate(rng: np.random.Generator, geo: Geography, occupied: np.ndarray, origin: np.ndarray,
             tenure: np.ndarray, local: float) -> np.ndarray:  # fmt: skip
    """Vacant address ids for movers from ``origin`` districts, marked occupied in ``occupied``.

    Rejection sampling inside each (district, tenure) block of the stock: a few vectorised rounds
    place nearly everyone; the rare leftovers take any vacant address in their council.
    """
    n = len(origin)
    council = geo.district_council[origin]
    per = np.bincount(geo.district_council)
    first = np.concatenate([[0], np.cumsum(per)])[council]
    other = first + rng.integers(0, per[council])
    if len(per) > 1:
        away = rng.random(n) < AWAY_SHARE
        other[away] = rng.integers(0, geo.n_districts, int(away.sum()))
    district = np.where(rng.random(n) < local, origin, other)
    new = np.full(n, -1, dtype=np.int64)
    lo, hi = geo.group_range(district, tenure.astype(np.int64))
    for _ in range(_TRIES):
        todo = np.flatnonzero((new < 0) & (hi > lo))
        if len(todo) == 0:
            break
        cand = lo[todo] + (rng.random(len(todo)) * (hi[todo] - lo[todo])).astype(np.int64)
        _, first_seen = np.unique(cand, return_index=True)
        ok = np.zeros(len(cand), dtype=bool)
        ok[first_seen] = True
        ok &= ~occupied[cand]
        new[todo[ok]] = cand[ok]
        occupied[cand[ok]] = True
    for i in np.flatnonzero(new < 0):
        vacant = np.flatnonzero(~occupied & (geo.district_council[geo.addr_district] == council[i]))
        if len(vacant) == 0:
            raise GenerationError(
                f"no vacant address left in council {geo.council_names[council[i]]}: the housing "
                "stock in synth/geography.py is too small for the households formed"
            )
        new[i] = vacant[rng.integers(0, len(vacant))]
        occupied[new[i]] = True
    return new
