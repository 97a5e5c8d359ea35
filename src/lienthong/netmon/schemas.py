"""What crosses netmon's API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class BoardRow(BaseModel):
    target_id: int
    kind: str
    label: str
    site_code: str
    site_name: str
    area_code: str
    area_name: str
    provider: str
    module: str
    address: str
    status: str
    status_since: datetime | None
    last_probe_at: datetime | None
    rtt_ms: float | None
    loss_pct: float | None
    error: str | None


class BoardPage(BaseModel):
    items: list[BoardRow]
    total: int
    page: int
    page_size: int
    counts: dict[str, int]


class AreaCounts(BaseModel):
    area_code: str
    area_name: str
    up: int
    down: int
    unreachable: int
    unknown: int


class Summary(BaseModel):
    links: dict[str, int]
    endpoints: dict[str, int]
    areas: list[AreaCounts]
    open_alerts: int


class PeriodFigure(BaseModel):
    start: datetime
    probes: int
    availability_pct: float | None
    loss_pct: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None
    rtt_p50_ms: float | None
    rtt_p95_ms: float | None


class TargetFigures(BaseModel):
    target: BoardRow
    periods: list[PeriodFigure]


class SlaRow(BaseModel):
    circuit_id: str
    provider: str
    site_code: str
    site_name: str
    probes: int
    availability_pct: float | None
    target_pct: float
    met: bool | None


class SlaReport(BaseModel):
    month: str
    items: list[SlaRow]


class AlertOut(BaseModel):
    id: int
    target_id: int
    site_code: str
    rule: str
    rule_name: str
    severity: str
    state: str
    detail: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    closed_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    page: int
    page_size: int


class Acknowledgement(BaseModel):
    note: str = Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")


class ImportOut(BaseModel):
    rows: int
    created: int
    updated: int


class MeetingIn(BaseModel):
    title: str = Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]*$")
    host_site_code: str = Field(pattern=r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9]{2}$")
    starts_at: datetime
    duration_minutes: int = Field(ge=-100_000, le=24 * 60)
    endpoint_ids: list[int] = Field(default_factory=list, max_length=1000)
    area_code: str | None = Field(default=None, max_length=35)


class Seat(BaseModel):
    endpoint_id: int
    site_code: str
    site_name: str
    room: str
    readiness: str
    checked_at: datetime | None


class MeetingOut(BaseModel):
    id: int
    title: str
    host_site_code: str
    starts_at: datetime
    ends_at: datetime
    seats: list[Seat]
    log: list[dict[str, str | int]]


class MeetingPage(BaseModel):
    items: list[MeetingOut]
    total: int
    page: int
    page_size: int
