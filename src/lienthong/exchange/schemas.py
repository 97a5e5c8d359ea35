"""What crosses the document axis' native API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class TraceHop(BaseModel):
    node: str
    at: str


class DocumentFields(BaseModel):
    id: int
    document_id: str
    sender_code: str
    sender_name: str
    subject: str | None
    code_number: str | None
    code_notation: str | None
    type_name: str | None
    priority: int = Field(description="0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hẹn giờ")
    promulgation_date: date | None
    due_date: date | None
    business_type: int = Field(description="0 new, 1 recall, 2 update, 3 replace")
    signature: str = Field(description="verified, remote or unsigned")
    signer_subject: str | None
    received_at: datetime
    replaced_by: int | None
    origin_node: str | None
    trace: list[TraceHop] | None


class DeliveryFields(BaseModel):
    delivery_id: int
    state: str = Field(
        description="pending, delivered, waiting, forwarded, failed, recalled, withdrawn"
    )
    route: str
    note: str | None
    status_code: str | None
    status: str
    status_at: datetime | None
    pending_request: str | None
    addressed_code: str
    delivered_at: datetime | None
    read: bool
    recipient_code: str | None = None
    recipient_name: str | None = None


class InboxItem(DocumentFields, DeliveryFields):
    pass


class InboxPage(BaseModel):
    items: list[InboxItem]
    total: int
    page: int
    page_size: int
    unread: int


class SentItem(DocumentFields):
    recipients: list[DeliveryFields]


class SentPage(BaseModel):
    items: list[SentItem]
    total: int
    page: int
    page_size: int


class AttachmentOut(BaseModel):
    position: int
    name: str | None
    content_type: str | None
    size: int
    sha256: str
    description: str | None


class HistoryEntry(BaseModel):
    code: str
    status: str
    description: str | None
    at: datetime


class RecipientOut(DeliveryFields):
    history: list[HistoryEntry]


class SignatureOut(BaseModel):
    field: str | None = None
    role: Literal["person", "agency"]
    signer: str | None = None
    title: str | None = None
    agency_code: str | None = None
    issuer: str | None = None
    intact: bool = False
    trusted: bool | None = None
    revoked: bool | None = None
    signed_at: str | None = None
    timestamp: str | None = None
    covers_whole: bool | None = None
    modification: str | None = None
    error: str | None = None


class FileSignatures(BaseModel):
    attachment: int
    state: Literal["green", "amber", "red"]
    reason_code: str | None
    reason_vi: str | None
    reason_en: str | None
    signatures: list[SignatureOut]


class PdfSignatures(BaseModel):
    state: Literal["green", "amber", "red"] | None
    files: list[FileSignatures]


class DocumentDetail(DocumentFields):
    attachments: list[AttachmentOut]
    recipients: list[RecipientOut]
    # The signatures on its PDFs as validated at intake (exchange/pdfsign.py summary()).
    pdf_signatures: PdfSignatures | None = None


class RecipientResult(BaseModel):
    code: str
    result: Literal["accepted", "refused", "duplicate"]
    delivered_to: str | None = None
    route: str | None = None
    note: str | None = None
    note_en: str | None = None
    error: str | None = None
    message: str | None = None
    message_en: str | None = None
    successor_codes: list[str] = Field(default_factory=list)


class DocumentAnswer(BaseModel):
    """A document package taken in (202); the same again is answered the same."""

    id: int
    document_id: str
    recipients: list[RecipientResult]


class StatusAnswer(BaseModel):
    """A status package taken in."""

    status_code: str
    document_id: str | None
    id: int | None = None
    recipients: int | None = None
    recorded: bool | None = None


class StatusRecorded(BaseModel):
    recorded: int
    code: str
    status: str


class Problem(BaseModel):
    element: str
    rule: str
    fix: str
    code: str
    severity: Literal["error", "warning"]


class CheckReport(BaseModel):
    """Everything wrong with a package, and the package as the node read it."""

    valid: bool
    kind: Literal["edoc", "status"] | None
    document_id: str | None
    problems: list[Problem]
    header: dict[str, Any] | None
