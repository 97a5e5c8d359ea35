"""JSON API of the security monitoring: events in (per-source tokens), alerts and cases for
analysts, sources and rules, and the summary the operations centre reads."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from lienthong.accounts.deps import node_role
from lienthong.accounts.models import Role
from lienthong.accounts.service import Principal
from lienthong.kernel.errors import AppError, Invalid, TooLarge
from lienthong.security import alerts, cases, events, queries, reports
from lienthong.security.detection import loaded_rules
from lienthong.security.intake import Intake
from lienthong.security.loops import rule_folders
from lienthong.security.models import ALERT_STATES, LEVELS, SecuritySource
from lienthong.security.normalise import Malformed, parse_json_event
from lienthong.security.schemas import (
    Accepted,
    AlertAction,
    AlertDetail,
    AlertOut,
    AlertPage,
    CaseAction,
    CaseDetail,
    CaseOpen,
    CaseOut,
    CasePage,
    EventPage,
    RuleReport,
    SignedBundle,
    SourceCreated,
    SourceNew,
    SourceOut,
    Summary,
)
from lienthong.web.deps import DB, PRINTABLE, AppSettings, IsoDate, NodeRuntime, Pk
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, errors, raw_body

router = APIRouter(prefix="/api/v1/security", tags=["security monitoring"])

Analyst = Annotated[Principal, Depends(node_role(Role.SECURITY))]
Watcher = Annotated[Principal, Depends(node_role(Role.SECURITY, Role.IOC))]
MAX_POST_BYTES = 8 * 1024 * 1024


def posting_source(request: Request, db: DB) -> SecuritySource:
    """The source system posting events: `Authorization: Bearer <its token>`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    source = events.source_for_token(db, token.strip()) if scheme.lower() == "bearer" else None
    if source is None:
        raise AppError(
            "Cần mã của nguồn nhật ký (Authorization: Bearer …).",
            "The log source's token is required (Authorization: Bearer …).",
            code="bad_source_token",
            status_code=401,
        )
    return source


Poster = Annotated[SecuritySource, Depends(posting_source)]


def _take(intake: Intake, source: SecuritySource, body: bytes, ndjson: bool) -> dict[str, int]:
    if ndjson:
        documents: list[Any] = []
        malformed = 0
        for line in body.splitlines():
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except ValueError:
                malformed += 1
    else:
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise Invalid(
                "Nội dung không phải JSON.", "The body is not JSON.", code="events_not_json"
            ) from exc
        documents = parsed if isinstance(parsed, list) else [parsed]
        malformed = 0
        if not all(isinstance(d, dict) for d in documents):
            raise Invalid(
                "Mỗi sự kiện phải là một đối tượng JSON.",
                "Each event must be a JSON object.",
                code="event_not_object",
            )
    accepted = dropped = 0
    for document in documents:
        try:
            fields = parse_json_event(document, dataset=source.name)
        except Malformed:
            malformed += 1
            continue
        original = json.dumps(document, ensure_ascii=False)
        if intake.offer(source=source.name, kind="http", fields=fields, original=original):
            accepted += 1
        else:
            dropped += 1
    if malformed:
        intake.count(source.name, "http", malformed=malformed)
    return {"accepted": accepted, "dropped": dropped, "malformed": malformed}


