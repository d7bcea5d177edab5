"""Who holds which flag now: the pipeline's allocation, overridden by a manager's reallocation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from safeguard.portal import store, warehouse
from safeguard.portal.warehouse import Flag
from safeguard.portal.web import PortalState


@dataclass(frozen=True)
class CaseloadRow:
    """A flag with the state of its review."""

    flag: Flag
    decision: str | None
    waiting_days: int
    overdue: bool


def effective_flags(portal: PortalState, *, workers: Iterable[str] | None = None) -> list[Flag]:
    """Current flags with reallocations applied (the latest allocation row wins).

    With ``workers``, only the flags now allocated to one of them.
    """
    flags = portal.warehouse_memo.get("flags", warehouse.current_flags)
    overrides = portal.portal_memo.get("overrides", store.allocation_overrides)
    moved = [
        f.reallocated_to(*overrides[f.flag_id]) if f.flag_id in overrides else f for f in flags
    ]
    wanted = None if workers is None else set(workers)
    return moved if wanted is None else [f for f in moved if f.worker_id in wanted]


def find_flag(portal: PortalState, flag_id: str) -> Flag | None:
    """One current flag, with its reallocation applied."""
    by_id = portal.warehouse_memo.get(
        "flags_by_id", lambda cur: {f.flag_id: f for f in warehouse.current_flags(cur)}
    )
    flag = by_id.get(flag_id)
    if flag is None:
        return None
    overrides = portal.portal_memo.get("overrides", store.allocation_overrides)
    return flag.reallocated_to(*overrides[flag_id]) if flag_id in overrides else flag


def find_allocated_flag(portal: PortalState, flag_id: str, worker_id: str | None) -> Flag | None:
    """The flag if it exists AND is allocated to ``worker_id``; None otherwise, either way."""
    flag = find_flag(portal, flag_id)
    if flag is None or not worker_id or flag.worker_id != worker_id:
        return None
    return flag


def caseload_rows(portal: PortalState, flags: list[Flag], today: date) -> list[CaseloadRow]:
    """Attach the latest decision and how long each flag has waited for one."""
    decisions = portal.portal_memo.get("decisions", store.latest_decisions)
    rows = []
    for flag in flags:
        since = flag.allocated_since or flag.as_of_date
        waiting = max((today - since).days, 0)
        decision = decisions.get(flag.flag_id)
        overdue = decision is None and waiting > portal.settings.overdue_after_days
        rows.append(CaseloadRow(flag, decision, waiting, overdue))
    return rows
