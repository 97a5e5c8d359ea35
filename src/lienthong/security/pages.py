"""The analysts' pages: the alert queue by severity and age, an alert with its events and
actions, cases, rules (loaded, failed with the reason, matches of the last day), sources and
a search over raw events. As thin as api.py: forms call the same services."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from lienthong.accounts.deps import check_csrf, page_node_role
from lienthong.accounts.models import Role
from lienthong.accounts.service import Principal
from lienthong.kernel.errors import AppError
from lienthong.security import alerts, cases, events, queries
from lienthong.security.detection import loaded_rules
from lienthong.security.loops import rule_folders
from lienthong.security.models import ALERT_STATES, LEVEL_LABELS, LEVELS
from lienthong.web.deps import DB, PRINTABLE, AppSettings, IsoDate, Pk, language
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(page_node_role(Role.SECURITY))]
PAGE_SIZE = 25
STATE_LABELS = {
    "open": ("Mới", "Open"),
    "acknowledged": ("Đang xử lý", "Acknowledged"),
    "closed": ("Đã đóng", "Closed"),
    "false_positive": ("Cảnh báo nhầm", "False positive"),
}


def _common() -> dict[str, Any]:
    return {"levels": LEVELS, "level_labels": LEVEL_LABELS, "state_labels": STATE_LABELS}


@router.get("/security", response_class=HTMLResponse)
def queue_page(
    request: Request,
    db: DB,
    _: Analyst,
    state: Annotated[str, Query(pattern="^(active|" + "|".join(ALERT_STATES) + ")$")] = "active",
    level: Annotated[str | None, Query(pattern="^(|" + "|".join(LEVELS) + ")$")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    rows, total = alerts.list_alerts(
        db, state=state, level=level or None, page=page, page_size=PAGE_SIZE
    )
    return render(
        request,
        "security/queue.html",
        {
            **_common(),
            "tab": "queue",
            "alerts": rows,
            "total": total,
            "page": page,
            "page_size": PAGE_SIZE,
            "state": state,
            "level": level or "",
            "summary": alerts.summary(db),
            "now": datetime.now(UTC),
            "error": request.query_params.get("error"),
        },
    )


@router.get("/security/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: Pk, db: DB, _: Analyst) -> HTMLResponse:
    alert = alerts.get_alert(db, alert_id=alert_id)
    open_cases, _total = cases.list_cases(db, state="open", page_size=50)
    return render(
        request,
        "security/alert.html",
        {
            **_common(),
            "tab": "queue",
            "alert": alert,
            "events": alerts.alert_events(db, alert_id=alert.id),
            "actions": alerts.actions(db, alert_id=alert.id),
            "open_cases": open_cases,
            "error": request.query_params.get("error"),
        },
    )


def _back(url: str, request: Request, exc: AppError | None = None) -> RedirectResponse:
    if exc is None:
        return RedirectResponse(url, status_code=303)
    from urllib.parse import quote

    return RedirectResponse(f"{url}?error={quote(exc.message(language(request)))}", status_code=303)


@router.post("/security/alerts/{alert_id}/actions")
def alert_action_form(
    request: Request,
    alert_id: Pk,
    db: DB,
    who: Analyst,
    action: Annotated[str, Form(max_length=30)],
    comment: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=80, pattern=PRINTABLE)] = "",
    suppress_hours: Annotated[float | None, Form(gt=0, le=24 * 365)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    check_csrf(request, who, csrf_token)
    url = f"/security/alerts/{alert_id}"
    try:
        if action == "escalate":
            case = cases.escalate(db, alert_ids=[alert_id], actor=who.name, title=comment or None)
            return _back(f"/security/cases/{case.id}", request)
        if action.startswith("add_to_case:"):
            case_id = int(action.partition(":")[2] or 0)
            case = cases.escalate(db, alert_ids=[alert_id], actor=who.name, case_id=case_id)
            return _back(f"/security/cases/{case.id}", request)
        alerts.act_on_alert(
            db,
            alert_id=alert_id,
            actor=who.name,
            action=action,
            comment=comment or None,
            assignee=assignee or None,
            suppress_hours=suppress_hours,
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        db.rollback()
        return _back(url, request, exc)
    return _back(url, request)


@router.post("/security/cases")
def open_case_form(
    request: Request,
    db: DB,
    who: Analyst,
    alert_ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI reads the default
    title: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Several alerts chosen in the queue into one new case."""
    check_csrf(request, who, csrf_token)
    try:
        case = cases.escalate(
            db,
            alert_ids=[i for i in alert_ids if 0 < i < 2**31],
            actor=who.name,
            title=title or None,
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        db.rollback()
        return _back("/security", request, exc)
    return _back(f"/security/cases/{case.id}", request)


@router.get("/security/cases", response_class=HTMLResponse)
def cases_page(
    request: Request,
    db: DB,
    _: Analyst,
    state: Annotated[str | None, Query(pattern="^(|open|closed)$")] = "open",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    rows, total = cases.list_cases(db, state=state or None, page=page, page_size=PAGE_SIZE)
    return render(
        request,
        "security/cases.html",
        {
            **_common(),
            "tab": "cases",
            "cases": rows,
            "total": total,
            "page": page,
            "page_size": PAGE_SIZE,
            "state": state or "",
        },
    )


@router.get("/security/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: Pk, db: DB, _: Analyst) -> HTMLResponse:
    case = cases.get_case(db, case_id=case_id)
    rows, _total = alerts.list_alerts(db, case_id=case.id, page_size=500)
    return render(
        request,
        "security/case.html",
        {
            **_common(),
            "tab": "cases",
            "case": case,
            "alerts": rows,
            "actions": alerts.actions(db, case_id=case.id),
            "error": request.query_params.get("error"),
        },
    )


@router.post("/security/cases/{case_id}/actions")
def case_action_form(
    request: Request,
    case_id: Pk,
    db: DB,
    who: Analyst,
    action: Annotated[str, Form(max_length=30)],
    comment: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=80, pattern=PRINTABLE)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    check_csrf(request, who, csrf_token)
    url = f"/security/cases/{case_id}"
    try:
        cases.act_on_case(
            db,
            case_id=case_id,
            actor=who.name,
            action=action,
            comment=comment or None,
            assignee=assignee or None,
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        db.rollback()
        return _back(url, request, exc)
    return _back(url, request)


@router.get("/security/rules", response_class=HTMLResponse)
def rules_page(request: Request, db: DB, settings: AppSettings, _: Analyst) -> HTMLResponse:
    report = queries.rule_report(db, loaded_rules(rule_folders(settings)))
    return render(request, "security/rules.html", {**_common(), "tab": "rules", **report})


@router.get("/security/sources", response_class=HTMLResponse)
def sources_page(request: Request, db: DB, _: Analyst) -> HTMLResponse:
    runtime = request.app.state.runtime
    return render(
        request,
        "security/sources.html",
        {
            **_common(),
            "tab": "sources",
            "sources": events.list_sources(db),
            "pending": runtime.security_intake.pending(),
            "dropped_here": runtime.security_intake.dropped_total,
        },
    )


@router.get("/security/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    db: DB,
    _: Analyst,
    day: Annotated[IsoDate | None, Query()] = None,
    field: Annotated[str, Query(pattern="^(|source|source_ip|user_name|dataset)$")] = "",
    value: Annotated[str, Query(max_length=200, pattern=PRINTABLE)] = "",
    q: Annotated[str, Query(max_length=200, pattern=PRINTABLE)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    since = datetime.combine(day, time(), UTC) - timedelta(hours=7) if day else None  # VN day
    filters: dict[str, Any] = {field: value} if field and value else {}
    rows, total = events.search(
        db,
        since=since,
        until=since + timedelta(days=1) if since else None,
        text=q or None,
        page=page,
        page_size=PAGE_SIZE,
        **filters,
    )
    return render(
        request,
        "security/events.html",
        {
            **_common(),
            "tab": "events",
            "events": rows,
            "total": total,
            "page": page,
            "page_size": PAGE_SIZE,
            "day": day.isoformat() if day else "",
            "field": field,
            "value": value,
            "q": q,
        },
    )
