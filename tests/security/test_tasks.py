"""Retention and the daily summary."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.app import periodic_jobs
from lienthong.config import Settings
from lienthong.kernel import notify
from lienthong.kernel.clock import utcnow
from lienthong.security import events
from lienthong.security.intake import Received
from lienthong.security.models import SecurityEvent
from lienthong.security.normalise import stamp
from lienthong.security.tasks import DAILY_SUMMARY_JOB, PRUNE_JOB, daily_summary


def test_events_past_retention_are_dropped_and_new_ones_kept(db: Session) -> None:
    now = utcnow()
    old, new = events.store(
        db,
        [
            Received("t", "http", {"@timestamp": stamp(now - timedelta(days=40))}, None, now, 0),
            Received("t", "http", {"@timestamp": stamp(now - timedelta(days=2))}, None, now, 0),
        ],
    )
    assert events.prune(db, keep_days=30) >= 1
    kept = set(db.scalars(select(SecurityEvent.id).where(SecurityEvent.id.in_([old, new]))))
    assert kept == {new}
    db.rollback()


def test_daily_summary_is_queued_to_the_alert_recipients(db: Session, settings: Settings) -> None:
    assert {PRUNE_JOB, DAILY_SUMMARY_JOB} <= set(periodic_jobs(settings))
    figures = daily_summary(db, emails=["soc@quangninh.gov.vn"], webhooks=[])
    assert set(figures) == {"events", "raised", "active"}
    row = db.scalar(
        select(notify.Notification).where(notify.Notification.topic == "security.daily_summary")
    )
    assert row is not None
    assert row.recipient == "soc@quangninh.gov.vn"
    assert "Cảnh báo chưa đóng" in row.body
    db.rollback()


def test_demo_data_raises_alerts_once(db: Session) -> None:
    from lienthong.security.models import SecurityAlert
    from lienthong.security.seed import seed_security_demo

    assert seed_security_demo(db) >= 8
    titles = {a.rule_title: a.level for a in db.scalars(select(SecurityAlert))}
    assert titles["SSH brute force"] == "high"
    assert titles["JNDI lookup injection (Log4Shell)"] == "critical"
    assert seed_security_demo(db) == 0
    db.rollback()
