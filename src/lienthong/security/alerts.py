"""Alerts raised by the rules, grouped while they repeat, told at once when high or critical,
and handled by analysts: acknowledge, assign, comment, mark a false positive (with a
suppression that can expire), close with a reason. Every action is recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lienthong.kernel import notify
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Invalid, NotFound
from lienthong.security.detection import Rule
from lienthong.security.models import (
    ACKNOWLEDGED,
    CLOSED,
    FALSE_POSITIVE,
    LEVEL_LABELS,
    LEVELS,
    OPEN,
    SecurityAction,
    SecurityAlert,
    SecurityAlertEvent,
    SecurityEvent,
    SecuritySuppression,
)

LINKED_EVENTS = 50  # events kept beside an alert; its count says how many matched
NOTIFY_LEVELS = frozenset({"high", "critical"})
TOPIC = "security.alert"
ACTIVE = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True)
class Match:
    rule: Rule
    event: Mapping[str, Any]
    event_id: int


@dataclass(frozen=True)
class Recipients:
    emails: Sequence[str] = ()
    webhooks: Sequence[str] = ()


def group_key(rule: Rule, event: Mapping[str, Any]) -> str:
    """What makes repeats one alert: the correlation's fields, else the source address."""
    if rule.correlation is not None and rule.correlation.group_by:
        names = rule.correlation.group_by
    else:
        names = ["source.ip"] if event.get("source.ip") else ["host.name"]
    return "|".join(f"{n}={event.get(n) if event.get(n) is not None else '-'}" for n in names)[:300]


def _target(event: Mapping[str, Any]) -> str | None:
    for name in ("destination.ip", "host.name", "url.domain", "url.path"):
        value = event.get(name)
        if value:
            return str(value)[:255]
    return None


def raise_alerts(
    session: Session,
    *,
    matches: Sequence[Match],
    window: timedelta,
    recipients: Recipients,
    now: datetime | None = None,
) -> list[SecurityAlert]:
    """Alerts for a batch's matches: a repeat of an active alert (same rule, same group, seen
    within `window`) counts on it; a new one of high or critical level queues its notices.
    Matches under an active suppression raise nothing."""
    now = now or utcnow()
    if not matches:
        return []
    suppressed = {
        (s.rule_id, s.group_key)
        for s in session.scalars(
            select(SecuritySuppression).where(
                or_(SecuritySuppression.until.is_(None), SecuritySuppression.until > now)
            )
        )
    }
    cache: dict[tuple[str, str], SecurityAlert | None] = {}
    linked: dict[int, int] = {}
    touched: dict[int, SecurityAlert] = {}
    new: list[SecurityAlert] = []
    for match in matches:
        key = group_key(match.rule, match.event)
        if (match.rule.id, key) in suppressed:
            continue
        if (match.rule.id, key) not in cache:
            cache[(match.rule.id, key)] = session.scalar(
                select(SecurityAlert)
                .where(
                    SecurityAlert.rule_id == match.rule.id,
                    SecurityAlert.group_key == key,
                    SecurityAlert.state.in_(ACTIVE),
                    SecurityAlert.last_seen >= now - window,
                )
                .order_by(SecurityAlert.id.desc())
                .limit(1)
            )
        alert = cache[(match.rule.id, key)]
        if alert is None:
            alert = SecurityAlert(
                rule_id=match.rule.id,
                rule_title=match.rule.title[:300],
                level=match.rule.level,
                tags=match.rule.tags,
                group_key=key,
                source_ip=str(match.event.get("source.ip") or "")[:64] or None,
                target=_target(match.event),
                count=1,
                first_seen=now,
                last_seen=now,
                state=OPEN,
                notified=False,
            )
            session.add(alert)
            session.flush()
            cache[(match.rule.id, key)] = alert
            linked[alert.id] = 0
            new.append(alert)
        else:
            alert.count += 1
            alert.last_seen = now
        if alert.id not in linked:
            linked[alert.id] = int(
                session.scalar(select(func.count()).where(SecurityAlertEvent.alert_id == alert.id))
                or 0
            )
        if linked[alert.id] < LINKED_EVENTS:
            session.add(SecurityAlertEvent(alert_id=alert.id, event_id=match.event_id))
            linked[alert.id] += 1
        touched[alert.id] = alert
    for alert in new:
        if alert.level in NOTIFY_LEVELS:
            _tell(session, alert, recipients)
    session.flush()
    return list(touched.values())


