"""A plain container for what happened to whom and when, before any agency records it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Events:
    """Rows of true events: person, day and event-specific int/float fields of equal length."""

    person: np.ndarray
    day: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.person)

    @classmethod
    def concat(cls, parts: list[Events]) -> Events:
        """Stack events with the same fields."""
        parts = [p for p in parts if p.n] or parts[:1]
        if not parts:
            return cls(np.zeros(0, np.int32), np.zeros(0, np.int32))
        keys = parts[0].fields.keys()
        return cls(
            np.concatenate([p.person for p in parts]).astype(np.int32),
            np.concatenate([p.day for p in parts]).astype(np.int32),
            {k: np.concatenate([p.fields[k] for p in parts]) for k in keys},
        )

    def select(self, mask: np.ndarray) -> Events:
        """Rows where ``mask`` holds (or at the given indices)."""
        return Events(
            self.person[mask], self.day[mask], {k: v[mask] for k, v in self.fields.items()}
        )

    def sorted(self) -> Events:
        """Rows ordered by day, then person, then the first field (stable, deterministic)."""
        keys = [self.person, self.day]
        first = next(iter(self.fields.values()), None)
        if first is not None:
            keys.insert(0, first)
        order = np.lexsort(keys)
        return self.select(order)
