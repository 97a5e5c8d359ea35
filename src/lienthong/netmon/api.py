"""JSON API of the network monitor, and `/probe`: the blackbox exporter's interface, so an
existing Prometheus can scrape the node's probes of its own inventory."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from lienthong.accounts.deps import node_role
from lienthong.accounts.models import Role
from lienthong.accounts.service import Principal
from lienthong.kernel.clock import local_today, utcnow
from lienthong.kernel.errors import Invalid, TooLarge
from lienthong.netmon import alerts, figures, inventory, meetings, prober, sites
from lienthong.netmon.models import MODULES, Meeting, NetAlert
from lienthong.netmon.probes import default_probes
from lienthong.netmon.schemas import (
    Acknowledgement,
    AlertOut,
    AlertPage,
    BoardPage,
    ImportOut,
    MeetingIn,
    MeetingOut,
    MeetingPage,
    SlaReport,
    Summary,
    TargetFigures,
)
from lienthong.registry.codes import PATTERN as AGENCY_CODE
from lienthong.web.deps import DB, PRINTABLE, AppSettings, Lang, Pk
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, binary, errors, raw_body
from lienthong.web.render import csv_download

router = APIRouter(prefix="/api/v1/netmon", tags=["network monitoring"])
blackbox = APIRouter(tags=["network monitoring"])
Watcher = Annotated[Principal, Depends(node_role(Role.NETWORK, Role.IOC))]
Operator = Annotated[Principal, Depends(node_role(Role.NETWORK))]
STATUS = r"^(up|down|unreachable|unknown)$"
MONTH = re.compile(r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$")


def _board(
    db: DB,
    kind: str,
    area: str | None,
    provider: str | None,
    status: str | None,
    page: int,
    page_size: int,
) -> dict[str, Any]:
    rows, total, counts = figures.board(
        db,
        filters=figures.BoardFilter(area=area, provider=provider, status=status, kind=kind),
        page=page,
        page_size=page_size,
    )
    return {"items": rows, "total": total, "page": page, "page_size": page_size, "counts": counts}


Area = Annotated[
    str | None,
    Query(
        max_length=35,
        pattern=r"^$|" + AGENCY_CODE.removeprefix("^"),
        description="a former district's code; empty: the provincial bodies",
    ),
]
Provider = Annotated[str | None, Query(max_length=60, pattern=PRINTABLE)]
Status = Annotated[str | None, Query(pattern=STATUS)]
Page = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=200)]


@router.get("/links", response_model=BoardPage, responses=SIGNED_IN)
def list_links(
    db: DB,
    _: Watcher,
    area: Area = None,
    provider: Provider = None,
    status: Status = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """Links, worst first: down, unreachable, unknown, up; then by loss and latency."""
    return _board(db, "link", area, provider, status, page, page_size)


@router.get("/endpoints", response_model=BoardPage, responses=SIGNED_IN)
def list_endpoints(
    db: DB,
    _: Watcher,
    area: Area = None,
    provider: Provider = None,
    status: Status = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    return _board(db, "endpoint", area, provider, status, page, page_size)


@router.get("/summary", response_model=Summary, responses=SIGNED_IN)
def summary(db: DB, _: Watcher) -> dict[str, Any]:
    """The whole network and each area: targets per status, alerts open."""
    return figures.network_summary(db)


@router.get(
    "/targets/{target_id}", response_model=TargetFigures, responses={**SIGNED_IN, **errors(404)}
)
def target_figures(
    target_id: Pk,
    db: DB,
    _: Watcher,
    period: Annotated[str, Query(pattern=r"^(hour|day)$")] = "hour",
    days: Annotated[int, Query(ge=1, le=400)] = 1,
) -> dict[str, Any]:
    """Per hour (or day): availability, loss, RTT average, max, p50 and p95."""
    target = inventory.get_target(db, target_id=target_id)
    row = row_of(db, target.id)
    periods = figures.hourly(
        db, target_id=target.id, since=utcnow() - timedelta(days=days), period=period
    )
    return {"target": row, "periods": periods}


def row_of(db: DB, target_id: int) -> dict[str, Any]:
    return figures.rows(db, [inventory.get_target(db, target_id=target_id)])[0]


@router.get("/sla", response_model=SlaReport, responses={**SIGNED_IN, **errors(422)})
def sla(
    db: DB,
    settings: AppSettings,
    _: Watcher,
    month: Annotated[
        str | None, Query(pattern=MONTH.pattern, description="YYYY-MM, Vietnam time")
    ] = None,
) -> dict[str, Any]:
    """Availability of every link over a month against its provider's target."""
    first = parse_month(month) if month else local_today().replace(day=1)
    return {
        "month": first.strftime("%Y-%m"),
        "items": figures.sla_report(db, settings=settings, month=first),
    }