def _tell(session: Session, alert: SecurityAlert, recipients: Recipients) -> None:
    vi_level = LEVEL_LABELS[alert.level][0]
    subject = f"[Cảnh báo ATTT · {vi_level}] {alert.rule_title}"
    body = (
        f"Cảnh báo #{alert.id}: {alert.rule_title}\n"
        f"Mức độ: {vi_level} ({alert.level})\n"
        f"Nguồn: {alert.source_ip or '-'} · Đích: {alert.target or '-'}\n"
        f"Nhóm: {alert.group_key}\n"
        f"Kỹ thuật ATT&CK: {', '.join(alert.tags) or '-'}\n"
        f"Lúc: {alert.first_seen.isoformat()}\n\n"
        f"Security alert #{alert.id} ({alert.level}): {alert.rule_title}\n"
    )
    data = {
        "alert_id": alert.id,
        "rule_id": alert.rule_id,
        "level": alert.level,
        "source_ip": alert.source_ip,
        "tags": alert.tags,
    }
    for address in recipients.emails:
        notify.queue(
            session,
            channel=notify.EMAIL,
            recipient=address,
            subject=subject,
            body=body,
            topic=TOPIC,
            ref=str(alert.id),
            data=data,
        )
    for url in recipients.webhooks:
        notify.queue(
            session,
            channel=notify.WEBHOOK,
            recipient=url,
            subject=subject,
            body=body,
            topic=TOPIC,
            ref=str(alert.id),
            data=data,
        )
    alert.notified = bool(recipients.emails or recipients.webhooks)


# ---- reading ------------------------------------------------------------------------------


def get_alert(session: Session, *, alert_id: int) -> SecurityAlert:
    alert = session.get(SecurityAlert, alert_id)
    if alert is None:
        raise NotFound("Không có cảnh báo này.", "No such alert.", code="alert_not_found")
    return alert


