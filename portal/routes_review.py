"""Reviewer pages: the review pack and its reports, and override statistics. No identities.

Every page and file sent from here passes the identity guard (see :mod:`safeguard.portal.reports`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from safeguard.portal import store
from safeguard.portal.caseload import effective_flags
from safeguard.portal.reports import TEXT_SUFFIXES, list_review_documents, resolve_review_file
from safeguard.portal.settings import DECISIONS
from safeguard.portal.store import User
from safeguard.portal.web import IdentityWithheldError, NotFoundError, render, require_roles, state

router = APIRouter()
Reviewer = Annotated[User, Depends(require_roles("reviewer", "admin"))]
BANDS = ("very high", "high", "medium", "low")
EARLIER = "flag from an earlier run"
# Pipeline reports may carry inline styles; they never get to run script or submit forms.
REPORT_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".otf": "font/otf",
}


@router.get("/review", response_class=HTMLResponse)
def review_index(request: Request, user: Reviewer) -> Response:
    documents = list_review_documents(state(request).settings.data_dir)
    return render(request, "review_index.html", user=user, documents=documents)


def _first_of_kind(request: Request, user: User, kind: str, title: str) -> Response:
    for document in list_review_documents(state(request).settings.data_dir):
        if document.kind == kind:
            return RedirectResponse(f"/review/files/{document.rel_path}", status_code=303)
    return render(request, "review_missing.html", 404, user=user, title=title)


@router.get("/review/model-card")
def model_card(request: Request, user: Reviewer) -> Response:
    return _first_of_kind(request, user, "model_card", "Model card")


@router.get("/review/fairness")
def fairness(request: Request, user: Reviewer) -> Response:
    return _first_of_kind(request, user, "fairness", "Fairness report")


@router.get("/review/monitoring")
def monitoring(request: Request, user: Reviewer) -> Response:
    return _first_of_kind(request, user, "monitoring", "Model monitoring")


@router.get("/review/pack")
def review_pack(request: Request, user: Reviewer) -> Response:
    return _first_of_kind(request, user, "review_pack", "Review pack")


@dataclass(frozen=True)
class OverrideStatistics:
    """Counts of practitioners' latest decisions: overall and by band. No identities."""

    rows: list[tuple[str, Counter[str], int]]
    overall: Counter[str]
    total: int
    awaiting: int
    current: int


def override_statistics(request: Request) -> OverrideStatistics:
    """Latest decision per flag, counted overall and by band."""
    portal = state(request)
    decisions = portal.portal_memo.get("decisions", store.latest_decisions)
    flags = effective_flags(portal)
    band_of = {f.flag_id: f.band or "unknown" for f in flags}
    by_band: dict[str, Counter[str]] = {}
    for flag_id, decision in decisions.items():
        by_band.setdefault(band_of.get(flag_id, EARLIER), Counter())[decision] += 1
    order = [b for b in BANDS if b in by_band] + sorted(set(by_band) - set(BANDS))
    overall: Counter[str] = Counter(decisions.values())
    return OverrideStatistics(
        rows=[(band, by_band[band], sum(by_band[band].values())) for band in order],
        overall=overall,
        total=sum(overall.values()),
        awaiting=sum(1 for f in flags if f.flag_id not in decisions),
        current=len(flags),
    )


@router.get("/review/overrides", response_class=HTMLResponse)
def overrides(request: Request, user: Reviewer) -> Response:
    return render(
        request,
        "overrides.html",
        user=user,
        decisions=DECISIONS,
        stats=override_statistics(request),
    )


@router.get("/review/files/{rel_path:path}")
def review_file(request: Request, rel_path: str, user: Reviewer) -> Response:
    portal = state(request)
    path = resolve_review_file(portal.settings.data_dir, rel_path)
    if path is None:
        raise NotFoundError(rel_path)
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        return Response(path.read_bytes(), media_type=MEDIA_TYPES[suffix])
    text = path.read_text(encoding="utf-8", errors="replace")
    if portal.guard.contains_identity(text):
        raise IdentityWithheldError(rel_path)
    if suffix == ".md":
        return render(request, "review_markdown.html", user=user, title=path.stem, text=text)
    return Response(
        text, media_type=MEDIA_TYPES[suffix], headers={"Content-Security-Policy": REPORT_CSP}
    )