def parse_month(text: str) -> date:
    if not MONTH.match(text):
        raise Invalid(
            "Tháng phải có dạng YYYY-MM.", "The month must be YYYY-MM.", code="netmon_invalid_month"
        )
    return date(int(text[:4]), int(text[5:7]), 1)


def alert_json(alert: NetAlert, codes: dict[int, str], lang: str) -> dict[str, Any]:
    label = alerts.RULE_LABELS.get(alert.rule, (alert.rule, alert.rule))
    return {
        "id": alert.id,
        "target_id": alert.target_id,
        "site_code": codes.get(alert.site_id, ""),
        "rule": alert.rule,
        "rule_name": label[1] if lang == "en" else label[0],
        "severity": alert.severity,
        "state": alert.state,
        "detail": alert.detail,
        "opened_at": alert.opened_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "ack_note": alert.ack_note,
        "closed_at": alert.closed_at,
    }


@router.get("/alerts", response_model=AlertPage, responses=SIGNED_IN)
def list_alerts(
    db: DB,
    lang: Lang,
    _: Watcher,
    state: Annotated[str | None, Query(pattern=r"^(active|open|acknowledged|closed)$")] = None,
    rule: Annotated[
        str | None, Query(pattern=r"^(unavailable|loss|latency|flapping|not_ready)$")
    ] = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    rows, total = alerts.listing(db, state=state, rule=rule, page=page, page_size=page_size)
    codes = sites.codes(db, {a.site_id for a in rows})
    return {
        "items": [alert_json(a, codes, lang) for a in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    responses={**SIGNED_IN, **errors(404, 409)},
)
def acknowledge(
    alert_id: Pk, body: Acknowledgement, db: DB, lang: Lang, who: Operator
) -> dict[str, Any]:
    alert = alerts.acknowledge(db, alert_id=alert_id, actor=who.name, note=body.note)
    return alert_json(alert, sites.codes(db, {alert.site_id}), lang)


async def _csv_body(request: Request, limit: int) -> str:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise TooLarge(
                f"Tệp vượt quá giới hạn {limit // (1024 * 1024)} MB.",
                f"The file is over the {limit // (1024 * 1024)} MB limit.",
                code="body_too_large",
            )
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(
            "Tệp phải được mã hóa UTF-8.",
            "The file must be UTF-8 encoded.",
            code="netmon_import_invalid",
        ) from exc


IMPORT = {**SIGNED_IN, **WITH_BODY, **errors(422)}


@router.post(
    "/import/links",
    response_model=ImportOut,
    responses=IMPORT,
    openapi_extra=raw_body(
        "text/csv", "Columns: " + ",".join(inventory.LINK_COLUMNS) + "; all rows or none"
    ),
)
async def import_links(
    request: Request, db: DB, settings: AppSettings, _: Operator
) -> dict[str, Any]:
    text = await _csv_body(request, settings.max_import_bytes)
    return asdict(inventory.import_links(db, text=text, interval=settings.netmon_interval_seconds))


@router.post(
    "/import/endpoints",
    response_model=ImportOut,
    responses=IMPORT,
    openapi_extra=raw_body(
        "text/csv", "Columns: " + ",".join(inventory.ENDPOINT_COLUMNS) + "; all rows or none"
    ),
)
async def import_endpoints(
    request: Request, db: DB, settings: AppSettings, _: Operator
) -> dict[str, Any]:
    text = await _csv_body(request, settings.max_import_bytes)
    return asdict(
        inventory.import_endpoints(db, text=text, interval=settings.netmon_interval_seconds)
    )


@router.get(
    "/export/links.csv",
    response_class=StreamingResponse,
    responses={**SIGNED_IN, **binary("text/csv", "Every link, in the import's columns")},
)
def export_links(db: DB, _: Watcher) -> Response:
    return csv_download(inventory.export_links(db), "links.csv")


@router.get(
    "/export/endpoints.csv",
    response_class=StreamingResponse,
    responses={**SIGNED_IN, **binary("text/csv", "Every video endpoint, in the import's columns")},
)
def export_endpoints(db: DB, _: Watcher) -> Response:
    return csv_download(inventory.export_endpoints(db), "endpoints.csv")


@blackbox.get(
    "/probe",
    response_model=None,
    responses={
        **SIGNED_IN,
        **errors(404),
        **binary("text/plain", "Prometheus text format: probe_success, probe_duration_seconds, …"),
    },
)
def probe(
    db: DB,
    settings: AppSettings,
    _: Watcher,
    target: Annotated[
        str,
        Query(
            min_length=1,
            max_length=255,
            pattern=PRINTABLE,
            description="a circuit id, link:<id>, endpoint:<id> or an inventoried address",
        ),
    ],
    module: Annotated[str | None, Query(pattern="^(" + "|".join(MODULES) + ")$")] = None,
) -> PlainTextResponse:
    """Blackbox-exporter compatible: one probe now of a target of the inventory (never of an
    arbitrary address), answered in Prometheus' text format."""
    found = inventory.find_target(db, name=target)
    started = utcnow()
    outcome = prober.run_probe(
        default_probes(),
        module or found.module,
        found.address,
        settings.netmon_timeout_seconds,
    )
    seconds = (utcnow() - started).total_seconds()
    lines = [
        "# HELP probe_success Whether the probe succeeded",
        "# TYPE probe_success gauge",
        f"probe_success {1 if outcome.success else 0}",
        "# HELP probe_duration_seconds How long the probe took",
        "# TYPE probe_duration_seconds gauge",
        f"probe_duration_seconds {seconds:.6f}",
    ]
    if outcome.rtt_ms is not None:
        lines += [
            "# TYPE probe_rtt_seconds gauge",
            f"probe_rtt_seconds {outcome.rtt_ms / 1000:.6f}",
        ]
    if outcome.loss_pct is not None:
        lines += [
            "# TYPE probe_icmp_loss_ratio gauge",
            f"probe_icmp_loss_ratio {outcome.loss_pct / 100:.4f}",
        ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def meeting_json(db: DB, meeting: Meeting) -> dict[str, Any]:
    return {
        "id": meeting.id,
        "title": meeting.title,
        "host_site_code": sites.codes(db, {meeting.host_site_id}).get(meeting.host_site_id, ""),
        "starts_at": meeting.starts_at,
        "ends_at": meeting.ends_at,
        "seats": meetings.board(db, meeting=meeting),
        "log": [
            {"endpoint_id": e.endpoint_id, "at": e.at.isoformat(), "readiness": e.readiness}
            for e in meetings.log(db, meeting_id=meeting.id)
        ],
    }


@router.post(
    "/meetings",
    response_model=MeetingOut,
    status_code=201,
    responses={**SIGNED_IN, **WITH_BODY, **errors(404, 409)},
)
def book_meeting(body: MeetingIn, db: DB, who: Operator) -> dict[str, Any]:
    """Book a meeting; refused when an endpoint is already booked at that time."""
    meeting = meetings.book(
        db,
        title=body.title,
        host_site_code=body.host_site_code,
        starts_at=body.starts_at,
        duration_minutes=body.duration_minutes,
        endpoint_ids=body.endpoint_ids,
        area_code=body.area_code,
        actor=who.name,
    )
    return meeting_json(db, meeting)


@router.get("/meetings", response_model=MeetingPage, responses=SIGNED_IN)
def list_meetings(db: DB, _: Watcher, page: Page = 1, page_size: PageSize = 50) -> dict[str, Any]:
    """Meetings not yet over, soonest first, each with its readiness board."""
    rows, total = meetings.listing(db, since=utcnow(), page=page, page_size=page_size)
    return {
        "items": [meeting_json(db, m) for m in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get(
    "/meetings/{meeting_id}", response_model=MeetingOut, responses={**SIGNED_IN, **errors(404)}
)
def get_meeting(meeting_id: Pk, db: DB, _: Watcher) -> dict[str, Any]:
    return meeting_json(db, meetings.get(db, meeting_id=meeting_id))
