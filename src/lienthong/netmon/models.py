"""Links and video endpoints of the provincial WAN, what is probed, the results and their hourly
and daily roll-ups, alerts, and meetings with their readiness log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base

IN_SERVICE, PLANNED, RETIRED = "in_service", "planned", "retired"
STATES = (IN_SERVICE, PLANNED, RETIRED)
UP, DOWN, UNREACHABLE, UNKNOWN = "up", "down", "unreachable", "unknown"
MODULES = ("icmp", "tcp", "http", "sip")


class NetLink(Base):
    """A site's WAN circuit. `addresses` are probed in order; the link is up when one answers."""

    __tablename__ = "net_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    provider: Mapped[str] = mapped_column(String(60), index=True)
    circuit_id: Mapped[str] = mapped_column(String(80), unique=True)
    bandwidth_mbps: Mapped[int] = mapped_column(default=0)
    addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    upstream_site_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    state: Mapped[str] = mapped_column(String(12), default=IN_SERVICE)
    illustrative: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class VideoEndpoint(Base):
    __tablename__ = "net_endpoint"
    __table_args__ = (UniqueConstraint("site_id", "room", name="uq_net_endpoint_room"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    room: Mapped[str] = mapped_column(String(120))
    model: Mapped[str] = mapped_column(String(120), default="")
    protocol: Mapped[str] = mapped_column(String(8))  # sip, h323
    address: Mapped[str] = mapped_column(String(255))  # sip:room@host[:port] or host[:port]
    state: Mapped[str] = mapped_column(String(12), default=IN_SERVICE)
    illustrative: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class ProbeTarget(Base):
    """What the worker probes, with the state it keeps between rounds. One per link or endpoint."""

    __tablename__ = "net_target"
    __table_args__ = (Index("ix_net_target_due", "enabled", "next_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("net_link.id", ondelete="CASCADE"), unique=True
    )
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("net_endpoint.id", ondelete="CASCADE"), unique=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    provider: Mapped[str] = mapped_column(String(60), default="")
    module: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    interval_seconds: Mapped[int] = mapped_column(default=30)
    next_due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=UNKNOWN, index=True)
    status_since: Mapped[datetime | None]
    consecutive_down: Mapped[int] = mapped_column(default=0)
    consecutive_up: Mapped[int] = mapped_column(default=0)
    # Times of the last status changes, for flap detection (newest last, a few kept).
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_probe_at: Mapped[datetime | None]
    last_rtt_ms: Mapped[float | None]
    last_loss_pct: Mapped[float | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class ProbeResult(Base):
    """One probe, kept `netmon_raw_days` days; figures read the roll-ups."""

    __tablename__ = "net_probe_result"
    __table_args__ = (Index("ix_net_probe_result_target_at", "target_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("net_target.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(index=True)
    success: Mapped[bool]
    rtt_ms: Mapped[float | None]
    loss_pct: Mapped[float | None]
    detail: Mapped[str | None] = mapped_column(String(300))


class ProbeRollup(Base):
    """Counts per target per hour or day, written in the transaction of each raw result."""

    __tablename__ = "net_probe_rollup"

    target_id: Mapped[int] = mapped_column(
        ForeignKey("net_target.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(4), primary_key=True)  # hour, day
    start: Mapped[datetime] = mapped_column(primary_key=True)
    probes: Mapped[int] = mapped_column(default=0)
    up: Mapped[int] = mapped_column(default=0)
    rtt_sum: Mapped[float] = mapped_column(default=0.0)
    rtt_max: Mapped[float] = mapped_column(default=0.0)
    loss_sum: Mapped[float] = mapped_column(default=0.0)
    # Counts of RTTs per bucket of figures.RTT_BUCKETS, for percentiles without the raw rows.
    rtt_buckets: Mapped[list[int]] = mapped_column(JSON, default=list)


class NetAlert(Base):
    __tablename__ = "net_alert"
    __table_args__ = (Index("ix_net_alert_open", "target_id", "rule", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("net_target.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    rule: Mapped[str] = mapped_column(
        String(20)
    )  # unavailable, unreachable, loss, latency, flapping, not_ready
    severity: Mapped[str] = mapped_column(String(10))  # high, warning
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    ack_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    notified_severity: Mapped[str | None] = mapped_column(String(10))


class Meeting(Base):
    __tablename__ = "net_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    host_site_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class MeetingSeat(Base):
    """An endpoint booked for a meeting; its times copied so a double booking is one query."""

    __tablename__ = "net_meeting_seat"
    __table_args__ = (Index("ix_net_meeting_seat_booking", "endpoint_id", "starts_at", "ends_at"),)

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("net_meeting.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("net_endpoint.id"), primary_key=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    readiness: Mapped[str] = mapped_column(
        String(20), default=UNKNOWN
    )  # ready, link_down, not_answering
    checked_at: Mapped[datetime | None]


class MeetingLogEntry(Base):
    __tablename__ = "net_meeting_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("net_meeting.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("net_endpoint.id"))
    at: Mapped[datetime]
    readiness: Mapped[str] = mapped_column(String(20))
