"""Documents, their attachments, one delivery per recipient with its status history, and the
append-only message log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base


class Document(Base):
    """One package as it arrived: the same sender and DocumentId is never stored twice."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("sender_id", "document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    document_id: Mapped[str] = mapped_column(String(255))
    package_sha256: Mapped[str] = mapped_column(String(64))  # of the bytes as received
    stored_sha256: Mapped[str] = mapped_column(String(64))  # the blob kept (signed here if remote)
    package_size: Mapped[int]
    business_type: Mapped[int] = mapped_column(default=0)  # 0 new, 1 recall, 2 update, 3 replace
    target_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    subject: Mapped[str | None] = mapped_column(Text)
    code_number: Mapped[str | None] = mapped_column(String(64))
    code_notation: Mapped[str | None] = mapped_column(String(128))
    type_name: Mapped[str | None] = mapped_column(String(128))
    priority: Mapped[int] = mapped_column(default=0)
    promulgation_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    signer_name: Mapped[str | None] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(String(16))  # verified, remote, unsigned
    signer_subject: Mapped[str | None] = mapped_column(String(500))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    received_at: Mapped[datetime] = mapped_column(index=True)
    # The answer given at intake, repeated to a sender that sends the same package again.
    intake_answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Federation: the node where the package entered the federation, the peer that handed it
    # here, and the nodes it passed ({"node", "at"}), this one last. The trace travels beside
    # the package, never inside it: the sender's signature covers the whole package.
    origin_node: Mapped[str | None] = mapped_column(String(35))
    arrived_from: Mapped[str | None] = mapped_column(String(35))
    trace: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)


class DocumentAttachment(Base):
    __tablename__ = "document_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_fk: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    content_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(500))
    content_type: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    blob_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]


class Delivery(Base):
    """A document on its way to, or in, one recipient's inbox."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("document_fk", "recipient_id"),
        Index("ix_delivery_inbox", "recipient_id", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_fk: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    addressed_code: Mapped[str] = mapped_column(String(64))  # the To code as the sender wrote it
    route: Mapped[str] = mapped_column(String(16))  # local, successor, federation
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending, delivered, waiting, forwarded, failed, recalled, withdrawn
    status_code: Mapped[str | None] = mapped_column(String(2))
    status_at: Mapped[datetime | None]
    pending_request: Mapped[str | None] = mapped_column(String(2))  # 13 awaiting 15 / 16
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    # Transport acknowledgement by the recipient's software (the SDK's updateStatus).
    acked: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime]


class DeliveryStatus(Base):
    __tablename__ = "delivery_status"
    # The same status package is recorded once per delivery, even when a peer sends it twice
    # at once (a retry racing a slow first attempt).
    __table_args__ = (UniqueConstraint("delivery_id", "package_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(2))
    description: Mapped[str | None] = mapped_column(Text)
    by_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    staff: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    package_sha256: Mapped[str | None] = mapped_column(String(64))  # the package kept and served
    # The bytes as they arrived, when the node signed them (remote signing): a repeat of the
    # same package is recognised by these.
    received_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    # verified (signed by the From agency), remote (signed here with its key), unsigned
    signature: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(index=True)
    acked: Mapped[str | None] = mapped_column(String(12))  # by the sender's software


class LogEntry(Base):
    """Append-only, hash-chained: each entry's hash covers the previous entry's hash."""

    __tablename__ = "message_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    direction: Mapped[str] = mapped_column(String(4))  # in, out
    kind: Mapped[str] = mapped_column(String(8))  # edoc, status
    sender_code: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(String(255))
    package_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class LogCheckpoint(Base):
    """The node's signature over the chain's head at a moment."""

    __tablename__ = "message_log_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("message_log.id"))
    entry_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class RegisterCounter(Base):
    """The last number taken in one agency's register for one year (exchange/registers.py)."""

    __tablename__ = "register_counter"
    __table_args__ = (UniqueConstraint("agency_id", "year", "book"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    year: Mapped[int]
    book: Mapped[str] = mapped_column(String(12))  # outgoing, incoming
    last_number: Mapped[int]


class AgencyNotation(Base):
    """The abbreviation an agency writes in its notations, when not the derived one."""

    __tablename__ = "agency_notation"

    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    abbreviation: Mapped[str] = mapped_column(String(30))


# Columns that hold the sha-256 of a blob this domain keeps (the blob collector spares them).
BLOB_COLUMNS = (
    Document.package_sha256,
    Document.stored_sha256,
    DocumentAttachment.blob_sha256,
    DeliveryStatus.package_sha256,
    DeliveryStatus.received_sha256,  # what software sent before the node signed it
)