def list_alerts(
    session: Session,
    *,
    state: str | None = None,
    level: str | None = None,
    rule_id: str | None = None,
    source_ip: str | None = None,
    case_id: int | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[SecurityAlert], int]:
    """The queue: most severe first, then the oldest waiting."""
    stmt = select(SecurityAlert)
    if state == "active":
        stmt = stmt.where(SecurityAlert.state.in_(ACTIVE))
    elif state:
        stmt = stmt.where(SecurityAlert.state == state)
    for column, value in (
        (SecurityAlert.level, level),
        (SecurityAlert.rule_id, rule_id),
        (SecurityAlert.source_ip, source_ip),
        (SecurityAlert.case_id, case_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = [
        SecurityAlert.level.in_(("critical",)).desc(),
        SecurityAlert.level.in_(("high",)).desc(),
        SecurityAlert.level.in_(("medium",)).desc(),
        SecurityAlert.level.in_(("low",)).desc(),
        SecurityAlert.first_seen,
        SecurityAlert.id,
    ]
    rows = session.scalars(stmt.order_by(*order).offset((page - 1) * page_size).limit(page_size))
    return list(rows), int(total)


def alert_events(session: Session, *, alert_id: int) -> list[SecurityEvent]:
    return list(
        session.scalars(
            select(SecurityEvent)
            .join(SecurityAlertEvent, SecurityAlertEvent.event_id == SecurityEvent.id)
            .where(SecurityAlertEvent.alert_id == alert_id)
            .order_by(SecurityEvent.at, SecurityEvent.id)
        )
    )


def actions(
    session: Session, *, alert_id: int | None = None, case_id: int | None = None
) -> list[SecurityAction]:
    stmt = select(SecurityAction)
    stmt = (
        stmt.where(SecurityAction.alert_id == alert_id)
        if alert_id is not None
        else stmt.where(SecurityAction.case_id == case_id)
    )
    return list(session.scalars(stmt.order_by(SecurityAction.at, SecurityAction.id)))


def summary(session: Session) -> dict[str, Any]:
    """For the operations centre: active alerts per level and the open critical ones."""
    counts = dict(
        session.execute(
            select(SecurityAlert.level, func.count())
            .where(SecurityAlert.state.in_(ACTIVE))
            .group_by(SecurityAlert.level)
        ).all()
    )
    critical = session.scalars(
        select(SecurityAlert)
        .where(SecurityAlert.state.in_(ACTIVE), SecurityAlert.level == "critical")
        .order_by(SecurityAlert.first_seen.desc())
        .limit(20)
    )
    return {
        "active": {level: int(counts.get(level, 0)) for level in LEVELS},
        "active_total": int(sum(counts.values())),
        "critical": list(critical),
    }


# ---- analyst actions ---------------------------------------------------------------------

ALERT_ACTIONS = ("acknowledge", "assign", "comment", "close", "false_positive")


def _record(
    session: Session,
    *,
    actor: str,
    action: str,
    comment: str | None,
    alert_id: int | None = None,
    case_id: int | None = None,
) -> SecurityAction:
    row = SecurityAction(
        alert_id=alert_id,
        case_id=case_id,
        actor=actor[:80],
        action=action,
        comment=comment,
        at=utcnow(),
    )
    session.add(row)
    return row


def _reason_required(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid(
            "Cần ghi lý do đóng.", "A reason is required to close.", code="reason_required"
        )
    return text


def act_on_alert(
    session: Session,
    *,
    alert_id: int,
    actor: str,
    action: str,
    comment: str | None = None,
    assignee: str | None = None,
    suppress_hours: float | None = None,
) -> SecurityAlert:
    alert = get_alert(session, alert_id=alert_id)
    if alert.state in (CLOSED, FALSE_POSITIVE) and action != "comment":
        raise Conflict(
            "Cảnh báo đã đóng; chỉ có thể ghi nhận xét.",
            "The alert is closed; only comments can be added.",
            code="alert_closed",
        )
    if action == "acknowledge":
        alert.state = ACKNOWLEDGED
    elif action == "assign":
        name = (assignee or "").strip()
        if not name:
            raise Invalid(
                "Cần chọn người xử lý.",
                "Name who the alert is assigned to.",
                code="assignee_required",
            )
        alert.assignee = name[:80]
        if alert.state == OPEN:
            alert.state = ACKNOWLEDGED
        comment = f"→ {alert.assignee}" + (f": {comment}" if comment else "")
    elif action == "comment":
        if not (comment or "").strip():
            raise Invalid("Nhận xét trống.", "The comment is empty.", code="comment_required")
    elif action == "close":
        alert.close_reason = _reason_required(comment)
        alert.state = CLOSED
    elif action == "false_positive":
        alert.close_reason = _reason_required(comment)
        alert.state = FALSE_POSITIVE
        until = utcnow() + timedelta(hours=suppress_hours) if suppress_hours else None
        session.add(
            SecuritySuppression(
                rule_id=alert.rule_id,
                group_key=alert.group_key,
                until=until,
                reason=alert.close_reason,
                created_by=actor[:80],
                created_at=utcnow(),
            )
        )
    else:
        raise Invalid(
            f"Thao tác '{action}' không có.",
            f"Unknown action '{action}'.",
            code="unknown_action",
            details={"actions": list(ALERT_ACTIONS)},
        )
    _record(session, actor=actor, action=action, comment=comment, alert_id=alert.id)
    session.flush()
    return alert
