"""Raw events in Elastic Common Schema field names (the original kept beside them), the sources
they come from with their counters, the alerts Sigma rules raise, the cases analysts open, and
every action taken on either."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base

# SQLite numbers rows itself only for an INTEGER PRIMARY KEY.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

# Alert and case states.
OPEN, ACKNOWLEDGED, CLOSED, FALSE_POSITIVE = "open", "acknowledged", "closed", "false_positive"
ALERT_STATES = (OPEN, ACKNOWLEDGED, CLOSED, FALSE_POSITIVE)
# Sigma's levels, most severe last.
LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "informational": ("Thông tin", "Informational"),
    "low": ("Thấp", "Low"),
    "medium": ("Trung bình", "Medium"),
    "high": ("Cao", "High"),
    "critical": ("Nghiêm trọng", "Critical"),
}


class SecuritySource(Base):
    """A system whose logs the node takes in, with what it sent and what was dropped. Sources
    that post over HTTP hold a token (only its sha-256 is kept)."""

    __tablename__ = "security_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # syslog, http, access_log, eve, node
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)  # buffer full or over its rate
    malformed: Mapped[int] = mapped_column(BigInteger, default=0)  # kept, but not parsed
    truncated: Mapped[int] = mapped_column(BigInteger, default=0)  # past the line limit
    last_event_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class SecurityEvent(Base):
    """One event as taken in: a few ECS fields as columns for search, all of them in `fields`,
    and the original line or document as it arrived (truncated past the line limit)."""

    __tablename__ = "security_event"
    __table_args__ = (
        Index("ix_security_event_at", "at"),
        Index("ix_security_event_source_at", "source", "at"),
        Index("ix_security_event_source_ip", "source_ip"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    at: Mapped[datetime]  # @timestamp
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(120))
    dataset: Mapped[str] = mapped_column(String(80))  # event.dataset
    action: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(String(20))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(120))
    host_name: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    original: Mapped[str | None] = mapped_column(Text)


class SecurityCase(Base):
    """Several alerts handled together as one incident."""

    __tablename__ = "security_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20), default=OPEN, index=True)
    level: Mapped[str] = mapped_column(String(20))
    assignee: Mapped[str | None] = mapped_column(String(80))
    close_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class SecurityAlert(Base):
    """A rule's matches on one source within the grouping window: one row with a count."""

    __tablename__ = "security_alert"
    __table_args__ = (
        Index("ix_security_alert_group", "rule_id", "group_key", "state"),
        Index("ix_security_alert_state_level", "state", "level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_title: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)  # attack.t1110 …
    group_key: Mapped[str] = mapped_column(String(300))  # what groups matches into this alert
    source_ip: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    count: Mapped[int] = mapped_column(default=1)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default=OPEN)
    assignee: Mapped[str | None] = mapped_column(String(80))
    close_reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("security_case.id"), index=True)
    notified: Mapped[bool] = mapped_column(default=False)


class SecurityAlertEvent(Base):
    """The events behind an alert (the first ones; the count says how many there were)."""

    __tablename__ = "security_alert_event"

    alert_id: Mapped[int] = mapped_column(ForeignKey("security_alert.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("security_event.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SecuritySuppression(Base):
    """A rule silenced for one group (a false positive), until it expires."""

    __tablename__ = "security_suppression"
    __table_args__ = (Index("ix_security_suppression_rule", "rule_id", "group_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    group_key: Mapped[str] = mapped_column(String(300))
    until: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class SecurityAction(Base):
    """Every analyst action on an alert or a case, as it was taken."""

    __tablename__ = "security_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("security_alert.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("security_case.id"), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(30))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
