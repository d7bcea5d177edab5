"""Practitioner pages: my flagged families, the family page, the judgement form."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from safeguard.portal import identity, store, warehouse
from safeguard.portal.caseload import caseload_rows, effective_flags, find_allocated_flag
from safeguard.portal.chart import shap_chart
from safeguard.portal.settings import DECISIONS
from safeguard.portal.store import User
from safeguard.portal.warehouse import Flag
from safeguard.portal.web import (
    NotFoundError,
    PortalState,
    check_csrf,
    render,
    require_roles,
    state,
)

router = APIRouter()
# A team manager who also carries a caseload (has a worker_id) uses the same pages.
Practitioner = Annotated[User, Depends(require_roles("practitioner", "team_manager"))]
MIN_REASON_CHARS = 10
MAX_REASON_CHARS = 2000


@router.get("/my-families", response_class=HTMLResponse)
def my_families(request: Request, user: Practitioner) -> Response:
    portal = state(request)
    flags = effective_flags(portal, workers=[user.worker_id]) if user.worker_id else []
    rows = caseload_rows(portal, flags, portal.settings.clock().date())
    withdrawn = portal.warehouse_memo.get("withdrawn", warehouse.withdrawn_flag_count)
    return render(request, "my_families.html", user=user, rows=rows, withdrawn=withdrawn)


def _allocated_or_404(portal: PortalState, user: User, flag_id: str) -> Flag:
    flag = find_allocated_flag(portal, flag_id, user.worker_id)
    if flag is None:
        # Logged (attempts matter to the DPO) but answered exactly like a missing page.
        portal.audit.record(user.username, "case_view_denied", requested_flag_id=flag_id[:64])
        raise NotFoundError(flag_id)
    return flag


def _family_page(
    request: Request,
    user: User,
    flag: Flag,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    recorded: bool = False,
) -> Response:
    portal = state(request)
    reasons = portal.warehouse_memo.get(
        ("reasons", flag.flag_id), lambda cur: warehouse.reasons(cur, flag.flag_id)
    )
    members = portal.warehouse_memo.get(
        ("members", flag.family_key), lambda cur: warehouse.family_members(cur, flag.family_key)
    )
    evidence = [e for reason in reasons for e in reason.evidence]
    # Both entries are on disk before the vault is read: no identity without its record. One
    # commit for the two (one fsync), as they record one page view.
    portal.audit.record_family_many(
        user.username,
        flag.family_key,
        [
            ("case_view", {"flag_id": flag.flag_id, "worker_id": user.worker_id}),
            (
                "reidentification",
                {
                    "flag_id": flag.flag_id,
                    "people": len(members),
                    "records": len({(e.source, e.record_pseudo) for e in evidence}),
                    "purpose": "family page of the allocated worker",
                },
            ),
        ],
    )
    with portal.vault.cursor() as cur:
        people = identity.reidentify_members(cur, members)
        records = identity.reidentify_evidence(cur, evidence, people)
    history = portal.portal_memo.get(
        ("history", flag.flag_id), lambda cur: store.judgements_for_flag(cur, flag.flag_id)
    )
    return render(
        request,
        "family.html",
        status_code,
        user=user,
        flag=flag,
        raised=[r for r in reasons if r.direction == "raised"],
        lowered=[r for r in reasons if r.direction != "raised"],
        chart=shap_chart(flag.probability, reasons),
        people=people,
        records=records,
        history=history,
        errors=errors or {},
        form=form or {},
        recorded=recorded,
    )


@router.get("/families/{flag_id}", response_class=HTMLResponse)
def family(request: Request, flag_id: str, user: Practitioner, recorded: int = 0) -> Response:
    flag = _allocated_or_404(state(request), user, flag_id)
    return _family_page(request, user, flag, recorded=bool(recorded))


@router.post("/families/{flag_id}/judgement")
def record_judgement(
    request: Request,
    flag_id: str,
    user: Practitioner,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    portal = state(request)
    flag = _allocated_or_404(portal, user, flag_id)
    reason = reason.strip()
    errors = {}
    if decision not in DECISIONS:
        errors["decision"] = "Select your professional judgement"
    if len(reason) < MIN_REASON_CHARS:
        errors["reason"] = (
            f"Give the reason for your judgement (at least {MIN_REASON_CHARS} characters)"
        )
    elif len(reason) > MAX_REASON_CHARS:
        errors["reason"] = f"Keep the reason to {MAX_REASON_CHARS} characters or fewer"
    if errors:
        return _family_page(
            request,
            user,
            flag,
            status_code=400,
            errors=errors,
            form={"decision": decision, "reason": reason},
        )
    with portal.portal_db.cursor() as cur:
        judgement = store.insert_judgement(
            cur,
            flag_id=flag.flag_id,
            family_key=flag.family_key,
            worker_id=user.worker_id,
            username=user.username,
            decision=decision,
            reason=reason,
            decided_at=portal.settings.clock(),
            model_version=flag.model_version,
        )
    # The free-text reason stays in the portal database: it may name people, the audit trail must not.
    portal.audit.record_family(
        user.username,
        "decision",
        flag.family_key,
        flag_id=flag.flag_id,
        decision=decision,
        judgement_id=judgement.judgement_id,
    )
    return RedirectResponse(f"/families/{quote(flag.flag_id, safe='')}?recorded=1", status_code=303)
