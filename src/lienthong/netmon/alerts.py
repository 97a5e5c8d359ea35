"""Alerts: opened by the rules in `monitor.py`, acknowledged with a note, closed when the
condition clears; each opening (and each escalation, never a repeat) queued to people through
`kernel/notify.py` in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel import notify
from lienthong.kernel.clock import format_datetime, utcnow
from lienthong.kernel.errors import Conflict, NotFound
from lienthong.netmon import sites
from lienthong.netmon.models import NetAlert, ProbeTarget

OPEN, ACKNOWLEDGED, CLOSED = "open", "acknowledged", "closed"
ALERT_STATES = (OPEN, ACKNOWLEDGED, CLOSED)
HIGH, WARNING = "high", "warning"
_RANK = {None: 0, WARNING: 1, HIGH: 2}
TOPIC = "netmon.alert"
RULE_LABELS: dict[str, tuple[str, str]] = {
    "unavailable": ("Mất kết nối", "Unavailable"),
    "loss": ("Mất gói cao", "High packet loss"),
    "latency": ("Độ trễ cao", "High latency"),
    "flapping": ("Chập chờn", "Flapping"),
    "not_ready": ("Chưa sẵn sàng họp", "Not ready for a meeting"),
}


def current(session: Session, *, target_id: int, rule: str) -> NetAlert | None:
    return session.scalars(
        select(NetAlert).where(
            NetAlert.target_id == target_id, NetAlert.rule == rule, NetAlert.closed_at.is_(None)
        )
    ).first()


def raise_alert(
    session: Session,
    *,
    settings: Settings,
    target: ProbeTarget,
    rule: str,
    severity: str,
    detail: str,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> NetAlert:
    """Open the alert of `rule` on `target`, or raise the severity of the one open; people are
    told on opening and on escalation only."""
    alert = current(session, target_id=target.id, rule=rule)
    if alert is None:
        alert = NetAlert(
            target_id=target.id,
            site_id=target.site_id,
            rule=rule,
            severity=severity,
            state=OPEN,
            detail=detail,
            data=dict(data or {}),
            opened_at=at,
        )
        session.add(alert)
        session.flush()
    else:
        alert.detail = detail
        if _RANK[severity] > _RANK[alert.severity]:
            alert.severity = severity
    if _RANK[alert.severity] > _RANK[alert.notified_severity]:
        _tell(session, settings=settings, alert=alert, target=target)
        alert.notified_severity = alert.severity
    return alert


def clear(session: Session, *, target_id: int, rule: str, at: datetime, note: str = "") -> None:
    alert = current(session, target_id=target_id, rule=rule)
    if alert is not None:
        alert.closed_at = at
        alert.state = CLOSED
        if note:
            alert.data = {**alert.data, "closed_because": note}


def _tell(session: Session, *, settings: Settings, alert: NetAlert, target: ProbeTarget) -> None:
    site = sites.name(session, site_id=target.site_id)
    label = RULE_LABELS.get(alert.rule, (alert.rule, alert.rule))
    subject = f"[{alert.severity.upper()}] {label[0]} / {label[1]}: {site}"
    body = (
        f"{label[0]} — {site}\n{alert.detail}\n"
        f"Mục giám sát / target: {target.module} {target.address}\n"
        f"Từ / since: {format_datetime(alert.opened_at)}\n"
        f"Cảnh báo số / alert: {alert.id}\n"
    )
    recipients = [(notify.EMAIL, a.strip()) for a in settings.netmon_alert_emails.split(",")]
    recipients.append((notify.WEBHOOK, settings.netmon_alert_webhook.strip()))
    for channel, recipient in recipients:
        if recipient:
            notify.queue(
                session,
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                topic=TOPIC,
                ref=str(alert.id),
                data={"alert_id": alert.id, "rule": alert.rule, "severity": alert.severity},
            )


def get(session: Session, *, alert_id: int) -> NetAlert:
    alert = session.get(NetAlert, alert_id)
    if alert is None:
        raise NotFound(
            f"Không có cảnh báo {alert_id}.", f"No alert {alert_id}.", code="netmon_unknown_alert"
        )
    return alert


def acknowledge(session: Session, *, alert_id: int, actor: str, note: str) -> NetAlert:
    alert = get(session, alert_id=alert_id)
    if alert.state != OPEN:
        raise Conflict(
            "Cảnh báo đã được xác nhận hoặc đã đóng.",
            "The alert is already acknowledged or closed.",
            code="netmon_alert_not_open",
        )
    alert.state = ACKNOWLEDGED
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = actor[:120]
    alert.ack_note = note
    return alert


def listing(
    session: Session,
    *,
    state: str | None = None,
    rule: str | None = None,
    site_ids: Sequence[int] | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[NetAlert], int]:
    stmt = select(NetAlert)
    if state == "active":
        stmt = stmt.where(NetAlert.closed_at.is_(None))
    elif state:
        stmt = stmt.where(NetAlert.state == state)
    if rule:
        stmt = stmt.where(NetAlert.rule == rule)
    if site_ids is not None:
        stmt = stmt.where(NetAlert.site_id.in_(site_ids))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(NetAlert.opened_at.desc(), NetAlert.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total)
