"""What crosses the security domain's API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lienthong.web.deps import PRINTABLE

RowId = Annotated[int, Field(ge=1, le=2_147_483_647)]


class Accepted(BaseModel):
    accepted: int
    dropped: int = Field(description="Over the source's rate or past the buffer: not kept")
    malformed: int = Field(description="Lines that were not JSON objects: not kept")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    received_at: datetime
    source: str
    dataset: str
    action: str | None
    outcome: str | None
    source_ip: str | None
    user_name: str | None
    host_name: str | None
    message: str | None
    fields: dict[str, Any]
    original: str | None


class EventPage(BaseModel):
    items: list[EventOut]
    total: int
    page: int
    page_size: int


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    action: str
    comment: str | None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: str
    rule_title: str
    level: str
    tags: list[str]
    group_key: str
    source_ip: str | None
    target: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    state: str
    assignee: str | None
    close_reason: str | None
    case_id: int | None
    notified: bool


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    page: int
    page_size: int


class AlertDetail(AlertOut):
    events: list[EventOut]
    actions: list[ActionOut]


class AlertAction(BaseModel):
    action: Literal["acknowledge", "assign", "comment", "close", "false_positive"]
    comment: str | None = Field(default=None, max_length=4000)
    assignee: str | None = Field(default=None, max_length=80, pattern=PRINTABLE)
    suppress_hours: float | None = Field(
        default=None, gt=0, le=24 * 365, description="false_positive: how long to stay silent"
    )


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    state: str
    level: str
    assignee: str | None
    close_reason: str | None
    created_by: str
    created_at: datetime
    closed_at: datetime | None


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    page_size: int


class CaseDetail(CaseOut):
    alerts: list[AlertOut]
    actions: list[ActionOut]


class CaseOpen(BaseModel):
    alert_ids: list[RowId] = Field(min_length=1, max_length=500)
    title: str | None = Field(default=None, max_length=300)
    case_id: RowId | None = Field(default=None, description="add to this open case instead")


class CaseAction(BaseModel):
    action: Literal["assign", "comment", "close"]
    comment: str | None = Field(default=None, max_length=4000)
    assignee: str | None = Field(default=None, max_length=80, pattern=PRINTABLE)


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: str
    events: int
    dropped: int
    malformed: int
    truncated: int
    last_event_at: datetime | None
    events_last_minute: int = 0


class SourceNew(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    kind: Literal["http", "syslog", "access_log", "eve"] = "http"


class SourceCreated(SourceOut):
    token: str | None = Field(description="For kind http: the Bearer token, shown only once")


class RuleOut(BaseModel):
    id: str
    name: str | None
    title: str
    level: str
    tags: list[str]
    kind: str  # rule, correlation
    alerts_last_day: int


class RuleFailureOut(BaseModel):
    path: str
    title: str | None
    reason: str


class RuleReport(BaseModel):
    loaded: list[RuleOut]
    failed: list[RuleFailureOut]


class Summary(BaseModel):
    active: dict[str, int]
    active_total: int
    critical: list[AlertOut]
    dropped_events: int


class ReportSignature(BaseModel):
    algorithm: str
    canonicalisation: str
    value: str = Field(description="base64 RSA PKCS#1 v1.5 over SHA-256 of the canonical bundle")
    certificate: str = Field(description="the node's certificate, PEM")


class SignedBundle(BaseModel):
    bundle: dict[str, Any] = Field(description="a STIX 2.1 bundle")
    signature: ReportSignature
