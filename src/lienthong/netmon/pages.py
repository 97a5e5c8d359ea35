"""The network pages for the provincial IT staff: the board of links and endpoints worst first,
a target's page with its charts (server-side SVG) and alerts, and the alerts with
acknowledgement. Vietnamese first, usable on a phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lienthong.accounts.deps import check_csrf, page_node_role
from lienthong.accounts.models import Role
from lienthong.accounts.service import Principal
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import AppError
from lienthong.netmon import alerts, charts, figures, inventory, sites
from lienthong.netmon.figures import STATUS_LABELS
from lienthong.web.deps import DB, Pk, language
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
Watcher = Annotated[Principal, Depends(page_node_role(Role.NETWORK, Role.IOC))]
Operator = Annotated[Principal, Depends(page_node_role(Role.NETWORK))]
PAGE_SIZE = 50


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    i = 1 if language(request) == "en" else 0
    return {
        "status_label": lambda s: STATUS_LABELS.get(s, (s, s))[i],
        "rule_label": lambda r: alerts.RULE_LABELS.get(r, (r, r))[i],
        **values,
    }


@router.get("/mang", response_class=HTMLResponse)
def board_page(
    request: Request,
    db: DB,
    _: Watcher,
    kind: Annotated[str, Query(pattern=r"^(link|endpoint)$")] = "link",
    area: Annotated[str | None, Query(max_length=35)] = None,
    provider: Annotated[str, Query(max_length=60)] = "",
    status: Annotated[str, Query(pattern=r"^(|up|down|unreachable|unknown)$")] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    rows, total, counts = figures.board(
        db,
        filters=figures.BoardFilter(
            area=area, provider=provider or None, status=status or None, kind=kind
        ),
        page=page,
        page_size=PAGE_SIZE,
    )
    return render(
        request,
        "netmon/board.html",
        _ctx(
            request,
            rows=rows,
            total=total,
            counts=counts,
            kind=kind,
            area=area,
            provider=provider,
            status=status,
            page=page,
            page_size=PAGE_SIZE,
            areas=[("", sites.PROVINCE_AREA[1]), *sites.areas(db)],
            summary=figures.network_summary(db),
        ),
    )


@router.get("/mang/muc/{target_id}", response_class=HTMLResponse)
def target_page(request: Request, target_id: Pk, db: DB, _: Watcher) -> HTMLResponse:
    target = inventory.get_target(db, target_id=target_id)
    row = figures.rows(db, [target])[0]
    now = utcnow()
    hours = figures.hourly(db, target_id=target.id, since=now - timedelta(hours=24))
    days = figures.hourly(db, target_id=target.id, since=now - timedelta(days=30), period="day")
    found, _total = alerts.listing(db, site_ids=[target.site_id], page_size=20)
    en = language(request) == "en"
    return render(
        request,
        "netmon/target.html",
        _ctx(
            request,
            row=row,
            hours=hours,
            days=days,
            alerts=[a for a in found if a.target_id == target.id],
            rtt_chart=charts.line(
                [(h["start"], h["rtt_avg_ms"]) for h in hours],
                title="RTT (ms), 24 h" if en else "Độ trễ (ms), 24 giờ",
            ),
            loss_chart=charts.line(
                [(h["start"], h["loss_pct"]) for h in hours],
                title="Loss (%), 24 h" if en else "Mất gói (%), 24 giờ",
            ),
            availability_chart=charts.line(
                [(d["start"], d["availability_pct"]) for d in days],
                title="Availability (%), 30 days" if en else "Sẵn sàng (%), 30 ngày",
            ),
        ),
    )


@router.get("/mang/canh-bao", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    db: DB,
    _: Watcher,
    state: Annotated[str, Query(pattern=r"^(active|open|acknowledged|closed)$")] = "active",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    error: Annotated[str, Query(max_length=300)] = "",
) -> HTMLResponse:
    rows, total = alerts.listing(db, state=state, page=page, page_size=PAGE_SIZE)
    names = sites.sites(db, {a.site_id for a in rows})
    return render(
        request,
        "netmon/alerts.html",
        _ctx(
            request,
            rows=rows,
            total=total,
            names=names,
            state=state,
            page=page,
            page_size=PAGE_SIZE,
            error=error,
        ),
    )


@router.post("/mang/canh-bao/{alert_id}/xac-nhan")
async def acknowledge(request: Request, alert_id: Pk, db: DB, who: Operator) -> Response:
    form = await request.form()
    check_csrf(request, who, str(form.get("csrf_token", "")))
    note = str(form.get("note", "")).strip()[:2000]
    try:
        alerts.acknowledge(db, alert_id=alert_id, actor=who.name, note=note or "—")
    except AppError as exc:
        return RedirectResponse(f"/mang/canh-bao?error={exc.code}", status_code=303)
    return RedirectResponse("/mang/canh-bao", status_code=303)
