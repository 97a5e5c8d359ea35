"""Time: stored in UTC, shown in the node's zone (Asia/Ho_Chi_Minh)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    return datetime.now(LOCAL_ZONE).date()


def start_of_local_day(day: date) -> datetime:
    """The UTC instant at which a calendar day begins in Vietnam."""
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_ZONE).astimezone(UTC)


def format_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def format_datetime(value: datetime | None) -> str:
    return value.astimezone(LOCAL_ZONE).strftime("%d/%m/%Y %H:%M") if value else ""
