"""Online meetings between the province and its communes: booking (an endpoint is in one
meeting at a time), and readiness — from `netmon_readiness_minutes` before the start until the
end, each participant endpoint and its site's link checked from their probe state, a
`not_ready` alert for each one not ready, and a log of who was ready and when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Invalid, NotFound
from lienthong.netmon import alerts, sites
from lienthong.netmon.models import (
    IN_SERVICE,
    UP,
    Meeting,
    MeetingLogEntry,
    MeetingSeat,
    ProbeTarget,
    VideoEndpoint,
)
from lienthong.registry import service as registry

READY, LINK_DOWN, NOT_ANSWERING = "ready", "link_down", "not_answering"
READINESS_LABELS = {
    READY: ("Sẵn sàng", "Ready"),
    LINK_DOWN: ("Mất đường truyền", "Link down"),
    NOT_ANSWERING: ("Điểm cầu không trả lời", "Endpoint not answering"),
    "unknown": ("Chưa kiểm tra", "Not checked yet"),
}


def _endpoints_of_area(session: Session, area_code: str) -> list[int]:
    endpoints = session.scalars(
        select(VideoEndpoint).where(VideoEndpoint.state == IN_SERVICE)
    ).all()
    named = sites.sites(session, {e.site_id for e in endpoints})
    return [e.id for e in endpoints if named[e.site_id].area_code == area_code]


def book(
    session: Session,
    *,
    title: str,
    host_site_code: str,
    starts_at: datetime,
    duration_minutes: int,
    endpoint_ids: Sequence[int] = (),
    area_code: str | None = None,
    actor: str,
) -> Meeting:
    if duration_minutes <= 0:
        raise Invalid(
            "Cuộc họp phải kết thúc sau khi bắt đầu.",
            "A meeting must end after it starts.",
            code="netmon_meeting_period",
        )
    host = registry.get_agency(session, code=host_site_code)
    wanted = list(
        dict.fromkeys(
            [
                *endpoint_ids,
                *(_endpoints_of_area(session, area_code) if area_code is not None else []),
            ]
        )
    )
    if not wanted:
        raise Invalid(
            "Cuộc họp chưa có điểm cầu nào.",
            "The meeting has no endpoints.",
            code="netmon_meeting_empty",
        )
    found = set(session.scalars(select(VideoEndpoint.id).where(VideoEndpoint.id.in_(wanted))))
    missing = [e for e in wanted if e not in found]
    if missing:
        raise NotFound(
            "Không có điểm cầu đã chọn.",
            "No such endpoint.",
            code="netmon_unknown_endpoint",
            details={"endpoint_ids": missing},
        )
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    taken = session.execute(
        select(MeetingSeat.endpoint_id, MeetingSeat.meeting_id).where(
            MeetingSeat.endpoint_id.in_(wanted),
            MeetingSeat.starts_at < ends_at,
            MeetingSeat.ends_at > starts_at,
        )
    ).all()
    if taken:
        raise Conflict(
            "Có điểm cầu đã được đặt cho cuộc họp khác vào giờ này.",
            "An endpoint is already booked for another meeting at that time.",
            code="netmon_endpoint_booked",
            details={"booked": [{"endpoint_id": e, "meeting_id": m} for e, m in taken]},
        )
    meeting = Meeting(
        title=title[:300],
        host_site_id=host.id,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor[:120],
        created_at=utcnow(),
    )
    session.add(meeting)
    session.flush()
    for endpoint_id in wanted:
        session.add(
            MeetingSeat(
                meeting_id=meeting.id,
                endpoint_id=endpoint_id,
                starts_at=starts_at,
                ends_at=ends_at,
                readiness="unknown",
            )
        )
    session.flush()
    return meeting


def get(session: Session, *, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(
            f"Không có cuộc họp {meeting_id}.",
            f"No meeting {meeting_id}.",
            code="netmon_unknown_meeting",
        )
    return meeting


def listing(
    session: Session, *, since: datetime, page: int = 1, page_size: int = 50
) -> tuple[list[Meeting], int]:
    stmt = select(Meeting).where(Meeting.ends_at >= since)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Meeting.starts_at).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), int(total)


def board(session: Session, *, meeting: Meeting) -> list[dict[str, Any]]:
    seats = session.execute(
        select(MeetingSeat, VideoEndpoint)
        .join(VideoEndpoint, VideoEndpoint.id == MeetingSeat.endpoint_id)
        .where(MeetingSeat.meeting_id == meeting.id)
        .order_by(VideoEndpoint.site_id)
    ).all()
    named = sites.sites(session, {e.site_id for _, e in seats})
    return [
        {
            "endpoint_id": e.id,
            "site_code": named[e.site_id].code,
            "site_name": named[e.site_id].name,
            "room": e.room,
            "readiness": s.readiness,
            "checked_at": s.checked_at,
        }
        for s, e in seats
    ]


def _readiness(endpoint_target: ProbeTarget | None, links: Sequence[ProbeTarget]) -> str:
    if links and not any(link.status == UP for link in links):
        return LINK_DOWN
    if endpoint_target is None or endpoint_target.status != UP:
        return NOT_ANSWERING
    return READY


def check_readiness(session: Session, *, settings: Settings, now: datetime | None = None) -> int:
    """Check the seats of every meeting starting within the readiness window or under way; the
    number of seats checked."""
    now = now or utcnow()
    lead = timedelta(minutes=settings.netmon_readiness_minutes)
    seats = session.scalars(
        select(MeetingSeat).where(MeetingSeat.starts_at <= now + lead, MeetingSeat.ends_at > now)
    ).all()
    ended = session.scalars(
        select(MeetingSeat).where(
            MeetingSeat.ends_at <= now, MeetingSeat.ends_at > now - timedelta(hours=1)
        )
    ).all()
    for seat in seats:
        endpoint = session.get_one(VideoEndpoint, seat.endpoint_id)
        target = session.scalars(
            select(ProbeTarget).where(ProbeTarget.endpoint_id == endpoint.id)
        ).first()
        links = session.scalars(
            select(ProbeTarget).where(
                ProbeTarget.site_id == endpoint.site_id,
                ProbeTarget.link_id.is_not(None),
                ProbeTarget.enabled.is_(True),
            )
        ).all()
        state = _readiness(target, links)
        if state != seat.readiness:
            session.add(
                MeetingLogEntry(
                    meeting_id=seat.meeting_id, endpoint_id=endpoint.id, at=now, readiness=state
                )
            )
        seat.readiness = state
        seat.checked_at = now
        if target is None:
            continue
        if state == READY:
            alerts.clear(session, target_id=target.id, rule="not_ready", at=now)
        else:
            alerts.raise_alert(
                session,
                settings=settings,
                target=target,
                rule="not_ready",
                severity=alerts.HIGH if seat.starts_at <= now else alerts.WARNING,
                detail=f"{READINESS_LABELS[state][0]} / {READINESS_LABELS[state][1]} — meeting {seat.meeting_id}",
                at=now,
                data={"meeting_id": seat.meeting_id},
            )
    for seat in ended:
        target_id = session.scalar(
            select(ProbeTarget.id).where(ProbeTarget.endpoint_id == seat.endpoint_id)
        )
        if target_id is not None:
            alerts.clear(
                session, target_id=target_id, rule="not_ready", at=now, note="meeting ended"
            )
    return len(seats)


def log(session: Session, *, meeting_id: int) -> list[MeetingLogEntry]:
    return list(
        session.scalars(
            select(MeetingLogEntry)
            .where(MeetingLogEntry.meeting_id == meeting_id)
            .order_by(MeetingLogEntry.at, MeetingLogEntry.id)
        )
    )
