"""What crosses the one-stop services' API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ProcedureOut(BaseModel):
    # Procedures carry more as the catalogue grows (legal basis, forms …): keep what is sent.
    model_config = ConfigDict(extra="allow")

    code: str
    national_code: str | None
    name: str
    field: str
    field_name: str
    level: str | int | None
    online_level: str | None
    duration: float | int | None
    duration_unit: str | None
    fee_vnd: int | None
    fee_note: str | None
    papers: list[dict[str, Any]]
    steps: list[dict[str, Any]]


class ProcedurePage(BaseModel):
    items: list[ProcedureOut]
    total: int
    page: int
    page_size: int


class TimelineEntry(BaseModel):
    at: datetime
    action: str
    label: str
    status: int | None


class PublicDossier(BaseModel):
    """What anyone holding a dossier's code may see: no personal data."""

    model_config = ConfigDict(extra="allow")

    code: str
    procedure: str
    procedure_code: str
    agency: str
    status: int
    status_label: str
    received_at: datetime | None
    due_at: datetime | None
    finished_at: datetime | None
    returned_at: datetime | None
    outcome: str | None
    timeline: list[TimelineEntry]


class KpiReport(BaseModel):
    """Decision 766 figures for a period, from the per-day counters."""

    model_config = ConfigDict(extra="allow")

    period: dict[str, str]
    counts: dict[str, int]
    in_progress: int
    overdue: int
    paused: int
    rates: dict[str, float | None]
    agency: str | None


class PaymentAnswer(BaseModel):
    reference: str
    state: str
    changed: bool