@router.post(
    "/events",
    response_model=Accepted,
    status_code=202,
    responses=errors(401, 413) | WITH_BODY,
    openapi_extra=raw_body(
        "application/json",
        "One ECS event as a JSON object, an array of them, or JSON lines "
        "(Content-Type application/x-ndjson).",
    ),
)
async def post_events(request: Request, source: Poster, runtime: NodeRuntime) -> dict[str, int]:
    """Events from a source system, taken into the buffer (never waited for: what is over the
    source's rate or past the buffer is counted as dropped)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_POST_BYTES:
            raise TooLarge(
                "Gửi nhiều nhất 8 MiB mỗi lần.",
                "Send at most 8 MiB at a time.",
                code="events_too_large",
            )
    ndjson = "ndjson" in request.headers.get("content-type", "") or "jsonl" in request.headers.get(
        "content-type", ""
    )
    return await run_in_threadpool(_take, runtime.security_intake, source, bytes(body), ndjson)


@router.get("/events", response_model=EventPage, responses=SIGNED_IN)
def search_events(
    db: DB,
    _: Analyst,
    since: Annotated[IsoDate | None, Query(alias="from")] = None,
    until: Annotated[IsoDate | None, Query(alias="to")] = None,
    source: Annotated[str | None, Query(max_length=120, pattern=PRINTABLE)] = None,
    source_ip: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    user_name: Annotated[str | None, Query(max_length=120, pattern=PRINTABLE)] = None,
    dataset: Annotated[str | None, Query(max_length=80, pattern=PRINTABLE)] = None,
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Raw events by day range (`from`/`to`, inclusive, UTC), field and text."""
    from datetime import UTC, datetime, time, timedelta

    start = datetime.combine(since, time(), UTC) if since else None
    end = datetime.combine(until, time(), UTC) + timedelta(days=1) if until else None
    rows, total = events.search(
        db,
        since=start,
        until=end,
        source=source,
        source_ip=source_ip,
        user_name=user_name,
        dataset=dataset,
        text=q,
        page=page,
        page_size=page_size,
    )
    return {"items": rows, "total": total, "page": page, "page_size": page_size}


