"""Data-team admin pages: accounts (never their passwords) and the audit trail's integrity."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from safeguard.portal import store
from safeguard.portal.store import User
from safeguard.portal.web import render, require_roles, state

router = APIRouter()
Admin = Annotated[User, Depends(require_roles("admin"))]


@router.get("/admin", response_class=HTMLResponse)
def admin_users(request: Request, user: Admin) -> Response:
    with state(request).portal_db.reader() as cur:
        users = store.list_users(cur)
    return render(request, "admin_users.html", user=user, users=users)


@router.get("/admin/audit", response_class=HTMLResponse)
def admin_audit(request: Request, user: Admin) -> Response:
    audit = state(request).audit
    result = audit.verify()
    # Counting needs every line readable; a broken chain is reported, not counted past.
    actions = Counter(e.action for e in audit.entries()) if result.ok else Counter()
    return render(
        request,
        "admin_audit.html",
        user=user,
        intact=result.ok,
        explanation=result.reason,
        actions=sorted(actions.items()),
        total=sum(actions.values()),
        audit_path=str(audit.path),
    )
