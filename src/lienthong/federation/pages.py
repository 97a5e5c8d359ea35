"""The operator's page: peers and their links, the backlog, dead letters and requeue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from lienthong.accounts.deps import PagePrincipal, check_csrf
from lienthong.accounts.models import Role
from lienthong.federation import outbox, peers
from lienthong.kernel.errors import Forbidden
from lienthong.web.deps import DB, AppSettings
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def _require_admin(principal: PagePrincipal, settings: AppSettings) -> None:
    if not principal.has_role(Role.ADMIN, settings.node_agency_code):
        raise Forbidden(
            "Trang này dành cho quản trị viên của nút.",
            "This page is for the node's administrators.",
            code="forbidden",
        )


@router.get("/federation", response_class=HTMLResponse)
def federation_page(
    request: Request,
    db: DB,
    principal: PagePrincipal,
    settings: AppSettings,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    _require_admin(principal, settings)
    dead, total = outbox.listing(db, state=outbox.DEAD, page=page, page_size=PAGE_SIZE)
    rows = peers.status(db)
    for row in rows:
        for key in ("last_success_at", "oldest_waiting_at", "retry_at"):
            row[key] = datetime.fromisoformat(row[key]) if row[key] else None
    return render(
        request,
        "federation/peers.html",
        {
            "node_code": settings.node_code,
            "peers": rows,
            "dead": dead,
            "total": total,
            "page": page,
            "page_size": PAGE_SIZE,
        },
    )


@router.post("/federation/outbound/{outbound_id}/requeue")
def requeue_form(
    request: Request,
    outbound_id: int,
    db: DB,
    principal: PagePrincipal,
    settings: AppSettings,
    csrf_token: Annotated[str, Form()] = "",
) -> RedirectResponse:
    check_csrf(request, principal, csrf_token)
    _require_admin(principal, settings)
    outbox.requeue(db, outbound_id=outbound_id)
    return RedirectResponse("/federation?requeued=1", status_code=303)
