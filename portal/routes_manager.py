"""Team manager pages: the team's caseload, reallocation within the team, overdue reviews.

Managers see pseudonymous flags only (reference, rank, band, district): re-identification is
for the allocated worker, so a manager who needs the family's details reallocates to themself
(if they hold a caseload) and the view is audited like any other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from safeguard.portal import store, warehouse
from safeguard.portal.caseload import caseload_rows, effective_flags, find_flag
from safeguard.portal.store import User
from safeguard.portal.warehouse import Worker
from safeguard.portal.web import (
    NotFoundError,
    PortalState,
    check_csrf,
    render,
    require_roles,
    state,
)

router = APIRouter()


def team_members(portal: PortalState, team: str | None) -> list[Worker]:
    if team is None:
        return []
    return portal.warehouse_memo.get(
        ("workers", team), lambda cur: warehouse.workers(cur, team=team)
    )


Manager = Annotated[User, Depends(require_roles("team_manager"))]


def _team_page(
    request: Request,
    user: Manager,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    reallocated: bool = False,
) -> Response:
    portal = state(request)
    team_workers = team_members(portal, user.team)
    names = {w.worker_id: w.display_name for w in team_workers}
    flags = effective_flags(portal, workers=names)
    rows = caseload_rows(portal, flags, portal.settings.clock().date())
    return render(
        request,
        "team.html",
        status_code,
        user=user,
        rows=rows,
        overdue=[r for r in rows if r.overdue],
        workers=team_workers,
        names=names,
        overdue_after_days=portal.settings.overdue_after_days,
        errors=errors or {},
        reallocated=reallocated,
    )


@router.get("/team", response_class=HTMLResponse)
def team(request: Request, user: Manager, reallocated: int = 0) -> Response:
    return _team_page(request, user, reallocated=bool(reallocated))


@router.post("/team/reallocate")
def reallocate(
    request: Request,
    user: Manager,
    flag_id: Annotated[str, Form()] = "",
    worker_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    portal = state(request)
    team_ids = {w.worker_id for w in team_members(portal, user.team)}
    flag = find_flag(portal, flag_id)
    if flag is None or flag.worker_id not in team_ids:
        raise NotFoundError(flag_id)
    reason = reason.strip()
    errors = {}
    if worker_id not in team_ids:
        errors["worker_id"] = "Choose a worker in your team"
    elif worker_id == flag.worker_id:
        errors["worker_id"] = "The family is already allocated to this worker"
    if not reason:
        errors["reason"] = "Give the reason for the reallocation"
    if errors:
        return _team_page(request, user, status_code=400, errors=errors)
    with portal.portal_db.cursor() as cur:
        store.insert_allocation(
            cur,
            flag_id=flag.flag_id,
            worker_id=worker_id,
            reallocated_by=user.username,
            reallocated_at=portal.settings.clock(),
            reason=reason[:2000],
        )
    portal.audit.record_family(
        user.username,
        "reallocation",
        flag.family_key,
        flag_id=flag.flag_id,
        from_worker=flag.worker_id,
        to_worker=worker_id,
    )
    return RedirectResponse("/team?reallocated=1", status_code=303)
