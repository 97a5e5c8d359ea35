"""What crosses the shared-data API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
Name = Annotated[str, StringConstraints(max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")]


class ItemOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    label_vi: str
    label_en: str
    item_class: str = Field(alias="class", serialization_alias="class")


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    kind: Literal["get", "search", "changes"]
    provider: Literal["hosted", "upstream"] = "hosted"
    upstream_url: (
        Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://[^\x00-\x20]+$")]
        | None
    ) = None
    upstream_openapi: dict[str, Any] | None = None
    timeout_ms: int = Field(default=5000, ge=100, le=60_000)
    max_response_bytes: int = Field(default=1_000_000, ge=1000, le=100_000_000)


class ServiceOut(BaseModel):
    code: str
    kind: str
    provider: str
    openapi_url: str


class DatasetOut(BaseModel):
    code: str
    database: str
    owner_agency: str
    owner_name: str
    name_vi: str
    name_en: str
    description: str
    field: str
    legal_basis: str
    update_frequency: str
    key_item: str
    personal_data: bool
    subject_item: str | None
    illustrative: bool
    items: list[ItemOut]
    services: list[ServiceOut]


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    total: int
    page: int
    page_size: int


class AccessRequestIn(BaseModel):
    """Decree 47/2020 art. 35: every field is required."""

    model_config = ConfigDict(extra="forbid")

    dataset: Name
    service: Name
    consumer_system: Name
    items: list[Name] = Field(min_length=1, max_length=200)
    purpose: Text
    legal_basis: Text
    frequency: Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00]*$")]
    period_from: datetime
    period_to: datetime


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Name] | None = Field(default=None, max_length=200)
    expires_at: datetime | None = None
    rate_per_minute: int = Field(default=600, ge=1, le=100_000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = ""


class AccessRequestOut(BaseModel):
    id: int
    dataset: str
    service: str
    owner_agency: str
    consumer_agency: str
    consumer_system: str
    items: list[str]
    purpose: str
    legal_basis: str
    frequency: str
    period_from: datetime
    period_to: datetime
    state: str
    created_at: datetime
    due_at: datetime
    decided_at: datetime | None
    reason: str | None


class AccessRequestPage(BaseModel):
    items: list[AccessRequestOut]
    total: int
    page: int
    page_size: int


class GrantOut(BaseModel):
    id: int
    request_id: int
    dataset: str
    service: str
    owner_agency: str
    consumer_agency: str
    consumer_system: str
    items: list[str]
    state: str
    valid_from: datetime
    expires_at: datetime
    rate_per_minute: int
    created_at: datetime
    reason: str | None
    replaces_id: int | None
    current: bool


class GrantPage(BaseModel):
    items: list[GrantOut]
    total: int
    page: int
    page_size: int


class CallOut(BaseModel):
    at: datetime
    request_id: str
    consumer_agency: str | None
    consumer_system: str
    owner_agency: str | None
    dataset: str
    service: str
    grant_id: int | None
    purpose: str | None
    status: int
    outcome: str
    items: list[str]
    record_count: int
    duration_ms: float
    request_size: int
    response_size: int


class CallPage(BaseModel):
    items: list[CallOut]
    total: int
    page: int
    page_size: int


class GatewayAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    records: list[dict[str, Any]]
    total: int | None = None
    next_cursor: int | None = None


class UsageOut(BaseModel):
    at: datetime
    subject: str
    agency: str | None
    agency_name: str | None
    dataset: str
    dataset_name: str
    items: list[str]
    purpose: str | None


class UsagePage(BaseModel):
    subjects: list[str]
    items: list[UsageOut]
    total: int
    page: int
    page_size: int