@router.get("/alerts", response_model=AlertPage, responses=SIGNED_IN)
def list_alerts(
    db: DB,
    _: Analyst,
    state: Annotated[str | None, Query(pattern="^(active|" + "|".join(ALERT_STATES) + ")$")] = None,
    level: Annotated[str | None, Query(pattern="^(" + "|".join(LEVELS) + ")$")] = None,
    rule_id: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    source_ip: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The queue: most severe first, oldest first within a level."""
    rows, total = alerts.list_alerts(
        db,
        state=state,
        level=level,
        rule_id=rule_id,
        source_ip=source_ip,
        page=page,
        page_size=page_size,
    )
    return {"items": rows, "total": total, "page": page, "page_size": page_size}


def _alert_detail(db: DB, alert_id: int) -> dict[str, Any]:
    alert = alerts.get_alert(db, alert_id=alert_id)
    out = AlertOut.model_validate(alert).model_dump()
    out["events"] = alerts.alert_events(db, alert_id=alert.id)
    out["actions"] = alerts.actions(db, alert_id=alert.id)
    return out


@router.get("/alerts/{alert_id}", response_model=AlertDetail, responses=SIGNED_IN | errors(404))
def get_alert(alert_id: Pk, db: DB, _: Analyst) -> dict[str, Any]:
    return _alert_detail(db, alert_id)


@router.post(
    "/alerts/{alert_id}/actions",
    response_model=AlertDetail,
    responses=SIGNED_IN | errors(404, 409) | WITH_BODY,
)
def act_on_alert(alert_id: Pk, body: AlertAction, db: DB, who: Analyst) -> dict[str, Any]:
    """Acknowledge, assign, comment, mark a false positive (a suppression, for
    `suppress_hours` or for good), or close with a reason."""
    alerts.act_on_alert(
        db,
        alert_id=alert_id,
        actor=who.name,
        action=body.action,
        comment=body.comment,
        assignee=body.assignee,
        suppress_hours=body.suppress_hours,
    )
    return _alert_detail(db, alert_id)


@router.get("/cases", response_model=CasePage, responses=SIGNED_IN)
def list_cases(
    db: DB,
    _: Analyst,
    state: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    rows, total = cases.list_cases(db, state=state, page=page, page_size=page_size)
    return {"items": rows, "total": total, "page": page, "page_size": page_size}


def _case_detail(db: DB, case_id: int) -> dict[str, Any]:
    case = cases.get_case(db, case_id=case_id)
    out = CaseOut.model_validate(case).model_dump()
    out["alerts"], _ = alerts.list_alerts(db, case_id=case.id, page_size=500)
    out["actions"] = alerts.actions(db, case_id=case.id)
    return out


@router.post(
    "/cases",
    response_model=CaseDetail,
    status_code=201,
    responses=SIGNED_IN | errors(404, 409) | WITH_BODY,
)
def open_case(body: CaseOpen, db: DB, who: Analyst) -> dict[str, Any]:
    """Escalate alerts into a new case, or into an open one (`case_id`)."""
    case = cases.escalate(
        db, alert_ids=body.alert_ids, actor=who.name, title=body.title, case_id=body.case_id
    )
    return _case_detail(db, case.id)


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=SIGNED_IN | errors(404))
def get_case(case_id: Pk, db: DB, _: Analyst) -> dict[str, Any]:
    return _case_detail(db, case_id)


@router.post(
    "/cases/{case_id}/actions",
    response_model=CaseDetail,
    responses=SIGNED_IN | errors(404, 409) | WITH_BODY,
)
def act_on_case(case_id: Pk, body: CaseAction, db: DB, who: Analyst) -> dict[str, Any]:
    """Assign, comment, or close with a reason (its alerts close with it)."""
    cases.act_on_case(
        db,
        case_id=case_id,
        actor=who.name,
        action=body.action,
        comment=body.comment,
        assignee=body.assignee,
    )
    return _case_detail(db, case_id)


@router.get("/sources", response_model=list[SourceOut], responses=SIGNED_IN)
def list_sources(db: DB, _: Analyst) -> list[dict[str, Any]]:
    return [
        SourceOut.model_validate(row).model_dump() | {"events_last_minute": n}
        for row, n in events.list_sources(db)
    ]


@router.post(
    "/sources",
    response_model=SourceCreated,
    status_code=201,
    responses=SIGNED_IN | errors(409) | WITH_BODY,
)
def create_source(body: SourceNew, db: DB, _: Analyst) -> dict[str, Any]:
    """A source system; kind `http` gets the token it posts events with (shown only here)."""
    row, token = events.create_source(db, name=body.name, kind=body.kind)
    return SourceOut.model_validate(row).model_dump() | {"token": token}


@router.get("/rules", response_model=RuleReport, responses=SIGNED_IN)
def rule_report(db: DB, settings: AppSettings, _: Analyst) -> dict[str, Any]:
    """Every Sigma rule: loaded (with its alerts of the last day) or failed with the reason."""
    return queries.rule_report(db, loaded_rules(rule_folders(settings)))


@router.get("/summary", response_model=Summary, responses=SIGNED_IN)
def summary(db: DB, runtime: NodeRuntime, _: Watcher) -> dict[str, Any]:
    """For the operations centre: active alerts per level, the open critical ones, and the
    events this process has had to drop."""
    out = alerts.summary(db)
    out["dropped_events"] = runtime.security_intake.dropped_total
    return out


@router.get(
    "/cases/{case_id}/report", response_model=SignedBundle, responses=SIGNED_IN | errors(404)
)
def case_report(case_id: Pk, db: DB, runtime: NodeRuntime, _: Analyst) -> dict[str, Any]:
    """The incident report for the national monitoring centre: a STIX 2.1 bundle (incident,
    indicators, ATT&CK techniques, actions taken), signed by the node."""
    bundle = reports.incident_bundle(db, case_id=case_id, node_code=runtime.settings.node_code)
    return reports.sign(bundle, runtime.keys.node_identity())


@router.get("/indicators", response_model=SignedBundle, responses=SIGNED_IN)
def indicators(
    db: DB,
    runtime: NodeRuntime,
    _: Analyst,
    days: Annotated[int, Query(ge=1, le=90)] = 1,
) -> dict[str, Any]:
    """The indicators the province shares: addresses behind high and critical alerts of the
    last `days`, as a signed STIX 2.1 bundle."""
    bundle = reports.indicator_bundle(db, node_code=runtime.settings.node_code, days=days)
    return reports.sign(bundle, runtime.keys.node_identity())
