"""Periodic jobs: raw events past their retention dropped, and the daily summary sent to the
people who get the alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.kernel import notify
from lienthong.kernel.clock import utcnow
from lienthong.kernel.jobs import Handler, JobContext
from lienthong.security import alerts, events
from lienthong.security.models import LEVEL_LABELS, LEVELS, SecurityAlert, SecurityEvent

if TYPE_CHECKING:
    from lienthong.runtime import Runtime

PRUNE_JOB = "security.prune"  # periodic: see app.periodic_jobs
DAILY_SUMMARY_JOB = "security.daily_summary"


def daily_summary(session: Session, *, emails: list[str], webhooks: list[str]) -> dict[str, Any]:
    """The last 24 hours: events taken, alerts raised per level, alerts still active; queued
    to every alert recipient."""
    since = utcnow() - timedelta(days=1)
    raised = dict(
        session.execute(
            select(SecurityAlert.level, func.count())
            .where(SecurityAlert.first_seen >= since)
            .group_by(SecurityAlert.level)
        ).all()
    )
    taken = session.scalar(select(func.count()).where(SecurityEvent.received_at >= since)) or 0
    now_active = alerts.summary(session)
    figures = {
        "events": int(taken),
        "raised": {level: int(raised.get(level, 0)) for level in LEVELS},
        "active": now_active["active"],
    }
    lines = [f"Sự kiện đã nhận trong 24 giờ: {figures['events']}", "Cảnh báo mới theo mức độ:"]
    lines += [f"  {LEVEL_LABELS[lvl][0]}: {figures['raised'][lvl]}" for lvl in reversed(LEVELS)]
    lines += ["Cảnh báo chưa đóng:"]
    lines += [f"  {LEVEL_LABELS[lvl][0]}: {figures['active'][lvl]}" for lvl in reversed(LEVELS)]
    lines += [f"  #{a.id} {a.rule_title} ({a.source_ip or '-'})" for a in now_active["critical"]]
    subject = "[ATTT] Tổng hợp cảnh báo 24 giờ / Daily security summary"
    for channel, recipients in ((notify.EMAIL, emails), (notify.WEBHOOK, webhooks)):
        for recipient in recipients:
            notify.queue(
                session,
                channel=channel,
                recipient=recipient,
                subject=subject,
                body="\n".join(lines),
                topic="security.daily_summary",
                data=figures,
            )
    return figures


def handlers(runtime: Runtime) -> dict[str, Handler]:
    settings = runtime.settings

    def prune(ctx: JobContext, payload: dict[str, Any]) -> None:
        events.prune(ctx.session, keep_days=settings.security_retention_days)

    def summary(ctx: JobContext, payload: dict[str, Any]) -> None:
        daily_summary(
            ctx.session,
            emails=list(settings.security_alert_emails),
            webhooks=list(settings.security_alert_webhooks),
        )

    return {PRUNE_JOB: prune, DAILY_SUMMARY_JOB: summary}
